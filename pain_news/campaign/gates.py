"""What must hold before a list send may go ahead; each gate raises a PainNewsError naming the fix.

`gated_build` runs `BEFORE_BUILD` (settings and issue.toml only, cheap), then builds and checks the
issue, then runs `AFTER_BUILD` on the result — all before any plan is shown or campaign created.
It runs every gate and refuses with all their errors at once (one refusal: that error itself;
several: `SendRefused` listing each), so `send --dry-run` shows everything left to fix.
A new gate is one function added to one of the tuples; docs/sending.md lists them all.

A gate that only protects real recipients calls `request.warn` instead of refusing when the send
is a test send or goes to the outbox (dry runs, `make demo`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.campaign import published
from pain_news.campaign.options import SendOptions
from pain_news.campaign.placeholder_settings import placeholder_reviewers, placeholder_settings
from pain_news.checks import run as check_run
from pain_news.config.clock import clinic_zone
from pain_news.config.topics import revealing_words_in, revealing_words_in_slug, sensitive_among
from pain_news.errors import ApprovalError, CheckFailed, ConfigError, IssueError, PainNewsError, SendRefused
from pain_news.ledger import CampaignLedger, is_finished
from pain_news.links import unsubscribe_url
from pain_news.signoff.approve import approval_status

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.publish.build import BuildResult
    from pain_news.subscribers.store import SubscriberStore

MAX_LISTED = 4  # files named in the published gate's one line; the rest are counted


@dataclass(frozen=True, kw_only=True)
class SendRequest:
    """What a gate looks at: the settings, the issue folder, the provider and the kind of send."""

    config: Config
    issue_dir: Path
    options: SendOptions = SendOptions()  # the send's flags, whole (pain_news/campaign/options.py)
    test: bool = False  # a "[TEST]" copy to editors: drafts and old reviews pass, the rest warns
    warnings: list[str] = field(default_factory=list)  # filled by the gates; shown before the plan
    store: SubscriberStore | None = None  # where approvals are recorded (None: no database yet)

    @property
    def provider(self) -> str:
        return self.options.provider or self.config.delivery.provider

    @property
    def today(self) -> dt.date:
        """The day the medical review limit is measured from."""
        return self.options.today or dt.date.today()

    @property
    def rehearsal(self) -> bool:
        """Nothing reaches a subscriber: a test send, or the outbox provider (files on this machine)."""
        return self.test or self.provider == "outbox"

    def warn(self, text: str) -> None:
        self.warnings.append(text)


SettingsGate = Callable[[SendRequest], None]
IssueGate = Callable[[SendRequest, "BuildResult"], None]


def unsubscribe_links_can_be_signed(request: SendRequest) -> None:
    """Every list email carries a signed unsubscribe link: no secret key or public_url, no send."""

    unsubscribe_url(request.config, 0, None)


def not_the_welcome_email(request: SendRequest) -> None:
    """templates/welcome goes to each new subscriber once (welcome.py), never to the whole list."""
    if not request.test and request.issue_dir.resolve() == request.config.welcome_dir.resolve():
        raise CheckFailed(
            f"{request.issue_dir} is the welcome email: serve sends it to each new subscriber once",
            hint=f"send --test {request.issue_dir} shows it; pain-news check {request.issue_dir} checks it",
        )


def settings_are_real(request: SendRequest) -> None:
    """Sender, reply-to, postal address and URLs must not be init's examples or reserved domains."""

    found = placeholder_settings(request.config)
    if not found:
        return
    listed = "; ".join(found)
    if request.rehearsal:
        request.warn(f"placeholder settings (a list send through smtp or sendgrid refuses them): {listed}")
        return
    raise ConfigError(
        f"placeholder settings cannot go to subscribers: {listed}",
        hint="set the clinic's real addresses and URLs there (the outbox provider and send --test only warn)",
    )


def not_a_draft(request: SendRequest, result: BuildResult) -> None:
    """`draft = true` in issue.toml: build, check, preview and test send, but no list send."""
    if not request.test and result.issue.draft:
        raise IssueError(
            "this issue is a draft: remove draft = true from issue.toml to send",
            path=request.issue_dir / "issue.toml",
            hint="send --test works for drafts",
        )


def medical_review_is_current(request: SendRequest, result: BuildResult) -> None:
    """Each spotlight's review is current today (pain_news/issue/model.py review_problem)."""
    if request.test:
        return
    problems = result.issue.review_problems(request.today, request.config.build.review_months, "today")
    errors = [
        IssueError(
            f"medical review is not current for a list send: {problem.message}",
            path=piece.path,
            line=piece.reviewed_on_line,
            hint=problem.hint,
        )
        for piece, problem in problems
    ]
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise SendRefused(errors)


def reviewers_are_real(request: SendRequest, result: BuildResult) -> None:
    """A spotlight's reviewer (shown in every copy) must not be init's placeholder reviewer."""
    found = placeholder_reviewers(
        request.config, (p.reviewed_by for p in result.issue.pieces if p.kind == "spotlight")
    )
    if not found:
        return
    listed = "; ".join(found)
    if request.rehearsal:
        request.warn(f"placeholder reviewer (a list send through smtp or sendgrid refuses it): {listed}")
        return
    raise ConfigError(
        f"placeholder reviewer cannot sign an email to subscribers: {listed}",
        path=request.config.path,
        hint="declare the clinic's real reviewer under [reviewers] in pain-news.toml and name that key in "
        "reviewed_by (the outbox provider and send --test only warn)",
    )


def signed_off(request: SendRequest, result: BuildResult) -> None:
    """This exact version (its approval hash) was approved, by a clinical reviewer when it has a spotlight.

    An unfinished campaign that went out under an approval resumes with its frozen copy (edits since
    cannot reach it: tests/test_signoff.py), so it passes whatever the folder holds now.
    """
    if request.store is None:
        request.warn("sign-off not checked: there is no subscriber database yet")
        return
    status = approval_status(
        request.config, request.store, request.issue_dir, (result.issue, result.rendered)
    )
    problem = status.problem(clinic_zone(request.config))
    if not problem:
        return
    ledger = CampaignLedger.for_store(request.store)
    existing = ledger.latest(result.issue.slug)
    if (
        existing is not None
        and existing.approval_id is not None
        and not is_finished(ledger.counts(existing.id))
    ):
        return
    if request.rehearsal:
        request.warn(f"{problem} (a list send through smtp or sendgrid refuses this)")
        return
    folder = request.issue_dir
    diff = f"pain-news approve {folder} --diff shows what changed; " if status.latest else ""
    raise ApprovalError(
        problem,
        hint=f"{diff}pain-news approve {folder} --as KEY approves this version, "
        "or --request KEY emails a reviewer the copy with an approve button",
    )


def sensitive_topics_stay_private(request: SendRequest, result: BuildResult) -> None:
    """A send to a sensitive topic shows none of its words where a lock screen or a shared inbox shows
    them (subject, preheader, sender name), nor in the issue's folder name, which is in every link.

    Its readers chose a topic that can reveal a condition (docs/security.md, "Patient data").
    """
    keys = {k.strip().lower() for k in request.options.topics or result.issue.topics}
    news = request.config.newsletter
    lines = [("sender name", news.from_name or news.name)]
    for edition in result.issue.all_editions:
        where = "" if edition is result.issue else f" ({edition.language} edition)"
        lines += [(f"subject{where}", edition.subject), (f"preheader{where}", edition.preheader)]
    found: list[str] = []
    for topic in sensitive_among(request.config.topics, keys):
        shown = [(f"the {name} {text!r}", revealing_words_in(topic, text)) for name, text in lines]
        shown.append(
            (
                f"the folder name {result.issue.slug!r} (in every link of the email)",
                revealing_words_in_slug(topic, result.issue.slug),
            )
        )
        found += [
            f"{topic.key!r}: {what} shows {', '.join(map(repr, words))}" for what, words in shown if words
        ]
    if not found:
        return
    text = "a send to a sensitive topic must not name it where an inbox shows it: topic " + "; topic ".join(
        found
    )
    if request.rehearsal:
        request.warn(text + " (a list send through smtp or sendgrid refuses this)")
        return
    raise IssueError(
        text,
        path=request.issue_dir / "issue.toml",
        hint="write a subject and preheader that do not name the condition (rename the folder if it names "
        "it); a lock screen or a shared inbox shows them to anyone nearby",
    )


def published_before_mailed(request: SendRequest, result: BuildResult) -> None:
    """The web version and every image the email links to are where public_url serves them."""

    if request.options.published == "skip":
        request.warn("not checked that the issue is published under public_url (--skip-published-check)")
        return
    if request.options.published == "online":
        problems = published.unpublished_online(request.config, result)
        where = f"at {request.config.newsletter.public_url}"
    else:
        archive, problems = published.unpublished_in_archive(request.config, result)
        where = f"in the archive folder {archive}"
    if not problems:
        return
    shown = ", ".join(problems[:MAX_LISTED]) + (
        f" and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    )
    text = f"the issue is not published {where}: {shown}"
    if request.rehearsal:
        request.warn(text + " (a list send through smtp or sendgrid refuses this)")
        return
    raise IssueError(
        text,
        hint="run 'pain-news archive', then publish the archive folder at public_url; "
        "--skip-published-check if you publish it another way",
    )


def sending_domain_is_ready(request: SendRequest) -> None:
    """`pain-news doctor` before a list send through smtp or sendgrid: its errors refuse, its warnings
    warn (DNS or the network out of reach only warns), bounded to about two seconds."""
    if request.rehearsal or request.provider not in ("smtp", "sendgrid"):
        return
    # lazy: dnspython and the doctor's checks load only for a list send through smtp or sendgrid
    from pain_news.doctor.run import examine, refusal

    report = examine(request.config, request.provider)
    for outcome in report.warnings:
        request.warn(f"doctor: {outcome.text}")
    if report.errors:
        raise refusal(report)


BEFORE_BUILD: tuple[SettingsGate, ...] = (
    unsubscribe_links_can_be_signed,
    settings_are_real,
    not_the_welcome_email,
    sending_domain_is_ready,
)
AFTER_BUILD: tuple[IssueGate, ...] = (
    not_a_draft,
    medical_review_is_current,
    reviewers_are_real,
    signed_off,
    sensitive_topics_stay_private,
    published_before_mailed,
)


def checked_build(config: Config, issue_dir: Path) -> BuildResult:
    """build with check errors refused; `send` has no --force, so the hint says how to fix instead."""

    try:
        return check_run.checked_build(config, issue_dir)[0]
    except CheckFailed as error:
        error.hint = f"run pain-news check {issue_dir} and fix the errors, then send again"
        raise


def gated_build(request: SendRequest) -> BuildResult:
    """Run every gate around the checked build; returns the build a send may use, or refuses with all errors."""
    refusals: list[PainNewsError] = []
    for settings_gate in BEFORE_BUILD:
        _collect(refusals, settings_gate, request)
    try:
        result = checked_build(request.config, request.issue_dir)
    except PainNewsError as error:
        refusals.append(error)
    else:
        for issue_gate in AFTER_BUILD:
            _collect(refusals, issue_gate, request, result)
    if len(refusals) == 1:
        raise refusals[0]
    if refusals:
        raise SendRefused([r for error in refusals for r in _flat(error)])
    return result


def _collect(refusals: list[PainNewsError], gate: Callable[..., None], *args: object) -> None:
    try:
        gate(*args)
    except PainNewsError as error:
        refusals.append(error)


def _flat(error: PainNewsError) -> list[PainNewsError]:
    return error.refusals if isinstance(error, SendRefused) else [error]
