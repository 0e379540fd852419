"""A send's editions: one frozen message per language, and who gets which (docs/sending.md#editions).

A subscriber gets the edition in their language when the issue has one, anyone else the default
edition (the issue's first language). The ledger row of each recipient records the edition
(pain_news/ledger/queries.py: ledger_rows), so a resumed send mails each person the same one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pain_news import delivery
from pain_news.config.languages import label
from pain_news.delivery.base import OutgoingMessage
from pain_news.ledger import FrozenEdition

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.publish.build import BuildResult


@dataclass(frozen=True, kw_only=True)
class EditionMessage:
    """One edition of a send: its language and the message its recipients get."""

    language: str
    message: OutgoingMessage

    def frozen(self) -> FrozenEdition:
        m = self.message
        return FrozenEdition(language=self.language, subject=m.subject, html=m.html, text=m.text)


def list_message(config: Config, subject: str, html: str, text: str) -> OutgoingMessage:
    """The list message of one edition (List-Id, unsubscribe group): the same for every edition."""
    return delivery.message_from_config(
        config, subject, html, text, list_message=True, unsubscribe_group=True
    )


def built_editions(config: Config, result: BuildResult) -> tuple[EditionMessage, ...]:
    """The editions besides the default one, from the gated build, in issue.toml's order."""
    return tuple(
        EditionMessage(
            language=issue.language,
            message=list_message(config, issue.subject, rendered.email_html, rendered.email_text),
        )
        for issue, rendered in result.editions
    )


def frozen_editions(config: Config, editions: tuple[FrozenEdition, ...]) -> tuple[EditionMessage, ...]:
    """The editions a campaign froze when it was created (a resumed send mails exactly those)."""
    return tuple(
        EditionMessage(language=e.language, message=list_message(config, e.subject, e.html, e.text))
        for e in editions
    )


@dataclass(frozen=True, kw_only=True)
class EditionCounts:
    """How many recipients each edition has, and who gets the default one for want of theirs."""

    default: str
    per_edition: dict[str, int]  # language → recipients, the default first
    fallback: dict[str, int] = field(default_factory=dict)  # a language the issue lacks → how many

    @classmethod
    def of(cls, default: str, others: tuple[str, ...], per_language: Mapping[str, int]) -> EditionCounts:
        """From the active subscribers per chosen language: each counted in their edition or the default's."""
        fallback = {
            lang: n for lang, n in sorted(per_language.items()) if lang != default and lang not in others
        }
        per_edition = {lang: per_language.get(lang, 0) for lang in others}
        per_edition = {default: sum(per_language.values()) - sum(per_edition.values()), **per_edition}
        return cls(default=default, per_edition=per_edition, fallback=fallback)

    def line(self) -> str:
        """`English (en) 80, Español (es) 12; 2 whose language the issue lacks (fr 2) get the English edition`."""
        shown = ", ".join(f"{label(lang)} ({lang}) {n}" for lang, n in self.per_edition.items())
        if not self.fallback:
            return shown
        lacking = ", ".join(f"{lang} {n}" for lang, n in self.fallback.items())
        return (
            f"{shown}; {sum(self.fallback.values())} whose language the issue lacks ({lacking}) "
            f"get the {label(self.default)} edition"
        )


def to_send_per_edition(states: Mapping[str, Mapping[str, int]], wanted: tuple[str, ...]) -> Counter[str]:
    """Per edition's language: how many of its ledger rows are in the `wanted` states (a resume's plan)."""
    return Counter({lang: sum(counts.get(s, 0) for s in wanted) for lang, counts in states.items()})
