"""The `pain-news` command, assembled: the group from `app`, the commands from one module per family.

Each family module (authoring, doctor, editor, inbound, subscribers, sending) adds its commands to the group
defined in `pain_news/cli/app.py`; importing them here is what puts them on `pain-news`.
Each command is parse → one call into a domain module → echo; domain modules import lazily so
`pain-news --help` starts fast.
"""

from __future__ import annotations

from pain_news.cli import authoring, desk, doctor, editor, inbound, sending, signoff, subscribers
from pain_news.cli.app import App, PainNewsGroup, cli, main

__all__ = [
    "App",
    "PainNewsGroup",
    "authoring",
    "cli",
    "desk",
    "doctor",
    "editor",
    "inbound",
    "main",
    "sending",
    "signoff",
    "subscribers",
]
