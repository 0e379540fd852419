"""Whether a host is this machine: settings allow clear text (http://, SMTP without TLS) only to it.

Kept apart from settings.py so the placeholder gate (campaign/placeholder_settings.py) and the config share one rule.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback", "split_nameserver"]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: traffic that never leaves this machine."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_nameserver(text: str) -> tuple[str, int]:
    """dns.nameserver's "127.0.0.1:5353", "[::1]:53" or "9.9.9.9" as (address, port); ValueError otherwise."""
    host, port = text.strip(), "53"
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":") or port
    elif host.count(":") == 1:
        host, port = host.split(":")
    ipaddress.ip_address(host)
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} out of range")
    return host, number
