"""Subscribers: the store, CSV files, import and signup with double opt-in."""
