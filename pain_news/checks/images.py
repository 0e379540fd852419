"""Images that make the email slow to load, or blurry on phones.

Every image is shown at most as wide as its column (pain_news/render/images.py); a phone's screen has two or
three pixels per CSS pixel, so a file narrower than twice its display width looks soft there.
"""

from __future__ import annotations

from pathlib import Path

from pain_news.checks import Finding, warning
from pain_news.checks.targets import IMAGE_MAX_BYTES
from pain_news.issue.loader import Issue, Piece, is_relative, line_containing, local_path, target_file
from pain_news.render.images import FULL_COLUMN, HALF_COLUMN, SPOTLIGHT_COLUMN, pixel_width
from pain_news.render.pipeline import rows

HEAVY_BYTES = 200 * 1024


def _columns(issue: Issue) -> dict[str, int]:
    """Each piece's text width in px: half when it shares a row, the card's inside a spotlight."""
    widths = {}
    for row in rows(issue.pieces):
        for piece in row:
            if piece.kind == "spotlight":
                widths[piece.slug] = SPOTLIGHT_COLUMN
            else:
                widths[piece.slug] = HALF_COLUMN if len(row) == 2 else FULL_COLUMN
    return widths


def _images(piece: Piece) -> list[tuple[str, int | None]]:
    """(image as written, line) for the piece's front-matter image and its markdown images."""
    found: list[tuple[str, int | None]] = []
    if piece.image and piece.image.path:
        found.append((piece.image.src, line_containing(piece.source, piece.image.src)))
    for target in piece.found_targets:  # found by the loader's one parse of the body, with their lines
        if target.kind == "image" and not target.in_front_matter and target.url and is_relative(target.url):
            found.append((target_file(target.url), target.line))
    return found


def image_findings(issue: Issue) -> list[Finding]:
    """`image-heavy` over 200 KB (up to the 1 MB where `large-image` takes over); `image-blurry` when it fills its column (at least half as wide as it)
    but is narrower than twice the column. Small pictures shown at their own size are left alone."""
    columns = _columns(issue)
    findings: list[Finding] = []
    for piece in issue.pieces:
        for src, line in _images(piece):
            path: Path | None = local_path(issue.folder, src)
            if path is None or not path.is_file():
                continue
            size = path.stat().st_size
            if HEAVY_BYTES < size <= IMAGE_MAX_BYTES:  # above that, targets.py reports large-image
                findings.append(
                    warning(
                        "image-heavy",
                        f"{src} is {size / 1024:.0f} KB; images over {HEAVY_BYTES // 1024} KB load slowly on phones",
                        piece.path,
                        line,
                        "save it as a JPEG at quality 80, or smaller",
                    )
                )
            width, column = pixel_width(path), columns[piece.slug]
            if width is not None and column // 2 <= width < 2 * column:
                findings.append(
                    warning(
                        "image-blurry",
                        f"{src} is {width} px wide; it fills a {column} px column and looks soft on phones below {2 * column} px",
                        piece.path,
                        line,
                        f"use a file at least {2 * column} px wide",
                    )
                )
    return findings
