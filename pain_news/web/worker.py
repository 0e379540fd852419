"""The app each `serve --workers N` process builds for itself (uvicorn imports it by name).

uvicorn starts every worker as a fresh process from an import string, so nothing but the
environment reaches it: `serve` puts the config file's path in PAIN_NEWS_CONFIG, and each worker
loads that config (with .env and the environment, as the parent did) and opens its own store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.applications import Starlette

IMPORT_STRING = "pain_news.web.worker:app_from_environment"


def app_from_environment() -> Starlette:
    """The web app for one worker process: config from PAIN_NEWS_CONFIG, its own connection pool."""
    # lazy: serve imports this module for IMPORT_STRING; the app, config and store load in each worker
    from pain_news.config.settings import load_config
    from pain_news.subscribers.store import open_store
    from pain_news.web.app import create_app

    config = load_config()
    return create_app(config, open_store(config))
