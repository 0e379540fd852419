"""Reading grade (Flesch–Kincaid) of each piece: patient materials should read at grade 8 or below."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pain_news.checks import Finding, warning
from pain_news.checks.syllables import syllable_counts
from pain_news.issue.markdown import parser, protect_tags
from pain_news.issue.model import Piece

GRADE_MAX = 8.0
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


def grade_findings(pieces: Sequence[Piece], grades: dict[str, float]) -> list[Finding]:
    return [
        warning(
            "reading-grade",
            f"reads at grade {grades[p.slug]:.1f} (Flesch–Kincaid); patient materials aim for {GRADE_MAX:g} or below",
            p.path,
            p.body_line,
            "use shorter sentences and everyday words",
        )
        for p in pieces
        if grades[p.slug] > GRADE_MAX
    ]
