"""An image dropped into the desk: resized to the email's column at 2x for sharp screens, compressed,
saved under the issue's images/ folder, and given back as markdown with its required alt text."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

from pain_news.errors import IssueError
from pain_news.render.images import FULL_COLUMN

MAX_WIDTH = FULL_COLUMN * 2  # the widest column at 2x (render/images.py caps the shown width)
JPEG_QUALITY = 82  # no visible loss in a photo at this size, a fraction of a phone photo's bytes
_SAFE = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class SavedImage:
    path: Path
    relative: str  # images/<name>, as the piece refers to it
    width: int
    height: int

    def markdown(self, alt: str) -> str:
        return f"![{alt.replace(']', ')')}]({self.relative})"


def save_image(issue_dir: Path, filename: str, data: bytes, alt: str) -> SavedImage:
    """Resize and save `data` (IssueError for an empty alt text or a file that is not an image)."""
    if not alt.strip():
        raise IssueError(
            "an image needs its alt text: what it shows, for readers who cannot see it",
            hint="describe the image in a few words, then add it again",
        )
    # lazy: Pillow loads only when an image is added
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            image = ImageOps.exif_transpose(opened)  # a phone photo's rotation, applied
            image.load()
    except (UnidentifiedImageError, OSError):
        raise IssueError(f"{filename}: not an image the desk can read (JPEG, PNG, GIF or WebP)") from None
    if image.width > MAX_WIDTH:
        height = round(image.height * MAX_WIDTH / image.width)
        image = image.resize((MAX_WIDTH, height), Image.Resampling.LANCZOS)
    keeps_alpha = image.mode in ("RGBA", "LA", "P") and "transparency" in image.info or image.mode == "RGBA"
    stem = _SAFE.sub("-", Path(filename).stem.lower()).strip("-") or "image"
    suffix = ".png" if keeps_alpha else ".jpg"
    folder = issue_dir / "images"
    folder.mkdir(exist_ok=True)
    path = _free_name(folder, stem, suffix)
    out = io.BytesIO()
    if keeps_alpha:
        image.save(out, "PNG", optimize=True)
    else:
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    path.write_bytes(out.getvalue())
    return SavedImage(path, f"images/{path.name}", image.width, image.height)


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """images/<stem>.jpg, or <stem>-2.jpg and on when that name is taken: nothing is overwritten."""
    candidate, n = folder / f"{stem}{suffix}", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}{suffix}"
    return candidate
