"""Medical review of each condition spotlight: not older than the limit, not after the issue date."""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding, warning
from pain_news.issue.model import review_problem

#: The codes review_problem gives (pain_news/issue/model.py), listed for docs/checks.md (tests/test_docs.py).
REVIEW_CODES = ("review-old", "review-future")


def check_review(data: CheckInput) -> list[Finding]:
    """A warning per spotlight whose review is not current on the issue date (the one rule:
    pain_news/issue/model.py review_problem).

    Measured from the issue date, so the same sources always give the same report. A list send
    measures from the day it sends and refuses (pain_news/campaign/gates.py); `check` warns, so an
    editor still sees the rest of the issue while the review is renewed.
    """
    months, date = data.config.build.review_months, data.loaded.issue_date
    findings = []
    for piece in data.loaded.pieces:
        if piece.reviewed_on is None or date is None:
            continue
        problem = review_problem(piece.reviewed_on, date, months, "the issue date")
        if problem:
            findings.append(
                warning(problem.code, problem.message, piece.path, piece.reviewed_on_line, problem.hint)
            )
    return findings
