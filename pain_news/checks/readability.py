"""Reading grade (Flesch–Kincaid) of each piece: patient materials should read at grade 8 or below."""

from __future__ import annotations

from collections.abc import Sequence

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


def grade(text: str) -> float:
    """Flesch–Kincaid grade of `text`, as textstat 0.7.8 computes it (its word and sentence counts),
    with syllables from checks/syllables.py's table instead of a dictionary loaded per process."""
    # lazy: textstat's counting helpers (~20 ms import) only when a grade is asked for
    from textstat.backend.counts._count_sentences import count_sentences  # type: ignore[import-untyped]
    from textstat.backend.selections._list_words import list_words  # type: ignore[import-untyped]

    words: list[str] = list_words(text, lowercase=True)
    sentences = int(count_sentences(text))
    if not words or not sentences:
        return 0.0
    counts = syllable_counts(words)
    syllables = sum(counts[w] for w in words)
    if not syllables:
        return 0.0
    return round(0.39 * len(words) / sentences + 11.8 * syllables / len(words) - 15.59, 1)


def reading_grades(pieces: Sequence[Piece]) -> dict[str, float]:
    """Grade per piece, keyed by the piece's file stem."""
    return {piece.slug: grade(prose(piece)) for piece in pieces}


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
