"""Wrap HTML so no line exceeds SMTP's 998-character limit (RFC 5322), without changing how it renders.

mjml-python writes the whole body on one ~27 KB line. We break lines only where a newline means
the same as what is there: whitespace between a tag's attributes, just before a tag's closing
`>`, or a space in text (never inside <pre>/<textarea>, a quoted attribute value, or a `<!...>`
declaration such as the `[if mso | IE]` of an Outlook conditional comment).
"""

from __future__ import annotations

MAX_LINE = 998
TARGET = 900  # room to spare: a placeholder may grow when a recipient's values are filled in


def break_points(html: str) -> list[tuple[int, bool]]:
    """Safe break positions as (index, replaces): replace the space at index, or insert before it."""
    points: list[tuple[int, bool]] = []
    in_tag = in_decl = False
    quote = ""
    raw_depth = 0
    for i, ch in enumerate(html):
        if in_tag:
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == ">":
                in_tag = False
                points.append((i, False))
            elif ch == " ":
                points.append((i, True))
        elif in_decl:
            in_decl = ch != ">"
        elif ch == "<":
            if html.startswith("<!", i):
                in_decl = True
            else:
                in_tag = True
                head = html[i : i + 10].lower()
                if head.startswith(("<pre", "<textarea")):
                    raw_depth += 1
                elif head.startswith(("</pre", "</textarea")):
                    raw_depth = max(0, raw_depth - 1)
        elif ch == " " and raw_depth == 0:
            points.append((i, True))
    return points


def wrap_html(html: str, limit: int = TARGET) -> str:
    """Break lines longer than `limit` at the last safe point before the limit."""
    if longest_line(html) <= limit:
        return html
    points = break_points(html)
    pieces: list[str] = []
    start = 0  # start of the current output line, as an index into html
    cursor = 0  # html[:cursor] is already in pieces
    best: tuple[int, bool] | None = None
    next_newline = html.find("\n")
    for index, replaces in points:
        while next_newline != -1 and next_newline < index:
            if next_newline >= start:
                start = next_newline + 1
                best = None
            next_newline = html.find("\n", next_newline + 1)
        if index - start > limit and best is not None:
            at, rep = best
            pieces.append(html[cursor:at])
            pieces.append("\n")
            cursor = at + 1 if rep else at
            start = cursor
            best = None
        if index - start <= limit:
            best = (index, replaces)
    pieces.append(html[cursor:])
    return "".join(pieces)


def longest_line(text: str) -> int:
    """Length of the longest line (for tests and meta.json)."""
    return max((len(line) for line in text.splitlines()), default=0)
