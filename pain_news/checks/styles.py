"""What a reader sees of the built email: each visible text run with its colour, background and size.

The email's styles are inline (render.py inlines them), so walking the element tree with inline
styles, `bgcolor` attributes and inherited values gives what a mail client paints. The dark
palette lives in `@media (prefers-color-scheme: dark)` rules; `dark_variant` applies those rules
with the same inliner the build uses, so `!important` and specificity work as in a browser.

The HTML is parsed as browsers parse it (HTML5, lexbor through selectolax); colours other than plain hex, background
shorthands and the <style> blocks with tinycss2, a small pure-Python parser that follows the CSS
Syntax spec (imported on first use: `build` runs this check and most colours are hex).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from selectolax.lexbor import LexborHTMLParser, LexborNode

#: (red, green, blue, alpha), each 0..1.
RGBA = tuple[float, float, float, float]

WHITE: RGBA = (1.0, 1.0, 1.0, 1.0)
BLACK: RGBA = (0.0, 0.0, 0.0, 1.0)
#: Chromium's canvas, text and link colours for a page that declares `color-scheme: dark`.
DARK_CANVAS: RGBA = (18 / 255, 18 / 255, 18 / 255, 1.0)
DARK_LINK: RGBA = (158 / 255, 158 / 255, 1.0, 1.0)
LIGHT_LINK: RGBA = (0.0, 0.0, 238 / 255, 1.0)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
UNSEEN = {"head", "style", "script", "title", "template", "noscript"}
BOLD_TAGS = {"b", "strong", "th", "h1", "h2", "h3", "h4", "h5", "h6"}
#: Browser default sizes, relative to the parent's (the user-agent stylesheet).
DEFAULT_EM = {"h1": 2.0, "h2": 1.5, "h3": 1.17, "h5": 0.83, "h6": 0.67, "small": 0.83}
KEYWORD_PX = {"xx-small": 9, "x-small": 10, "small": 13, "medium": 16, "large": 18, "x-large": 24}
ROOT_PX = 16.0
DARK_MEDIA = re.compile(r"prefers-color-scheme\s*:\s*dark", re.I)
HEX6 = re.compile(r"#[0-9a-fA-F]{6}")
DECLARATION = re.compile(r"""([-\w]+)\s*:\s*((?:"[^"]*"|'[^']*'|\([^)]*\)|[^;"'(])*)""")
IMPORTANT = re.compile(r"\s*!\s*important\s*$", re.I)
COLOR_SCHEME_DARK = re.compile(
    r"""<meta[^>]+name=["']?color-scheme["']?[^>]*content=["'][^"']*dark"""
    r"""|<meta[^>]+content=["'][^"']*dark[^"']*["'][^>]*name=["']?color-scheme"""
    r"""|(?<![\w-])color-scheme\s*:\s*[^;}"']*dark""",
    re.I,
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        """All text inside, with image alt text standing in for images (what a link is named by)."""
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag == "img":
                parts.append(child.attrs.get("alt", ""))
            elif child.tag not in UNSEEN:
                parts.append(child.text())
        return " ".join(" ".join(parts).split())


def parse_html(html: str) -> Element:
    """The document as a tree, parsed as browsers parse it (HTML5, by lexbor through selectolax:
    about ten times faster than the standard library's parser, docs/design/editor-speed.md).
    Comments, Outlook's conditional ones included, are left out."""
    root = Element("#document", {})
    html_node = LexborHTMLParser(html).root
    if html_node is not None:
        root.children.append(_element(html_node))
    return root


def _element(node: LexborNode) -> Element:
    element = Element(node.tag or "", {name: value or "" for name, value in node.attributes.items()})
    for child in node.iter(include_text=True):
        if child.tag == "-text":
            element.children.append(child.text(deep=False))
        elif child.tag and not child.tag.startswith("-"):  # -comment, -doctype
            element.children.append(_element(child))
    return element


@lru_cache(maxsize=1024)
def parse_color(value: str) -> RGBA | None:
    """A CSS colour (hex, rgb(), hsl(), a name, transparent); None for anything else."""
    value = value.strip()
    if HEX6.fullmatch(value):
        return (int(value[1:3], 16) / 255, int(value[3:5], 16) / 255, int(value[5:7], 16) / 255, 1.0)
    import tinycss2.color3  # type: ignore[import-untyped]

    parsed = tinycss2.color3.parse_color(value)
    if parsed is None or isinstance(parsed, str):  # 'currentColor' is returned as a string
        return None
    return (parsed.red, parsed.green, parsed.blue, parsed.alpha)


@lru_cache(maxsize=4096)
def declarations(style: str) -> dict[str, str]:
    """Property → value of a style attribute; `!important` wins over later normal declarations.

    A regular expression that keeps quoted strings and parentheses (`url(data:…;base64,…)`) whole:
    tinycss2's tokenizer is exact but costs ~1 ms per attribute, and `build` runs this check.
    Callers must not change the returned dict (it is cached).
    """
    out: dict[str, str] = {}
    important: set[str] = set()
    for name, raw in DECLARATION.findall(style):
        value, is_important = IMPORTANT.subn("", raw.strip())
        name = name.lower()
        if name in important and not is_important:
            continue
        out[name] = value.strip()
        if is_important:
            important.add(name)
    return out


def background_color(decls: dict[str, str]) -> RGBA | None:
    """The colour of `background-color`, or the colour part of the `background` shorthand."""
    if "background-color" in decls:
        return parse_color(decls["background-color"])
    shorthand = decls.get("background")
    return None if shorthand is None else _shorthand_color(shorthand)


@lru_cache(maxsize=1024)
def _shorthand_color(shorthand: str) -> RGBA | None:
    if shorthand.strip().lower() in ("none", "transparent"):
        return (0.0, 0.0, 0.0, 0.0)
    if parse_color(shorthand) is not None:  # the usual case: `background: #ffffff`
        return parse_color(shorthand)
    import tinycss2

    for token in tinycss2.parse_component_value_list(shorthand, skip_comments=True):
        color = parse_color(tinycss2.serialize([token]))
        if color is not None:
            return color
    return None


def over(top: RGBA, below: RGBA) -> RGBA:
    """`top` painted over an opaque `below` (alpha compositing)."""
    alpha = top[3]
    return (
        top[0] * alpha + below[0] * (1 - alpha),
        top[1] * alpha + below[1] * (1 - alpha),
        top[2] * alpha + below[2] * (1 - alpha),
        1.0,
    )


def hex_color(color: RGBA) -> str:
    return "#" + "".join(f"{round(channel * 255):02x}" for channel in color[:3])


def luminance(color: RGBA) -> float:
    """WCAG 2 relative luminance."""

    def linear(channel: float) -> float:
        return channel / 12.92 if channel <= 0.04045 else ((channel + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in color[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground: RGBA, background: RGBA) -> float:
    """WCAG 2 contrast ratio of two opaque colours, 1 to 21."""
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def font_size_px(value: str, parent_px: float) -> float | None:
    value = value.strip().lower()
    if value in KEYWORD_PX:
        return float(KEYWORD_PX[value])
    match = re.fullmatch(r"(-?[\d.]+)(px|pt|em|rem|%)?", value)
    if not match:
        return None
    number, unit = float(match[1]), match[2] or "px"
    factors = {"px": 1.0, "pt": 4 / 3, "em": parent_px, "rem": ROOT_PX, "%": parent_px / 100}
    return number * factors[unit]


def is_bold(value: str, parent_bold: bool) -> bool:
    value = value.strip().lower()
    if value in ("bold", "bolder"):
        return True
    if value in ("normal", "lighter"):
        return False
    return int(value) >= 600 if value.isdigit() else parent_bold


def hidden(element: Element, decls: dict[str, str]) -> bool:
    """Hidden from readers: display:none, invisible, or a zero-height box (the preheader's trick)."""
    if element.tag in UNSEEN or "hidden" in element.attrs or element.attrs.get("aria-hidden") == "true":
        return True
    if decls.get("display", "").lower().startswith("none"):
        return True
    if decls.get("visibility", "").lower().startswith("hidden"):
        return True
    if decls.get("opacity", "").strip() in ("0", "0.0"):
        return True
    zero = decls.get("max-height", "").strip() in ("0", "0px")
    return zero and decls.get("overflow", "").lower().startswith("hidden")


@dataclass(frozen=True)
class Painted:
    """One run of visible text as a reader sees it."""

    text: str
    color: RGBA  # opaque, after compositing over the background
    background: RGBA  # opaque
    size_px: float
    bold: bool
    color_from: Element  # the element whose style set the colour (its text names the template)
    size_from: Element  # the element whose style set the size


@dataclass(frozen=True)
class _Inherited:
    color: RGBA
    background: RGBA
    size_px: float
    bold: bool
    link_color: RGBA
    color_from: Element
    size_from: Element


def painted_text(root: Element, dark_defaults: bool = False) -> Iterator[Painted]:
    """Every visible text run in document order, with the colours and size it is drawn in."""
    start = _Inherited(
        color=WHITE if dark_defaults else BLACK,
        background=DARK_CANVAS if dark_defaults else WHITE,
        size_px=ROOT_PX,
        bold=False,
        link_color=DARK_LINK if dark_defaults else LIGHT_LINK,
        color_from=root,
        size_from=root,
    )
    yield from _walk(root, start)


def _walk(element: Element, inherited: _Inherited) -> Iterator[Painted]:
    decls = declarations(element.attrs.get("style", ""))
    if hidden(element, decls):
        return
    state = _own_state(element, decls, inherited)
    for child in element.children:
        if isinstance(child, str):
            if child.strip():
                text = " ".join(child.split())
                yield Painted(
                    text,
                    state.color,
                    state.background,
                    state.size_px,
                    state.bold,
                    state.color_from,
                    state.size_from,
                )
        else:
            yield from _walk(child, state)


def _own_state(element: Element, decls: dict[str, str], inherited: _Inherited) -> _Inherited:
    background = inherited.background
    fill = background_color(decls)
    if fill is None and element.attrs.get("bgcolor"):
        fill = parse_color(element.attrs["bgcolor"])
    if fill is not None:
        background = over(fill, background)
    color, color_from = inherited.color, inherited.color_from
    if element.tag == "a":
        color, color_from = inherited.link_color, element
    own = parse_color(decls["color"]) if "color" in decls else None
    if own is None and element.tag == "font" and element.attrs.get("color"):
        own = parse_color(element.attrs["color"])
    if own is not None:
        color, color_from = own, element
    size, size_from = inherited.size_px * DEFAULT_EM.get(element.tag, 1.0), inherited.size_from
    if "font-size" in decls:
        size, size_from = font_size_px(decls["font-size"], inherited.size_px) or size, element
    bold = is_bold(decls.get("font-weight", ""), inherited.bold or element.tag in BOLD_TAGS)
    return _Inherited(
        over(color, background), background, size, bold, inherited.link_color, color_from, size_from
    )


@dataclass(frozen=True)
class Edge:
    """A filled control (a button-styled link) and the colours where its edge meets what is around it."""

    element: Element
    edge: RGBA  # its border colour, or its own fill when it has no border (opaque)
    around: RGBA  # the background it sits on (opaque)


def control_edges(root: Element, dark_defaults: bool = False) -> Iterator[Edge]:
    """Every link or button painted with its own background: WCAG 1.4.11 asks 3:1 at its edge."""
    yield from _edges(root, DARK_CANVAS if dark_defaults else WHITE)


def _edges(element: Element, background: RGBA) -> Iterator[Edge]:
    decls = declarations(element.attrs.get("style", ""))
    if hidden(element, decls):
        return
    fill = background_color(decls)
    if fill is None and element.attrs.get("bgcolor"):
        fill = parse_color(element.attrs["bgcolor"])
    inside = over(fill, background) if fill is not None else background
    if element.tag in ("a", "button") and fill is not None and fill[3] > 0:
        border = border_color(decls)
        yield Edge(element, over(border, inside) if border is not None else inside, background)
    for child in element.children:
        if not isinstance(child, str):
            yield from _edges(child, inside)


def border_color(decls: dict[str, str]) -> RGBA | None:
    """The colour of a visible border (`border`, or `border-color` with a width); None without one."""
    shorthand = decls.get("border", "")
    width = decls.get("border-width", shorthand)
    if re.search(r"\b(none|hidden)\b", shorthand) or re.fullmatch(r"\s*0(px)?\s*", width or "0"):
        return None
    if "border-color" in decls:
        return parse_color(decls["border-color"])
    color = _shorthand_color(shorthand) if shorthand else None
    return color if color is not None and color[3] > 0 else None


def dark_rules(html: str) -> str:
    """The CSS inside every `@media (... prefers-color-scheme: dark ...)` block of the page's <style>s."""
    import tinycss2

    found: list[str] = []
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html, re.S | re.I):
        if not DARK_MEDIA.search(css):
            continue
        for rule in tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True):
            if rule.type == "at-rule" and rule.lower_at_keyword == "media" and rule.content is not None:
                if DARK_MEDIA.search(tinycss2.serialize(rule.prelude)):
                    found.append(tinycss2.serialize(rule.content))
    return "\n".join(found)


def declares_dark(html: str) -> bool:
    """The page tells clients it supports dark mode (`color-scheme` meta or CSS property)."""
    return COLOR_SCHEME_DARK.search(html) is not None


def dark_variant(html: str) -> str | None:
    """The page with its dark-palette rules applied as a dark-mode client would; None without any."""
    rules = dark_rules(html)
    if not rules.strip():
        return None
    import css_inline

    inliner = css_inline.CSSInliner(
        inline_style_tags=False, keep_style_tags=True, load_remote_stylesheets=False, extra_css=rules
    )
    return str(inliner.inline(html))
