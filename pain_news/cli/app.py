"""The `pain-news` Click group, the App context object, and the error → exit-code mapping.

Command modules (authoring, editor, subscribers, sending) add their commands to `cli`;
`pain_news/cli/__init__.py` imports them to assemble the whole command. This module imports
none of them, so nothing loops.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from pain_news.config.topics import normalize_topics
from pain_news.errors import ConfigError, DeliveryError, PainNewsError, TopicError

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

Command = TypeVar("Command", bound=Callable[..., Any])


@dataclass
class App:
    """Per-invocation state; config and store open lazily so `init` and `--help` need neither."""

    config_path: Path | None = None
    debug: bool = False
    issue_dir: Path | None = None  # the command's ISSUE_DIR: pain-news.toml is also looked for from it
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    closers: list[Callable[[], None]] = field(default_factory=list)
    # Set by the `subscribers` group: the list it opens is first rid of stale unconfirmed signups.
    purges_signups: bool = False
    _store: SubscriberStore | None = field(default=None, init=False, repr=False)

    @cached_property
    def config(self) -> Config:
        # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
        from pain_news.config.settings import load_config

        config = load_config(self.config_path, self.env, issue_dir=self.issue_dir)
        for warning in config.warnings:
            click.echo(f"Warning: {warning}", err=True)
        return config

    def database_config(self) -> Config:
        """The config of a command about to open the subscriber database: refused (ConfigError)
        when no pain-news.toml was found and no database named, else named on stderr — which file
        and which database — so a command run from the wrong folder cannot quietly use another list
        (stdout stays clean for --format json/csv)."""
        # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
        from pain_news.config.settings import require_database
        from pain_news.db import shown_url

        config = self.config
        require_database(config)
        used = str(config.path) if config.path else "no config file (built-in settings)"
        click.echo(f"using {used}; database {shown_url(config.database_url)}", err=True)
        return config

    @property
    def store(self) -> SubscriberStore:
        """The subscriber store; a database without a schema is refused (NoSchema), never created."""
        return self.open_store()

    @property
    def opened_store(self) -> bool:
        """True once this command opened the store (a command that never needed it opens none)."""
        return self._store is not None

    def open_store(self, *, create: bool = False) -> SubscriberStore:
        """The store, opened once; only commands that add subscribers pass `create`."""
        if self._store is None:
            # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
            from pain_news.subscribers.store import open_store

            self._store = open_store(self.database_config(), create=create)
            self.closers.append(self._store.close)
            if self.purges_signups:
                self._purge_signups(self._store)
        return self._store

    def _purge_signups(self, store: SubscriberStore) -> None:
        """Delete signups nobody confirmed in subscribers.pending_purge_days (subscribers/signup.py);
        what went is said on stderr, so stdout stays the command's own (CSV, JSON)."""
        # lazy: the signup module loads only for a command that opens the list
        from pain_news.subscribers.signup import purge_unconfirmed

        purged = purge_unconfirmed(self.config, store)
        if purged.subscribers:
            days = self.config.subscribers.pending_purge_days
            click.echo(f"purged {purged.subscribers} signup(s) not confirmed within {days} days", err=True)

    def drain_withdrawals(self) -> None:
        """Pass opt-outs queued for a scheduled send to SendGrid (sendgrid/withdraw.py) before the
        command's own work; SendGrid's problems are warnings on stderr (the queue keeps them)."""
        # lazy: the SendGrid modules load only for a command that drains, so --help starts fast
        from pain_news.sendgrid.withdraw import drain_withdrawals

        try:  # a database error is the command's own error: it stops the command as it would anyway
            drained = drain_withdrawals(self.config, self.store)
        except (ConfigError, DeliveryError) as exc:
            click.echo(f"warning: queued opt-outs were not passed to SendGrid: {exc.message}", err=True)
            return
        for line in drained.warnings():
            click.echo(line, err=True)

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


class PainNewsGroup(click.Group):
    """Turns PainNewsError (and other expected failures) into one line on stderr and an exit code.

    Database failures arrive here already converted (StoreError, at the store boundary:
    `pain_news.db.store_errors`), so this mapping knows nothing about SQL.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PainNewsError as exc:
            if _debug(ctx):
                raise
            click.echo(f"Error: {exc}", err=True)
            if exc.hint:
                click.echo(f"Hint: {exc.hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            if _debug(ctx):
                raise
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except BrokenPipeError:
            # Output piped into `head` and the like: stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(1)
        except OSError as exc:
            if _debug(ctx):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_object(App)
    return bool(obj and obj.debug) or "--debug" in sys.argv


@click.group(cls=PainNewsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pain-news", prog_name="pain-news")  # read only when asked
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="PAIN_NEWS_CONFIG",
    help="Path to pain-news.toml (default: found by walking up from the current folder).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Pain News: write, check, preview and send TriState Pain Institute's newsletter.

    \b
    Example:
        pain-news build issues/2026-12-winter
        pain-news --help
    """
    app = App(config_path=config_path, debug=debug)
    ctx.obj = app
    ctx.call_on_close(app.close)


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="pain-news")
    finally:
        # What a command made lives until the process ends: frozen, the interpreter's teardown
        # does not walk and free it object by object, which was noticeable after a large send
        # (docs/design/large-sends.md).
        gc.freeze()


def _remember_issue(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    app = ctx.find_object(App)
    if app is not None and value is not None:
        app.issue_dir = value
    return value


def issue_argument(*, required: bool = True, exists: bool = True) -> Callable[[Command], Command]:
    """The ISSUE_DIR argument; pain-news.toml is looked for from that folder up too, after the
    current folder, so a command run from outside the project uses the issue's own settings."""
    folder = click.Path(exists=exists, file_okay=False, path_type=Path)
    return click.argument("issue_dir", required=required, type=folder, callback=_remember_issue)


def known_language(app: App, value: str | None, option: str = "--language") -> str | None:
    """A --language value as one of newsletter.languages (`Spanish`, `es-US` → `es`); exit 2 otherwise."""
    # lazy: only the commands with --language need it
    from pain_news.config.languages import normalise_language

    if value is None:
        return None
    try:
        return normalise_language(value, app.config.languages)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def known_topics(app: App, topics: tuple[str, ...], option: str = "--topic") -> tuple[str, ...]:
    """The --topic values as stored (config/topics.py); exit 2 naming any that [topics] does not declare."""
    try:
        return normalize_topics(topics, app.config.topic_keys)
    except TopicError as exc:
        raise click.BadParameter(exc.message, param_hint=option) from None
