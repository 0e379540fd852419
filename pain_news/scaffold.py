"""`init` and `new`: start a clinic's project from nothing, and scaffold a new issue folder."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import shutil
from pathlib import Path
from string import Template

from pain_news.errors import OutputError
from pain_news.private_files import write_private

SCAFFOLD = Path(__file__).parent / "scaffold"
DEFAULT_TEMPLATES = Path(__file__).parent / "default_templates"


def init_project(folder: Path, unsubscribe_mailto: str = "") -> list[Path]:
    """Write pain-news.toml, .env with a fresh secret key, templates/, issues/ and subscribers/."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "pain-news.toml"
    if config.exists():
        raise OutputError("already exists; init only starts a new project", path=config)
    created = [config]
    mailto = unsubscribe_mailto.strip().removeprefix("mailto:").replace("\\", "\\\\").replace('"', '\\"')
    text = Template((SCAFFOLD / "pain-news.toml").read_text(encoding="utf-8"))
    config.write_text(text.safe_substitute(unsubscribe_mailto=mailto), encoding="utf-8")
    env = folder / ".env"
    if not env.exists():
        # The secret signs unsubscribe links: it must stay the same for the life of the list.
        # 0600 from its first byte, never written first and chmod-ed after.
        write_private(
            env,
            (
                "# Secrets for Pain News. Never commit this file.\n"
                f"PAIN_NEWS_SECRET_KEY={secrets.token_urlsafe(32)}\n"
                "# SENDGRID_API_KEY=\n# PAIN_NEWS_SMTP_PASSWORD=\n"
            ).encode(),
        )
        created.append(env)
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text(".env\nbuild/\noutbox/\narchive/\nsubscribers/*.db*\n", encoding="utf-8")
        created.append(gitignore)
    templates = folder / "templates"
    if not templates.exists():
        shutil.copytree(DEFAULT_TEMPLATES, templates)
        created.append(templates)
    for name in ("issues", "subscribers"):
        (folder / name).mkdir(exist_ok=True)
        created.append(folder / name)
    return created


def new_issue(
    folder: Path, title: str, number: int | None = None, today: dt.date | None = None
) -> list[Path]:
    """Create an issue folder with issue.toml, a spotlight and an article to fill in."""
    if folder.exists() and any(folder.iterdir()):
        raise OutputError("folder exists and is not empty; choose a new issue folder", path=folder)
    if number is None:
        number = _next_number(folder.parent)
    values = {
        "title": title.replace("\\", "\\\\").replace('"', '\\"'),
        "number": str(number),
        "date": (today or dt.date.today()).isoformat(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    created = []
    for name in ("issue.toml", "01-spotlight.md", "02-article.md"):
        text = Template((SCAFFOLD / name).read_text(encoding="utf-8")).safe_substitute(values)
        (folder / name).write_text(text, encoding="utf-8")
        created.append(folder / name)
    return created


def _next_number(issues: Path) -> int:
    """One more than the highest issue number under issues/ (1 for the first)."""
    highest = 0
    for toml in issues.glob("*/issue.toml"):
        match = re.search(r"^number\s*=\s*(\d+)", toml.read_text(encoding="utf-8"), re.M)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1
