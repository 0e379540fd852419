"""Placeholder tags in the sources: `{{ frist_name }}` or a hand-written `%%...%%` no reader value fills."""

from __future__ import annotations

import re
from pathlib import Path

from pain_news.checks import CheckInput, Finding, error
from pain_news.issue import placeholders
from pain_news.issue.markdown import protect_tags

#: Anything written like a sending placeholder, valid or not.
PERCENT_TAG = re.compile(r"%%[^%\s<>\"']{1,100}%%")


def is_known_placeholder(text: str) -> bool:
    match = placeholders.PLACEHOLDER.fullmatch(text)
    return match is not None and match["name"] in placeholders.RECIPIENT_FIELDS


def check_tags(data: CheckInput) -> list[Finding]:
    """Unknown author tags and unknown `%%...%%` placeholders in issue.toml and every piece, with lines."""
    texts = [(data.loaded.toml_path, data.loaded.toml_text)]
    texts += [(source.path, source.text) for source in data.loaded.sources]
    return [finding for path, text in texts if text for finding in tag_findings(text, path)]


def tag_findings(text: str, path: Path) -> list[Finding]:
    findings = []
    _, _, unknown = protect_tags(text)
    fields = ", ".join("{{ " + f + " }}" for f in placeholders.AUTHOR_FIELDS)
    for tag, line in unknown:
        findings.append(
            error(
                "placeholder",
                f"unknown or misspelled placeholder {tag}",
                path,
                line,
                f"use one of {fields}, e.g. {{{{ first_name | default('friend') }}}}",
            )
        )
    for number, line_text in enumerate(text.splitlines(), start=1):
        for match in PERCENT_TAG.finditer(line_text):
            if not is_known_placeholder(match.group(0)):
                findings.append(
                    error(
                        "placeholder",
                        f"unknown placeholder {match.group(0)}",
                        path,
                        number,
                        "write {{ first_name }} style tags; the build makes the %%...%% form",
                    )
                )
    return findings
