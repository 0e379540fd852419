"""Images that load slowly or look blurry: heavy files, and files too narrow for the column at 2×.

Phones draw a 552 px column with about twice as many pixels, so an image narrower than twice the
width it fills looks soft there. Sizes are read from the file headers with `imagesize` (the same
library the renderer uses for `<img width>`), without decoding the image.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pain_news.checks import Finding, warning
from pain_news.content import Issue, Piece, is_relative, line_containing, local_path
from pain_news.markdown import parser

#: Heavier than this, an image slows the email down on a phone connection.
HEAVY_BYTES = 200 * 1024
#: Content width of one column (600 px email less 2 × 24 px padding), and of one of two columns.
FULL_COLUMN_PX = 552
HALF_COLUMN_PX = 252
SCALE = 2  # phone screens draw two device pixels per CSS pixel (or more)


def column_widths(issue: Issue) -> dict[str, int]:
    """The width in px of the column each piece is drawn in, by slug."""
    from pain_news.render import rows

    return {
        piece.slug: HALF_COLUMN_PX if len(row) == 2 else FULL_COLUMN_PX
        for row in rows(issue.pieces)
        for piece in row
    }


def _images(piece: Piece) -> Iterator[tuple[str, Path]]:
    """(target as written, local file) of every image in the issue folder the piece shows."""
    targets = [piece.image.src] if piece.image else []
    for token in parser().parse(piece.source):
        targets.extend(
            str(child.attrGet("src") or "") for child in token.children or [] if child.type == "image"
        )
    for target in dict.fromkeys(targets):
        if target and is_relative(target):
            path = local_path(piece.path.parent, target)
            if path is not None and path.is_file():
                yield target, path


def check_images(issue: Issue, image_max_bytes: int) -> list[Finding]:
    """Warnings for images over HEAVY_BYTES (up to `image_max_bytes`, which the source checks report)
    and for images narrower than twice their column."""
    widths = column_widths(issue)
    findings = []
    for piece in issue.pieces:
        column = widths[piece.slug]
        for target, path in _images(piece):
            line = line_containing(piece.source, target)
            size = path.stat().st_size
            if HEAVY_BYTES < size <= image_max_bytes:
                findings.append(
                    warning(
                        "image-heavy",
                        f"image {target} is {size / 1024:.0f} KB (over {HEAVY_BYTES // 1024} KB): slow on phones",
                        piece.path,
                        line,
                        f"save it {SCALE * column} px wide as a JPEG of quality 80 or so",
                    )
                )
            try:
                import imagesize  # type: ignore[import-untyped]  # only when an issue has images

                width, _ = imagesize.get(str(path))
            except (OSError, ValueError):  # not an image it knows: the mail client will say more
                width = -1
            if 0 < width < SCALE * column:
                findings.append(
                    warning(
                        "image-blurry",
                        f"image {target} is {width} px wide; its {column} px column needs {SCALE * column} px "
                        "to look sharp on phones",
                        piece.path,
                        line,
                        f"use a version at least {SCALE * column} px wide",
                    )
                )
    return findings
