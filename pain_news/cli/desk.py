"""The desk command: the browser app a staffer writes, checks, approves and sends from."""

from __future__ import annotations

import click

from pain_news.cli.app import App, cli


@cli.command("desk")
@click.option("--host", default="127.0.0.1", show_default=True, help="127.0.0.1, ::1 or localhost only.")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: 8420, or the next free one).")
@click.option("--no-open", "no_open", is_flag=True, help="Do not open the web browser.")
@click.pass_obj
def desk_cmd(app: App, host: str, port: int | None, no_open: bool) -> None:
    """Open the desk: write, check, approve and send issues from the browser, over the same files.

    The first line printed is the desk's link with its one-time token; only this computer can open
    it (docs/desk.md).

    \b
    Example:
        pain-news desk
        pain-news desk --port 8500 --no-open
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.desk.guard import refuse_host
    from pain_news.desk.server import run_desk

    refuse_host(host)  # before the config and database are opened: the one-line reason first
    run_desk(
        app.config,
        app.open_store(create=True),
        host,
        port,
        open_browser=not no_open,
        say=lambda line: click.echo(line),
    )
