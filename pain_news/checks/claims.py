"""Spotlight claims against their source: a superlative the clinic's own page does not make.

A spotlight may name its `source:` (the clinic's condition page) in front matter and keep that
page's text beside it as `source.txt` (or `<piece>.source.txt` when an issue has two spotlights).
Words like "the most common", "always", "never" or "cure" overstate easily; when the source text
is there, each one the spotlight uses must be in it too. `check --links` requests the source URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pain_news.checks import Finding, warning
from pain_news.issue.model import Piece
from pain_news.issue.pieces import FRONT_MATTER, split_front_matter

SUPERLATIVES = (
    "the most common",
    "most common",
    "the most effective",
    "the best",
    "the only",
    "always",
    "never",
    "cure",
    "cures",
    "cured",
    "guaranteed",
    "permanent",
    "permanently",
    "completely",
    "proven",
    "100%",
)
#: Longest first, so "the most common" is reported rather than "most common" inside it.
PATTERN = re.compile(
    r"(?<![\w-])("
    + "|".join(re.escape(s) for s in sorted(SUPERLATIVES, key=len, reverse=True))
    + r")(?![\w-])",
    re.I,
)
#: Front-matter keys whose values readers see.
SHOWN_KEYS = ("title", "summary")


def source_text_path(piece: Piece) -> Path | None:
    """`<piece>.source.txt` beside the spotlight, else `source.txt`; None when neither exists."""
    for name in (f"{piece.slug}.source.txt", "source.txt"):
        path = piece.path.parent / name
        if path.is_file():
            return path
    return None


def source_url(piece: Piece) -> str:
    """The spotlight's `source:` URL, or ''."""
    split = split_front_matter(piece.source, piece.path)
    if not isinstance(split, tuple):  # a Finding: the loader reports the broken front matter
        return ""
    value = split[0].get("source")
    return value.strip() if isinstance(value, str) else ""


def source_urls(pieces: Iterable[Piece]) -> list[str]:
    """Every spotlight's http(s) source URL, for `check --links`."""
    urls = (source_url(p) for p in pieces if p.kind == "spotlight")
    return sorted({u for u in urls if u.startswith(("https://", "http://"))})


def _shown_lines(piece: Piece) -> list[tuple[int, str]]:
    """(line number, text) of what readers see: the body, and the title and summary in front matter."""
    match = FRONT_MATTER.match(piece.source)
    front_end = piece.source.count("\n", 0, match.end()) if match else 0
    shown = []
    for number, line in enumerate(piece.source.splitlines(), start=1):
        if number > front_end or line.startswith(tuple(f"{k}:" for k in SHOWN_KEYS)):
            shown.append((number, line))
    return shown


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def check_claims(pieces: Iterable[Piece]) -> list[Finding]:
    """Warnings for superlatives a spotlight states that its source text does not contain."""
    findings = []
    for piece in pieces:
        if piece.kind != "spotlight":
            continue
        text_path = source_text_path(piece)
        url = source_url(piece)
        if url and not url.startswith("https://"):
            findings.append(
                warning(
                    "source-url",
                    f"source is not an https:// address: {url}",
                    piece.path,
                    _line_of_key(piece, "source"),
                    "name the clinic's condition page, https://...",
                )
            )
        if text_path is None:
            continue
        source = _normalised(text_path.read_text(encoding="utf-8", errors="replace"))
        reported: set[str] = set()
        for number, line in _shown_lines(piece):
            for match in PATTERN.finditer(line):
                word = match.group(1).lower()
                if word in reported or re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", source):
                    continue
                reported.add(word)
                findings.append(
                    warning(
                        "superlative",
                        f'says "{match.group(1)}", which its source ({text_path.name}) does not say',
                        piece.path,
                        number,
                        "soften the claim (e.g. 'a common sign', 'often', 'can help'), or quote the source",
                    )
                )
    return findings


def _line_of_key(piece: Piece, key: str) -> int | None:
    for number, line in enumerate(piece.source.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return None
