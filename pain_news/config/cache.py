"""The user's cache folder: what is costly to make and safe to lose (compiled templates, the reading
grade's syllable table). Never personal data: that stays beside the database (private_files.py)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/pain-news (default ~/.cache/pain-news); tests point XDG_CACHE_HOME at their own."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pain-news"
