"""Wrap HTML so no line exceeds SMTP's 998-character limit (RFC 5322), without changing how it renders.

mjml-python writes the whole body on one ~27 KB line. We break lines only where a newline means
the same as what is there: whitespace between a tag's attributes, just before a tag's closing
`>`, or a space in text (never inside <pre>/<textarea>, a quoted attribute value, or a `<!...>`
declaration such as the `[if mso | IE]` of an Outlook conditional comment).
"""

from __future__ import annotations

import re

MAX_LINE = 998
TARGET = 900  # room to spare: a placeholder may grow when a recipient's values are filled in


# A declaration (`<!...>`, kept whole), a tag (quoted values may hold '>'), or a run of text.
_TOKEN = re.compile(r"<![^>]*>|<(?:[^\"'>]|\"[^\"]*\"|'[^']*')*>|[^<]+|<")
_SPACE_OUTSIDE_QUOTES = re.compile(r"\"[^\"]*\"|'[^']*'|( )")
_DENSE = 200  # tokens longer than this get every safe point, not just one


def break_points(html: str) -> list[tuple[int, bool]]:
    """Safe break positions as (index, replaces): replace the space at index, or insert before it."""
    points: list[tuple[int, bool]] = []
    raw_depth = 0
    for match in _TOKEN.finditer(html):
        token, start = match.group(), match.start()
        if token.startswith("<!") or token == "<":
            continue
        if token.startswith("<"):
            head = token[:10].lower()
            if head.startswith(("<pre", "<textarea")):
                raw_depth += 1
            elif head.startswith(("</pre", "</textarea")):
                raw_depth = max(0, raw_depth - 1)
            spaces = [start + m.start(1) for m in _SPACE_OUTSIDE_QUOTES.finditer(token) if m.group(1)]
            if spaces:  # `<td\nstyle="...">` is the same tag
                points.extend((i, True) for i in (spaces if len(token) > _DENSE else spaces[:1]))
            else:  # `</h3\n>` is too, but reads worse: used only when nothing else fits
                points.append((match.end() - 1, False))
        elif raw_depth == 0:
            if len(token) > _DENSE:
                points.extend((start + i, True) for i, ch in enumerate(token) if ch == " ")
            else:
                last = token.rfind(" ")
                if last >= 0:
                    points.append((start + last, True))
    return points


def wrap_html(html: str, limit: int = TARGET) -> str:
    """Break lines longer than `limit` at the last safe point before the limit."""
    if longest_line(html) <= limit:
        return html
    pieces: list[str] = []
    start = 0  # start of the current output line, as an index into html
    cursor = 0  # html[:cursor] is already in pieces
    best: tuple[int, bool] | None = None  # the last safe point on this line
    best_space: tuple[int, bool] | None = None  # the last one that turns a space into a newline

    def cut() -> None:
        """End the current line at the best point found (a space, unless that is far too early)."""
        nonlocal start, cursor, best, best_space
        assert best is not None
        at, replaces = best_space if best_space and best_space[0] - start > limit // 2 else best
        pieces.append(html[cursor:at])
        pieces.append("\n")
        cursor = start = at + 1 if replaces else at
        best = best_space = None

    newlines = [i for i, ch in enumerate(html) if ch == "\n"] + [len(html)]
    next_newline = 0
    for index, replaces in [*break_points(html), (len(html), False)]:
        # A line that ends at a newline of its own must fit too.
        while newlines[next_newline] < index:
            if newlines[next_newline] - start > limit and best is not None:
                cut()
            start = max(start, newlines[next_newline] + 1)
            best = best_space = None
            next_newline += 1
        if index - start > limit and best is not None:
            cut()
        if index - start <= limit or best is None:
            best = (index, replaces)
            if replaces:
                best_space = best
    pieces.append(html[cursor:])
    return "".join(pieces)


def longest_line(text: str) -> int:
    """Length of the longest line (for tests and meta.json)."""
    return max((len(line) for line in text.splitlines()), default=0)
