"""The message catalogues: extract the marked messages, merge them into each language's .po, compile .mo.

`make catalogues` runs it after a marked message changes; a translator then fills the new entries
in pain_news/locale/<lang>/LC_MESSAGES/messages.po and runs it again to compile. tests/test_i18n.py
uses the same functions, so what it checks is what this writes (docs/languages.md).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any, cast

from babel.messages import frontend
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "pain_news" / "locale"
# pain_news/i18n.py's translate(language, message) and translate_plural(language, one, many, n) take
# the message second; N_ marks text shown later; templates use _().
KEYWORDS = {"_": None, "N_": None, "translate": (2,), "translate_plural": (2, 3)}


def extract() -> Catalog:
    """Every marked message in the package and its templates, with where it is used."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = cast(Any, frontend).parse_mapping_cfg(cfg)  # untyped in Babel
    catalog = Catalog(
        project="Pain News", version="", charset="utf-8", copyright_holder="TriState Pain Institute"
    )
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "messages.po"


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language)


def compiled(catalog: Catalog) -> bytes:
    """The .mo for a catalogue (fuzzy entries left out, as gettext does)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def po_text(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_po(out, catalog, width=100, omit_header=False, sort_output=True, include_lineno=False)
    return out.getvalue()


def languages() -> list[str]:
    return sorted(p.parent.parent.name for p in LOCALE.glob("*/LC_MESSAGES/messages.po"))


def update() -> None:
    """Merge the extracted messages into each .po (new ones empty, gone ones dropped) and compile."""
    template = extract()
    for language in languages():
        catalog = read(language)
        template.creation_date = catalog.creation_date  # the same sources write the same bytes
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        po_path(language).write_bytes(po_text(catalog))
        po_path(language).with_suffix(".mo").write_bytes(compiled(read(language)))


if __name__ == "__main__":
    update()
    sys.exit(0)
