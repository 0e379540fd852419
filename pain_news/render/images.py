"""Image widths for mail clients: every <img> gets a `width` attribute, capped at its column.

Outlook for Windows ignores `max-width` and shows an image at its file's pixel width
(docs/design/dependency-traps.md), so a 1,200 px photo would burst the 600 px layout. The width is
read from the file's header with `imagesize` (pure Python, reads a few bytes, no Pillow);
`height: auto` keeps the aspect ratio.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

#: Text widths in px inside the 600 px email: one column (600 - 2 x 24 padding), two columns (300 - 48),
#: and the spotlight card (600 - 2 x 16 wrapper - 6 border - 2 x 20 padding).
FULL_COLUMN = 552
HALF_COLUMN = 252
SPOTLIGHT_COLUMN = 522

_IMG = re.compile(r"<img\b([^>]*?)\s*/?>")
_SRC = re.compile(r'\ssrc="([^"]*)"')


def pixel_width(path: Path | None) -> int | None:
    """The image's width in pixels from its header, or None (no local file, or not an image we can read)."""
    if path is None or not path.is_file():
        return None
    import imagesize  # type: ignore[import-untyped]  # no stubs; one function, used here only

    try:
        width, _ = imagesize.get(path)
    except (OSError, ValueError):
        return None
    return int(width) if width and width > 0 else None


def display_width(path: Path | None, column: int) -> int:
    """The width to show an image at: its own, but never wider than the column (the column when unknown)."""
    width = pixel_width(path)
    return min(width, column) if width else column


def size_images(fragment: str, column: int, local_file: Callable[[str], Path | None]) -> str:
    """Give every <img> in an HTML fragment a width attribute and `height:auto`.

    `local_file` maps an image's src (as written in the HTML, unescaped) to its file, or None.
    """

    def sized(match: re.Match[str]) -> str:
        attrs = re.sub(r'\s(width|height)="[^"]*"', "", match.group(1))
        src = _SRC.search(attrs)
        width = display_width(local_file(html.unescape(src.group(1))) if src else None, column)
        return f'<img{attrs} width="{width}" style="height:auto;" />'

    return _IMG.sub(sized, fragment)
