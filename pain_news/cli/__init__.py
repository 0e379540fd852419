"""The `pain-news` command: a Click group, the App context object, and error → exit-code mapping.

Commands live in the modules of this package, one per family (authoring, editor, subscribers,
sending, web). Each command is parse → one call into a domain module → echo; domain modules
import lazily so `pain-news --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pain_news.errors import PainNewsError

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.store import SubscriberStore


@dataclass
class App:
    """Per-invocation state; config and store open lazily so `init` and `--help` need neither."""

    config_path: Path | None = None
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    closers: list[Callable[[], None]] = field(default_factory=list)

    @cached_property
    def config(self) -> Config:
        from pain_news.config import load_config

        return load_config(self.config_path, self.env)

    @cached_property
    def store(self) -> SubscriberStore:
        from pain_news.store import open_store

        store = open_store(self.config)
        self.closers.append(store.close)
        return store

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


class PainNewsGroup(click.Group):
    """Turns PainNewsError (and other expected failures) into one line on stderr and an exit code."""

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
        except Exception as exc:
            # A database failure: one line, never the SQL parameters (they hold personal data).
            sa = sys.modules.get("sqlalchemy.exc")  # not imported at all means it is not one
            if sa is None or not isinstance(exc, sa.DBAPIError) or _debug(ctx):
                raise
            from pain_news.db import describe_error

            problem = describe_error(exc)
            click.echo(f"Error: {problem}\nHint: {problem.hint}", err=True)
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
    cli(prog_name="pain-news")


# Command families register themselves on `cli` when imported.
from pain_news.cli import authoring, editor, sending, subscribers  # noqa: E402,F401
