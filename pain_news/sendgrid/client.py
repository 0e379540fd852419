"""The one way to make a SendGrid API client, for sends and suppression syncs alike.

The official client has no timeout by default, and its DEBUG logging prints the request
headers — the API key with them (docs/design/dependency-traps.md). Every client made here gets a
timeout, and the client's loggers are held at WARNING whatever `--debug` sets on the root logger.
"""

from __future__ import annotations

import logging
from typing import Any

_LOGGERS = ("python_http_client", "sendgrid")


def hold_loggers() -> None:
    """Keep the client's loggers above DEBUG, so the API key is never logged."""
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def make_client(api_key: str, host: str, timeout: float) -> Any:
    """A SendGridAPIClient for `host` with a timeout on every request."""
    from sendgrid import SendGridAPIClient  # type: ignore[import-untyped]

    hold_loggers()
    client = SendGridAPIClient(api_key=api_key, host=host.rstrip("/"))
    client.client.timeout = timeout  # the client waits forever by default
    return client


hold_loggers()  # also for whoever imports the library after this module
