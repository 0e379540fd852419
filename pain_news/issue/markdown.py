"""Markdown → HTML fragment and → plain text, from one markdown-it token stream.

The plain text is rendered from the tokens (not scraped from HTML), so lists, links and
headings read naturally: links are written out as `label (url)`.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from pain_news.issue import placeholders

TEXT_WIDTH = 76
SENTINEL = "PNTAG{}X"
SENTINEL_RE = re.compile(r"PNTAG(\d+)X")


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    """CommonMark with typographic quotes and dashes; raw HTML is escaped, never passed through."""
    md = MarkdownIt("commonmark", {"html": False, "typographer": True})
    md.enable(["replacements", "smartquotes", "table", "strikethrough"])
    return md


@dataclass(frozen=True)
class Fragment:
    """One piece of markdown rendered both ways, with its tags already turned into placeholders."""

    html: str
    text: str
    unknown_tags: tuple[tuple[str, int], ...]  # (tag text, 1-based line within the source)


def protect_tags(source: str) -> tuple[str, list[placeholders.Tag], list[tuple[str, int]]]:
    """Swap author tags for sentinels markdown cannot mangle; collect tags we do not know."""
    tags: list[placeholders.Tag] = []
    unknown: list[tuple[str, int]] = []

    def swap(match: re.Match[str]) -> str:
        line = source.count("\n", 0, match.start()) + 1
        known = placeholders.AUTHOR_TAG.fullmatch(match.group(0))
        if known is None or known["name"] not in placeholders.AUTHOR_FIELDS:
            unknown.append((match.group(0), line))
            return match.group(0)
        tags.append(placeholders.Tag(known["name"], known["default"] or ""))
        return SENTINEL.format(len(tags) - 1)

    return placeholders.ANY_TAG.sub(swap, source), tags, unknown


def restore_tags(text: str, tags: Sequence[placeholders.Tag], part: str) -> str:
    return SENTINEL_RE.sub(
        lambda m: tags[int(m.group(1))].html() if part == "h" else tags[int(m.group(1))].text(), text
    )


def render_markdown(source: str, url_for: Callable[[str], str] | None = None) -> Fragment:
    """Render markdown to an HTML fragment and plain text; `url_for` rewrites link/image targets."""
    protected, tags, unknown = protect_tags(source)
    tokens = parser().parse(protected)
    if url_for is not None:
        _rewrite_urls(tokens, url_for)
    html_out = parser().renderer.render(tokens, parser().options, {})
    text_out = tokens_to_text(tokens)
    return Fragment(
        html=restore_tags(html_out, tags, "h").strip(),
        text=restore_tags(text_out, tags, "t").strip(),
        unknown_tags=tuple(unknown),
    )


def render_inline(source: str) -> Fragment:
    """Render a single line (a title or a list item) without wrapping it in <p>."""
    protected, tags, unknown = protect_tags(source)
    html_out = parser().renderInline(protected)
    tokens = parser().parseInline(protected)
    text_out = _inline_text(tokens[0].children or []) if tokens else ""
    return Fragment(restore_tags(html_out, tags, "h"), restore_tags(text_out, tags, "t"), tuple(unknown))


def _rewrite_urls(tokens: Sequence[Token], url_for: Callable[[str], str]) -> None:
    for token in tokens:
        if token.type == "link_open":
            token.attrSet("href", url_for(str(token.attrGet("href") or "")))
        elif token.type == "image":
            token.attrSet("src", url_for(str(token.attrGet("src") or "")))
        if token.children:
            _rewrite_urls(token.children, url_for)


def _inline_text(children: Sequence[Token]) -> str:
    out: list[str] = []
    href_stack: list[str] = []
    label_start: list[int] = []
    for tok in children:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak",):
            out.append(" ")
        elif tok.type == "hardbreak":
            out.append("\n")
        elif tok.type == "link_open":
            href_stack.append(str(tok.attrGet("href") or ""))
            label_start.append(len(out))
        elif tok.type == "link_close":
            href = href_stack.pop()
            label = "".join(out[label_start.pop() :])
            if href and href != label and not href.startswith("mailto:" + label):
                out.append(f" ({href})")
        elif tok.type == "image":
            alt = "".join(c.content for c in tok.children or [])
            out.append(f"[{alt}]" if alt else "")
    return "".join(out)


def wrap(text: str, indent: str = "", first: str | None = None) -> str:
    """Wrap prose for the text part; URLs are never broken."""
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=first if first is not None else indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def tokens_to_text(tokens: Sequence[Token]) -> str:
    """Plain text from block tokens: paragraphs wrapped, lists bulleted, headings underlined."""
    blocks: list[tuple[str, int]] = []  # (text, id of the list it is an item of, or 0)
    list_stack: list[list[int]] = []  # per open list: [is_ordered, counter, id]
    lists_seen = 0
    pending_prefix: str | None = None
    quote_depth = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            start = int(tok.attrGet("start") or 1)
            lists_seen += 1
            list_stack.append([1 if tok.type == "ordered_list_open" else 0, start, lists_seen])
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
        elif tok.type == "list_item_open":
            ordered, counter, _ = list_stack[-1]
            pending_prefix = f"{counter}. " if ordered else "- "
            list_stack[-1][1] += 1
        elif tok.type == "blockquote_open":
            quote_depth += 1
        elif tok.type == "blockquote_close":
            quote_depth -= 1
        elif tok.type == "heading_open":
            inline = _inline_text(tokens[i + 1].children or [])
            rule = "=" if tok.tag in ("h1", "h2") else "-"
            blocks.append((f"{inline}\n{rule * min(len(inline), TEXT_WIDTH)}", 0))
            i += 3
            continue
        elif tok.type == "inline":
            text = _inline_text(tok.children or [])
            depth = max(len(list_stack) - 1, 0)
            quote = "> " * quote_depth
            if pending_prefix is not None:
                indent = quote + "  " * depth
                item = wrap(text, indent=indent + " " * len(pending_prefix), first=indent + pending_prefix)
                blocks.append((item, list_stack[-1][2]))
                pending_prefix = None
            elif list_stack:
                blocks.append((wrap(text, indent=quote + "  " * (depth + 1)), 0))
            else:
                blocks.append((wrap(text, indent=quote), 0))
        elif tok.type in ("fence", "code_block"):
            blocks.append((textwrap.indent(tok.content.rstrip("\n"), "    "), 0))
        elif tok.type == "hr":
            blocks.append(("-" * 20, 0))
        i += 1
    return _join_blocks(blocks)


def _join_blocks(blocks: list[tuple[str, int]]) -> str:
    # Items of the same list sit on consecutive lines; everything else is separated by a blank line.
    out: list[tuple[str, int]] = []
    for text, list_id in blocks:
        if out and list_id and out[-1][1] == list_id:
            out[-1] = (out[-1][0] + "\n" + text, list_id)
        else:
            out.append((text, list_id))
    return "\n\n".join(text for text, _ in out)
