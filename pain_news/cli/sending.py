"""Sending commands: send (test and list sends), report, campaigns."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pain_news.cli.app import App, cli, issue_argument, known_topics
from pain_news.config.clock import clinic_zone
from pain_news.config.settings import PROVIDERS

if TYPE_CHECKING:
    from pain_news.campaign import PreparedSend, SendOptions, SendReport


@cli.command("send")
@issue_argument()
@click.option(
    "--test", "test_send", is_flag=True, help='Send a "[TEST]" copy to --to or delivery.test_recipients only.'
)
@click.option(
    "--to", "to", multiple=True, metavar="ADDRESS", help="Test recipient (repeatable; with --test)."
)
@click.option(
    "--lang",
    "language",
    metavar="LANG",
    help="The edition a test send sends (with --test; default: the issue's first language).",
)
@click.option("--provider", type=click.Choice(PROVIDERS), help="Override delivery.provider.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@click.option("--dry-run", is_flag=True, help="Do everything but deliver: nothing leaves this machine.")
@click.option("--resend-uncertain", is_flag=True, help="Also resend recipients whose delivery is uncertain.")
@click.option("--retry-failed", is_flag=True, help="Retry the recipients recorded as failed.")
@click.option(
    "--new-campaign", is_flag=True, help="Send a finished issue again, to everyone, as a new campaign."
)
@click.option(
    "--check-published",
    is_flag=True,
    help="Confirm the web version and images are online (HEAD each URL) instead of in build.archive_out.",
)
@click.option(
    "--skip-published-check",
    is_flag=True,
    help="Do not confirm the issue is published (for a clinic that publishes another way).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    help="At most N messages per second (default delivery.rate; 0 = no limit).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    metavar="KEY",
    help="Only subscribers who chose this topic (repeatable; replaces issue.toml's topics).",
)
@click.option(
    "--at",
    "at",
    metavar="WHEN",
    help="Schedule the list send (SendGrid, up to 72 hours ahead): ISO 8601 with Z or an offset, "
    "or a local time in newsletter.timezone.",
)
@click.option(
    "--cancel", is_flag=True, help="Cancel the issue's scheduled send (until 10 minutes before its time)."
)
@click.option(
    "--canary",
    "canary",
    type=click.IntRange(min=1),
    metavar="N",
    help="Send to N recipients chosen at random first; the rest go when a later run finds their "
    "bounces and complaints under the limits (docs/sending.md#canary-sends).",
)
@click.option("--no-canary", is_flag=True, help="No default canary for this send: everyone now.")
@click.option(
    "--ignore-canary",
    is_flag=True,
    help="Send the recipients a canary or the circuit breaker holds back, unchecked (breaker off).",
)
@click.pass_obj
def send_cmd(
    app: App,
    issue_dir: Path,
    test_send: bool,
    to: tuple[str, ...],
    language: str | None,
    provider: str | None,
    yes: bool,
    dry_run: bool,
    resend_uncertain: bool,
    retry_failed: bool,
    new_campaign: bool,
    check_published: bool,
    skip_published_check: bool,
    rate: float | None,
    topics: tuple[str, ...],
    at: str | None,
    cancel: bool,
    canary: int | None,
    no_canary: bool,
    ignore_canary: bool,
) -> None:
    """Send an issue: a test copy to editors, or the list send to every active subscriber.

    A list send shows what will happen and asks first; re-running it resumes the campaign
    (nobody recorded as sent is mailed again). Ctrl-C stops after the batch in flight.
    Before it, gates refuse placeholder settings, drafts, check errors, an old medical review
    and an unpublished issue; --dry-run lists every one that refuses (docs/sending.md).

    \b
    Example:
        pain-news send issues/2026-12-winter --test --to editor@tristatepain.example
        pain-news send issues/2026-12-winter --test --lang es
        pain-news send issues/2026-12-winter --dry-run
        pain-news send issues/2026-12-winter --yes
        pain-news send issues/2027-02-classes --topic events
        pain-news send issues/2026-12-winter --at 2026-12-03T09:00 --yes
        pain-news send issues/2026-12-winter --cancel
        pain-news send issues/2026-12-winter --canary 500 --yes
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news import campaign

    _refuse_mixed_options(test_send, cancel, at, to, topics, check_published, skip_published_check)
    _refuse_canary_options(test_send or cancel, canary, no_canary, ignore_canary)
    if language is not None and not test_send:
        raise click.BadParameter(
            "--lang picks a test send's edition (add --test); a list send mails each subscriber theirs",
            param_hint="--lang",
        )
    if cancel:
        _cancel(app, issue_dir)
    elif test_send:
        _send_test(app, issue_dir, to, provider, dry_run, _edition_language(app, language))
    else:
        options = campaign.SendOptions(
            published="online" if check_published else "skip" if skip_published_check else "archive",
            provider=provider,
            dry_run=dry_run,
            resend_uncertain=resend_uncertain,
            retry_failed=retry_failed,
            new_campaign=new_campaign,
            rate=rate,
            topics=known_topics(app, topics),
            at=_when(app, at),
            canary=canary,
            no_canary=no_canary,
            ignore_canary=ignore_canary,
        )
        _send_list(app, issue_dir, options, yes)


def _refuse_mixed_options(
    test_send: bool,
    cancel: bool,
    at: str | None,
    to: tuple[str, ...],
    topics: tuple[str, ...],
    check_published: bool,
    skip_published_check: bool,
) -> None:
    """Refuse options that belong to another kind of send (exit 2, naming the option)."""
    if (test_send or cancel) and at:
        raise click.BadParameter(
            "--at schedules a list send (not with --test or --cancel)", param_hint="--at"
        )
    if cancel:
        return
    if test_send:
        if topics:
            raise click.BadParameter("--topic is for list sends (a test goes to --to)", param_hint="--topic")
        return
    if to:
        raise click.BadParameter("--to is only for test sends (add --test)", param_hint="--to")
    if check_published and skip_published_check:
        raise click.UsageError("--check-published and --skip-published-check exclude each other")


def _refuse_canary_options(
    other_send: bool, canary: int | None, no_canary: bool, ignore_canary: bool
) -> None:
    """--canary, --no-canary and --ignore-canary are for list sends; the first two exclude each other."""
    used = [
        name
        for name, on in (
            ("--canary", canary is not None),
            ("--no-canary", no_canary),
            ("--ignore-canary", ignore_canary),
        )
        if on
    ]
    if other_send and used:
        raise click.BadParameter(
            f"{used[0]} is for list sends (not with --test or --cancel)", param_hint=used[0]
        )
    if canary is not None and no_canary:
        raise click.UsageError("--canary and --no-canary exclude each other")


def _send_list(app: App, issue_dir: Path, options: SendOptions, yes: bool) -> None:
    """The list send: show the plan, ask (unless --yes or --dry-run), send, show the report."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news import campaign

    if not options.dry_run:
        app.drain_withdrawals()
    prepared = campaign.prepare_send(app.config, app.store, issue_dir, options)
    for line in prepared.plan.lines():
        click.echo(line)
    if not options.dry_run and not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("no terminal to confirm on: add --yes to send without asking")
        question = (
            "Schedule the send to {} recipients?" if prepared.schedule else "Send to {} recipients now?"
        )
        click.confirm(question.format(prepared.plan.to_send), abort=True)
    report = _run_with_progress(app, prepared)
    for line in report.lines():
        click.echo(line)
    if prepared.schedule is not None and not options.dry_run:
        # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
        from pain_news.campaign.schedule import when_text

        click.echo(
            f"Scheduled: SendGrid holds what it accepted until {when_text(prepared.schedule, app.config)}; "
            f"'pain-news send {issue_dir} --cancel' cancels it until 10 minutes before."
        )
    if report.interrupted:
        click.echo("Interrupted after the batch in flight; run the same command to resume.", err=True)
        sys.exit(130)


def _when(app: App, at: str | None) -> dt.datetime | None:
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.config.clock import parse_when

    return parse_when(at, app.config) if at is not None else None


def _cancel(app: App, issue_dir: Path) -> None:
    """send --cancel: cancel the issue's scheduled campaign at SendGrid and record it."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.campaign.schedule import cancel_send

    result = cancel_send(app.config, app.store, issue_dir.resolve().name, dt.datetime.now(dt.UTC))
    for line in result.lines():
        click.echo(line)


def _edition_language(app: App, language: str | None) -> str | None:
    """--lang as a configured language code (`Spanish`, `es-US` → `es`); exit 2 naming the known ones."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.config.languages import normalise_language

    if language is None:
        return None
    try:
        return normalise_language(language, app.config.languages)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--lang") from None


def _send_test(
    app: App,
    issue_dir: Path,
    to: tuple[str, ...],
    provider: str | None,
    dry_run: bool,
    language: str | None = None,
) -> None:
    """send --test: the "[TEST]" copy (of one edition), and who was skipped as opted out."""
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news import campaign
    from pain_news.errors import NoSchema

    try:
        store = app.store
    except NoSchema:  # no subscriber database yet: nobody has opted out, and a test needs no list
        store = None
    result = campaign.send_test(
        app.config, store, issue_dir, to, provider, dry_run=dry_run, language=language
    )
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for address, why in result.skipped:
        click.echo(f"Skipped {address}: {why} (opted-out addresses are never mailed).", err=True)
    via = provider or app.config.delivery.provider
    if result.dry_run:
        click.echo(f"dry run: test built for {', '.join(result.sent)} via {via}; 0 emails left this machine.")
    else:
        click.echo(f"Test sent to {', '.join(result.sent)} via {via}.")


def _run_with_progress(app: App, prepared: PreparedSend) -> SendReport:
    """run_send with a progress bar on stderr (recipients done, rate, time left) when it is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.campaign import run_send

    console = Console(stderr=True)
    columns = (
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("send", total=None, rate="")

        def advance(n: int) -> None:
            bar.advance(task, n)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.0f}/s" if speed else "")

        return run_send(
            app.config, app.store, prepared, progress=advance, on_total=lambda n: bar.update(task, total=n)
        )


@cli.command("report")
@issue_argument(required=False, exists=False)
@click.option("--campaign", "campaign_id", type=int, help="Campaign id (see 'pain-news campaigns').")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--recipients", is_flag=True, help="List every recipient and whether they got the issue.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained page with charts (opens offline) to this file.",
)
@click.pass_obj
def report_cmd(
    app: App,
    issue_dir: Path | None,
    campaign_id: int | None,
    fmt: str,
    recipients: bool,
    html_path: Path | None,
) -> None:
    """Show what a campaign did: sent, failed (why), uncertain, skipped, opt-outs, opens and clicks,
    and its complaint, bounce and unsubscribe rates against the mailbox providers' limits.

    \b
    Example:
        pain-news report issues/2026-12-winter
        pain-news report --campaign 3 --recipients
        pain-news report --campaign 3 --format json
        pain-news report issues/2026-12-winter --html report.html
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.campaign import report
    from pain_news.signoff.approve import clinic_content_lines

    if (issue_dir is None) == (campaign_id is None):
        raise click.UsageError("give either ISSUE_DIR or --campaign ID")
    issue = issue_dir.resolve().name if issue_dir is not None else None
    app.drain_withdrawals()  # so the report shows what SendGrid now holds
    found = report.find_campaign(app.store, issue=issue, campaign_id=campaign_id)
    result = report.campaign_report(
        app.store, found, recipients=recipients, zone=clinic_zone(app.config), limits=app.config.delivery
    )
    if fmt == "json":
        click.echo(result.to_json(), nl=False)
    else:
        for line in result.lines(paint=_paint):
            click.echo(line)
    # The welcome email's and the automatic answer's sign-off: a warning, never a block.
    for line in clinic_content_lines(app.config, app.store):
        click.echo(line, err=fmt == "json")
    if html_path is not None:
        # lazy: the page and its charting library load only for --html
        from pain_news.campaign.report_page import write_report_page

        written = write_report_page(html_path, result, app.config.delivery)
        click.echo(f"Report page: {written.resolve()}", err=fmt == "json")


def _waiting(ledger: dict[str, int]) -> str:
    """`, held 300` / `, paused 50`: recipients a canary or the circuit breaker holds back."""
    return "".join(f", {state} {ledger[state]}" for state in ("held", "paused") if ledger.get(state))


_COLOURS = {"ok": "green", "warning": "yellow", "over": "red"}


def _paint(text: str, level: str) -> str:
    """A rate's line in green, yellow or red (click.echo drops the colour when not on a terminal)."""
    colour = _COLOURS.get(level)
    return click.style(text, fg=colour, bold=level == "over") if colour else text


@cli.command("campaigns")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def campaigns_cmd(app: App, fmt: str) -> None:
    """List campaigns, newest first, with how far each got.

    \b
    Example:
        pain-news campaigns
    """
    # lazy: commands load their domain modules when run, so --help starts fast (docs/development.md)
    from pain_news.campaign import report

    rows = report.list_campaigns(app.store, clinic_zone(app.config))
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No campaigns yet: 'pain-news send ISSUE_DIR' starts one.")
    for row in rows:
        ledger = row["ledger"]
        state = row.get("schedule") or ("finished" if row["finished"] else "not finished")
        click.echo(
            f"{row['id']:>4}  {row['created_at']}  {row['issue']:<24} {row['provider']:<8} "
            f"sent {ledger['sent']}, failed {ledger['failed']}, uncertain {ledger['uncertain']}, "
            f"pending {ledger['pending'] + ledger['in_flight']}{_waiting(ledger)}  ({state})"
        )
        click.echo(f"      {report.approval_line(row['approval'])}")
        replies = row["replies"]
        click.echo(
            f"      replies {replies['replies']}, opt-outs by email {replies['opt-outs by email']}, "
            f"auto-replies dropped {replies['auto-replies dropped']}, bounces by email {replies['bounces by email']}"
        )
