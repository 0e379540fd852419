"""Reading level of each piece, by a formula for its language, against the targets in [check].

English: Flesch–Kincaid grade (patient materials aim for grade 8 or below). Spanish: Fernández Huerta's
reading ease, textstat's formula (60 or above reads as "normal", about grade 7–8), with syllables
counted by Spanish spelling rules (checks/syllables.py). Other languages are not scored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pain_news.checks import Finding, warning
from pain_news.checks.syllables import spanish_syllables, syllable_counts
from pain_news.issue.markdown import parser, protect_tags
from pain_news.issue.model import Piece

GRADE_MAX = 8.0  # the default of check.reading_grade_max
EASE_MIN_ES = 60.0  # the default of check.reading_ease_min_es
SENTENCE_END = (".", "!", "?", ":", ";")


def prose(piece: Piece) -> str:
    """The piece's words as sentences: each heading and list item ends a sentence, URLs are left out.

    Without this a bulleted list reads as one endless sentence and scores as a university text.
    """
    body = piece.markdown
    blocks = [piece.summary.text] if piece.summary else []
    for token in parser().parse(protect_tags(body)[0]):
        if token.type == "inline":
            words = "".join(
                c.content
                if c.type in ("text", "code_inline")
                else " "
                if c.type in ("softbreak", "hardbreak")
                else ""
                for c in token.children or []
            ).strip()
            if words:
                blocks.append(words if words.endswith(SENTENCE_END) else words + ".")
    return "\n".join(blocks)


# textstat 0.7.8's word and sentence rules (backend/selections/_list_words.py, counts/_count_sentences.py),
# written out here: importing textstat costs more than a whole `check` otherwise spends on grades
# (docs/design/editor-speed.md); tests/test_readability.py holds the figures equal to textstat's.
_NON_CONTRACTION_APOSTROPHE = re.compile(r"\'(?!(?:[tsd]|ve|ll|re))")
_PUNCTUATION = re.compile(r"[^\w\s\']")
_SENTENCE = re.compile(r"\b[^.!?]+[.!?]*", re.UNICODE)


def words_of(text: str) -> list[str]:
    """The words textstat counts, lower-cased: punctuation dropped except contraction apostrophes."""
    return _PUNCTUATION.sub("", _NON_CONTRACTION_APOSTROPHE.sub("", text)).lower().split()


def sentence_count(text: str) -> int:
    """textstat's sentence count: runs ending in . ! or ?, ignoring runs of two words or fewer."""
    if not text:
        return 0
    sentences = _SENTENCE.findall(text)
    return max(1, len(sentences) - sum(1 for sentence in sentences if len(words_of(sentence)) <= 2))


def grade(text: str, counts: Mapping[str, int] | None = None) -> float:
    """Flesch–Kincaid grade of `text`, as textstat 0.7.8 computes it, with syllables from
    checks/syllables.py's table instead of a dictionary loaded per process (`counts`: already
    looked up for these words)."""
    words = words_of(text)
    sentences = sentence_count(text)
    if not words or not sentences:
        return 0.0
    counts = syllable_counts(words) if counts is None else counts
    syllables = sum(counts[w] for w in words)
    if not syllables:
        return 0.0
    return round(0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59, 1)


def reading_grades(pieces: Sequence[Piece]) -> dict[str, float]:
    """Grade per piece, keyed by the piece's file stem; every piece's words looked up at once."""
    texts = {piece.slug: prose(piece) for piece in pieces}
    counts = syllable_counts(word for text in texts.values() for word in words_of(text))
    return {slug: grade(text, counts) for slug, text in texts.items()}


def fernandez_huerta(text: str) -> float:
    """Fernández Huerta's reading ease of Spanish `text` (textstat's formula: 206.84 − 60 × syllables
    per word − 1.02 × words per sentence); higher is easier."""
    words = words_of(text)
    sentences = sentence_count(text)
    if not words or not sentences:
        return 0.0
    syllables = sum(spanish_syllables(w) for w in words)
    return round(206.84 - 60 * syllables / len(words) - 1.02 * len(words) / sentences, 1)


#: The formula of each language that has one: its name, how a score reads, whether higher is harder.
FORMULAS = {
    "en": ("Flesch–Kincaid grade", "grade {:.1f} (Flesch–Kincaid)", True),
    "es": ("Fernández Huerta reading ease", "{:.1f} (Fernández Huerta reading ease)", False),
}


def edition_scores(pieces: Sequence[Piece], language: str) -> dict[str, float]:
    """Each piece's score by its language's formula (keyed by file stem); {} for a language without one."""
    if language == "es":
        return {piece.slug: fernandez_huerta(prose(piece)) for piece in pieces}
    return reading_grades(pieces) if language == "en" else {}


def grade_findings(
    pieces: Sequence[Piece], grades: dict[str, float], language: str = "en", target: float = GRADE_MAX
) -> list[Finding]:
    """`reading-grade` for each piece whose score misses `target` (its language's formula)."""
    if language not in FORMULAS:
        return []
    _, shown, higher_is_harder = FORMULAS[language]
    aim = f"{target:g} or below" if higher_is_harder else f"{target:g} or above"
    return [
        warning(
            "reading-grade",
            f"reads at {shown.format(grades[p.slug])}; patient materials aim for {aim}",
            p.path,
            p.body_line,
            "use shorter sentences and everyday words",
        )
        for p in pieces
        if (grades[p.slug] > target if higher_is_harder else grades[p.slug] < target)
    ]
