"""Settings still holding what `init` wrote, or pointing at a reserved example domain (RFC 2606, RFC 6761).

A fake sender, postal address or unsubscribe link in a list email is a CAN-SPAM problem, not a style
issue, so `gates.settings_are_real` refuses a list send through SMTP or SendGrid while any is left.
The scaffold's values are read from pain_news/scaffold/pain-news.toml, so the two never drift.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pain_news.config.hosts import is_loopback
from pain_news.config.reviewers import find_reviewer

if TYPE_CHECKING:
    from pain_news.config.settings import Config

# appointment_url too: when set, it is a button in every spotlight, as public as the others.
CHECKED = (
    "from_email",
    "reply_to",
    "postal_address",
    "public_url",
    "conditions_url",
    "list_id",
    "appointment_url",
)
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_SUFFIXES = ("example", "test", "invalid", "localhost")


@functools.cache
def _scaffold_toml() -> dict[str, Any]:
    from pain_news.issue.scaffold import SCAFFOLD

    return tomllib.loads((SCAFFOLD / "pain-news.toml").read_text(encoding="utf-8"))


def scaffold_newsletter() -> dict[str, str]:
    """The [newsletter] values `pain-news init` writes."""
    return {key: str(value) for key, value in _scaffold_toml()["newsletter"].items()}


def placeholder_reviewers(config: Config, keys: Iterable[str]) -> list[str]:
    """One phrase per reviewer among `keys` that is still init's placeholder or at a reserved domain.

    Only the reviewers an issue names (its spotlight's reviewed_by, its approval) count: a clinic may
    keep init's entry in pain-news.toml as long as no list email shows or relies on it.
    """
    scaffold = {
        (str(entry.get("name", "")), str(entry.get("email", "")))
        for entry in _scaffold_toml().get("reviewers", {}).values()
    }
    found = []
    for key in dict.fromkeys(keys):
        reviewer = find_reviewer(config.reviewers, key)
        if reviewer is None:
            continue  # an unknown key is check's error (pain_news/checks/review.py)
        if (reviewer.name, reviewer.email) in scaffold:
            why = "is still what pain-news init wrote"
        elif is_reserved_host(reviewer.email.rpartition("@")[2]):
            why = "has an address on a reserved example domain"
        else:
            continue
        found.append(f"reviewer '{key}' ({reviewer.name} <{reviewer.email}>) {why}")
    return found


def is_reserved_host(host: str) -> bool:
    """example.com/.net/.org (and their subdomains), *.example, *.test, *.invalid, localhost, loopback."""
    host = host.strip().rstrip(".").lower()
    if not host:
        return False
    if any(host == d or host.endswith("." + d) for d in RESERVED_DOMAINS):
        return True
    return host.rsplit(".", 1)[-1] in RESERVED_SUFFIXES or is_loopback(host)


def _host(key: str, value: str) -> str:
    """The domain a setting points at: an address's domain, a URL's host, the List-Id's <...> part."""
    if key in ("public_url", "conditions_url", "appointment_url"):
        return urlsplit(value).hostname or ""
    if key == "list_id":
        match = re.search(r"<([^>]*)>", value)
        return match.group(1) if match else value
    return value.rpartition("@")[2]


def placeholder_settings(config: Config) -> list[str]:
    """One phrase per newsletter setting that is still a placeholder, naming the setting and its source."""
    scaffold = scaffold_newsletter()
    found = []
    for key in CHECKED:
        value = getattr(config.newsletter, key)
        if not value:
            continue  # empty: the settings that must be set are required elsewhere
        why = None
        if value == scaffold.get(key):
            why = "is still what pain-news init wrote"
        elif key == "postal_address":
            town = _scaffold_town(scaffold.get(key, ""))
            if town and town.lower() in value.lower():
                why = f"still names the example town {town!r}"
        elif is_reserved_host(_host(key, value)):
            why = "is on a reserved example domain"
        if why:
            found.append(f"newsletter.{key} {value!r} {why} (set in {config.source(f'newsletter.{key}')})")
    return found


def _scaffold_town(address: str) -> str:
    """'Anytown' from '123 Example Street, Suite 100, Anytown, ST 00000' (the town before the state)."""
    parts = [part.strip() for part in address.split(",")]
    return parts[-2] if len(parts) >= 2 else ""
