"""Starting a web server: make sure the address is free before saying anything about it."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from pain_news.errors import ServerError

if TYPE_CHECKING:
    import uvicorn


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


def first_free_port(host: str, start: int, tries: int = 20) -> int:
    """The first port from `start` on that `host` can listen on (a default port another program holds
    moves to the next one); ServerError when none of `tries` ports is free."""
    for port in range(start, start + tries):
        try:
            ensure_port_free(host, port)
        except ServerError:
            continue
        return port
    raise ServerError(
        f"no free port on {host} between {start} and {start + tries - 1}",
        hint="choose a port with --port",
    )


def uvicorn_config(app: Any, host: str, port: int, **extra: Any) -> uvicorn.Config:
    """How `serve` runs under uvicorn. The app reads X-Forwarded-For itself, and only from the
    proxies in serve.trusted_proxies (web/security.py): uvicorn's own handling would trust 127.0.0.1."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", proxy_headers=False, server_header=False, **extra
    )
