"""What reaches the reader: accessibility of the built email and spotlight claims against their
source. (Image weight and sharpness are checks/images.py, registered beside this in check.py.)"""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding
from pain_news.checks.accessibility import Where, check_accessibility
from pain_news.checks.claims import check_claims


def check_reader(data: CheckInput) -> list[Finding]:
    """Contrast, text sizes, heading order and link text of the built email; spotlight superlatives."""
    if data.rendered is None:
        return []
    where = Where(data.config.templates_dir, data.loaded.issue, data.out_name / "email.html")
    return [*check_accessibility(data.rendered.email_html, where), *check_claims(data.loaded.pieces)]
