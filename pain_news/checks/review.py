"""Medical review of each condition spotlight: not older than the limit, not in the future."""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding, warning
from pain_news.issue.model import months_before


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
