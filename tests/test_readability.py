"""The reading grade without a dictionary per process: the same figures as textstat's own
Flesch–Kincaid grade, on the sample issue and on a corpus of patient-education texts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import textstat  # type: ignore[import-untyped]

from pain_news.checks.readability import grade, prose, reading_grades
from pain_news.issue.loader import load_issue
from tests.fixtures.core import SAMPLE_ISSUE

CORPUS = sorted((Path(__file__).parent / "data" / "readability").glob("*.txt"))


def textstat_grade(text: str) -> float:
    return round(float(textstat.flesch_kincaid_grade(text)), 1)


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_grade_matches_textstat_on_the_corpus(path):
    text = path.read_text(encoding="utf-8")
    assert grade(text) == textstat_grade(text)  # the issue allows ±0.2; the rules are the same


def test_grade_matches_textstat_on_every_piece_of_the_sample():
    issue = load_issue(SAMPLE_ISSUE, "https://news.example.org")
    grades = reading_grades(issue.pieces)
    assert set(grades) == {p.slug for p in issue.pieces}
    for piece in issue.pieces:
        assert grades[piece.slug] == pytest.approx(textstat_grade(prose(piece)), abs=0.2), piece.slug


def test_a_second_process_reads_the_table_and_never_loads_the_dictionary(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    script = (
        "from pain_news.checks import syllables\n"
        "from pain_news.checks.readability import grade\n"
        "print(grade('Radiofrequency ablation interrupts pain signals. Walk each day.'))\n"
        "print(syllables._cmudict_counts.cache_info().currsize)\n"
    )
    first = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    second = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert first.stdout.split()[1] == "1"  # built the table: the dictionary was loaded once
    assert second.stdout.split() == [first.stdout.split()[0], "0"]  # same grade, dictionary never loaded
    tables = list((tmp_path / "cache" / "pain-news").glob("syllables-cmudict-*.sqlite3"))
    assert len(tables) == 1


def test_without_a_writable_cache_the_grade_is_the_same(tmp_path, monkeypatch):
    from pain_news.checks import syllables

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    syllables._table_path.cache_clear()
    try:
        text = CORPUS[0].read_text(encoding="utf-8")
        assert grade(text) == textstat_grade(text)
    finally:
        syllables._table_path.cache_clear()
