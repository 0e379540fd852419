"""What reaches the reader: accessibility of the built email and spotlight claims against their
source — the checks `check` runs on a loaded, rendered issue. (Image weight and sharpness are
checks/images.py, registered beside this in check.py.)"""

from __future__ import annotations

from pathlib import Path

from pain_news.checks import Finding
from pain_news.checks.accessibility import Where, check_accessibility
from pain_news.checks.claims import check_claims
from pain_news.config import Config
from pain_news.content import Issue
from pain_news.render import Rendered


def reader_findings(config: Config, issue: Issue, rendered: Rendered, out_name: Path) -> list[Finding]:
    """Every finding about what readers meet: contrast, sizes, headings, link text, claims."""
    where = Where(Path(config.templates_dir), issue, out_name / "email.html")
    return [*check_accessibility(rendered.email_html, where), *check_claims(issue)]
