"""Sign-off command: approve (in the terminal, by emailed request) and the diff since the last approval."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pain_news.cli.app import App, cli, issue_argument


@cli.command("approve")
@issue_argument(required=False)
@click.option(
    "--welcome", is_flag=True, help="Approve the welcome email (templates/welcome) instead of an issue."
)
@click.option(
    "--auto-answer", is_flag=True, help="Approve the automatic answer to replies instead of an issue."
)
@click.option("--as", "as_key", metavar="KEY", help="Approve this version as the [reviewers] entry KEY.")
@click.option("--note", default="", help="A note kept with the approval (with --as).")
@click.option(
    "--request",
    "request_key",
    metavar="KEY",
    help='Email reviewer KEY a "[REVIEW]" copy with an approve button.',
)
@click.option("--diff", "show_diff", is_flag=True, help="Show what changed since the last approved version.")
@click.pass_obj
def approve_cmd(
    app: App,
    issue_dir: Path | None,
    welcome: bool,
    auto_answer: bool,
    as_key: str | None,
    note: str,
    request_key: str | None,
    show_diff: bool,
) -> None:
    """Sign off the exact version of an issue, the welcome email or the automatic answer.

    A list send through smtp or sendgrid needs an approval of this exact version, by a clinical
    reviewer when the issue has a condition spotlight (docs/sending.md, "Sign-off"). The welcome
    email (--welcome) and the automatic answer to replies (--auto-answer) are approved the same
    way; report and serve warn while their current version is not, and they are sent anyway.

    \b
    Example:
        pain-news approve issues/2026-12-winter --as ana-ruiz --note "checked the dosages"
        pain-news approve issues/2026-12-winter --request ana-ruiz
        pain-news approve issues/2026-12-winter --diff
        pain-news approve --welcome --as ana-ruiz
        pain-news approve --auto-answer --request ana-ruiz
    """
    import getpass

    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.config.clock import clinic_zone, shown
    from pain_news.signoff import approve

    if sum(map(bool, (issue_dir, welcome, auto_answer))) != 1:
        raise click.UsageError("give exactly one of ISSUE_DIR, --welcome or --auto-answer")
    if sum(map(bool, (as_key, request_key, show_diff))) != 1:
        raise click.UsageError("give exactly one of --as KEY, --request KEY or --diff")
    if note and not as_key:
        raise click.BadParameter("--note goes with --as", param_hint="--note")
    issue_dir = approve.content_folder(app.config, issue_dir, welcome=welcome, auto_answer=auto_answer)
    now = dt.datetime.now(dt.UTC)
    zone = clinic_zone(app.config)
    if show_diff:
        latest, diff = approve.source_diff_since_approval(app.config, app.open_store(create=True), issue_dir)
        click.echo(
            f"Last approved by {latest.reviewer_name} ({latest.reviewer}) on {shown(latest.approved_at, zone)}, "
            f"version {latest.hash[:12]}, {latest.given}."
        )
        click.echo(diff or "No source file changed since.", nl=not diff)
        return
    if request_key:
        sent = approve.request_review(app.config, app.open_store(create=True), issue_dir, request_key, now)
        click.echo(
            f"Sent a [REVIEW] copy to {sent.reviewer.name} <{sent.reviewer.email}> via "
            f"{app.config.delivery.provider}; its approve link works once, until "
            f"{shown(sent.request.expires_at, zone)}."
        )
        return
    assert as_key is not None
    recorded = approve.approve_here(
        app.config,
        app.open_store(create=True),
        issue_dir,
        as_key,
        note=note,
        os_user=getpass.getuser(),
        now=now,
    )
    click.echo(
        f"Approved {recorded.content} version {recorded.hash[:12]} as {recorded.reviewer_name} "
        f"({recorded.reviewer}), {recorded.given}, at {shown(recorded.approved_at, zone)}."
    )
