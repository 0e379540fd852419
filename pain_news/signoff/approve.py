"""Approving a version (in the terminal or by the emailed link), asking for a review, and what a send sees.

A list send needs an approval of the exact version it would send (the hash in content.py), by a
clinical reviewer when the issue has a condition spotlight (pain_news/campaign/gates.py). Approvals
are only ever added (book.py). docs/sending.md, "Sign-off", says it for an editor.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news import delivery, links
from pain_news.campaign.personalize import sample_recipient
from pain_news.checks.run import checked_build
from pain_news.config.clock import clinic_zone, shown
from pain_news.config.reviewers import find_reviewer
from pain_news.errors import ApprovalError, InvalidToken, PainNewsError
from pain_news.i18n import N_
from pain_news.inbound import answers
from pain_news.issue import placeholders
from pain_news.issue.findings import suggestion
from pain_news.ledger.approvals import ApprovalBook, ApprovalRecord, NewApproval, RequestRecord
from pain_news.signoff.content import (
    KIND_ANSWER,
    KIND_WELCOME,
    Approvable,
    answer_approvable,
    answer_dir,
    approvable,
    changed_files,
    identify,
    short_hash,
    source_diff,
)

if TYPE_CHECKING:
    from pain_news.config.reviewers import Reviewer
    from pain_news.config.settings import Config
    from pain_news.issue.loader import Issue
    from pain_news.render.pipeline import Rendered
    from pain_news.subscribers.store import SubscriberStore

BY_LINK = "emailed link"
_BODY_OPEN = re.compile(r"<body[^>]*>", re.I)


@dataclass(frozen=True)
class ApprovalStatus:
    """Where a version stands: the approval that covers it (if any) and the newest approval before it."""

    content: Approvable
    approval: ApprovalRecord | None  # of this hash, by a clinical reviewer when the issue needs one
    latest: ApprovalRecord | None  # the newest approval of any version
    unclinical: ApprovalRecord | None = None  # of this hash, but by a non-clinical reviewer

    @property
    def approved(self) -> bool:
        return self.approval is not None

    def changed(self) -> list[str]:
        """Files changed since the newest approval ([] when there is none)."""
        if self.latest is None:
            return []
        return changed_files(json.loads(self.latest.sources), self.content.sources)

    def problem(self, zone: dt.tzinfo) -> str:
        """Why this version may not go to the list, in one line ("" when it may)."""
        what = self.content.title
        if self.approval is not None:
            return ""
        if self.unclinical is not None:
            return (
                f"{what} has a condition spotlight: this version ({self.content.short}) was approved by "
                f"{self.unclinical.reviewer_name} ({self.unclinical.reviewer}), who is not a clinical reviewer"
            )
        if self.latest is None:
            return f"{what} has no approval: nobody has signed off this version ({self.content.short})"
        changed = self.changed()
        since = (
            f"; changed since: {', '.join(changed)}"
            if changed
            else "; the settings or templates changed since"
        )
        return (
            f"{what} changed after its approval: {self.latest.reviewer_name} ({self.latest.reviewer}) approved "
            f"version {short_hash(self.latest.hash)} on {shown(self.latest.approved_at, zone)}, "
            f"this is version {self.content.short}{since}"
        )


def approval_status(
    config: Config, store: SubscriberStore, folder: Path, built: tuple[Issue, Rendered] | None = None
) -> ApprovalStatus:
    """The version in `folder` now, and the approval that covers it."""
    content = approvable(config, folder, built)
    found = ApprovalBook.for_store(store).of_content(content.kind, content.name)
    of_hash = [a for a in found if a.hash == content.hash]
    good = [a for a in of_hash if a.clinical or not content.has_spotlight]
    return ApprovalStatus(
        content=content,
        approval=good[0] if good else None,
        latest=found[0] if found else None,
        unclinical=of_hash[0] if of_hash and not good else None,
    )


def reviewer_for(config: Config, key: str) -> Reviewer:
    """The [reviewers] entry `key`, or ApprovalError with a "did you mean"."""
    reviewer = find_reviewer(config.reviewers, key)
    if reviewer is None:
        keys = tuple(r.key for r in config.reviewers)
        raise ApprovalError(
            f"no reviewer '{key}' in pain-news.toml{suggestion(key, keys)}",
            path=config.path,
            hint=f"declared reviewers: {', '.join(keys) or 'none (add a [reviewers.<key>] table)'}",
        )
    return reviewer


def approve_here(
    config: Config,
    store: SubscriberStore,
    folder: Path,
    key: str,
    *,
    note: str,
    os_user: str,
    now: dt.datetime,
) -> ApprovalRecord:
    """`approve ISSUE --as KEY`: record KEY's approval of the version in `folder`, given in this terminal."""
    reviewer = reviewer_for(config, key)
    if reviewer.email_only:
        raise ApprovalError(
            f"reviewer '{key}' approves only through the emailed link (email_only = true)",
            hint=f"pain-news approve {folder} --request {key} mails them the [REVIEW] copy with the button",
        )
    content = approvable(config, folder)
    recorded = ApprovalBook.for_store(store).add(
        _new(content, reviewer, note, f"terminal, by OS user {os_user}"), now
    )
    assert recorded is not None  # only a spent emailed request records nothing
    return recorded


def _new(content: Approvable, reviewer: Reviewer, note: str, given: str) -> NewApproval:
    return NewApproval(
        kind=content.kind,
        content=content.name,
        hash=content.hash,
        reviewer=reviewer.key,
        reviewer_name=reviewer.name,
        clinical=reviewer.clinical,
        note=note,
        given=given,
        sources=content.sources_json(),
    )


def source_diff_since_approval(
    config: Config, store: SubscriberStore, folder: Path
) -> tuple[ApprovalRecord, str]:
    """`approve ISSUE --diff`: the newest approval and the diff of the sources since ("" when unchanged)."""
    status = approval_status(config, store, folder)
    if status.latest is None:
        raise ApprovalError(
            f"{status.content.name} has never been approved: there is nothing to compare with",
            hint=f"pain-news approve {folder} --as KEY records the first approval",
        )
    return status.latest, source_diff(json.loads(status.latest.sources), status.content.sources)


@dataclass(frozen=True)
class ReviewRequest:
    """What `approve --request` sent: to whom, the link's expiry and the request."""

    reviewer: Reviewer
    request: RequestRecord
    url: str


def request_review(
    config: Config, store: SubscriberStore, folder: Path, key: str, now: dt.datetime
) -> ReviewRequest:
    """`approve ISSUE --request KEY`: mail KEY a "[REVIEW]" copy with a signed "Approve this version" button.

    Sent through the configured provider like a test send (the [sample] subscriber's values fill the
    placeholders). The link is bound to this version's hash and to KEY, expires after
    build.approval_link_days, and approves once (`serve`'s /approve page: pain_news/web/routes/approve.py).
    """
    if config.build.approval_link_days < 1:
        raise ApprovalError(
            f"build.approval_link_days must be 1 or more, got {config.build.approval_link_days}",
            path=config.path,
        )
    reviewer = reviewer_for(config, key)
    if "@" not in reviewer.email:
        raise ApprovalError(
            f"reviewer '{key}' has no email address to send the review copy to",
            path=config.path,
            hint=f"set email under [reviewers.{key}] in pain-news.toml",
        )
    content, subject, text, email_html = _review_copy(config, folder, reviewer)
    links.link_base(config)  # refuse before recording anything when links cannot be made
    book = ApprovalBook.for_store(store)
    request = book.add_request(
        kind=content.kind,
        content=content.name,
        hash=content.hash,
        reviewer=reviewer.key,
        sources=content.sources_json(),
        now=now,
        days=config.build.approval_link_days,
    )
    url = links.approval_url(config, request_token(config, request))
    until = shown(request.expires_at, clinic_zone(config))
    banner_text = (
        f"REVIEW COPY for {reviewer.name}: approve this exact version ({content.short}) here, "
        f"until {until}:\n{url}\n\n"
    )
    banner_html = (
        '<div style="padding:16px;background:#fff4d6;font-family:Arial,sans-serif;font-size:16px">'
        f"<p>Review copy for {html.escape(reviewer.name)}: version {content.short}.</p>"
        f'<p><a href="{html.escape(url)}" style="display:inline-block;padding:10px 16px;background:#1d4f91;'
        'color:#ffffff;text-decoration:none;border-radius:4px">Approve this version</a></p>'
        f"<p>The link works once, until {html.escape(until)}.</p></div>"
    )
    body = _BODY_OPEN.search(email_html)
    at = body.end() if body else 0
    delivery.send_transactional(
        config,
        to=reviewer.email,
        subject=f"[REVIEW] {subject}",
        text=banner_text + text,
        html=email_html[:at] + banner_html + email_html[at:],
    )
    return ReviewRequest(reviewer=reviewer, request=request, url=url)


def _review_copy(config: Config, folder: Path, reviewer: Reviewer) -> tuple[Approvable, str, str, str]:
    """(version, subject, text, HTML) of the copy a reviewer is sent: the automatic answer as it is
    mailed, an issue or the welcome email checked, with the [sample] subscriber's values filled in."""
    if identify(config, folder)[0] == KIND_ANSWER:
        content = answer_approvable(config)
        composed = answers.answer(config)
        return content, composed.subject, composed.text, composed.html
    result = checked_build(config, folder)[0]
    content = approvable(config, folder, (result.issue, result.rendered))
    values = sample_recipient(config, reviewer.email).values
    email_text = placeholders.fill(result.rendered.email_text, values)
    return content, result.issue.subject, email_text, placeholders.fill(result.rendered.email_html, values)


def request_token(config: Config, request: RequestRecord) -> str:
    """The signed token of an emailed request (links.approval_token, bound to its hash and reviewer)."""
    return links.approval_token(
        config.secrets.secret_key, request.id, int(request.expires_at.timestamp()), _bound(request)
    )


def _bound(request: RequestRecord) -> str:
    return f"{request.hash}:{request.reviewer}"


@dataclass(frozen=True)
class LinkReview:
    """What the /approve page shows: the request, its reviewer, the version now and what changed."""

    request: RequestRecord
    reviewer: Reviewer
    status: ApprovalStatus | None  # None when the issue folder is gone
    previous: ApprovalRecord | None  # the newest approval before the link was made
    diff: str  # the sources the link was made for, against `previous`
    text: str = ""  # the text part now, the [sample] subscriber's values filled in as in the review copy

    @property
    def current(self) -> bool:
        """The version the link approves is still what the folder holds."""
        return self.status is not None and self.status.content.hash == self.request.hash


# What a reviewer opening a bad link reads (translated on the page: pain_news/web/routes/approve.py).
LINK_NOT_VALID = N_("this approval link is not valid")
LINK_USED = N_("this approval link has already been used")
LINK_EXPIRED = N_("this approval link has expired")
CHANGED_SINCE_LINK = N_("it changed after this link was sent: this version can no longer be approved")
ASK_AGAIN = N_("Ask the editor to send you a new review copy.")


def open_link(config: Config, store: SubscriberStore, token: str, now: dt.datetime) -> LinkReview:
    """Check a token (signature, expiry, not yet used) and describe what it would approve."""
    request_id, expires = links.approval_token_request(token)
    book = ApprovalBook.for_store(store)
    request = book.request(request_id)
    if request is None or int(request.expires_at.timestamp()) != expires:
        raise InvalidToken(LINK_NOT_VALID)
    if not links.approval_token_valid(config.secrets.verification_keys, token, _bound(request)):
        raise InvalidToken(LINK_NOT_VALID)
    if request.used_at is not None:
        raise InvalidToken(LINK_USED, hint=ASK_AGAIN)
    if now >= request.expires_at:
        raise InvalidToken(LINK_EXPIRED, hint=ASK_AGAIN)
    reviewer = find_reviewer(config.reviewers, request.reviewer)
    if reviewer is None:
        raise InvalidToken(LINK_NOT_VALID, hint=ASK_AGAIN)  # the reviewer is no longer declared
    folder = _folder(config, request)
    present = request.kind == KIND_ANSWER or (folder / "issue.toml").is_file()
    status = approval_status(config, store, folder) if present else None
    previous = [
        a for a in book.of_content(request.kind, request.content) if a.approved_at <= request.created_at
    ]
    old = json.loads(previous[0].sources) if previous else {}
    return LinkReview(
        request=request,
        reviewer=reviewer,
        status=status,
        previous=previous[0] if previous else None,
        diff=source_diff(old, json.loads(request.sources)),
        text=placeholders.fill(status.content.text, sample_recipient(config, reviewer.email).values)
        if status
        else "",
    )


def approve_by_link(
    config: Config, store: SubscriberStore, token: str, note: str, now: dt.datetime
) -> ApprovalRecord:
    """POST /approve/<token>: record the approval the link was made for, once."""
    review = open_link(config, store, token, now)
    if not review.current:
        raise ApprovalError(CHANGED_SINCE_LINK, hint=ASK_AGAIN)
    assert review.status is not None
    new = _new(review.status.content, review.reviewer, note, BY_LINK)
    recorded = ApprovalBook.for_store(store).add(new, now, review.request.id)
    if recorded is None:
        raise InvalidToken(LINK_USED, hint=ASK_AGAIN)
    return recorded


def _folder(config: Config, request: RequestRecord) -> Path:
    if request.kind == KIND_WELCOME:
        return config.welcome_dir
    if request.kind == KIND_ANSWER:
        return answer_dir(config)
    return config.resolve(config.build.issues) / request.content


def content_folder(config: Config, issue_dir: Path | None, *, welcome: bool, auto_answer: bool) -> Path:
    """What `approve` works on: ISSUE_DIR, the welcome email (--welcome) or the automatic answer (--auto-answer)."""
    if welcome:
        if not (config.welcome_dir / "issue.toml").is_file():
            raise ApprovalError(
                f"there is no welcome email to approve: {config.welcome_dir / 'issue.toml'} does not exist",
                hint="write the welcome email there like an issue (docs/writing.md)",
            )
        return config.welcome_dir
    if auto_answer:
        return answer_dir(config)
    assert issue_dir is not None
    return issue_dir


def clinic_content_lines(config: Config, store: SubscriberStore) -> list[str]:
    """Whether the welcome email and the automatic answer (when they are sent) are approved as they are now.

    A warning, never a block: a welcome or an answer telling a patient where to get care must never
    wait for a signature (`report` and `serve` print these lines; docs/sending.md, "Sign-off")."""
    found: list[tuple[str, Path]] = []
    if (config.welcome_dir / "issue.toml").is_file():
        found.append(("--welcome", config.welcome_dir))
    if config.newsletter.inbound_domain:  # answers go out only when replies are received
        found.append(("--auto-answer", answer_dir(config)))
    zone = clinic_zone(config)
    lines = []
    for flag, folder in found:
        try:
            status = approval_status(config, store, folder)
        except PainNewsError as exc:
            lines.append(
                f"warning: {identify(config, folder)[1]} could not be checked for sign-off: {exc.message}"
            )
            continue
        approval = status.approval
        if approval is not None:
            lines.append(
                f"sign-off: {status.content.title} (version {status.content.short}) approved by "
                f"{approval.reviewer_name} ({approval.reviewer}) on {shown(approval.approved_at, zone)}"
            )
            continue
        lines.append(
            f"warning: {status.problem(zone)}; it is still sent. "
            f"Hint: pain-news approve {flag} --as KEY (or --request KEY)"
        )
    return lines
