"""What an inbox shows before the email is opened: subject and preheader lengths."""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding, warning
from pain_news.issue.model import line_of_key

SUBJECT_MAX = 60
PREHEADER_MAX = 110


def check_inbox(data: CheckInput) -> list[Finding]:
    """Subject over ~60 characters; preheader missing or over ~110 characters."""
    meta, text, path = data.loaded.meta, data.loaded.toml_text, data.loaded.toml_path
    findings = []
    subject = meta.get("subject")
    if isinstance(subject, str) and len(subject) > SUBJECT_MAX:
        findings.append(
            warning(
                "subject-long",
                f"subject is {len(subject)} characters; inboxes cut it after about {SUBJECT_MAX}",
                path,
                line_of_key(text, "subject"),
                f"shorten the subject to {SUBJECT_MAX} characters or fewer",
            )
        )
    if not meta:
        return findings  # issue.toml did not parse: the loader said so
    preheader = meta.get("preheader")
    if not isinstance(preheader, str) or not preheader.strip():
        findings.append(
            warning(
                "preheader-missing",
                "no preheader: inboxes show the first words of the email instead",
                path,
                line_of_key(text, "preheader"),
                'add preheader = "..." (one sentence) to issue.toml',
            )
        )
    elif len(preheader) > PREHEADER_MAX:
        findings.append(
            warning(
                "preheader-long",
                f"preheader is {len(preheader)} characters; inboxes show about {PREHEADER_MAX}",
                path,
                line_of_key(text, "preheader"),
                f"shorten the preheader to {PREHEADER_MAX} characters or fewer",
            )
        )
    return findings
