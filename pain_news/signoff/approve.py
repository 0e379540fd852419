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

from pain_news import links
from pain_news.config.clock import clinic_zone, shown
from pain_news.config.reviewers import find_reviewer
from pain_news.errors import ApprovalError, InvalidToken
from pain_news.issue.findings import suggestion
from pain_news.ledger.approvals import ApprovalBook, ApprovalRecord, NewApproval, RequestRecord
from pain_news.signoff.content import Approvable, approvable, changed_files, short_hash, source_diff

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
        what = (
            f"{self.content.kind} {self.content.name}"
            if self.content.kind == "issue"
            else "the welcome email"
        )
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
    build.approval_link_days, and approves once (`serve`'s /approve page: pain_news/web/approvals.py).
    """
    from pain_news import delivery
    from pain_news.campaign.personalize import sample_recipient
    from pain_news.checks.run import checked_build
    from pain_news.issue import placeholders

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
    result = checked_build(config, folder)[0]
    content = approvable(config, folder, (result.issue, result.rendered))
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
    values = sample_recipient(config, reviewer.email).values
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
    email_html = placeholders.fill(result.rendered.email_html, values)
    body = _BODY_OPEN.search(email_html)
    at = body.end() if body else 0
    delivery.send_transactional(
        config,
        to=reviewer.email,
        subject=f"[REVIEW] {result.issue.subject}",
        text=banner_text + placeholders.fill(result.rendered.email_text, values),
        html=email_html[:at] + banner_html + email_html[at:],
    )
    return ReviewRequest(reviewer=reviewer, request=request, url=url)


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
    diff: str  # the sources the link was made for, against the newest approval before it

    @property
    def current(self) -> bool:
        """The version the link approves is still what the folder holds."""
        return self.status is not None and self.status.content.hash == self.request.hash


def open_link(config: Config, store: SubscriberStore, token: str, now: dt.datetime) -> LinkReview:
    """Check a token (signature, expiry, not yet used) and describe what it would approve."""
    request_id, expires = links.approval_token_request(token)
    book = ApprovalBook.for_store(store)
    request = book.request(request_id)
    if request is None or int(request.expires_at.timestamp()) != expires:
        raise InvalidToken("this approval link is not valid")
    if not links.approval_token_valid(config.secrets.verification_keys, token, _bound(request)):
        raise InvalidToken("this approval link is not valid")
    if request.used_at is not None:
        raise InvalidToken("this approval link has already been used", hint="ask the editor for a new one")
    if now >= request.expires_at:
        raise InvalidToken("this approval link has expired", hint="ask the editor for a new one")
    reviewer = find_reviewer(config.reviewers, request.reviewer)
    if reviewer is None:
        raise InvalidToken("the reviewer this link was made for is no longer declared")
    folder = _folder(config, request)
    status = approval_status(config, store, folder) if (folder / "issue.toml").is_file() else None
    previous = [
        a for a in book.of_content(request.kind, request.content) if a.approved_at <= request.created_at
    ]
    old = json.loads(previous[0].sources) if previous else {}
    return LinkReview(
        request=request, reviewer=reviewer, status=status, diff=source_diff(old, json.loads(request.sources))
    )


def approve_by_link(
    config: Config, store: SubscriberStore, token: str, note: str, now: dt.datetime
) -> ApprovalRecord:
    """POST /approve/<token>: record the approval the link was made for, once."""
    review = open_link(config, store, token, now)
    if not review.current:
        raise ApprovalError(
            "the issue changed after this link was sent: it can no longer be approved",
            hint="ask the editor for a new review copy",
        )
    assert review.status is not None
    new = _new(review.status.content, review.reviewer, note, BY_LINK)
    recorded = ApprovalBook.for_store(store).add(new, now, review.request.id)
    if recorded is None:
        raise InvalidToken("this approval link has already been used", hint="ask the editor for a new one")
    return recorded


def _folder(config: Config, request: RequestRecord) -> Path:
    if request.kind == "welcome":
        return config.welcome_dir
    return config.resolve(config.build.issues) / request.content
