"""Subscriber commands (`pain-news subscribers ...`), `pain-news db upgrade` and `pain-news serve`."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from pain_news.cli.app import App, cli, known_language, known_topics
from pain_news.errors import ConfigError

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberStore

STATUS_CHOICE = click.Choice(["pending", "active", "unsubscribed", "bounced", "complained"])


@cli.group("subscribers")
@click.pass_obj
def subscribers(app: App) -> None:
    """Manage the subscriber list: import, add, opt-outs, history, export.

    Signups nobody confirmed within subscribers.pending_purge_days are deleted first.

    \b
    Example:
        pain-news subscribers import subscribers/sample.csv --tag winter-2026
        pain-news subscribers list --status active --format csv
    """
    app.purges_signups = True  # when the command opens the list (never for --help)


@subscribers.result_callback()
@click.pass_obj
def _drain_after(app: App, /, *_: object, **__: object) -> None:
    """After a subscribers command that opened the list (never after --help or a failure): opt-outs
    it made reach a scheduled send's suppression at SendGrid (sendgrid/withdraw.py)."""
    if app.opened_store:
        app.drain_withdrawals()


@subscribers.command("import")
@click.argument("csv_path", metavar="FILE.csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Tag every imported row (repeatable).")
@click.option("--dry-run", is_flag=True, help="Report what would change; save nothing.")
@click.option(
    "--ignore-columns",
    is_flag=True,
    help="Import even when unrecognised columns leave every row without a name.",
)
@click.pass_obj
def import_cmd(app: App, csv_path: Path, tags: tuple[str, ...], dry_run: bool, ignore_columns: bool) -> None:
    """Import a CSV file (columns: email, first_name, last_name, tags, topics, language).

    Common spellings are understood (E-mail, Email address, First Name, Given name, Surname,
    Last name; Spanish, español or es-US for the language); other columns are reported and not
    imported. A row without a language gets the default (the first of newsletter.languages).

    Bad rows are reported with their line number and skipped. Unsubscribed, bounced and
    complained addresses are never made active again. The whole file is one transaction.

    \b
    Example:
        pain-news subscribers import patients.csv --tag back-pain --dry-run
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.subscribers.importer import import_file

    def progress(done: int, total: int) -> None:
        if total > 10_000:
            click.echo(f"  {done}/{total} addresses", err=True)

    app.purges_signups = not dry_run  # a dry run changes nothing, stale signups included
    store = _scratch_store(app) if dry_run and not _has_list(app) else app.open_store(create=True)
    summary = import_file(
        store,
        csv_path,
        tags=tags,
        known_topics=app.config.topic_keys,
        languages=app.config.languages,
        dry_run=dry_run,
        ignore_columns=ignore_columns,
        on_progress=progress,
    )
    for column in summary.unrecognised_columns:
        click.echo(f"{csv_path}:1: column not recognised, not imported: {column}", err=True)
    for bad in summary.bad_rows:
        click.echo(f"{csv_path}:{bad.line}: skipped: {bad.reason}", err=True)
    if summary.encoding != "utf-8":
        click.echo(
            f"note: read {csv_path} as {summary.encoding} (Excel); save as 'CSV UTF-8' to avoid this",
            err=True,
        )
    click.echo(summary.summary_line())


def _has_list(app: App) -> bool:
    """Whether the subscriber database is set up (opening it never creates it)."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.errors import NoSchema

    try:
        app.open_store()
    except NoSchema:
        return False
    return True


def _scratch_store(app: App) -> SubscriberStore:
    """An empty list in a temporary folder, removed on exit: a dry run before the list exists
    counts against it and creates no database (`serve` must never find an empty one: tests/test_cli.py)."""
    import dataclasses

    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.config.settings import DatabaseSettings
    from pain_news.subscribers.store import open_store

    click.echo("note: the subscriber database is not set up yet; counted against an empty list", err=True)
    folder = tempfile.TemporaryDirectory(prefix="pain-news-dry-run-")
    app.closers.append(folder.cleanup)
    url = f"sqlite:///{Path(folder.name) / 'dry-run.db'}"
    store = open_store(dataclasses.replace(app.config, database=DatabaseSettings(url=url)), create=True)
    app.closers.append(store.close)  # closed before the folder goes (closers run last in, first out)
    return store


@subscribers.command("add")
@click.argument("email")
@click.option("--first-name", default="", help="First name.")
@click.option("--last-name", default="", help="Last name.")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--topic", "topics", multiple=True, help="A topic they chose, a key of [topics] (repeatable).")
@click.option(
    "--language",
    help="The language they read (es, Spanish, es-US); default: the first of newsletter.languages.",
)
@click.pass_obj
def add_cmd(
    app: App,
    email: str,
    first_name: str,
    last_name: str,
    tags: tuple[str, ...],
    topics: tuple[str, ...],
    language: str | None,
) -> None:
    """Add one active subscriber (someone who asked staff to be added).

    \b
    Example:
        pain-news subscribers add maria.lopez@example.com --first-name Maria --tag knee --language es
    """
    topics = known_topics(app, topics)
    code = known_language(app, language) or app.config.default_language
    record = app.open_store(create=True).add(email, first_name, last_name, tags, topics=topics, language=code)
    click.echo(f"added {record.email} (active)")


@subscribers.command("unsubscribe")
@click.argument("email")
@click.pass_obj
def unsubscribe_cmd(app: App, email: str) -> None:
    """Unsubscribe someone (e.g. who asked by phone); repeating it is harmless.

    \b
    Example:
        pain-news subscribers unsubscribe maria.lopez@example.com
    """
    change = app.store.unsubscribe(email, "manual")
    state = "unsubscribed" if change.changed else f"already {change.subscriber.status}, nothing changed"
    click.echo(f"{change.subscriber.email}: {state}")


@subscribers.command("resubscribe")
@click.argument("email")
@click.option("--reason", required=True, help="Why this person may be mailed again (kept in the history).")
@click.pass_obj
def resubscribe_cmd(app: App, email: str, reason: str) -> None:
    """Make an opted-out subscriber active again — the only way back, logged with the reason.

    \b
    Example:
        pain-news subscribers resubscribe maria.lopez@example.com --reason "asked at the front desk 2027-01-05"
    """
    change = app.store.resubscribe(email, reason)
    click.echo(
        f"{change.subscriber.email}: {'active again' if change.changed else 'already active, nothing changed'}"
    )


@subscribers.command("delete")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def delete_cmd(app: App, email: str, yes: bool) -> None:
    """Erase a person's data; only a hashed address stays so no import re-adds them.

    \b
    Example:
        pain-news subscribers delete maria.lopez@example.com --yes
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("no terminal to confirm on: add --yes to delete without asking")
        click.confirm(f"Erase {email} and their history? This cannot be undone", abort=True)
    address = app.store.delete(email)
    click.echo(f"deleted {address}; a hashed suppression keeps it from being re-added")


@subscribers.command("show")
@click.argument("email")
@click.pass_obj
def show_cmd(app: App, email: str) -> None:
    """Show one subscriber, their status history and the emails they sent us (what was done, no content).

    \b
    Example:
        pain-news subscribers show maria.lopez@example.com
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.config.clock import clinic_zone, shown

    zone = clinic_zone(app.config)
    record, events = app.store.history(email)
    name = f"{record.first_name} {record.last_name}".strip() or "-"
    click.echo(f"email:    {record.email}\nname:     {name}\nstatus:   {record.status}")
    click.echo(f"tags:     {', '.join(record.tags) or '-'}\ntopics:   {', '.join(record.topics) or '-'}")
    click.echo(f"language: {record.language}\nsource:   {record.source}")
    click.echo(f"created:  {shown(record.created_at, zone)}")
    if record.opted_out_at is not None:
        campaign = f", campaign {record.opt_out_campaign_id}" if record.opt_out_campaign_id else ""
        click.echo(f"opted out: {shown(record.opted_out_at, zone)} by {record.opt_out_method}{campaign}")
    click.echo("history:")
    for e in events:
        change = (
            f"{e.old_status or '(new)'} -> {e.new_status}" if e.old_status != e.new_status else e.new_status
        )
        campaign = f" campaign {e.campaign_id}" if e.campaign_id else ""
        detail = f": {e.detail}" if e.detail else ""
        click.echo(f"  {shown(e.at, zone)} {change} ({e.method}{campaign}){detail}")
    replies = app.store.reply_events(record.id)
    click.echo("emails from them:" + ("" if replies else " -"))
    for r in replies:
        campaign = f" (campaign {r.campaign_id})" if r.campaign_id else ""
        click.echo(f"  {shown(r.at, zone)} {r.action}{', answered' if r.answered else ''}{campaign}")


@subscribers.command("list")
@click.option("--status", type=STATUS_CHOICE, help="Only subscribers with this status.")
@click.option("--tag", help="Only subscribers with this tag.")
@click.option("--topic", help="Only subscribers who chose this topic (a key of [topics]).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file, readable by you alone (0600), instead of the terminal.",
)
@click.pass_obj
def list_cmd(
    app: App, status: str | None, tag: str | None, topic: str | None, fmt: str, output_path: Path | None
) -> None:
    """List subscribers (streamed: fine for a million rows).

    \b
    Example:
        pain-news subscribers list --status active --tag knee
        pain-news subscribers list --format json --output subscribers.json
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.subscribers import csv_files

    writer = {
        "table": csv_files.write_table,
        "csv": csv_files.write_csv,
        "json": csv_files.write_json,
    }[fmt]
    if topic:
        (topic,) = known_topics(app, (topic,))
    records = app.store.iter_subscribers(status, tag.lower() if tag else None, topic)
    if output_path is None:
        writer(records, sys.stdout)
        sys.stdout.flush()  # a closed pipe (`| head`) surfaces here, inside the group's handler
        return
    with _private_file(output_path, "--output") as out:
        count = writer(records, out)
    click.echo(f"wrote {count} subscribers to {output_path}", err=True)


@subscribers.command("export")
@click.argument("csv_path", metavar="FILE.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def export_cmd(app: App, csv_path: Path) -> None:
    """Write every subscriber (with status and opt-out details) to a CSV file (readable by you alone).

    \b
    Example:
        pain-news subscribers export backup-2027-01.csv
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.subscribers.csv_files import write_csv

    with _private_file(csv_path, "FILE.csv") as out:
        count = write_csv(app.store.iter_subscribers(), out)
    click.echo(f"exported {count} subscribers to {csv_path}")


def _private_file(path: Path, param: str) -> AbstractContextManager[TextIO]:
    """An export file: 0600 from its first byte, renamed into place only when complete."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.private_files import private_text_output

    folder = path.resolve().parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {folder} does not exist", param_hint=param)
    return private_text_output(path)


@subscribers.command("stats")
@click.pass_obj
def stats_cmd(app: App) -> None:
    """Count subscribers by status.

    \b
    Example:
        pain-news subscribers stats
    """
    for name, count in app.store.stats().items():
        click.echo(f"{name:32} {count}")


@subscribers.command("sync")
@click.pass_obj
def sync_cmd(app: App) -> None:
    """Apply SendGrid's suppression lists (unsubscribes, group unsubscribes, bounces, spam reports, ...).

    \b
    Example:
        SENDGRID_API_KEY=SG.xxx pain-news subscribers sync
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.sendgrid.sync import sync_suppressions

    click.echo(sync_suppressions(app.config, app.store).summary_line())


@cli.group("db")
def db_group() -> None:
    """Database maintenance.

    \b
    Example:
        pain-news db upgrade
    """


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade_cmd(app: App) -> None:
    """Apply pending schema migrations (other commands also do this on their own).

    \b
    Example:
        PAIN_NEWS_DATABASE_URL=postgresql+psycopg://news@db.internal/news pain-news db upgrade
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news import db

    engine = db.make_engine(app.database_config().database_url)
    try:
        before, after = db.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before or 'empty'})"))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Worker processes (more than one needs PostgreSQL).",
)
@click.pass_obj
def serve_cmd(app: App, host: str, port: int, workers: int) -> None:
    """Run the web app: unsubscribe links, signup with confirmation, SendGrid webhook.

    \b
    Example:
        pain-news serve --host 0.0.0.0 --port 8000
        pain-news serve --workers 4      # PostgreSQL only
    """
    import uvicorn

    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news import db
    from pain_news.errors import ServerError
    from pain_news.links import link_base
    from pain_news.signoff.approve import clinic_content_lines
    from pain_news.web.server import ensure_port_free, uvicorn_config

    link_base(app.config)  # every page needs public_url and PAIN_NEWS_SECRET_KEY: refuse to start without
    ensure_port_free(host, port)
    store = app.store  # a database with no schema is refused here, before we claim to serve
    if workers > 1 and not db.is_postgresql(store.engine):
        raise ConfigError(
            f"--workers {workers} needs PostgreSQL: this database is SQLite, which lets one process write at a time",
            hint="run serve with one worker, or set database.url / PAIN_NEWS_DATABASE_URL to PostgreSQL",
        )
    click.echo(f"serving on http://{host}:{port}/ with {workers} worker(s) (Ctrl-C to stop)", err=True)
    for line in clinic_content_lines(
        app.config, store
    ):  # the welcome's and the answer's sign-off: warned, never blocked
        click.echo(line, err=True)
    if workers == 1:
        # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
        from pain_news.web.app import create_app

        server = uvicorn.Server(uvicorn_config(create_app(app.config, store), host, port))
        try:
            server.run()
        except KeyboardInterrupt:  # as uvicorn.run does
            pass
        if not server.started:
            raise ServerError(f"serve could not start on {host}:{port}")
        return
    from uvicorn.supervisors import Multiprocess

    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.web.worker import IMPORT_STRING

    # Workers are new processes that import the app by name: the environment carries the config.
    if app.config.path is not None:
        os.environ["PAIN_NEWS_CONFIG"] = str(app.config.path)
    store.close()
    config = uvicorn_config(IMPORT_STRING, host, port, factory=True, workers=workers)
    # What uvicorn.run does for workers > 1: bind once here, share the socket with the workers.
    try:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    except KeyboardInterrupt:  # as uvicorn.run does
        pass
