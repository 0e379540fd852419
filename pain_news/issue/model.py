"""The issue model the loader (pain_news/issue/loader.py) builds: Issue, Piece and their parts.

Plain frozen data between stages; path helpers that decide whether a link or image target names a
file inside the issue folder live here so the loader, build, archive and preview agree on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pain_news.issue.markdown import Fragment


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Image:
    """An image: `src` as written; `path` is the local file when `src` is relative."""

    src: str
    alt: str
    path: Path | None
    url: str = ""  # where mail clients load it from (public_url based when src is relative)


@dataclass(frozen=True)
class Target:
    """A link or image target as written in a piece (markdown body or front matter), with its line."""

    kind: str  # "link" or "image"
    url: str
    line: int
    alt: str = ""
    in_front_matter: bool = False


@dataclass(frozen=True)
class SpotlightSection:
    heading: str
    html: str
    text: str
    line: int


@dataclass(frozen=True)
class Piece:
    """One markdown file of an issue: an article or a condition spotlight."""

    kind: str
    slug: str
    path: Path
    title: Fragment
    body: Fragment
    body_line: int  # line in the file where the markdown body starts
    layout: str = "full"
    author: str = ""
    image: Image | None = None
    cta: Link | None = None
    # spotlight only
    condition: str = ""
    summary: Fragment | None = None
    sections: tuple[SpotlightSection, ...] = ()
    learn_more_url: str = ""
    reviewed_by: str = ""
    reviewed_on: dt.date | None = None
    reviewed_on_line: int | None = None
    source: str = field(default="", compare=False, repr=False)  # the whole file
    markdown: str = field(default="", compare=False, repr=False)  # the body after the front matter
    found_targets: tuple[Target, ...] = field(default=(), compare=False, repr=False)

    @property
    def targets(self) -> tuple[str, ...]:
        """Every link and image target in the markdown body, as written."""
        return tuple(t.url for t in self.found_targets if not t.in_front_matter)

    @property
    def unknown_tags(self) -> list[tuple[str, int]]:
        """Tags like `{{ frist_name }}` that no recipient value fills, with their line in the file."""
        found = [(tag, self.body_line + line - 1) for tag, line in self.body.unknown_tags]
        for key, fragment in (("title", self.title), ("summary", self.summary)):
            if fragment is not None:
                found.extend((tag, line_of_key(self.source, key) or 1) for tag, _ in fragment.unknown_tags)
        return sorted(set(found), key=lambda item: item[1])

    @property
    def word_count(self) -> int:
        words = self.body.text.split() + (self.summary.text.split() if self.summary else [])
        return len(words)


@dataclass(frozen=True)
class Issue:
    folder: Path
    slug: str
    title: str
    number: int
    date: dt.date
    subject: str
    preheader: str
    pieces: tuple[Piece, ...]
    intro: Fragment | None = None
    draft: bool = False  # `draft = true` in issue.toml: build, check, preview, test send; no list send
    topics: tuple[str, ...] = ()  # `topics = [...]` in issue.toml: a list send mails only these readers
    # Editions (docs/writing.md#editions-in-another-language): this one's language; the default
    # edition holds the others in `editions` (same pieces from NAME.LANG.md files, [LANG] values
    # from issue.toml), each with `edition_dir` = its language (its folder under the build).
    language: str = "en"
    editions: tuple[Issue, ...] = ()
    edition_dir: str = ""  # "" for the default edition, else "es": build/<issue>/es/, /<issue>/es/
    # Every edition's language, the default first, on each edition (so an edition can link the others).
    edition_languages: tuple[str, ...] = ()

    @property
    def languages(self) -> tuple[str, ...]:
        """Every edition's language, the default first (`languages = [...]` in issue.toml)."""
        return self.edition_languages or (self.language,)

    @property
    def all_editions(self) -> tuple[Issue, ...]:
        """The default edition (this one) and then the others, in issue.toml's order."""
        return (self, *self.editions)

    def edition(self, language: str) -> Issue:
        """The edition in `language`, or the default one when the issue has none in it."""
        return next((e for e in self.editions if e.language == language), self)

    @property
    def every_asset(self) -> list[str]:
        """Relative files any edition uses, once each (a build copies them beside every edition)."""
        return list(dict.fromkeys(a for e in self.all_editions for a in e.assets))

    @cached_property
    def assets(self) -> list[str]:
        """Relative files the issue uses (front-matter images, markdown images and links), once each."""
        found: dict[str, None] = {}
        for piece in self.pieces:
            if piece.image and piece.image.path:
                found.setdefault(piece.image.src, None)
            for target in piece.targets:
                if target and is_relative(target):
                    found.setdefault(target_file(target), None)
        return [a for a in found if a]

    def review_problems(self, on: dt.date, months: int, on_name: str) -> list[tuple[Piece, ReviewProblem]]:
        """Spotlights whose medical review is not current on day `on` (see review_problem)."""
        found = []
        for piece in self.pieces:
            problem = review_problem(piece.reviewed_on, on, months, on_name) if piece.reviewed_on else None
            if problem:
                found.append((piece, problem))
        return found


@dataclass(frozen=True)
class ReviewProblem:
    """Why a spotlight's medical review is not current: `review-old` or `review-future`."""

    code: str
    message: str
    hint: str


def review_problem(reviewed_on: dt.date, on: dt.date, months: int, on_name: str) -> ReviewProblem | None:
    """The medical-review rule, once: a review may be at most `months` old on day `on`, never after it.

    `check` measures from the issue date and warns (pain_news/checks/review.py); a list send measures
    from the day it sends and refuses (pain_news/campaign/gates.py). `on_name` says which day that
    is ("the issue date", "today"), so both say the same words (tests/test_content.py).
    """
    if reviewed_on > on:
        return ReviewProblem(
            "review-future",
            f"reviewed_on {reviewed_on.isoformat()} is after {on_name} ({on.isoformat()})",
            "write the date the clinician actually reviewed it",
        )
    if reviewed_on < months_before(on, months):
        return ReviewProblem(
            "review-old",
            f"reviewed_on {reviewed_on.isoformat()} is more than {months} months before {on_name} "
            f"({on.isoformat()})",
            f"ask a clinician to review it again and update reviewed_on (limit: build.review_months = {months})",
        )
    return None


def is_draft(meta: Mapping[str, Any]) -> bool:
    """`draft = true` in issue.toml's table: the one reading of the flag (loader and archive)."""
    return meta.get("draft") is True


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day when it is shorter: 29 Feb → 28 Feb)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def is_relative(url: str) -> bool:
    """A link or image target inside the issue folder (no scheme, no host, not an anchor)."""
    parts = urlsplit(url)
    return not parts.scheme and not parts.netloc and not url.startswith(("#", "/"))


def target_file(target: str) -> str:
    """The file part of a link or image target: without its #fragment or ?query."""
    return target.split("#")[0].split("?")[0]


def local_path(folder: Path, target: str) -> Path | None:
    """The file a relative target names, or None when it leaves `folder` (`../`, or a symlink out).

    Resolving first means `images/../x.png` is fine while `../../private/notes.txt` is not: a build,
    the archive and the preview server copy or serve these files, so they must stay in the issue.
    """
    root = folder.resolve()
    path = (root / target_file(target)).resolve()
    return path if path.is_relative_to(root) else None


def asset_url(asset_base: str, target: str) -> str:
    """A relative target as mail clients must see it: under public_url/<issue>/ when that is set."""
    return asset_base + target if asset_base and is_relative(target) else target


def line_of_key(text: str, key: str) -> int | None:
    """Line of `key:` (front matter) or `key =` (TOML) at the start of a line, 1-based; None when absent."""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line[len(key) :].lstrip() if line.startswith(key) else None
        if stripped is not None and stripped[:1] in (":", "="):
            return number
    return None


def line_containing(source: str, needle: str) -> int | None:
    """1-based line of the first line of `source` containing `needle`."""
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line:
            return number
    return None
