"""The web archive's front page, in the web app's shared layout (written by pain_news/publish/archive.py)."""

from __future__ import annotations

from pain_news.config.settings import Config
from pain_news.issue.loader import Issue
from pain_news.web.pages import environment


def index_page(config: Config, issues: list[Issue]) -> str:
    """The archive's front page: every published issue, newest first, with absolute links."""
    base = config.newsletter.public_url.rstrip("/")
    return (
        environment()
        .get_template("archive_index.html")
        .render(
            issues=issues,
            base=base,
            newsletter_name=config.newsletter.name,
            footer_text=f"{config.newsletter.clinic} · {config.newsletter.postal_address}",
        )
        + "\n"
    )
