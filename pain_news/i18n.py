"""The reader's language for everything around the newsletter: message catalogues, dates, numbers.

Interface text is written in English in the code and templates, marked for translation (`_()` in
templates, `translate(language, ...)` in Python, `N_()` where the text is chosen before the
language is known), and translated from the gettext catalogues in
pain_news/locale/<lang>/LC_MESSAGES/messages.po. The compiled .mo files sit beside them in the
repository, so a clean clone runs with no build step; `make catalogues` extracts, updates and
compiles them (babel.cfg), and tests/test_i18n.py fails when a .mo is stale, when a marked message
is missing from a catalogue or when a Spanish translation is empty (docs/languages.md).
Dates and numbers are formatted by Babel's locale data (CLDR), never by strftime.
"""

from __future__ import annotations

import datetime as dt
import gettext as gettext_module
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import jinja2

# Babel is imported inside the functions that use it (~100 ms): links.py and the store mark
# messages with N_ here, and `pain-news --help` must not pay for locale data.

SOURCE_LANGUAGE = "en"  # the language the messages are written in (the msgids)
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def primary(tag: str) -> str:
    """The primary language subtag in lower case: "es-US" and "ES_us" are "es" (RFC 5646)."""
    return tag.strip().replace("_", "-").split("-")[0].lower()


def N_(message: str) -> str:  # noqa: N802 (gettext's conventional name, known to the extractor)
    """Mark `message` for the catalogue where it is written; it is translated where it is shown."""
    return message


@lru_cache(maxsize=1)
def catalogue_languages() -> tuple[str, ...]:
    """The source language and every language with a compiled catalogue, in order."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo"))
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


@lru_cache(maxsize=16)
def translations(language: str) -> gettext_module.NullTranslations:
    """The catalogue for `language`; the messages as written for the source language or one without a catalogue."""
    if language == SOURCE_LANGUAGE or language not in catalogue_languages():
        return gettext_module.NullTranslations()
    from babel.support import Translations

    return Translations.load(str(LOCALE_DIR), [language], DOMAIN)


def translate(language: str, message: str, **values: object) -> str:
    """`message` in `language`, with `%(name)s` values filled in when given."""
    text = translations(language).gettext(message)
    return text % values if values else text


def translate_plural(language: str, singular: str, plural: str, n: int, **values: object) -> str:
    """The singular or plural form for `n` in `language` (`%(num)s` is `n`, formatted for the locale)."""
    text = translations(language).ngettext(singular, plural, n)
    return text % {"num": format_number(n, language), **values}


def best_language(accept_language: str | None, offered: Sequence[str], default: str) -> str:
    """The first of `offered` that an Accept-Language header prefers (by q-value, then order), else `default`.

    Only the primary subtag counts: "es-MX" asks for "es". A malformed entry is skipped, never an error.
    """
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate((accept_language or "").split(",")):
        tag, _, params = entry.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        lang = primary(tag)
        if lang and quality > 0:
            ranked.append((-quality, position, lang))
    for _, _, lang in sorted(ranked):
        if lang in offered:
            return lang
    return default


def format_date(day: dt.date, language: str) -> str:
    """A date as readers write it: "January 1, 2027", "1 de enero de 2027"."""
    from babel import dates

    return dates.format_date(day, format="long", locale=language)


def format_month(day: dt.date, language: str) -> str:
    """A month and year: "January 2027", "enero de 2027"."""
    from babel import dates

    return dates.format_skeleton("yMMMM", day, locale=language)


def format_number(value: int | float, language: str) -> str:
    """A number with the locale's separators: "12,500" in English, "12.500" in Spanish."""
    from babel import numbers

    return numbers.format_decimal(value, locale=language)


def install(env: jinja2.Environment, language: str) -> None:
    """Give an environment (made with the jinja2.ext.i18n extension) `language`'s catalogue as new-style
    gettext (`_("Hello %(name)s", name=x)`: values escaped and filled by name), the `language` global,
    and the `date`, `month` and `number` filters."""
    # install_gettext_translations is added to the environment by the extension at run time.
    cast(Any, env).install_gettext_translations(translations(language), newstyle=True)
    env.globals["language"] = language
    env.filters["date"] = lambda day: format_date(day, language)
    env.filters["month"] = lambda day: format_month(day, language)
    env.filters["number"] = lambda value: format_number(value, language)
