"""Topics readers may choose, declared in pain-news.toml's `[topics]`.

`key = "label"`, or `key = { label = "...", sensitive = true, terms = ["..."] }` for a topic whose
choice reveals a condition: its key and label never leave the clinic (docs/security.md). A label
in another language sits beside the default one: `label_es = "Noticias de la clínica"`.

Read by config.py into `Config.topics`; documented in docs/configuration.md.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pain_news.errors import ConfigError, TopicError

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
    labels: tuple[tuple[str, str], ...] = ()  # (language, label) from label_<lang>

    def label_in(self, language: str) -> str:
        """The label in `language` (label_<lang>), else the default label."""
        return dict(self.labels).get(language, self.label)

    @property
    def revealing_words(self) -> tuple[str, ...]:
        """Every label and the configured terms: what a lock screen must not show."""
        return (self.label, *(label for _, label in self.labels), *self.terms)


TOPIC_FIELDS = ("label", "sensitive", "terms")
TRANSLATED_LABEL = re.compile(r"label_([a-z]{2,3})")


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
        translated = sorted(k for k in entry if TRANSLATED_LABEL.fullmatch(k))
        unknown = sorted(set(entry) - set(TOPIC_FIELDS) - set(translated))
        if unknown:
            raise ConfigError(
                f"unknown key 'topics.{key}.{unknown[0]}' (known: {', '.join(TOPIC_FIELDS)}, label_<language>)",
                path=path,
            )
        for name in translated:
            if not isinstance(entry[name], str) or not entry[name].strip():
                raise ConfigError(
                    f'topics.{key}.{name} must be a label in quotes, e.g. {name} = "..."', path=path
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
        labels = tuple((name.split("_", 1)[1], entry[name].strip()) for name in translated)
        topics.append(Topic(key, label.strip(), sensitive, tuple(t.strip() for t in terms), labels))
    return tuple(topics)


def normalize_topics(values: Iterable[str], known: Collection[str] | None = None) -> tuple[str, ...]:
    """Topic keys as they are stored: stripped, lower-cased, each once, sorted.

    The one topic rule, used by the issue loader, the send plan, the CLI, signup and preference
    forms, CSV import and the store. With `known` (config [topics], in config order), a key it does
    not declare raises TopicError with the one wording every caller shows.
    """
    keys = tuple(sorted({v.strip().lower() for v in values if v.strip()}))
    if known is not None:
        unknown = [k for k in keys if k not in known]
        if unknown:
            listed = ", ".join(repr(k[:MAX_TOPIC_KEY]) for k in unknown)
            declared = ", ".join(known) or "none; declare them under [topics] in pain-news.toml"
            raise TopicError(
                f"unknown topic {listed} (known: {declared})",
                hint='fix the spelling, or declare it under [topics] in pain-news.toml (key = "label")',
            )
    return keys


def sensitive_among(topics: Iterable[Topic], keys: Collection[str]) -> tuple[Topic, ...]:
    """The declared topics named in `keys` whose choice reveals a condition (`sensitive = true`)."""
    return tuple(t for t in topics if t.sensitive and t.key in keys)


def revealing_words_in(topic: Topic, text: str) -> list[str]:
    """The topic's key, labels and terms that `text` shows, as whole words in any letter case.

    The one rule for a lock screen (subject, preheader, sender name: pain_news/campaign/gates.py)."""
    words = (topic.key, *topic.revealing_words)
    found = [w for w in words if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)]
    return list(dict.fromkeys(w.lower() for w in found))


def revealing_words_in_slug(topic: Topic, slug: str) -> list[str]:
    """The same words found in a file or folder name (`2027-01-back-surgery` shows "back surgery")."""
    words = (topic.key, *topic.revealing_words)
    dashed = f"-{_slug(slug)}-"
    return list(dict.fromkeys(w.lower() for w in words if _slug(w) and f"-{_slug(w)}-" in dashed))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
