"""Topics readers may choose, declared in pain-news.toml's `[topics]`.

`key = "label"`, or `key = { label = "...", sensitive = true, terms = ["..."] }` for a topic whose
choice reveals a condition: its key and label never leave the clinic (docs/security.md).

Read by config.py into `Config.topics`; documented in docs/configuration.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pain_news.errors import ConfigError

# A topic key is a lowercase slug (it appears in CSV cells, issue.toml and form fields).
TOPIC_KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_TOPIC_KEY = 50  # subscriber_topics.topic is VARCHAR(50) (migration 0002)


@dataclass(frozen=True)
class Topic:
    """A topic readers may choose (config [topics]): its key and the label shown to them."""

    key: str
    label: str
    sensitive: bool = False  # choosing it can reveal a condition (docs/security.md)
    terms: tuple[str, ...] = ()  # words that name it, refused in a targeted send's inbox lines

    @property
    def revealing_words(self) -> tuple[str, ...]:
        """The label and the configured terms: what a lock screen must not show."""
        return (self.label, *self.terms)


TOPIC_FIELDS = ("label", "sensitive", "terms")


def read_topics(table: Any, path: Path | None) -> tuple[Topic, ...]:
    """[topics]: key = "label" or key = { label, sensitive, terms }; keys lowercase slugs."""
    if not isinstance(table, dict):
        raise ConfigError("'topics' must be a table ([topics] with key = \"label\" lines)", path=path)
    topics = []
    for key, value in table.items():
        if not TOPIC_KEY.fullmatch(key) or len(key) > MAX_TOPIC_KEY:
            raise ConfigError(
                f"topics.{key}: a topic key must be a lowercase slug of at most {MAX_TOPIC_KEY} characters",
                path=path,
                hint='use lowercase letters, digits and single dashes, e.g. back-pain = "Back pain"',
            )
        entry = value if isinstance(value, dict) else {"label": value}
        unknown = sorted(set(entry) - set(TOPIC_FIELDS))
        if unknown:
            raise ConfigError(
                f"unknown key 'topics.{key}.{unknown[0]}' (known: {', '.join(TOPIC_FIELDS)})", path=path
            )
        label, sensitive, terms = entry.get("label"), entry.get("sensitive", False), entry.get("terms", [])
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f'topics.{key} must be a label in quotes, e.g. {key} = "..."', path=path)
        if not isinstance(sensitive, bool):
            raise ConfigError(f"topics.{key}.sensitive must be true or false", path=path)
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise ConfigError(
                f'topics.{key}.terms must be a list of words in quotes, e.g. ["..."]', path=path
            )
        topics.append(Topic(key, label.strip(), sensitive, tuple(t.strip() for t in terms)))
    return tuple(topics)
