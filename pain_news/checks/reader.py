"""What reaches the reader: accessibility of the built email, image weight and sharpness, and
spotlight claims against their source — the checks `check` runs on a loaded, rendered issue."""

from __future__ import annotations

from pathlib import Path

from pain_news.checks import Finding
from pain_news.checks.accessibility import Where, check_accessibility
from pain_news.checks.claims import check_claims
from pain_news.checks.images import check_images
from pain_news.checks.sources import IMAGE_MAX_BYTES
from pain_news.config import Config
from pain_news.content import Issue
from pain_news.render import Rendered


def reader_findings(config: Config, issue: Issue, rendered: Rendered, out_name: Path) -> list[Finding]:
    """Every finding about what readers meet: contrast, sizes, headings, link text, images, claims."""
    where = Where(Path(config.templates_dir), issue, out_name / "email.html")
    return [
        *check_accessibility(rendered.email_html, where),
        *check_images(issue, IMAGE_MAX_BYTES),
        *check_claims(issue),
    ]
