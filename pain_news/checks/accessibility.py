"""Accessibility of the built email: contrast in both palettes, text size, heading order, link text.

Images without alt text are checked in the sources (checks/sources.py, code `image-alt`), where the
file and line are known; this module reads the built, inlined email HTML, the way a client shows it.
Each finding names the template file (and line) that holds the colour, or the piece that holds the
heading or link, so the fix is one edit away.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pain_news.checks import Finding, warning
from pain_news.checks.styles import (
    Edge,
    Element,
    Painted,
    contrast,
    control_edges,
    dark_variant,
    declares_dark,
    hex_color,
    painted_text,
    parse_html,
)
from pain_news.issue.loader import Issue

#: WCAG 2.2 AA (1.4.3): 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold).
NORMAL_RATIO = 4.5
LARGE_RATIO = 3.0
LARGE_PX = 24.0
LARGE_BOLD_PX = 18.66
#: WCAG 2.2 AA (1.4.11): a control's edge against what surrounds it.
EDGE_RATIO = 3.0
#: The smallest text a reader needs (readers with low vision or migraine; docs/checks.md).
MIN_FONT_PX = 14.0
VAGUE_LINK_TEXT = {
    "click here",
    "click",
    "here",
    "read more",
    "more",
    "learn more",
    "link",
    "this link",
    "this",
}
BARE_URL = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
SAMPLE_CHARS = 40
WORD = re.compile(r"[A-Za-z]{2,}")
#: How many template lines after a style attribute may hold the text it styles.
WINDOW_LINES = 7
TEMPLATE_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|<[^>]*>", re.S)


@dataclass(frozen=True)
class Where:
    """Where a finding points: the templates, the issue's pieces, and the built file as a fallback."""

    templates: Path
    issue: Issue | None
    built: Path

    def color(self, colors: tuple[str, ...], text: str) -> tuple[Path, int | None]:
        """The template line that writes the first of these colours found, nearest to `text`."""
        for color in colors:
            found = self.template_line(_color_pattern(color), text)
            if found is not None:
                return found
        return self.built, None

    def template_line(self, pattern: re.Pattern[str], text: str) -> tuple[Path, int] | None:
        """Of the template lines matching `pattern`, the one whose next lines share most words with `text`.

        Text often comes from a variable, so the words of the template around the style (literal
        text, variable names, defaults) are what ties a run of text to the line that styled it.
        """
        wanted = set(WORD.findall(text))
        best: tuple[int, Path, int] | None = None
        for path, lines, windows in self._template_lines:
            for index, line in enumerate(lines):
                if pattern.search(line):
                    score = len(wanted & windows[index])
                    if best is None or score > best[0]:
                        best = (score, path, index + 1)
        return (best[1], best[2]) if best else None

    @cached_property
    def _template_lines(self) -> list[tuple[Path, list[str], list[set[str]]]]:
        """Each template's lines, and the literal words of the window starting at each line (read once)."""
        out = []
        for name in _template_names(self.templates):
            try:
                lines = (self.templates / name).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            literal = [set(WORD.findall(_literal(line))) for line in lines]
            windows = [set().union(*literal[i : i + WINDOW_LINES]) for i in range(len(lines))]
            out.append((self.templates / name, lines, windows))
        return out

    def text(
        self,
        text: str,
        template_pattern: re.Pattern[str] | None = None,
        context: str = "",
        *,
        pieces: bool = True,
    ) -> tuple[Path, int | None]:
        """The piece line that contains `text` (when `pieces`), else the best template line for the pattern."""
        needle = text[:SAMPLE_CHARS]
        for piece in self.issue.pieces if self.issue and pieces else ():
            for number, line in enumerate(piece.source.splitlines(), start=1):
                if needle and needle in line:
                    return piece.path, number
        found = self.template_line(template_pattern or re.compile(re.escape(needle)), context or text)
        return found if found is not None else (self.built, None)


def _literal(template_text: str) -> str:
    """The words a template writes itself: without Jinja expressions, statements, comments and tags."""
    return TEMPLATE_CODE.sub(" ", template_text)


def _template_names(templates: Path) -> list[str]:
    return sorted(p.name for p in templates.glob("*.j2")) if templates.is_dir() else []


def _color_pattern(color: str) -> re.Pattern[str]:
    """`#aabbcc` as written in a template: either case, or the 3-digit `#abc` form when it has one."""
    forms = [re.escape(color)]
    if color[1] == color[2] and color[3] == color[4] and color[5] == color[6]:
        forms.append(re.escape("#" + color[1] + color[3] + color[5]) + r"(?![0-9a-f])")
    return re.compile("|".join(forms), re.I)


def check_accessibility(email_html: str, where: Where) -> list[Finding]:
    """Every accessibility finding for the built email, light palette first, then dark."""
    light = parse_html(email_html)
    runs = list(painted_text(light))
    findings = _contrast(runs, "light", where)
    findings += _edge_contrast(control_edges(light), "light", where)
    dark_html = dark_variant(email_html)
    if dark_html is not None or declares_dark(email_html):
        dark = parse_html(dark_html or email_html)
        dark_defaults = declares_dark(email_html)
        findings += _contrast(painted_text(dark, dark_defaults=dark_defaults), "dark", where)
        findings += _edge_contrast(control_edges(dark, dark_defaults=dark_defaults), "dark", where)
    findings += _font_sizes(runs, where)
    findings += _heading_order(light, where)
    findings += _link_text(light, where)
    return findings


def _sample(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 1].rstrip() + "…"


def _contrast(runs: Iterable[Painted], palette: str, where: Where) -> list[Finding]:
    seen: set[tuple[str, str, float]] = set()
    findings = []
    for run in runs:
        large = run.size_px >= LARGE_PX or (run.bold and run.size_px >= LARGE_BOLD_PX)
        needed = LARGE_RATIO if large else NORMAL_RATIO
        ratio = contrast(run.color, run.background)
        fg, bg = hex_color(run.color), hex_color(run.background)
        if ratio >= needed or (fg, bg, needed) in seen:
            continue
        seen.add((fg, bg, needed))
        path, line = where.color((fg, bg), run.color_from.text())
        findings.append(
            warning(
                "contrast",
                f"{palette} palette: text {fg} on {bg} has contrast {ratio:.2f}:1, under {needed:g}:1 "
                f'({"large" if large else "normal"} text, e.g. "{_sample(run.text)}")',
                path,
                line,
                f"darken or lighten {fg} (or its background {bg}) until the pair reaches {needed:g}:1",
            )
        )
    return findings


def _edge_contrast(edges: Iterable[Edge], palette: str, where: Where) -> list[Finding]:
    """A button whose edge melts into its background is hard to see as a button (low vision, glare)."""
    seen: set[tuple[str, str]] = set()
    findings = []
    for item in edges:
        ratio = contrast(item.edge, item.around)
        edge, around = hex_color(item.edge), hex_color(item.around)
        if ratio >= EDGE_RATIO or (edge, around) in seen:
            continue
        seen.add((edge, around))
        path, line = where.color((edge, around), item.element.text())
        findings.append(
            warning(
                "contrast",
                f"{palette} palette: button edge {edge} on {around} has contrast {ratio:.2f}:1, under "
                f'{EDGE_RATIO:g}:1 (a control\'s edge, e.g. "{_sample(" ".join(item.element.text().split()))}")',
                path,
                line,
                f"give the button a border (or fill) that reaches {EDGE_RATIO:g}:1 against {around}",
            )
        )
    return findings


def _font_sizes(runs: Iterable[Painted], where: Where) -> list[Finding]:
    """One finding per size and place, naming the texts it covers."""
    groups: dict[tuple[Path, int | None, float], list[str]] = {}
    for run in runs:
        size = round(run.size_px, 2)
        if size >= MIN_FONT_PX or not WORD.search(run.text):
            continue
        pattern = re.compile(rf"font-size\s*[:=]\s*[\"']?{re.escape(f'{size:g}')}px")
        path, line = where.text(run.text, pattern, run.size_from.text(), pieces=False)
        texts = groups.setdefault((path, line, size), [])
        if run.text not in texts:
            texts.append(run.text)
    findings = []
    for (path, line, size), texts in groups.items():
        shown = ", ".join(f'"{_sample(t)}"' for t in texts[:3])
        more = f" and {len(texts) - 3} more" if len(texts) > 3 else ""
        findings.append(
            warning(
                "font-size",
                f"text is {size:g} px, under {MIN_FONT_PX:g} px: {shown}{more}",
                path,
                line,
                f"set font-size to {MIN_FONT_PX:g}px or more",
            )
        )
    return findings


def _elements(root: Element) -> Iterable[Element]:
    """Every element in document order, leaving out what readers never see."""
    stack = [c for c in reversed(root.children) if isinstance(c, Element)]
    while stack:
        element = stack.pop()
        if element.tag in ("head", "style", "script"):
            continue
        if "display:none" in element.attrs.get("style", "").replace(" ", "").lower():
            continue
        yield element
        stack.extend(c for c in reversed(element.children) if isinstance(c, Element))


def _heading_order(root: Element, where: Where) -> list[Finding]:
    findings = []
    previous = 0
    for element in _elements(root):
        if not re.fullmatch(r"h[1-6]", element.tag):
            continue
        level = int(element.tag[1])
        if previous and level > previous + 1:
            text = element.text()
            path, line = where.text(text, re.compile(rf"<h{level}\b", re.I))
            findings.append(
                warning(
                    "heading-order",
                    f'heading "{_sample(text)}" is h{level} after h{previous}: a level is skipped',
                    path,
                    line,
                    f"use h{previous + 1} (one more # than the heading above it)",
                )
            )
        previous = level
    return findings


def _link_text(root: Element, where: Where) -> list[Finding]:
    findings = []
    for element in _elements(root):
        if element.tag != "a" or "href" not in element.attrs:
            continue
        text = element.text()
        name = text.strip(" .:!?…→»").lower()
        if name in VAGUE_LINK_TEXT:
            problem = f'link text "{text}" does not say where it goes'
        elif BARE_URL.match(text):
            problem = f"link text is a bare web address: {_sample(text)}"
        else:
            continue
        path, line = where.text(f"[{text}]" if not BARE_URL.match(text) else text)
        if line is None:
            path, line = where.text(text, re.compile(rf">\s*{re.escape(text)}\s*</a>", re.I))
        findings.append(
            warning(
                "link-text",
                problem,
                path,
                line,
                "name the destination in the link, e.g. [Read our guide to sciatica](https://...)",
            )
        )
    return findings
