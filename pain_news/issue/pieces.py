"""One markdown piece → Piece, with every problem found as a Finding (file:line, code, fix).

Called by the loader (pain_news/issue/loader.py), which passes the allowed front-matter keys per kind.
A piece with an error comes back as None (its findings say why); what could be read of it (text,
front matter, link targets) is kept in a SourceFile so `check` can still look at it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it.token import Token

from pain_news.issue.findings import Finding, error, suggestion
from pain_news.issue.markdown import parser, protect_tags, render_inline, render_markdown
from pain_news.issue.model import (
    Image,
    Link,
    Piece,
    SpotlightSection,
    Target,
    asset_url,
    is_relative,
    line_of_key,
    local_path,
    target_file,
)
from pain_news.issue.scaffold import scaffold_phrases

LAYOUTS = ("full", "half")
SPOTLIGHT_SECTIONS = ("Causes", "Symptoms", "Treatments")
# The same three headings in an edition's own language (docs/writing.md#editions-in-another-language);
# a language not listed here is not held to fixed headings.
SPOTLIGHT_SECTIONS_IN = {"en": SPOTLIGHT_SECTIONS, "es": ("Causas", "Síntomas", "Tratamientos")}
SPOTLIGHT_REQUIRED = ("condition", "summary", "learn_more_url", "reviewed_by")
FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n?", re.S | re.M)
HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")


# libyaml's parser when PyYAML was built with it (the wheels are): the same documents and values as
# the pure-Python SafeLoader, several times faster, and front matter is read on every check and build.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FrontMatterLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that keeps an impossible date (`2026-13-20`, `2026-11-31`) as text.

    PyYAML raises a bare ValueError for those; kept as text, the field's own rule names file,
    line and field instead (tests/test_content.py).
    """


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


@dataclass(frozen=True)
class SourceFile:
    """What could be read of one piece, even when it has errors: for the checks after the loader."""

    path: Path
    text: str
    data: dict[str, Any] | None = None  # the front matter, when it parsed
    body: str = ""
    body_line: int = 1
    targets: tuple[Target, ...] = ()
    h1_lines: tuple[int, ...] = ()


@dataclass
class _Reader:
    """The state of reading one piece: its text, front matter, and the findings so far."""

    path: Path
    source: str
    data: dict[str, Any]
    asset_base: str
    findings: list[Finding]
    language: str = "en"
    errors: int = field(default=0)
    misspelled: set[str] = field(default_factory=set)  # keys an unknown key was probably meant as

    def line(self, key: str) -> int:
        return line_of_key(self.source, key) or 1

    def error(self, code: str, message: str, line: int | None, fix: str) -> None:
        """Record an error of this piece (the piece then does not load)."""
        self.findings.append(error(code, message, self.path, line, fix))
        self.errors += 1

    def text(self, key: str, required: str = "") -> str:
        """The value of `key` as text; `required` is the message when it is missing."""
        value = self.data.get(key)
        if value is None or value == "":
            if required and key not in self.misspelled:  # `titel:` already said "did you mean 'title'?"
                fix, line = f"add '{key}:' to the front matter", self.line("kind")
                if required == "spotlight":
                    self.error("spotlight-field", f"spotlight needs '{key}'", line, fix)
                else:
                    self.error("missing-key", f"missing front matter key '{key}'", line, fix)
            return ""
        if isinstance(value, (dt.date, bool)) or not isinstance(value, (str, int, float)):
            self.error(
                "invalid-value", f"'{key}' must be text", self.line(key), f"write {key}: as plain text"
            )
            return ""
        return str(value)


def split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str, int] | Finding:
    """(front matter, body, line where the body starts), or the Finding saying why not."""
    match = FRONT_MATTER.match(text)
    fix = "start the file with a '---' line, the key: value lines, and another '---' line"
    if not match:
        return error("source", "missing YAML front matter (a '---' block at the top)", path, 1, fix)
    try:
        data = yaml.load(match.group(1), Loader=_FrontMatterLoader) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for 1-based, +1 for the opening '---'
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return error("source", f"broken YAML front matter: {problem}", path, line, fix)
    if not isinstance(data, dict):
        return error("source", "front matter must be key: value pairs", path, 2, fix)
    body_line = text.count("\n", 0, match.end()) + 1
    return data, text[match.end() :], body_line


def read_piece(
    path: Path,
    asset_base: str,
    allowed: Mapping[str, set[str]],
    findings: list[Finding],
    language: str = "en",
) -> tuple[SourceFile, Piece | None]:
    """Read one piece (written in `language`); its problems go into `findings`; the Piece is None
    when one is an error."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        findings.append(error("source", "not UTF-8 text", path, fix="save the file as UTF-8"))
        return SourceFile(path, ""), None
    split = split_front_matter(source, path)
    if isinstance(split, Finding):
        findings.append(split)
        return SourceFile(path, source), None
    data, body, body_line = split
    targets, h1_lines = scan_body(body, body_line)
    reader = _Reader(path, source, data, asset_base, findings, language)
    kind = data.get("kind")
    if kind not in allowed:
        expected = " or ".join(allowed)
        if kind in (None, ""):
            reader.error(
                "missing-key", f"missing front matter key 'kind' ({expected})", 1, f"add kind: {expected}"
            )
        else:
            reader.error(
                "invalid-value",
                f"unknown kind {str(kind)!r} (expected {expected}){suggestion(str(kind), tuple(allowed))}",
                reader.line("kind"),
                f"set kind: {expected}",
            )
    else:
        _unknown_keys(reader, str(kind), allowed[str(kind)])
    piece_targets = (*_front_matter_targets(reader), *targets)
    _relative_targets(reader, targets)
    sourcefile = SourceFile(path, source, data, body, body_line, piece_targets, h1_lines)
    if kind not in allowed:
        return sourcefile, None
    piece = _piece(reader, str(kind), body, body_line, piece_targets)
    return sourcefile, (piece if reader.errors == 0 else None)


def _unknown_keys(reader: _Reader, kind: str, allowed: set[str]) -> None:
    article = "an" if kind[:1] in "aeiou" else "a"
    for key in reader.data:
        if str(key) not in allowed:
            hint = suggestion(str(key), allowed)
            reader.misspelled.update(k for k in allowed if f"'{k}'" in hint)
            reader.error(
                "unknown-key",
                f"unknown front matter key '{key}' for {article} {kind}{hint}",
                reader.line(str(key)),
                f"fix the spelling or remove it (known: {', '.join(sorted(allowed))})",
            )


def _piece(
    reader: _Reader, kind: str, body: str, body_line: int, targets: tuple[Target, ...]
) -> Piece | None:
    layout = reader.text("layout") or "full"
    if layout not in LAYOUTS:
        reader.error(
            "invalid-value",
            f"layout must be full or half, got {layout!r}",
            reader.line("layout"),
            "set layout: full or layout: half",
        )
    url_for: Callable[[str], str] = lambda u: asset_url(reader.asset_base, u)  # noqa: E731
    common: dict[str, Any] = dict(
        slug=reader.path.stem,
        path=reader.path,
        layout=layout,
        image=_image(reader),
        cta=_cta(reader),
        body_line=body_line,
        source=reader.source,
        markdown=body,
        found_targets=targets,
        body=render_markdown(body, url_for),
    )
    if kind == "article":
        title = reader.text("title", required="article")
        author = reader.text("author")
        return Piece(kind="article", title=render_inline(title), author=author, **common)
    return _spotlight(reader, common, url_for)


def _image(reader: _Reader) -> Image | None:
    src = reader.text("image")
    if not src:
        return None
    local = reader.path.parent / src if is_relative(src) else None
    # image_alt is checked with every other image's alt text (pain_news/checks/targets.py).
    alt = reader.text("image_alt")
    return Image(src=src, alt=alt, path=local, url=asset_url(reader.asset_base, src))


def _cta(reader: _Reader) -> Link | None:
    value = reader.data.get("cta")
    if value is None:
        return None
    if not isinstance(value, dict) or not value.get("url") or not value.get("label"):
        reader.error(
            "invalid-value",
            "cta must have 'label' and 'url'",
            reader.line("cta"),
            "write cta: with indented 'label:' and 'url:' lines under it",
        )
        return None
    return Link(label=str(value["label"]), url=str(value["url"]))


def _spotlight(reader: _Reader, common: dict[str, Any], url_for: Callable[[str], str]) -> Piece:
    values = {key: reader.text(key, required="spotlight") for key in SPOTLIGHT_REQUIRED}
    reviewed_on = _review_date(reader)
    title = reader.text("title") or f"Condition spotlight: {values['condition']}"
    sections = _spotlight_sections(reader, common["markdown"], common["body_line"], url_for)
    return Piece(
        kind="spotlight",
        title=render_inline(title),
        condition=values["condition"],
        summary=render_markdown(values["summary"]),
        sections=sections,
        learn_more_url=values["learn_more_url"],
        reviewed_by=values["reviewed_by"],
        reviewed_on=reviewed_on,
        reviewed_on_line=line_of_key(reader.source, "reviewed_on"),
        **common,
    )


def _review_date(reader: _Reader) -> dt.date | None:
    value = reader.data.get("reviewed_on")
    if value in (None, ""):
        reader.error(
            "spotlight-field",
            "spotlight needs 'reviewed_on' (date of the medical review)",
            reader.line("kind"),
            "add reviewed_on: YYYY-MM-DD",
        )
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if str(value) in scaffold_phrases():
        # `new` writes a prompt here, never a date, so an unreviewed spotlight cannot pass as reviewed;
        # checks/scaffold.py reports the prompt (an error), and `build --force` still shows the draft.
        return None
    reader.error(
        "invalid-value",
        f"reviewed_on must be a real date (YYYY-MM-DD), got {str(value)!r}",
        reader.line("reviewed_on"),
        "write the date of the medical review as YYYY-MM-DD, e.g. 2026-11-02",
    )
    return None


def _spotlight_sections(
    reader: _Reader, body: str, body_line: int, url_for: Callable[[str], str]
) -> tuple[SpotlightSection, ...]:
    """Split the body at `## Heading` lines; Causes, Symptoms and Treatments must be there."""
    chunks: list[tuple[str, int, list[str]]] = [("", body_line, [])]  # "" = text before the first heading
    for number, text_line in enumerate(body.splitlines()):
        heading = HEADING.match(text_line)
        if heading:
            chunks.append((heading.group(1), body_line + number, []))
        else:
            chunks[-1][2].append(text_line)
    found = {name.lower(): (line, "\n".join(text).strip()) for name, line, text in chunks}
    headings: tuple[str, ...] = SPOTLIGHT_SECTIONS_IN.get(reader.language, ())
    for required in headings:
        if required.lower() not in found:
            reader.error(
                "spotlight-section",
                f"spotlight is missing the '## {required}' section",
                body_line,
                f"add a '## {required}' heading with a list under it "
                f"(a spotlight needs {', '.join('## ' + h for h in headings[:-1])} and ## {headings[-1]})",
            )
        elif not found[required.lower()][1]:
            reader.error(
                "spotlight-section",
                f"spotlight section '## {required}' is empty",
                found[required.lower()][0],
                f"write the {required.lower()} under the heading",
            )
    sections = []
    for name, line, text_lines in chunks:
        if not name and not "".join(text_lines).strip():
            continue
        fragment = render_markdown("\n".join(text_lines).strip(), url_for)
        sections.append(SpotlightSection(heading=name, html=fragment.html, text=fragment.text, line=line))
    return tuple(sections)


def _front_matter_targets(reader: _Reader) -> list[Target]:
    """The front matter's image, call-to-action and learn-more URLs, as targets with their lines."""
    found = []
    image = reader.data.get("image")
    if isinstance(image, str) and image:
        alt = reader.data.get("image_alt")
        found.append(Target("image", image, reader.line("image"), alt if isinstance(alt, str) else "", True))
    for key in ("cta", "learn_more_url"):
        value = reader.data.get(key)
        url = value.get("url") if isinstance(value, dict) else value
        if isinstance(url, str):
            found.append(Target("link", url, reader.line(key), "", True))
    return found


def _relative_targets(reader: _Reader, body_targets: list[Target]) -> None:
    """Every relative link and image (body and front-matter image) must name a file in the issue folder."""
    image = reader.data.get("image")
    front = [Target("image", image, reader.line("image"), "", True)] if isinstance(image, str) else []
    for target in (*front, *body_targets):
        if not is_relative(target.url) or not target_file(target.url):
            continue
        name = target_file(target.url)
        label = "image " if target.in_front_matter else ""
        path = local_path(reader.path.parent, target.url)
        if path is None:
            reader.error(
                "outside-folder",
                f"{label}{target.url} is outside the issue folder",
                target.line,
                "copy the file into the issue folder and link it by its name",
            )
        elif not path.is_file():
            what = "image not found" if target.in_front_matter else "file not found"
            near = near_file(reader.path.parent, name)
            reader.error(
                "missing-file",
                f"{what}: {name} (relative links and images must be in the issue folder)",
                target.line,
                f"did you mean {near}? Fix the name"
                if near
                else f"add {name} to the issue folder, or fix the name",
            )


def near_file(folder: Path, name: str) -> str | None:
    """The file in the issue folder a mistyped relative target most likely meant: the same file name
    in another folder (`winter-walk.jpg` for `images/winter-walk.jpg`), else the closest path."""
    root = folder.resolve()
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    wanted = name.lstrip("./")
    same_name = [f for f in files if f.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]]
    if same_name:
        return same_name[0]
    close = difflib.get_close_matches(wanted, files, n=1, cutoff=0.75)
    return close[0] if close else None


def scan_body(body: str, body_line: int) -> tuple[list[Target], tuple[int, ...]]:
    """Every link and image target in a markdown body with its line in the file, and the lines of # headings."""
    protected, _, _ = protect_tags(body)
    tokens = parser().parse(protected)
    lines = body.splitlines()
    h1_lines = tuple(
        body_line + t.map[0] for t in tokens if t.type == "heading_open" and t.tag == "h1" and t.map
    )
    targets = []
    for child, block_start in _inline_tokens(tokens):
        if child.type == "image":
            src = str(child.attrGet("src") or "")
            line = body_line + _line_in(lines, block_start, f"]({src}" if src else "](")
            alt = "".join(c.content for c in child.children or []).strip()
            targets.append(Target("image", src, line, alt))
        elif child.type == "link_open":
            href = str(child.attrGet("href") or "")
            line = body_line + _line_in(lines, block_start, f"]({href}" if href else "](")
            targets.append(Target("link", href, line))
    return targets, h1_lines


def _inline_tokens(tokens: list[Token]) -> list[tuple[Token, int]]:
    """Inline children of every block, with the block's first line (0-based within the body)."""
    return [
        (child, token.map[0])
        for token in tokens
        if token.type == "inline" and token.map
        for child in token.children or []
    ]


def _line_in(lines: list[str], start: int, needle: str) -> int:
    """0-based line at or after `start` that contains `needle` (the block start when none does)."""
    for index in range(start, len(lines)):
        if needle and needle in lines[index]:
            return index
    return start
