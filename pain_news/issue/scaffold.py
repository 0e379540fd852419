"""`init` and `new`: start a clinic's project from nothing, and scaffold a new issue folder."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import secrets
import shutil
from pathlib import Path
from string import Template

from pain_news.errors import IssueError, OutputError
from pain_news.private_files import write_private

PACKAGE = Path(__file__).resolve().parent.parent
SCAFFOLD = PACKAGE / "scaffold"
DEFAULT_TEMPLATES = PACKAGE / "default_templates"
ISSUE_FILES = ("issue.toml", "01-spotlight.md", "02-article.md")
#: `2027-01-january`, `2026-12-winter`, `2027-03`: the year and month an issue folder's name starts with.
FOLDER_DATE = re.compile(r"^(?P<year>\d{4})-(?P<month>\d{1,2})(?:-(?P<rest>.+))?$")
KEY_PREFIX = re.compile(r"^[a-z_]+\s*[:=]\s*")


def init_project(folder: Path, inbound_domain: str = "") -> list[Path]:
    """Write pain-news.toml, .env with a fresh secret key, templates/, issues/ and subscribers/."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "pain-news.toml"
    if config.exists():
        raise OutputError("already exists; init only starts a new project", path=config)
    created = [config]
    domain = inbound_domain.strip().lower().rstrip(".")
    if domain and not re.fullmatch(
        r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+", domain
    ):
        raise OutputError(f"not a domain name: {inbound_domain.strip()!r} (e.g. reply.clinic.example)")
    text = Template((SCAFFOLD / "pain-news.toml").read_text(encoding="utf-8"))
    config.write_text(text.safe_substitute(inbound_domain=domain), encoding="utf-8")
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
        gitignore.write_text(
            ".env\nbuild/\noutbox/\narchive/\nsubscribers/*.db*\n.pain-news-desk.lock\nsubscribers/desk-erasures.log\n",
            encoding="utf-8",
        )
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
    folder: Path, title: str | None = None, number: int | None = None, today: dt.date | None = None
) -> list[Path]:
    """Create an issue folder with issue.toml, a spotlight and an article to fill in.

    Title and date default to what the folder's name says (`2027-01-january` → "January 2027",
    2027-01-01); only a name without a year and month falls back to `today`.
    """
    if folder.exists() and any(folder.iterdir()):
        raise OutputError("folder exists and is not empty; choose a new issue folder", path=folder)
    proposed_title, proposed_date = proposal_from_name(folder.name)
    title = title or proposed_title
    if not title:
        raise IssueError(
            f"cannot tell the issue's title from the folder name '{folder.name}'",
            hint='name the folder like issues/2027-01-january, or give --title "January 2027"',
        )
    if number is None:
        number = _next_number(folder.parent)
    values = {
        "title": title.replace("\\", "\\\\").replace('"', '\\"'),
        "number": str(number),
        "date": (proposed_date or today or dt.date.today()).isoformat(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    created = []
    for name in ISSUE_FILES:
        text = Template((SCAFFOLD / name).read_text(encoding="utf-8")).safe_substitute(values)
        (folder / name).write_text(text, encoding="utf-8")
        created.append(folder / name)
    return created


def proposal_from_name(name: str) -> tuple[str, dt.date | None]:
    """Title and date an issue folder's name suggests: `2027-01-january` → ("January 2027", 2027-01-01)."""
    match = FOLDER_DATE.match(name)
    if not match or not 1 <= int(match["month"]) <= 12:
        return "", None
    year, month = int(match["year"]), int(match["month"])
    words = (match["rest"] or "").replace("-", " ").replace("_", " ").strip()
    label = words.title() if words else calendar.month_name[month]
    return f"{label} {year}", dt.date(year, month, 1)


@functools.cache
def scaffold_phrases() -> tuple[str, ...]:
    """Every prompt sentence the scaffold files hold ("Name of the condition", "Write the article here ...").

    Read from the files `new` copies, so the list follows any edit to them. Left out: comments and
    headings (`#`), `---`, template fields (`$title`), tags (`{{ }}`) and one-word values (`kind: article`,
    `reviewed_by: clinic-reviewer`: a key, which the placeholder gate judges instead).
    """
    phrases: dict[str, None] = {}
    for name in ISSUE_FILES:
        for raw in (SCAFFOLD / name).read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", "---")) or "$" in line or "{{" in line:
                continue
            value = _value_of(line)
            if value.startswith("["):  # sections = [...]: structure, not prose
                continue
            for phrase in re.split(r"(?<=[.!?])\s+", value):
                if len(re.findall(r"[A-Za-z]+", phrase)) >= 2 and " " in phrase:
                    phrases.setdefault(phrase, None)
    return tuple(phrases)


def untouched_phrases(text: str, phrases: tuple[str, ...]) -> list[tuple[str, int]]:
    """(phrase, line) for each scaffold phrase still in `text`: short ones as a whole value, long ones anywhere."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        value = _value_of(raw.strip())
        for phrase in phrases:
            short = len(phrase.split()) <= 3
            if (value == phrase) if short else (phrase in raw):
                found.append((phrase, number))
    return found


def _value_of(line: str) -> str:
    """A line without its list marker, `key:` / `key =` prefix and quotes."""
    line = re.sub(r"^[-*+]\s+", "", line)
    line = KEY_PREFIX.sub("", line)
    return line.strip().strip('"').strip("'").strip()


def _next_number(issues: Path) -> int:
    """One more than the highest issue number under issues/ (1 for the first)."""
    highest = 0
    for toml in issues.glob("*/issue.toml"):
        match = re.search(r"^number\s*=\s*(\d+)", toml.read_text(encoding="utf-8"), re.M)
        if match:
            highest = max(highest, int(match.group(1)))
    return highest + 1
