"""The desk's handlers, one module per family: issues, writing, sending, subscribers."""
