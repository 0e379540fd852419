"""Topics readers may choose, declared in pain-news.toml's `[topics]` (key = "label").

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


def read_topics(table: Any, path: Path | None) -> tuple[Topic, ...]:
    """[topics]: key = "label", keys lowercase slugs, labels non-empty text."""
    if not isinstance(table, dict):
        raise ConfigError("'topics' must be a table ([topics] with key = \"label\" lines)", path=path)
    topics = []
    for key, label in table.items():
        if not TOPIC_KEY.fullmatch(key) or len(key) > MAX_TOPIC_KEY:
            raise ConfigError(
                f"topics.{key}: a topic key must be a lowercase slug of at most {MAX_TOPIC_KEY} characters",
                path=path,
                hint='use lowercase letters, digits and single dashes, e.g. back-pain = "Back pain"',
            )
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f'topics.{key} must be a label in quotes, e.g. {key} = "..."', path=path)
        topics.append(Topic(key, label.strip()))
    return tuple(topics)
