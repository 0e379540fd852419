"""Issue sources → model: issue.toml, front matter, markdown → fragments, validated with file and line."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pain_news.errors import IssueError
from pain_news.markdown import Fragment, render_inline, render_markdown

KINDS = ("article", "spotlight")
LAYOUTS = ("full", "half")
SPOTLIGHT_SECTIONS = ("Causes", "Symptoms", "Treatments")
ISSUE_KEYS = {"title", "number", "date", "subject", "preheader", "sections", "intro", "draft"}
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
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)


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
    source: str = field(default="", compare=False, repr=False)

    @cached_property
    def targets(self) -> tuple[str, ...]:
        """Every link and image target in the markdown body (parsed once, used by build and check)."""
        return tuple(markdown_targets(self.source))

    @property
    def unknown_tags(self) -> list[tuple[str, int]]:
        """Tags like `{{ frist_name }}` that no recipient value fills, with their line in the file."""
        found = [(tag, self.body_line + line - 1) for tag, line in self.body.unknown_tags]
        for key, fragment in (("title", self.title), ("summary", self.summary)):
            if fragment is not None:
                found.extend((tag, _line_of(self.source, key)) for tag, _ in fragment.unknown_tags)
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
    draft: bool = False

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


def line_containing(source: str, needle: str) -> int | None:
    """1-based line of the first line of `source` containing `needle`."""
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line:
            return number
    return None


def markdown_targets(source: str) -> list[str]:
    """Every link and image target in a markdown source."""
    from pain_news.markdown import parser

    out: list[str] = []
    for tok in parser().parse(source):
        for child in tok.children or []:
            if child.type == "image":
                out.append(str(child.attrGet("src") or ""))
            elif child.type == "link_open":
                out.append(str(child.attrGet("href") or ""))
    return out


def asset_url(asset_base: str, target: str) -> str:
    """A relative target as mail clients must see it: under public_url/<issue>/ when that is set."""
    return asset_base + target if asset_base and is_relative(target) else target


def load_issue(folder: Path, public_url: str = "") -> Issue:
    """Read one issue folder: issue.toml plus one markdown file per piece.

    Relative images and links are pointed at `<public_url>/<issue-folder>/` so they work in mail clients.
    """
    folder = folder.resolve()
    asset_base = f"{public_url.rstrip('/')}/{folder.name}/" if public_url else ""
    if not folder.is_dir():
        raise IssueError("issue folder not found", path=folder)
    toml_path = folder / "issue.toml"
    if not toml_path.is_file():
        raise IssueError(
            "file not found",
            path=toml_path,
            hint="every issue folder needs an issue.toml; 'pain-news new' scaffolds one",
        )
    meta = _read_issue_toml(toml_path)
    for key in ("title", "subject", "date", "number"):
        if key not in meta or meta[key] in ("", None):
            raise IssueError(f"missing key '{key}'", path=toml_path)
    unknown = set(meta) - ISSUE_KEYS
    if unknown:
        raise IssueError(
            f"unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(ISSUE_KEYS))})", path=toml_path
        )
    date = meta["date"]
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise IssueError(f"date must be YYYY-MM-DD, got {date!r}", path=toml_path) from None
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        raise IssueError("date must be a date (YYYY-MM-DD)", path=toml_path)
    if not isinstance(meta["number"], int) or isinstance(meta["number"], bool):
        raise IssueError("number must be a whole number", path=toml_path)
    for key in ("title", "subject", "preheader", "intro"):
        if key in meta and not isinstance(meta[key], str):
            raise IssueError(f"{key} must be a string", path=toml_path)

    paths = _piece_paths(folder, toml_path, meta.get("sections"))
    pieces = tuple(load_piece(path, asset_base) for path in paths)
    for piece in pieces:
        _check_targets(folder, piece)
    intro = render_markdown(meta["intro"]) if meta.get("intro") else None
    return Issue(
        folder=folder,
        slug=folder.name,
        title=meta["title"],
        number=meta["number"],
        date=date,
        subject=meta["subject"],
        preheader=meta.get("preheader", ""),
        pieces=pieces,
        intro=intro,
        draft=bool(meta.get("draft", False)),
    )


def _check_targets(folder: Path, piece: Piece) -> None:
    """Every relative link and image must name a file inside the issue folder."""
    for target in piece.targets:
        if not is_relative(target) or not target_file(target):
            continue
        line = line_containing(piece.source, target)
        path = local_path(folder, target)
        if path is None:
            raise IssueError(
                f"{target} is outside the issue folder",
                path=piece.path,
                line=line,
                hint="copy the file into the issue folder and link it by its name",
            )
        if not path.is_file():
            raise IssueError(
                f"file not found: {target_file(target)} (relative links and images must be in the issue folder)",
                path=piece.path,
                line=line,
            )


def _read_issue_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise IssueError(
            f"invalid TOML: {exc}", path=path, line=int(match.group(1)) if match else None
        ) from None
    except UnicodeDecodeError:
        raise IssueError("not UTF-8 text", path=path) from None


def _piece_paths(folder: Path, toml_path: Path, sections: Any) -> list[Path]:
    if sections is None:
        paths = sorted(
            p
            for p in folder.glob("*.md")
            if not p.name.startswith((".", "_")) and p.name.lower() != "readme.md"
        )
        if not paths:
            raise IssueError("no markdown pieces (*.md) in the issue folder", path=folder)
        return paths
    if not isinstance(sections, list) or not all(isinstance(s, str) for s in sections) or not sections:
        raise IssueError("sections must be a non-empty list of file names", path=toml_path)
    paths = []
    for name in sections:
        file_name = name if name.endswith(".md") else name + ".md"
        path = folder / file_name
        if local_path(folder, file_name) is None:
            raise IssueError(f"sections names '{name}', which is outside the issue folder", path=toml_path)
        if not path.is_file():
            raise IssueError(f"sections names '{name}', but {path.name} does not exist", path=toml_path)
        paths.append(path)
    return paths


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int]:
    """Return (front matter, body, line where the body starts)."""
    match = FRONT_MATTER.match(text)
    if not match:
        raise IssueError("missing YAML front matter (a '---' block at the top)", path=path, line=1)
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for 1-based, +1 for the opening '---'
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise IssueError(f"broken YAML front matter: {problem}", path=path, line=line) from None
    if not isinstance(data, dict):
        raise IssueError("front matter must be key: value pairs", path=path, line=2)
    body_line = text.count("\n", 0, match.end()) + 1
    return data, text[match.end() :], body_line


def _line_of(text: str, key: str) -> int:
    """Line of `key:` in the front matter (for messages); 1 when not found."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(f"{key}:"):
            return number
    return 1


def _string(data: dict[str, Any], key: str, path: Path, source: str, required: bool = False) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise IssueError(f"missing front matter key '{key}'", path=path, line=_line_of(source, "kind"))
        return ""
    if not isinstance(value, (str, int, float)):
        raise IssueError(f"'{key}' must be text", path=path, line=_line_of(source, key))
    return str(value)


def load_piece(path: Path, asset_base: str = "") -> Piece:
    """Parse one markdown file with front matter into a Piece."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise IssueError("not UTF-8 text", path=path) from None
    data, body, body_line = split_front_matter(source, path)
    kind = data.get("kind")
    if kind not in KINDS:
        raise IssueError(
            f"unknown kind {str(kind)!r} (expected article or spotlight)"
            if kind
            else "missing front matter key 'kind' (article or spotlight)",
            path=path,
            line=_line_of(source, "kind"),
        )
    allowed = ARTICLE_KEYS if kind == "article" else SPOTLIGHT_KEYS
    for key in data:
        if key not in allowed:
            raise IssueError(
                f"unknown front matter key '{key}' for a {kind}", path=path, line=_line_of(source, key)
            )
    layout = _string(data, "layout", path, source) or "full"
    if layout not in LAYOUTS:
        raise IssueError(
            f"layout must be full or half, got {layout!r}", path=path, line=_line_of(source, "layout")
        )
    image = _image(data, path, source, asset_base)
    cta = _cta(data, path, source)
    common: dict[str, Any] = dict(
        slug=path.stem,
        path=path,
        layout=layout,
        image=image,
        cta=cta,
        body_line=body_line,
        source=source,
    )
    if kind == "article":
        title = _string(data, "title", path, source, required=True)
        return Piece(
            kind="article",
            title=render_inline(title),
            body=render_markdown(body, lambda u: asset_url(asset_base, u)),
            author=_string(data, "author", path, source),
            **common,
        )
    return _spotlight(data, body, source, common, asset_base)


def _image(data: dict[str, Any], path: Path, source: str, asset_base: str) -> Image | None:
    src = _string(data, "image", path, source)
    if not src:
        return None
    alt = _string(data, "image_alt", path, source)
    if not alt.strip():
        raise IssueError(
            "image needs alt text (image_alt) for readers who cannot see it",
            path=path,
            line=_line_of(source, "image"),
        )
    local = path.parent / src if is_relative(src) else None
    if local is not None and local_path(path.parent, src) is None:
        raise IssueError(
            f"image {src} is outside the issue folder",
            path=path,
            line=_line_of(source, "image"),
            hint="copy the image into the issue folder and name it relative to it",
        )
    if local is not None and not local.is_file():
        raise IssueError(f"image not found: {src}", path=path, line=_line_of(source, "image"))
    return Image(src=src, alt=alt, path=local, url=asset_url(asset_base, src))


def _cta(data: dict[str, Any], path: Path, source: str) -> Link | None:
    value = data.get("cta")
    if value is None:
        return None
    if not isinstance(value, dict) or not value.get("url") or not value.get("label"):
        raise IssueError("cta must have 'label' and 'url'", path=path, line=_line_of(source, "cta"))
    return Link(label=str(value["label"]), url=str(value["url"]))


def _spotlight(
    data: dict[str, Any], body: str, source: str, common: dict[str, Any], asset_base: str
) -> Piece:
    path: Path = common["path"]
    condition = _string(data, "condition", path, source, required=True)
    summary = _string(data, "summary", path, source, required=True)
    learn_more = _string(data, "learn_more_url", path, source, required=True)
    reviewed_by = _string(data, "reviewed_by", path, source)
    if not reviewed_by:
        raise IssueError(
            "spotlight needs 'reviewed_by' (the clinician who reviewed it)",
            path=path,
            line=_line_of(source, "kind"),
        )
    reviewed_on = data.get("reviewed_on")
    if reviewed_on in (None, ""):
        raise IssueError(
            "spotlight needs 'reviewed_on' (YYYY-MM-DD of the medical review)",
            path=path,
            line=_line_of(source, "kind"),
        )
    if isinstance(reviewed_on, str):
        try:
            reviewed_on = dt.date.fromisoformat(reviewed_on)
        except ValueError:
            reviewed_on = None
    if not isinstance(reviewed_on, dt.date):
        raise IssueError(
            "reviewed_on must be a date (YYYY-MM-DD)", path=path, line=_line_of(source, "reviewed_on")
        )
    title = _string(data, "title", path, source) or f"Condition spotlight: {condition}"
    sections = _spotlight_sections(body, path, common["body_line"], lambda u: asset_url(asset_base, u))
    return Piece(
        kind="spotlight",
        title=render_inline(title),
        body=render_markdown(body, lambda u: asset_url(asset_base, u)),
        condition=condition,
        summary=render_markdown(summary),
        sections=sections,
        learn_more_url=learn_more,
        reviewed_by=reviewed_by,
        reviewed_on=reviewed_on,
        **common,
    )


def _spotlight_sections(
    body: str, path: Path, body_line: int, url_for: Callable[[str], str]
) -> tuple[SpotlightSection, ...]:
    """Split the body at `## Heading` lines; Causes, Symptoms and Treatments must be there."""
    chunks: list[tuple[str, int, list[str]]] = [("", body_line, [])]  # "" = text before the first heading
    lines = body.splitlines()
    for number, text_line in enumerate(lines):
        heading = re.match(r"^##\s+(.+?)\s*#*\s*$", text_line)
        if heading:
            chunks.append((heading.group(1), body_line + number, []))
        else:
            chunks[-1][2].append(text_line)
    found = {name.lower(): (line, "\n".join(text).strip()) for name, line, text in chunks}
    for required in SPOTLIGHT_SECTIONS:
        if required.lower() not in found:
            raise IssueError(
                f"spotlight is missing the '## {required}' section",
                path=path,
                line=body_line,
                hint="a spotlight body needs ## Causes, ## Symptoms and ## Treatments, each with a list",
            )
        heading_line, text = found[required.lower()]
        if not text:
            raise IssueError(f"spotlight section '## {required}' is empty", path=path, line=heading_line)
    sections = []
    for name, line, text_lines in chunks:
        if not name and not "".join(text_lines).strip():
            continue
        fragment = render_markdown("\n".join(text_lines).strip(), url_for)
        sections.append(SpotlightSection(heading=name, html=fragment.html, text=fragment.text, line=line))
    return tuple(sections)
