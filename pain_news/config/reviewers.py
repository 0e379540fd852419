"""People who may approve an issue, declared in pain-news.toml's `[reviewers.<key>]` tables.

Read by settings.py into `Config.reviewers` (never from the environment: who may sign off is part of
the project, not of one machine); documented in docs/configuration.md. A spotlight's `reviewed_by`
names a key, and `pain-news approve --as KEY` records an approval by one (pain_news/signoff/).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pain_news.config.topics import TOPIC_KEY
from pain_news.errors import ConfigError

MAX_REVIEWER_KEY = 50  # approvals.reviewer is VARCHAR(50) (migration 0005)
FIELDS = ("name", "credentials", "email", "clinical", "email_only")


@dataclass(frozen=True)
class Reviewer:
    """One person who may approve: shown as "name, credentials" under a spotlight."""

    key: str
    name: str
    credentials: str = ""
    email: str = ""
    clinical: bool = False  # may approve an issue with a condition spotlight
    email_only: bool = False  # approves only through the emailed link (their inbox proves it was them)

    @property
    def shown(self) -> str:
        """ "Dr. Ana Ruiz, MD, board-certified in pain medicine": the review line's "by …"."""
        return f"{self.name}, {self.credentials}" if self.credentials else self.name


def find_reviewer(reviewers: tuple[Reviewer, ...], key: str) -> Reviewer | None:
    """The reviewer declared as [reviewers.<key>], or None."""
    return next((r for r in reviewers if r.key == key.strip()), None)


def read_reviewers(data: dict[str, Any], path: Path | None) -> tuple[Reviewer, ...]:
    """Pop [reviewers.<key>] tables from the file's `data`: a slug key, a name, credentials, email, flags."""
    table = data.pop("reviewers", {})
    if not isinstance(table, dict):
        raise ConfigError("'reviewers' must be tables ([reviewers.<key>] with name = \"...\")", path=path)
    found = []
    for key, entry in table.items():
        where = f"reviewers.{key}"
        if not TOPIC_KEY.fullmatch(key) or len(key) > MAX_REVIEWER_KEY:
            raise ConfigError(
                f"{where}: a reviewer key must be a lowercase slug of at most {MAX_REVIEWER_KEY} characters",
                path=path,
                hint="use lowercase letters, digits and single dashes, e.g. [reviewers.ana-ruiz]",
            )
        if not isinstance(entry, dict):
            raise ConfigError(f'{where} must be a table ([{where}] with name = "...")', path=path)
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            raise ConfigError(f"unknown key '{where}.{unknown[0]}' (known: {', '.join(FIELDS)})", path=path)
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{where}.name must be the reviewer's name in quotes", path=path)
        for text in ("credentials", "email"):
            if not isinstance(entry.get(text, ""), str):
                raise ConfigError(f"{where}.{text} must be text in quotes", path=path)
        for flag in ("clinical", "email_only"):
            if not isinstance(entry.get(flag, False), bool):
                raise ConfigError(f"{where}.{flag} must be true or false", path=path)
        reviewer = Reviewer(
            key=key,
            name=name.strip(),
            credentials=entry.get("credentials", "").strip(),
            email=entry.get("email", "").strip(),
            clinical=entry.get("clinical", False),
            email_only=entry.get("email_only", False),
        )
        if reviewer.email_only and "@" not in reviewer.email:
            raise ConfigError(
                f"{where}: email_only = true needs an email address (approval comes by the emailed link)",
                path=path,
            )
        found.append(reviewer)
    return tuple(found)


def looks_like_key(value: str) -> bool:
    """A reviewer key ("ana-ruiz") rather than the free text written before [reviewers] existed."""
    return bool(TOPIC_KEY.fullmatch(value.strip()))
