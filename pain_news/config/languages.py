"""Languages: the one rule that turns `es-US`, `Spanish` or `español` into the code `es`.

A subscriber's language, an issue's editions and `newsletter.languages` are all primary language
subtags in lower case (BCP 47: `es-US` → `es`). The first configured language is the default:
a subscriber whose language an issue lacks gets that edition (docs/sending.md#editions).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

DEFAULT_LANGUAGES = ("en",)

# Common ways a clinic's export or a person writes a language, by the code they mean (compared
# without accents and case). Codes themselves (`es`, `es-US`, `es_MX`) need no entry.
NAMES = {
    "en": ("english", "ingles", "eng", "anglais"),
    "es": ("spanish", "espanol", "castellano", "spa", "espagnol"),
    "fr": ("french", "francais", "fre", "fra"),
    "pt": ("portuguese", "portugues", "por"),
    "zh": ("chinese", "mandarin", "cantonese", "zho", "chi"),
    "vi": ("vietnamese", "tieng viet", "vie"),
    "ko": ("korean", "kor"),
    "ru": ("russian", "rus"),
    "ar": ("arabic", "ara"),
    "ht": ("haitian creole", "kreyol", "hat"),
    "pl": ("polish", "polski", "pol"),
    "it": ("italian", "italiano", "ita"),
    "de": ("german", "deutsch", "ger", "deu"),
}
_BY_NAME = {name: code for code, names in NAMES.items() for name in names}
_TAG = re.compile(r"^(?P<primary>[a-z]{2,3})(?:[-_][a-z0-9]{1,8})*$")
# Display names for messages and the plan (the language's own name, as a reader would pick it).
LABELS = {
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "pt": "Português",
    "zh": "中文",
    "vi": "Tiếng Việt",
    "ko": "한국어",
    "ru": "Русский",
    "ar": "العربية",
    "ht": "Kreyòl ayisyen",
    "pl": "Polski",
    "it": "Italiano",
    "de": "Deutsch",
}


def language_code(value: str) -> str | None:
    """The primary subtag `value` names (`es-US`, `Spanish`, `Español` → `es`), or None."""
    folded = unicodedata.normalize("NFKD", value.strip().lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    if plain in _BY_NAME:
        return _BY_NAME[plain]
    match = _TAG.match(plain)
    return match["primary"] if match else None


def normalise_language(value: str, known: Sequence[str]) -> str:
    """`value` as one of the `known` codes; ValueError naming the known ones otherwise."""
    code = language_code(value)
    if code is None or code not in known:
        raise ValueError(f"unknown language {value.strip()[:40]!r} (known: {', '.join(known)})")
    return code


def label(code: str) -> str:
    """A language's name in that language (`es` → `Español`), or its code when not listed."""
    return LABELS.get(code, code)


def language_problem(values: Sequence[str]) -> str | None:
    """Why `newsletter.languages` is not a list of distinct lower-case codes (`en`, `es`), or None."""
    if not values:
        return "must name at least one language (the first is the default)"
    for value in values:
        if language_code(value) != value:
            return f"names {value!r}, not a lower-case language code such as en or es"
    if len(set(values)) != len(values):
        return "names a language twice"
    return None


def preferred_language(accept_language: str, known: Sequence[str]) -> str | None:
    """The first of `known` an Accept-Language header asks for (by its q values), or None."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        code = language_code(tag) if tag and tag != "*" else None
        if code is not None and code in known and q > 0:
            ranked.append((-q, index, code))
    return min(ranked)[2] if ranked else None
