"""Starting a web server: make sure the address is free before saying anything about it."""

from __future__ import annotations

import socket

from pain_news.errors import ServerError


def ensure_port_free(host: str, port: int) -> None:
    """ServerError (one line, exit 1) when `host:port` cannot be listened on, e.g. already in use."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ServerError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="choose another --port, or stop the program that uses this one",
            ) from None
