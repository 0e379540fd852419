"""Authoring commands: init, new, build."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pain_news.cli.app import App, cli, issue_argument


@cli.command("init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option(
    "--inbound-domain",
    help="Domain whose mail reaches `pain-news inbound`, for unsubscribe by email and replies "
    "(asked for when run in a terminal; empty: none).",
)
def init_cmd(folder: Path, inbound_domain: str | None) -> None:
    """Start a new Pain News project: pain-news.toml, .env with a secret, templates.

    \b
    Example:
        mkdir clinic-news && cd clinic-news && pain-news init
        pain-news init --inbound-domain reply.clinic.example
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.issue.scaffold import init_project

    if inbound_domain is None and sys.stdin.isatty():
        # Unsubscribe by email needs a domain whose mail is handled (docs/serve.md); a script gets no question.
        inbound_domain = click.prompt(
            "Domain whose mail reaches pain-news, for unsubscribe by email (Enter for none)",
            default="",
            show_default=False,
        )
    created = init_project(folder, inbound_domain or "")
    for path in created:
        click.echo(f"created {path}")
    click.echo("Next: edit pain-news.toml, then run 'pain-news new issues/<yyyy-mm-name>'.")


@cli.command("new")
@click.argument("issue_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--title",
    help='Issue title (default: from the folder name, 2027-01-january → "January 2027").',
)
@click.option("--number", type=int, help="Issue number (default: one more than the highest under issues/).")
def new_cmd(issue_dir: Path, title: str | None, number: int | None) -> None:
    """Scaffold an issue folder with issue.toml, a spotlight and an article.

    Title and date come from the folder's name (date: the first of that month).

    \b
    Example:
        pain-news new issues/2027-01-january
        pain-news new issues/2027-02-valentines --title "February 2027"
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.issue.scaffold import new_issue

    for path in new_issue(issue_dir, title, number):
        click.echo(f"created {path}")
    click.echo(f"Next: write the pieces, then 'pain-news check {issue_dir}'.")


@cli.command("build")
@issue_argument()
@click.option(
    "--out",
    "out_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: build/<issue>/).",
)
@click.option(
    "--templates",
    "templates_path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Use another template set.",
)
@click.option(
    "--force", is_flag=True, help="Build even when `check` finds errors (they are kept in meta.json)."
)
@click.pass_obj
def build_cmd(
    app: App, issue_dir: Path, out_path: Path | None, templates_path: Path | None, force: bool
) -> None:
    """Build email HTML, plain text and web version for one issue (refused while `check` finds errors).

    \b
    Example:
        pain-news build issues/2026-12-winter
        pain-news build issues/2026-12-winter --out /tmp/winter
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.checks.run import checked_build
    from pain_news.config.settings import BuildSettings

    config = app.config
    if templates_path is not None:
        config = config.with_overrides(
            build=BuildSettings(**{**config.build.__dict__, "templates": str(templates_path.resolve())})
        )
    result, report = checked_build(config, issue_dir, out_path, force=force)
    for finding in report.findings:
        click.echo(finding.one_line(config.root), err=True)
    click.echo(result.summary_line())
