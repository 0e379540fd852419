"""Parity between an issue's editions: each says what the default edition says (docs/checks.md#editions).

A translation is medical content: an edition in another language must keep the same links,
call-to-action target, images (with alt text of its own), review fields and the same number of
points under each spotlight heading, and must not keep a paragraph in the default language. A
piece without its edition file is reported by the loader (`missing-file`).

Which language a paragraph is in is told by its function words (docs/design/editions-parity.md):
the words every sentence needs (the, and, of / el, y, de) — a measured rule with no model to load.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from pain_news.checks import CheckInput, Finding, error
from pain_news.checks.readability import words_of
from pain_news.issue.model import Issue, Piece

# The most frequent function words of each language, minus those both share ("a", "no", "me").
_FUNCTION_WORDS = {
    "en": frozenset(
        "the and of to in is are for with that this it you your be as on at by or from have has was "
        "were will can not but they their we our if when what which who how".split()
    ),
    "es": frozenset(
        "el la los las y de del en que es son para con por un una unos unas su sus se lo al le les "
        "pero como cuando si más muy o usted ustedes nuestro nuestra este esta estos estas".split()
    ),
}
#: The codes this check reports (docs/checks.md lists each).
PARITY_CODES = (
    "parity-links",
    "parity-images",
    "parity-cta",
    "parity-review",
    "parity-list",
    "parity-untranslated",
)
MIN_WORDS = 6  # shorter paragraphs (a name, a dose, a heading) carry too few words to tell
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_HEADING = re.compile(r"^#{1,6}\s")


def check_parity(data: CheckInput) -> list[Finding]:
    """Every edition against the default one, piece by piece (pieces matched by file stem)."""
    issue = data.loaded.issue
    if issue is None or not issue.editions:
        return []
    findings: list[Finding] = []
    for edition in issue.editions:
        theirs = {p.slug: p for p in edition.pieces}
        for piece in issue.pieces:
            if piece.slug in theirs:
                findings.extend(piece_parity(piece, theirs[piece.slug], issue, edition))
    return findings


def piece_parity(default: Piece, other: Piece, issue: Issue, edition: Issue) -> list[Finding]:
    """What `other` (the piece in the edition's language) lacks or changes of `default`."""
    lang, path = edition.language, other.path
    findings = [
        *_same_targets(default, other, "link", lang),
        *_same_targets(default, other, "image", lang),
        *_alt_texts(default, other, lang),
        *_list_counts(default, other, lang),
        *_untranslated(default, other, issue.language, lang),
    ]
    fields = [
        ("the call-to-action target", _cta(default), _cta(other), "parity-cta"),
        ("reviewed_by", default.reviewed_by, other.reviewed_by, "parity-review"),
        ("reviewed_on", str(default.reviewed_on or ""), str(other.reviewed_on or ""), "parity-review"),
        ("learn_more_url", default.learn_more_url, other.learn_more_url, "parity-review"),
    ]
    for what, mine, yours, code in fields:
        if mine != yours:
            fix = f"use the same {what} as {default.path.name}: {mine or '(none)'}"
            findings.append(
                error(code, f"the {lang} edition's {what} differs: {yours or '(none)'}", path, 1, fix)
            )
    return findings


def _cta(piece: Piece) -> str:
    return piece.cta.url if piece.cta else ""


def _same_targets(default: Piece, other: Piece, kind: str, lang: str) -> Iterator[Finding]:
    """The same link (or image) targets, as many times each, in the edition as in the default."""
    mine = Counter(t.url for t in default.found_targets if t.kind == kind)
    yours = Counter(t.url for t in other.found_targets if t.kind == kind)
    code = "parity-links" if kind == "link" else "parity-images"
    for url in sorted((mine - yours).keys()):
        fix = f"keep the {kind} to {url} from {default.path.name} in the translation"
        yield error(code, f"the {lang} edition lacks the {kind} {url}", other.path, other.body_line, fix)
    for url in sorted((yours - mine).keys()):
        line = next((t.line for t in other.found_targets if t.url == url), other.body_line)
        fix = f"link what {default.path.name} links, or add the {kind} there too"
        yield error(code, f"the {lang} edition has a {kind} the default lacks: {url}", other.path, line, fix)


def _alt_texts(default: Piece, other: Piece, lang: str) -> Iterator[Finding]:
    """Each image of the edition has alt text, not the default edition's words."""
    theirs = {t.url: t.alt.strip() for t in default.found_targets if t.kind == "image"}
    if default.image is not None:
        theirs[default.image.src] = default.image.alt.strip()
    images = [(t.url, t.alt.strip(), t.line) for t in other.found_targets if t.kind == "image"]
    if other.image is not None:
        images.append((other.image.src, other.image.alt.strip(), 1))
    for src, alt, line in images:
        if not alt:
            fix = f"describe the image in the {lang} edition's language"
            yield error(
                "parity-images", f"the {lang} edition's image {src} has no alt text", other.path, line, fix
            )
        elif alt == theirs.get(src) and len(alt.split()) > 1:
            fix = f"translate the alt text into the {lang} edition's language"
            yield error(
                "parity-images",
                f"the {lang} edition's image {src} keeps the default alt text",
                other.path,
                line,
                fix,
            )


def _list_counts(default: Piece, other: Piece, lang: str) -> Iterator[Finding]:
    """A spotlight's sections, in order, have as many list items in each edition."""
    for mine, yours in zip(default.sections, other.sections, strict=False):
        have, want = yours.html.count("<li"), mine.html.count("<li")
        if have != want:
            fix = f"translate every point under '{mine.heading}' in {default.path.name}, one item each"
            message = f"'{yours.heading}' has {have} list items; '{mine.heading}' has {want}"
            yield error("parity-list", message, other.path, yours.line, fix)


def _untranslated(default: Piece, other: Piece, default_lang: str, lang: str) -> Iterator[Finding]:
    """Paragraphs of the edition that are the default's own, or read as the default language."""
    originals = {_plain(text) for text, _ in paragraphs(default.markdown)}
    for text, offset in paragraphs(other.markdown):
        words = words_of(text)
        if len(words) < MIN_WORDS:
            continue
        if _plain(text) in originals or reads_as(words, default_lang, lang):
            fix = f"translate this paragraph into the {lang} edition's language"
            message = f"a paragraph of the {lang} edition is in {default_lang}: {text[:60]!r}"
            yield error("parity-untranslated", message, other.path, other.body_line + offset, fix)


def reads_as(words: list[str], default_lang: str, lang: str) -> bool:
    """Whether `words` read as `default_lang` rather than `lang`: more than twice as many of its
    function words, and at least one (False when either language has no list)."""
    if default_lang not in _FUNCTION_WORDS or lang not in _FUNCTION_WORDS:
        return False
    theirs = sum(1 for w in words if w in _FUNCTION_WORDS[default_lang])
    ours = sum(1 for w in words if w in _FUNCTION_WORDS[lang])
    return theirs >= 1 and theirs > 2 * ours


def paragraphs(markdown: str) -> list[tuple[str, int]]:
    """Each paragraph and list item of a markdown body, with its line offset; headings left out."""
    found: list[tuple[str, int]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate([*markdown.splitlines(), ""]):
        if not line.strip() or _HEADING.match(line) or _LIST_ITEM.match(line):
            if current:
                found.append((" ".join(current), start))
                current = []
            if _LIST_ITEM.match(line):
                current, start = [_LIST_ITEM.sub("", line).strip()], number
            continue
        if not current:
            start = number
        current.append(line.strip())
    return found


def _plain(text: str) -> str:
    return " ".join(words_of(text))
