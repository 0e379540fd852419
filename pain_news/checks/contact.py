"""An issue that asks readers to call needs a number to call: `newsletter.phone` shows it in every email."""

from __future__ import annotations

import re
from pathlib import Path

from pain_news.checks import Finding, warning
from pain_news.config.settings import Config
from pain_news.issue.loader import Issue

CALL_US = re.compile(
    r"\b(?:call|phone|ring)\s+(?:us|our\s+(?:office|clinic|team|front\s+desk))\b|\bgive\s+us\s+a\s+(?:call|ring)\b",
    re.I,
)


def _first_match(text: str) -> tuple[str, int] | None:
    """(the phrase, its 1-based line) of the first request to call in `text`."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = CALL_US.search(line)
        if found:
            return found.group(0), number
    return None


def phone_findings(config: Config, issue: Issue) -> list[Finding]:
    """A `call-without-phone` warning for each file that says "call us" while no phone is configured."""
    if config.newsletter.phone.strip():
        return []
    sources: list[tuple[Path, str]] = [(issue.folder / "issue.toml", _read(issue.folder / "issue.toml"))]
    sources += [(piece.path, piece.source) for piece in issue.pieces]
    findings = []
    for path, text in sources:
        match = _first_match(text)
        if match is not None:
            phrase, line = match
            findings.append(
                warning(
                    "call-without-phone",
                    f'says "{phrase}" but no phone number is configured, so readers have none to call',
                    path,
                    line,
                    "set phone under [newsletter] in pain-news.toml (it is shown in the masthead and footer)",
                )
            )
    return findings


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
