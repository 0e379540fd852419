"""Whether a host is this machine: settings allow clear text (http://, SMTP without TLS) only to it.

Kept apart from settings.py so the placeholder gate (campaign/placeholder_settings.py) and the config share one rule.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: traffic that never leaves this machine."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
