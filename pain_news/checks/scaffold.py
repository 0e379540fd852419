"""Sentences `pain-news new` wrote that are still in the issue ("Name of the condition", ...).

The list comes from the scaffold files themselves (pain_news/issue/scaffold.py), so it never drifts.
"""

from __future__ import annotations

from pathlib import Path

from pain_news.checks import CheckInput, Finding, error
from pain_news.issue.scaffold import scaffold_phrases, untouched_phrases


def check_scaffold(data: CheckInput) -> list[Finding]:
    """An error per scaffold sentence still present, with its file and line."""
    phrases = scaffold_phrases()
    texts: list[tuple[Path, str]] = [(data.loaded.toml_path, data.loaded.toml_text)]
    texts += [(source.path, source.text) for source in data.loaded.sources]
    return [
        error(
            "scaffold-text",
            f"still the scaffold's text: {phrase!r}",
            path,
            line,
            "replace this prompt from 'pain-news new' with the issue's own words",
        )
        for path, text in texts
        for phrase, line in untouched_phrases(text, phrases)
    ]
