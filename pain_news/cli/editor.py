"""Editor commands: check, preview, archive."""

from __future__ import annotations

from pathlib import Path

import click

from pain_news.cli.app import App, cli, issue_argument

# Not 8025, the usual port of a local SMTP test server: preview has a default of its own.
PREVIEW_PORT = 8410


@cli.command("check")
@issue_argument()
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints one JSON document for machines.",
)
@click.option("--strict", is_flag=True, help="Count warnings as errors (exit 1 on any finding).")
@click.option(
    "--links",
    "request_links",
    is_flag=True,
    help="Also request every external link (needs network; "
    "without one the links are reported as not checked).",
)
@click.pass_obj
def check_cmd(app: App, issue_dir: Path, output_format: str, strict: bool, request_links: bool) -> None:
    """Lint an issue before it goes out; exit 1 when there is any error.

    \b
    Example:
        pain-news check issues/2026-12-winter
        pain-news check issues/2026-12-winter --strict --links --format json
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.checks.run import run_check

    report = run_check(app.config, issue_dir, links=request_links)
    if strict:
        report = report.strict()
    here = Path.cwd()
    if output_format == "json":
        click.echo(report.to_json(here), nl=False)
    else:
        for line in report.lines(here):
            click.echo(line)
    if report.errors:
        raise click.exceptions.Exit(1)


@cli.command("preview")
@issue_argument()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help=f"Port on 127.0.0.1 (default: {PREVIEW_PORT}, or the next free one).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the preview in the default web browser.")
@click.option(
    "--screenshot",
    "screenshot_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Save desktop.png, phone.png, their dark-mode twins (desktop-dark.png, phone-dark.png) and "
    "the colours Gmail and Yahoo invert themselves (desktop-forced-dark.png, phone-forced-dark.png) "
    "into this folder with headless Chromium, then exit.",
)
@click.pass_obj
def preview_cmd(
    app: App, issue_dir: Path, port: int | None, open_browser: bool, screenshot_path: Path | None
) -> None:
    """Preview an issue at desktop and phone widths; the page reloads when a source changes.

    \b
    Example:
        pain-news preview issues/2026-12-winter --open
        pain-news preview issues/2026-12-winter --screenshot shots/
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.web import preview

    if screenshot_path is not None:
        for path in preview.screenshot_issue(app.config, issue_dir, screenshot_path):
            click.echo(f"saved {path}")
        return
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.web.server import ensure_port_free, first_free_port

    if port is None:
        port = first_free_port("127.0.0.1", PREVIEW_PORT)
    else:
        ensure_port_free("127.0.0.1", port)
    click.echo(f"Previewing {issue_dir} at http://127.0.0.1:{port}/ (Ctrl+C to stop)")
    preview.serve(app.config, issue_dir, port, open_browser=open_browser)


@cli.command("archive")
@click.option(
    "--out",
    "out_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder (default: build.archive_out, 'archive').",
)
@click.pass_obj
def archive_cmd(app: App, out_path: Path | None) -> None:
    """Build the static web archive of every published issue (index, /latest/, Atom feed).

    \b
    Example:
        pain-news archive --out public/
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.publish.archive import build_archive
    from pain_news.web.archive_pages import index_page

    result = build_archive(app.config, out_path, index_page=index_page)
    click.echo(result.summary_line())
