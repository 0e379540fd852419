"""Configuration: settings, secrets, [topics] and time zones → one frozen Config."""
