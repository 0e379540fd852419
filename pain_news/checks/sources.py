"""Checks on an issue's source files, made without loading the issue.

`content.load_issue` stops at the first problem; these checks read issue.toml and every
markdown file leniently so one run reports every problem with its file and line.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it.token import Token

from pain_news import placeholders
from pain_news.checks import Finding, error, warning
from pain_news.content import KINDS, SPOTLIGHT_SECTIONS, is_relative, local_path, split_front_matter
from pain_news.errors import IssueError
from pain_news.markdown import parser, protect_tags

SUBJECT_MAX = 60
PREHEADER_MAX = 110
IMAGE_MAX_BYTES = 1024 * 1024
#: markdown-it drops these links silently when rendering, so they are looked for in the source text.
SCRIPT_TARGET = re.compile(
    r"(?:\]\(\s*<?\s*|<|^\s*\[[^\]]+\]:\s*<?\s*)(?P<target>(?:javascript|vbscript):[^)\s>]*)", re.I | re.M
)
#: Anything written like a sending placeholder, valid or not.
PERCENT_TAG = re.compile(r"%%[^%\s<>\"']{1,100}%%")


@dataclass
class Target:
    """A link or image target found in a source file."""

    kind: str  # "link" or "image"
    url: str
    path: Path
    line: int
    alt: str = ""


@dataclass
class SourceScan:
    """What the source checks found: findings, plus facts the output checks need."""

    findings: list[Finding] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    h1_lines: list[tuple[Path, int]] = field(default_factory=list)
    toml_path: Path | None = None
    issue_date: dt.date | None = None

    @property
    def has_images(self) -> bool:
        return any(t.kind == "image" for t in self.targets)


def line_of_key(text: str, key: str) -> int | None:
    """Line of `key:` (front matter) or `key =` (TOML), 1-based; None when absent."""
    pattern = re.compile(rf"^{re.escape(key)}\s*[:=]")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def scan_sources(folder: Path) -> SourceScan:
    """Check issue.toml and every piece of the issue in `folder`."""
    scan = SourceScan()
    toml_path = folder / "issue.toml"
    scan.toml_path = toml_path
    if not toml_path.is_file():
        scan.findings.append(
            error("source", "issue.toml not found", toml_path, fix="run 'pain-news new' to scaffold an issue")
        )
        return scan
    text = toml_path.read_text(encoding="utf-8", errors="replace")
    try:
        meta = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        scan.findings.append(
            error(
                "source",
                f"invalid TOML: {exc}",
                toml_path,
                int(match.group(1)) if match else None,
                "fix the TOML syntax",
            )
        )
        return scan
    _check_issue_toml(scan, meta, text, toml_path)
    for path in _piece_paths(folder, meta, text, scan):
        _check_piece(scan, path)
    return scan


def _check_issue_toml(scan: SourceScan, meta: dict[str, Any], text: str, path: Path) -> None:
    subject = meta.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        scan.findings.append(
            error(
                "subject-missing",
                "the issue has no subject",
                path,
                line_of_key(text, "subject"),
                'add subject = "..." to issue.toml',
            )
        )
    elif len(subject) > SUBJECT_MAX:
        scan.findings.append(
            warning(
                "subject-long",
                f"subject is {len(subject)} characters; inboxes cut it after about {SUBJECT_MAX}",
                path,
                line_of_key(text, "subject"),
                f"shorten the subject to {SUBJECT_MAX} characters or fewer",
            )
        )
    preheader = meta.get("preheader")
    if not isinstance(preheader, str) or not preheader.strip():
        scan.findings.append(
            warning(
                "preheader-missing",
                "no preheader: inboxes show the first words of the email instead",
                path,
                line_of_key(text, "preheader"),
                'add preheader = "..." (one sentence) to issue.toml',
            )
        )
    elif len(preheader) > PREHEADER_MAX:
        scan.findings.append(
            warning(
                "preheader-long",
                f"preheader is {len(preheader)} characters; inboxes show about {PREHEADER_MAX}",
                path,
                line_of_key(text, "preheader"),
                f"shorten the preheader to {PREHEADER_MAX} characters or fewer",
            )
        )
    date = meta.get("date")
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            date = None
    scan.issue_date = date if isinstance(date, dt.date) and not isinstance(date, dt.datetime) else None
    _check_tags(scan, text, path)


def _piece_paths(folder: Path, meta: dict[str, Any], toml_text: str, scan: SourceScan) -> list[Path]:
    sections = meta.get("sections")
    if not isinstance(sections, list):
        return sorted(
            p
            for p in folder.glob("*.md")
            if not p.name.startswith((".", "_")) and p.name.lower() != "readme.md"
        )
    paths = []
    for name in sections:
        file_name = str(name) if str(name).endswith(".md") else f"{name}.md"
        path = folder / file_name
        if local_path(folder, file_name) is None:
            scan.findings.append(
                error(
                    "outside-folder",
                    f"sections names '{name}', which is outside the issue folder",
                    scan.toml_path,
                    line_of_key(toml_text, "sections"),
                    "move the piece into the issue folder",
                )
            )
        elif path.is_file():
            paths.append(path)
        else:
            scan.findings.append(
                error(
                    "source",
                    f"sections names '{name}', but {path.name} does not exist",
                    scan.toml_path,
                    fix="create the file or remove it from sections",
                )
            )
    return paths


def _check_tags(scan: SourceScan, text: str, path: Path) -> None:
    """Author tags we cannot fill, and hand-written %%...%% placeholders that are not ours."""
    _, _, unknown = protect_tags(text)
    for tag, line in unknown:
        scan.findings.append(
            error(
                "placeholder",
                f"unknown or misspelled placeholder {tag}",
                path,
                line,
                f"use one of {', '.join('{{ ' + f + ' }}' for f in placeholders.AUTHOR_FIELDS)}, e.g. {{{{ first_name | default('friend') }}}}",
            )
        )
    for number, line_text in enumerate(text.splitlines(), start=1):
        for match in PERCENT_TAG.finditer(line_text):
            if not is_known_placeholder(match.group(0)):
                scan.findings.append(
                    error(
                        "placeholder",
                        f"unknown placeholder {match.group(0)}",
                        path,
                        number,
                        "write {{ first_name }} style tags; the build makes the %%...%% form",
                    )
                )


def is_known_placeholder(text: str) -> bool:
    match = placeholders.PLACEHOLDER.fullmatch(text)
    return match is not None and match["name"] in placeholders.RECIPIENT_FIELDS


def _check_piece(scan: SourceScan, path: Path) -> None:
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        scan.findings.append(error("source", "not UTF-8 text", path, fix="save the file as UTF-8"))
        return
    try:
        data, body, body_line = split_front_matter(source, path)
    except IssueError as exc:
        scan.findings.append(
            error("source", exc.message, path, exc.line, "fix the front matter between the '---' lines")
        )
        return
    kind = data.get("kind")
    if kind not in KINDS:
        scan.findings.append(
            error(
                "source",
                f"unknown kind {kind!r} (expected article or spotlight)",
                path,
                line_of_key(source, "kind") or 1,
                "set kind: article or kind: spotlight",
            )
        )
    _check_tags(scan, source, path)
    _check_front_matter_image(scan, data, source, path)
    for key in ("cta", "learn_more_url"):
        value = data.get(key)
        url = value.get("url") if isinstance(value, dict) else value
        if isinstance(url, str):
            _check_url(scan, "link", url, path, line_of_key(source, key) or 1, from_front_matter=True)
    _check_body(scan, body, body_line, path)
    if kind == "spotlight":
        _check_spotlight(scan, data, body, body_line, source, path)


def _check_front_matter_image(scan: SourceScan, data: dict[str, Any], source: str, path: Path) -> None:
    src = data.get("image")
    if not src:
        return
    line = line_of_key(source, "image") or 1
    alt = data.get("image_alt")
    if not isinstance(alt, str) or not alt.strip():
        scan.findings.append(
            error(
                "image-alt",
                f"image {src} has no alt text",
                path,
                line,
                "add image_alt: a short description of what the image shows",
            )
        )
    _check_url(scan, "image", str(src), path, line, from_front_matter=True)


def _check_url(
    scan: SourceScan, kind: str, url: str, path: Path, line: int, *, from_front_matter: bool = False
) -> None:
    scan.targets.append(Target(kind, url, path, line))
    label = "image" if kind == "image" else "link"
    if not url.strip():
        scan.findings.append(
            error(
                "empty-link",
                f"{label} with an empty target",
                path,
                line,
                f"give the {label} a URL or remove it",
            )
        )
        return
    if url.strip().lower().startswith(("javascript:", "vbscript:")):
        # Reported from the source text by _check_script_targets for markdown bodies.
        if from_front_matter:
            scan.findings.append(
                error(
                    "script-link", f"{label} target is a script: {url}", path, line, "use an https:// address"
                )
            )
        return
    if url.startswith("http://"):
        scan.findings.append(
            warning(
                "plain-http",
                f"{label} uses plain http://: {url}",
                path,
                line,
                "use https:// if the site supports it",
            )
        )
    if is_relative(url):
        local = local_path(path.parent, url)
        if local is None:
            scan.findings.append(
                error(
                    "outside-folder",
                    f"{label} {url} is outside the issue folder",
                    path,
                    line,
                    "copy the file into the issue folder and link it by its name",
                )
            )
        elif not local.is_file():
            scan.findings.append(
                error(
                    "missing-file",
                    f"{label} {url} does not exist in the issue folder",
                    path,
                    line,
                    f"add {local.name} to the issue folder or fix the name",
                )
            )
        elif kind == "image" and local.stat().st_size > IMAGE_MAX_BYTES:
            size = local.stat().st_size / (1024 * 1024)
            scan.findings.append(
                warning(
                    "large-image",
                    f"image {url} is {size:.1f} MB (over 1 MB)",
                    path,
                    line,
                    "resize it (1200 px wide is plenty) or save it as a smaller JPEG",
                )
            )


def _inline_tokens(tokens: list[Token]) -> Iterator[tuple[Token, int]]:
    """Inline children of every block, with the block's first line (0-based within the body)."""
    for token in tokens:
        if token.type == "inline" and token.map:
            for child in token.children or []:
                yield child, token.map[0]


def _line_in(lines: list[str], start: int, needle: str) -> int:
    """0-based line at or after `start` that contains `needle` (the block start when none does)."""
    for index in range(start, len(lines)):
        if needle and needle in lines[index]:
            return index
    return start


def _check_body(scan: SourceScan, body: str, body_line: int, path: Path) -> None:
    protected, _, _ = protect_tags(body)
    tokens = parser().parse(protected)
    lines = body.splitlines()
    for token in tokens:
        if token.type == "heading_open" and token.tag == "h1" and token.map:
            scan.h1_lines.append((path, body_line + token.map[0]))
    for child, block_start in _inline_tokens(tokens):
        if child.type == "image":
            src = str(child.attrGet("src") or "")
            line = body_line + _line_in(lines, block_start, f"]({src}" if src else "](")
            alt = "".join(c.content for c in child.children or []).strip()
            if not alt:
                scan.findings.append(
                    error(
                        "image-alt",
                        f"image {src or '(no target)'} has no alt text",
                        path,
                        line,
                        "write the description between the brackets: ![what it shows](file.jpg)",
                    )
                )
            _check_url(scan, "image", src, path, line)
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "")
            line = body_line + _line_in(lines, block_start, f"]({href}" if href else "](")
            _check_url(scan, "link", href, path, line)
    for number, text in enumerate(lines):
        for match in SCRIPT_TARGET.finditer(text):
            scan.findings.append(
                error(
                    "script-link",
                    f"link target is a script: {match['target']}",
                    path,
                    body_line + number,
                    "use an https:// address; mail clients and our renderer drop script links",
                )
            )


def _check_spotlight(
    scan: SourceScan, data: dict[str, Any], body: str, body_line: int, source: str, path: Path
) -> None:
    kind_line = line_of_key(source, "kind") or 1
    for key in ("condition", "summary", "learn_more_url", "reviewed_by"):
        if not str(data.get(key) or "").strip():
            scan.findings.append(
                error(
                    "spotlight-field",
                    f"spotlight needs '{key}'",
                    path,
                    kind_line,
                    f"add {key}: to the front matter",
                )
            )
    reviewed_on = data.get("reviewed_on")
    if isinstance(reviewed_on, str):
        try:
            reviewed_on = dt.date.fromisoformat(reviewed_on)
        except ValueError:
            reviewed_on = "invalid"
    if reviewed_on in (None, ""):
        scan.findings.append(
            error(
                "spotlight-field",
                "spotlight needs 'reviewed_on' (date of the medical review)",
                path,
                kind_line,
                "add reviewed_on: YYYY-MM-DD",
            )
        )
    elif not isinstance(reviewed_on, dt.date):
        scan.findings.append(
            error(
                "spotlight-field",
                "reviewed_on must be a date (YYYY-MM-DD)",
                path,
                line_of_key(source, "reviewed_on"),
                "write the date as YYYY-MM-DD",
            )
        )
    elif scan.issue_date is not None and reviewed_on < _year_before(scan.issue_date):
        scan.findings.append(
            warning(
                "review-old",
                f"spotlight was reviewed on {reviewed_on.isoformat()}, more than 12 months before the issue date",
                path,
                line_of_key(source, "reviewed_on"),
                "ask a clinician to review it again and update reviewed_on",
            )
        )
    found: dict[str, tuple[int, list[str]]] = {}
    current: list[str] | None = None
    for number, line in enumerate(body.splitlines()):
        heading = re.match(r"^##\s+(.+?)\s*#*\s*$", line)
        if heading:
            current = []
            found[heading.group(1).lower()] = (body_line + number, current)
        elif current is not None:
            current.append(line)
    for name in SPOTLIGHT_SECTIONS:
        if name.lower() not in found:
            scan.findings.append(
                error(
                    "spotlight-section",
                    f"spotlight is missing the '## {name}' section",
                    path,
                    body_line,
                    f"add a '## {name}' heading with a list under it",
                )
            )
        elif not "".join(found[name.lower()][1]).strip():
            scan.findings.append(
                error(
                    "spotlight-section",
                    f"spotlight section '## {name}' is empty",
                    path,
                    found[name.lower()][0],
                    f"write the {name.lower()} under the heading",
                )
            )


def _year_before(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)
