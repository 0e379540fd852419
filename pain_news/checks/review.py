"""Medical review of each condition spotlight: by a declared reviewer, not older than the limit,
not in the future."""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding, error, warning
from pain_news.config.reviewers import looks_like_key
from pain_news.issue.findings import suggestion
from pain_news.issue.model import line_of_key, months_before


def check_reviewer(data: CheckInput) -> list[Finding]:
    """An error per spotlight whose `reviewed_by` is not a key of [reviewers] in pain-news.toml.

    The review line shows the reviewer's name and credentials from config, so a typo cannot print a
    name nobody declared; free text written before [reviewers] existed gets the migration steps.
    """
    keys = tuple(r.key for r in data.config.reviewers)
    findings = []
    for piece in data.loaded.pieces:
        value = piece.reviewed_by.strip()
        if piece.kind != "spotlight" or not value or value in keys:
            continue
        line = line_of_key(piece.source, "reviewed_by")
        if looks_like_key(value):
            findings.append(
                error(
                    "reviewer-unknown",
                    f"reviewed_by '{value}' is not a reviewer in pain-news.toml{suggestion(value, keys)}",
                    piece.path,
                    line,
                    f"declare [reviewers.{value}] (name, credentials, email, clinical) in "
                    f"{data.config_path.name}, or name one of: {', '.join(keys) or 'none declared yet'}",
                )
            )
        else:
            findings.append(
                error(
                    "reviewer-unknown",
                    f"reviewed_by '{value}' is free text; it must now name a reviewer key from pain-news.toml",
                    piece.path,
                    line,
                    "add [reviewers.<key>] with name = and credentials = to "
                    f"{data.config_path.name} (e.g. [reviewers.ana-ruiz]), then write reviewed_by: <key>",
                )
            )
    return findings


def check_review(data: CheckInput) -> list[Finding]:
    """A warning per spotlight reviewed more than build.review_months before the issue date, or after it.

    Measured from the issue date, so the same sources always give the same report. A list send
    measures from the day it sends and refuses both (Issue.review_problems in pain_news/issue/model.py);
    `check` warns, so an editor still sees the rest of the issue while the review is renewed.
    """
    months, date = data.config.build.review_months, data.loaded.issue_date
    findings = []
    for piece in data.loaded.pieces:
        if piece.reviewed_on is None or date is None:
            continue
        if piece.reviewed_on < months_before(date, months):
            findings.append(
                warning(
                    "review-old",
                    f"spotlight was reviewed on {piece.reviewed_on.isoformat()}, "
                    f"more than {months} months before the issue date",
                    piece.path,
                    piece.reviewed_on_line,
                    "ask a clinician to review it again and update reviewed_on",
                )
            )
        elif piece.reviewed_on > date:
            findings.append(
                warning(
                    "review-future",
                    f"reviewed_on {piece.reviewed_on.isoformat()} is after the issue date "
                    f"({date.isoformat()})",
                    piece.path,
                    piece.reviewed_on_line,
                    "write the date the clinician actually reviewed it, or fix the issue's date",
                )
            )
    return findings
