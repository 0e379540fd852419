"""The automatic answer to replies and the opt-out confirmation (templates/replies/), linted with every issue.

Staff edit these templates (pain_news/inbound/answers.py); a patient who emails symptoms must still
be told where to get care, so the answer must render and keep the emergency (911), crisis (988)
and appointment (newsletter.phone) lines.
"""

from __future__ import annotations

from pathlib import Path

from pain_news.checks import CheckInput, Finding, error
from pain_news.errors import PainNewsError
from pain_news.inbound import answers

_SAFETY_LINES = (
    ("911", "the emergency line (call 911)"),
    ("988", "the mental-health crisis line (call or text 988)"),
)


def check_replies(data: CheckInput) -> list[Finding]:
    """`reply-template` when a reply template does not render; `reply-answer` when the answer lacks a
    safety line."""
    config = data.config
    findings: list[Finding] = []
    # Each template in every configured language it is written in (answer.es.txt.j2 …).
    names = dict.fromkeys(
        answers.localized(config, name, language)
        for name in answers.TEMPLATES
        for language in config.languages
    )
    for name in names:
        path = answers.template_path(config, name)
        try:
            composed = answers.compose(
                config, name, email="maria.lopez@example.com", subscribe_url="https://x/"
            )
        except PainNewsError as exc:
            where = Path(exc.path) if exc.path is not None else path
            findings.append(
                error("reply-template", exc.message, where, exc.line, exc.hint or "fix the template")
            )
            continue
        if answers.localized(config, answers.ANSWER, answers.language_of(name, config)) != name:
            continue
        wanted = list(_SAFETY_LINES)
        if config.newsletter.phone:
            wanted.append((config.newsletter.phone, "the clinic's phone number for appointments"))
        for text, what in wanted:
            if text not in composed.text:
                findings.append(
                    error(
                        "reply-answer",
                        f"the automatic answer to replies does not give {what}",
                        path,
                        fix=f"put {text!r} back into {name} (patients email symptoms to this address)",
                    )
                )
    return findings
