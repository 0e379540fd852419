"""The one issue loader: issue.toml, front matter, markdown → the Issue model, with every finding.

`read_issue` reads leniently and collects every problem (file:line, code, severity, fix) together
with the issue, or None when an error keeps it from loading; `load_issue` returns the issue or
raises the first of those errors. `build` goes through `load_issue`; `check` prints them all.
There is no second validator: `check` adds only what needs the loaded or rendered issue.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pain_news.config.languages import DEFAULT_LANGUAGES
from pain_news.config.topics import normalize_topics
from pain_news.errors import IssueError, TopicError
from pain_news.issue.findings import Finding, error, suggestion
from pain_news.issue.markdown import render_markdown
from pain_news.issue.model import (
    Image,
    Issue,
    Link,
    Piece,
    SpotlightSection,
    Target,
    asset_url,
    is_draft,
    is_relative,
    line_containing,
    line_of_key,
    local_path,
    target_file,
)
from pain_news.issue.pieces import SPOTLIGHT_SECTIONS, SourceFile, read_piece, split_front_matter

__all__ = [
    "Image",
    "Issue",
    "Link",
    "LoadResult",
    "Piece",
    "SPOTLIGHT_SECTIONS",
    "SourceFile",
    "SpotlightSection",
    "Target",
    "asset_url",
    "is_relative",
    "line_containing",
    "load_issue",
    "local_path",
    "read_issue",
    "split_front_matter",
    "target_file",
]

ISSUE_KEYS = {
    "title",
    "number",
    "date",
    "subject",
    "preheader",
    "sections",
    "intro",
    "draft",
    "topics",
    "languages",
}
#: The keys of a `[es]` table: what an edition in another language says in its own words.
EDITION_KEYS = {"subject", "preheader", "title", "intro"}
#: `01-spotlight.es.md`: an edition of `01-spotlight.md` when `es` is a configured language.
EDITION_FILE = re.compile(r"^(?P<base>.+)\.(?P<lang>[a-z]{2,3})\.md$")
ARTICLE_KEYS = {"kind", "title", "author", "image", "image_alt", "cta", "layout"}
SPOTLIGHT_KEYS = {
    "kind",
    "title",
    "condition",
    "summary",
    "learn_more_url",
    "reviewed_by",
    "reviewed_on",
    "image",
    "image_alt",
    "cta",
    "layout",
    "source",  # the clinic's condition page; checks/claims.py compares superlatives with source.txt
}
#: The front-matter keys each kind of piece may use (add a key to the set above; this follows).
PIECE_KEYS = {"article": ARTICLE_KEYS, "spotlight": SPOTLIGHT_KEYS}
#: The keys issue.toml must have, with the check code of each one missing (the subject's is older).
REQUIRED_KEY_CODES = {
    "title": "missing-key",
    "subject": "subject-missing",
    "date": "missing-key",
    "number": "missing-key",
}
TOML_DATE = re.compile(r"^\s*(?P<key>\w+)\s*=\s*(?P<value>\d{4}-\d{1,2}-\d{1,2})\s*(#.*)?$")


@dataclass(frozen=True)
class LoadResult:
    """What the loader found: the issue (None when an error keeps it from loading) and every finding."""

    folder: Path
    issue: Issue | None
    findings: tuple[Finding, ...]
    pieces: tuple[Piece, ...] = ()  # the pieces that loaded, even when the issue did not
    sources: tuple[SourceFile, ...] = ()  # what could be read of every piece
    toml_text: str = ""
    issue_date: dt.date | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # What could be read of the editions' pieces (NAME.LANG.md), apart from `sources`: the checks
    # that read sources are written for the default language.
    edition_sources: tuple[SourceFile, ...] = ()

    @property
    def toml_path(self) -> Path:
        return self.folder / "issue.toml"

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def require(self) -> Issue:
        """The issue, or IssueError for the first error that kept it from loading."""
        if self.issue is not None:
            return self.issue
        if not self.errors:  # cannot happen: the issue is None only because of an error
            raise IssueError("the issue did not load", path=self.folder)
        first = self.errors[0]
        more = len(self.errors) - 1
        hint = first.fix or ""
        if more:
            also = f"pain-news check on this issue lists all {more + 1} problems"
            hint = f"{hint}; {also}" if hint else also
        raise IssueError(first.message, path=first.path, line=first.line, hint=hint or None)


def load_issue(
    folder: Path,
    public_url: str = "",
    known_topics: Collection[str] | None = None,
    languages: Sequence[str] | None = None,
) -> Issue:
    """Read one issue folder, or raise IssueError for its first error (see read_issue)."""
    return read_issue(folder, public_url, known_topics, languages).require()


def read_issue(
    folder: Path,
    public_url: str = "",
    known_topics: Collection[str] | None = None,
    languages: Sequence[str] | None = None,
) -> LoadResult:
    """Read one issue folder: issue.toml plus one markdown file per piece, collecting every finding.

    Relative images and links are pointed at `<public_url>/<issue-folder>/` so they work in mail clients.
    `known_topics` (config [topics]) are the keys `topics = [...]` may name; None: not checked.
    `languages` (newsletter.languages, the default first) are those `languages = [...]` may name:
    each other one listed is an edition read from `NAME.LANG.md` files and the `[LANG]` table.
    None: not checked, the issue's own `languages` are taken as configured.
    """
    folder = folder.resolve()
    findings: list[Finding] = []
    if not folder.is_dir():
        findings.append(error("source", "issue folder not found", folder))
        return LoadResult(folder, None, tuple(findings))
    text, meta = _read_issue_toml(folder / "issue.toml", findings)
    if meta is None:
        return LoadResult(folder, None, tuple(findings), toml_text=text)
    if languages is None:
        declared = meta.get("languages")
        is_list = isinstance(declared, list) and bool(declared) and all(isinstance(v, str) for v in declared)
        languages = tuple(declared) if is_list and declared else DEFAULT_LANGUAGES
    toml_errors = len(findings)
    values = _issue_values(folder / "issue.toml", text, meta, findings, languages)
    values["topics"] = _topics(folder / "issue.toml", text, meta.get("topics", []), known_topics, findings)
    editions = _issue_languages(folder / "issue.toml", text, meta.get("languages"), languages, findings)
    toml_ok = len(findings) == toml_errors
    asset_base = f"{public_url.rstrip('/')}/{folder.name}/" if public_url else ""
    sources, pieces = [], []
    paths = _piece_paths(folder, text, meta.get("sections"), findings, languages)
    for path in paths:
        source, piece = read_piece(path, asset_base, PIECE_KEYS, findings, editions[0])
        sources.append(source)
        if piece is not None:
            pieces.append(piece)
    others, edition_sources = [], []
    for language in editions[1:]:
        edition_values = _edition_values(folder / "issue.toml", text, meta.get(language), language, findings)
        edition_pieces = []
        for path in paths:
            edition_source, edition_piece = _read_edition_piece(path, language, asset_base, findings)
            edition_sources.extend([edition_source] if edition_source else [])
            edition_pieces.extend([edition_piece] if edition_piece else [])
        others.append((language, edition_values, tuple(edition_pieces)))
    issue = None
    if toml_ok and not any(f.severity == "error" for f in findings):
        issue = Issue(
            folder=folder,
            slug=folder.name,
            pieces=tuple(pieces),
            language=editions[0],
            edition_languages=editions if len(editions) > 1 else (),
            **values,
        )
        issue = dataclasses.replace(
            issue,
            editions=tuple(
                dataclasses.replace(issue, pieces=lang_pieces, language=lang, edition_dir=lang, **lang_values)
                for lang, lang_values, lang_pieces in others
            ),
        )
    date = values.get("date")
    return LoadResult(
        folder,
        issue,
        tuple(findings),
        tuple(pieces),
        tuple(sources),
        text,
        date,
        meta,
        tuple(edition_sources),
    )


def _read_issue_toml(path: Path, findings: list[Finding]) -> tuple[str, dict[str, Any] | None]:
    if not path.is_file():
        fix = "every issue folder needs an issue.toml; 'pain-news new' scaffolds one"
        findings.append(error("source", "file not found", path, fix=fix))
        return "", None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        findings.append(error("source", "not UTF-8 text", path, fix="save the file as UTF-8"))
        return "", None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        findings.append(_toml_problem(str(exc), text, path, line))
        return text, None


def _toml_problem(message: str, text: str, path: Path, line: int | None) -> Finding:
    """TOML's own message, or — for an impossible date like 2026-13-20 — one that names the field."""
    lines = text.splitlines()
    date = TOML_DATE.match(lines[line - 1]) if line and line <= len(lines) else None
    if date:
        return error(
            "invalid-value",
            f"{date['key']} must be a real date (YYYY-MM-DD), got {date['value']}",
            path,
            line,
            "fix the month or day",
        )
    return error("source", f"invalid TOML: {message}", path, line, "fix the TOML syntax")


def _issue_values(
    path: Path, text: str, meta: dict[str, Any], findings: list[Finding], languages: Sequence[str]
) -> dict[str, Any]:
    """The Issue fields from issue.toml; each problem becomes a finding with its line."""
    suggested: set[str] = set()
    for key in meta:
        if key not in ISSUE_KEYS and not (key in languages[1:] and isinstance(meta[key], dict)):
            hint = suggestion(key, ISSUE_KEYS)
            suggested.update(k for k in ISSUE_KEYS if f"'{k}'" in hint)
            findings.append(
                error(
                    "unknown-key",
                    f"unknown key '{key}' in issue.toml{hint}",
                    path,
                    line_of_key(text, key),
                    f"fix the spelling or remove it (known: {', '.join(sorted(ISSUE_KEYS))})",
                )
            )
    for key, code in REQUIRED_KEY_CODES.items():
        if meta.get(key) in ("", None) and key not in suggested:  # a near-miss key already says it
            findings.append(
                error(
                    code,
                    f"missing key '{key}'",
                    path,
                    line_of_key(text, key),
                    f"add {key} = ... to issue.toml",
                )
            )

    def bad(key: str, message: str, fix: str) -> None:
        findings.append(error("invalid-value", message, path, line_of_key(text, key), fix))

    for key in ("title", "subject", "preheader", "intro"):
        if key in meta and not isinstance(meta[key], str):
            bad(key, f"{key} must be a string", f'write {key} = "..." in quotes')
    number = meta.get("number")
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        bad("number", "number must be a whole number", "write number = 12 without quotes")
    if not isinstance(meta.get("draft", False), bool):
        bad("draft", "draft must be true or false", "write draft = true, or remove the line")
    date = meta.get("date")
    if isinstance(date, str) and date:
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            bad("date", f"date must be a real date (YYYY-MM-DD), got {date!r}", "write date = 2027-01-01")
            date = None
    elif date is not None and (not isinstance(date, dt.date) or isinstance(date, dt.datetime)):
        bad("date", "date must be a date (YYYY-MM-DD)", "write date = 2027-01-01 without a time")
        date = None
    intro = meta.get("intro")
    return {
        "title": meta.get("title"),
        "number": number,
        "date": date,
        "subject": meta.get("subject"),
        "preheader": meta.get("preheader", ""),
        "intro": render_markdown(intro) if isinstance(intro, str) and intro else None,
        "draft": is_draft(meta),
    }


def _topics(
    path: Path, text: str, value: Any, known: Collection[str] | None, findings: list[Finding]
) -> tuple[str, ...]:
    """`topics = ["news", "events"]`: keys of config [topics], sorted; a problem is a finding on its line."""
    line = line_of_key(text, "topics")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        findings.append(
            error(
                "invalid-value", "topics must be a list of topic keys", path, line, 'write topics = ["news"]'
            )
        )
        return ()
    try:
        return normalize_topics(value, known)
    except TopicError as exc:
        findings.append(error("invalid-value", exc.message, path, line, exc.hint or ""))
        return normalize_topics(value)


def _issue_languages(
    path: Path, text: str, value: Any, configured: Sequence[str], findings: list[Finding]
) -> tuple[str, ...]:
    """`languages = ["en", "es"]`: the issue's editions, the default language first (always there)."""
    default = configured[0]
    if value is None:
        return (default,)
    line = line_of_key(text, "languages")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        fix = f'write languages = ["{default}", "es"], or remove it for one edition in {default}'
        findings.append(error("invalid-value", "languages must be a list of language codes", path, line, fix))
        return (default,)
    unknown = [v for v in value if v not in configured]
    if unknown:
        listed = ", ".join(repr(v) for v in unknown)
        findings.append(
            error(
                "invalid-value",
                f"languages names {listed}, which newsletter.languages does not list",
                path,
                line,
                f"use lower-case codes of newsletter.languages in pain-news.toml (configured: {', '.join(configured)})",
            )
        )
    if default not in value:
        findings.append(
            error(
                "invalid-value",
                f"languages must include the default language '{default}' (the first of newsletter.languages)",
                path,
                line,
                f"add '{default}': its edition is the one every other reader gets",
            )
        )
    return (default, *dict.fromkeys(v for v in value if v in configured and v != default))


def _edition_values(
    path: Path, text: str, table: Any, language: str, findings: list[Finding]
) -> dict[str, Any]:
    """The `[es]` table: the edition's subject, preheader, title and intro."""
    header = line_containing(text, f"[{language}]")
    if not isinstance(table, dict):
        fix = f'add a [{language}] table with subject = "..." and title = "..." in that language'
        findings.append(
            error("missing-key", f"missing table [{language}]", path, line_of_key(text, "languages"), fix)
        )
        return {}
    for key in table:
        if key not in EDITION_KEYS:
            known = ", ".join(sorted(EDITION_KEYS))
            findings.append(
                error("unknown-key", f"unknown key '{key}' in [{language}]", path, header, f"use {known}")
            )
    for key in ("subject", "title"):
        if not table.get(key):
            fix = f'add {key} = "..." under [{language}], in that language'
            findings.append(error("missing-key", f"missing key '{key}' in [{language}]", path, header, fix))
    for key in EDITION_KEYS:
        if key in table and not isinstance(table[key], str):
            fix = f'write {key} = "..." in quotes'
            findings.append(
                error("invalid-value", f"{key} in [{language}] must be a string", path, header, fix)
            )
    if any(not isinstance(table.get(key, ""), str) for key in EDITION_KEYS):
        return {}
    intro = table.get("intro", "")
    return {
        "title": table.get("title", ""),
        "subject": table.get("subject", ""),
        "preheader": table.get("preheader", ""),
        "intro": render_markdown(intro) if intro else None,
    }


def _read_edition_piece(
    path: Path, language: str, asset_base: str, findings: list[Finding]
) -> tuple[SourceFile | None, Piece | None]:
    """`01-spotlight.es.md` beside `01-spotlight.md`: the same piece (same slug) in `language`."""
    edition = path.with_name(f"{path.stem}.{language}.md")
    if not edition.is_file():
        fix = f"write {edition.name} (the {language} edition of {path.name}), or take '{language}' out of languages"
        findings.append(error("missing-file", f"{path.name} has no '{language}' edition", edition, fix=fix))
        return None, None
    source, piece = read_piece(edition, asset_base, PIECE_KEYS, findings, language)
    return source, (dataclasses.replace(piece, slug=path.stem) if piece else None)


def _piece_paths(
    folder: Path, toml_text: str, sections: Any, findings: list[Finding], languages: Sequence[str]
) -> list[Path]:
    toml_path = folder / "issue.toml"
    if sections is None:
        return _discovered_pieces(folder, findings, languages)
    line = line_of_key(toml_text, "sections")
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections) or not sections:
        fix = 'write sections = ["01-first", "02-second"], or remove it to use every *.md file'
        findings.append(
            error("invalid-value", "sections must be a non-empty list of file names", toml_path, line, fix)
        )
        return []
    paths = []
    for name in sections:
        file_name = name if name.endswith(".md") else name + ".md"
        if local_path(folder, file_name) is None:
            message = f"sections names '{name}', which is outside the issue folder"
            findings.append(
                error("outside-folder", message, toml_path, line, "move the piece into the issue folder")
            )
        elif not (folder / file_name).is_file():
            message = f"sections names '{name}', but {file_name} does not exist"
            findings.append(
                error("missing-file", message, toml_path, line, "create the file or remove it from sections")
            )
        else:
            paths.append(folder / file_name)
    return paths


def _discovered_pieces(folder: Path, findings: list[Finding], languages: Sequence[str]) -> list[Path]:
    """Every *.md in the folder (not hidden, _draft, README, nor an edition such as NAME.es.md),
    refusing links to files outside it."""
    paths, refused = [], False
    for path in sorted(folder.glob("*.md")):
        if path.name.startswith((".", "_")) or path.name.lower() == "readme.md":
            continue
        edition = EDITION_FILE.match(path.name)
        if edition and edition["lang"] in languages[1:]:
            continue
        if local_path(folder, path.name) is None:
            fix = "copy the file into the issue folder instead of linking to it"
            findings.append(
                error(
                    "outside-folder",
                    f"{path.name} is a link to a file outside the issue folder",
                    path,
                    None,
                    fix,
                )
            )
            refused = True
        else:
            paths.append(path)
    if not paths and not refused:
        fix = "add a piece: 'pain-news new' shows the front matter a piece needs"
        findings.append(error("source", "no markdown pieces (*.md) in the issue folder", folder, fix=fix))
    return paths
