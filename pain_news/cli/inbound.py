"""The `inbound` command: one raw email from a file or a mail server's pipe (docs/serve.md)."""

from __future__ import annotations

from typing import BinaryIO

import click

from pain_news.cli.app import App, cli


@cli.command("inbound")
@click.argument("eml", metavar="FILE.eml|-", type=click.File("rb"))
@click.pass_obj
def inbound_cmd(app: App, eml: BinaryIO) -> None:
    """Handle one email sent to the newsletter: opt-outs, bounces, replies (forwarded and answered).

    Exit 0 when it was handled (dropped and unreadable messages are recorded too), 75 when the
    database or the provider is unavailable, so the mail server delivers it again later.

    \b
    Example:
        pain-news inbound message.eml
        pain-news inbound - < message.eml
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.inbound.handle import deferred, handle_message

    raw = eml.read()
    with deferred():  # no settings or no database yet: the mail waits in the server's queue
        config, store = app.config, app.store
    click.echo(handle_message(config, store, raw).line())
