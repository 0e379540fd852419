"""Per-recipient placeholders: how authors write them, and how the built output carries them.

Authors write Jinja-like tags in markdown and issue.toml:

    Dear {{ first_name | default('friend') }},

The build turns each into a placeholder that the sending step fills per recipient. HTML and
plain text carry *different* placeholders so a value is HTML-escaped in the HTML part and left
verbatim in the text part:

    HTML part:  %%h.first_name|friend%%
    text part:  %%t.first_name|friend%%

The form has no spaces or angle brackets, so CSS inlining and URL attributes keep it intact
(premailer percent-encodes `{{ x }}` inside href: docs/design/dependency-traps.md).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

#: Values the sending step knows for every recipient.
RECIPIENT_FIELDS = ("first_name", "last_name", "email", "unsubscribe_url", "preferences_url")


def recipient_values(
    *, first_name: str, last_name: str, email: str, unsubscribe_url: str, preferences_url: str
) -> dict[str, str]:
    """One recipient's placeholder values (raw; `fill` escapes them in the HTML part).

    The one builder: the send (pain_news/campaign/personalize.py), `check`'s size budget
    (pain_news/checks/output.py) and `preview` (pain_news/publish/preview.py) all make their values
    here, so none can leave a link out (tests/test_placeholders.py holds it to RECIPIENT_FIELDS).
    """
    return {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "unsubscribe_url": unsubscribe_url,
        "preferences_url": preferences_url,
    }


#: Of those, the ones authors may use in content (the unsubscribe and preference links are the template's job).
AUTHOR_FIELDS = ("first_name", "last_name", "email")

AUTHOR_TAG = re.compile(
    r"\{\{\s*(?P<name>[A-Za-z_][\w.]*)\s*"
    r"(?:\|\s*default\(\s*(?P<q>['\"])(?P<default>[^'\"%|\n]*)(?P=q)\s*\)\s*)?\}\}"
)
#: Anything that looks like a tag at all, so a malformed one is caught rather than mailed raw.
ANY_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
PLACEHOLDER = re.compile(r"%%(?P<part>[ht])\.(?P<name>[a-z_]+)(?:\|(?P<default>[^%|\n<>]*))?%%")


@dataclass(frozen=True)
class Tag:
    """One author tag found in source text."""

    name: str
    default: str

    def html(self) -> str:
        return placeholder("h", self.name, self.default)

    def text(self) -> str:
        return placeholder("t", self.name, self.default)


def placeholder(part: str, name: str, default: str = "") -> str:
    """The placeholder for `name` in the HTML ('h') or text ('t') part."""
    return f"%%{part}.{name}|{default}%%" if default else f"%%{part}.{name}%%"


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace every placeholder with the recipient's value (escaped in the HTML part)."""

    def value(match: re.Match[str]) -> str:
        raw = values.get(match["name"], "") or (match["default"] or "")
        return html.escape(raw, quote=True) if match["part"] == "h" else raw

    return PLACEHOLDER.sub(value, text)


def fill_defaults(text: str) -> str:
    """Resolve placeholders for a reader we do not know (the web version): defaults only."""
    return fill(text, {})


def placeholders_in(text: str) -> list[str]:
    """Every distinct placeholder in `text`, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER.finditer(text):
        seen.setdefault(match.group(0), None)
    return list(seen)


@lru_cache(maxsize=256)
def _parts(placeholder_text: str) -> tuple[str, str, str]:
    match = PLACEHOLDER.fullmatch(placeholder_text)
    if match is None:
        raise ValueError(f"not a placeholder: {placeholder_text!r}")
    return match["part"], match["name"], match["default"] or ""


class Substituter:
    """Each placeholder string → its filled value, as `fill` would (SendGrid substitutions); each
    placeholder is parsed once, not once per recipient."""

    def __init__(self, placeholders: list[str]) -> None:
        self._parsed = [(text, *_parts(text)) for text in placeholders]

    def __call__(self, recipient: Mapping[str, str]) -> dict[str, str]:
        escape = html.escape
        out = {}
        for text, part, name, default in self._parsed:
            raw = recipient.get(name, "") or default
            out[text] = escape(raw, True) if part == "h" else raw
        return out
