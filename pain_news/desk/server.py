"""Running the desk: loopback only, its own default port (or the next free one), the lock, the URL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pain_news.desk import lock
from pain_news.desk.app import create_desk_app
from pain_news.desk.guard import DeskSession, refuse_host
from pain_news.web.server import ensure_port_free, first_free_port, uvicorn_config

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

#: Not preview's 8410 nor serve's: the desk has a default port of its own.
DESK_PORT = 8420


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def run_desk(
    config: Config,
    store: SubscriberStore,
    host: str,
    port: int | None,
    *,
    open_browser: bool,
    say: Callable[[str], None],
) -> None:
    """Serve the desk until interrupted; `say` gets the URL with its token as the first line."""
    import uvicorn

    refuse_host(host)
    port = first_free_port(host, DESK_PORT) if port is None else port
    ensure_port_free(host, port)
    session = DeskSession()
    url = session.opening_url(base_url(host, port))
    held = lock.acquire(config.root, url, base_url(host, port) + "/")
    try:
        say(url)
        say(f"The desk for {config.root} (Ctrl+C to stop). Only this computer can open it.")
        app = create_desk_app(config, store, session)
        if open_browser:
            import webbrowser

            threading.Timer(1.0, webbrowser.open, args=(url,)).start()
        try:
            uvicorn.Server(uvicorn_config(app, host, port)).run()
        finally:
            app.state.desk.close()
    finally:
        held.release()
