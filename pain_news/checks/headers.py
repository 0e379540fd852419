"""Header values hold no control characters: a CR or LF in a subject would start a new header
(`Bcc:` after it) in SMTP, and SendGrid would carry it verbatim (tests/test_check.py)."""

from __future__ import annotations

from pain_news.checks import CheckInput, Finding, error
from pain_news.delivery.base import control_characters
from pain_news.issue.model import line_of_key

CODE = "header-control-character"


def header_values(data: CheckInput) -> list[tuple[str, str, bool]]:
    """(name, value, from issue.toml) for every value that becomes a header or the inbox line."""
    meta, news = data.loaded.meta, data.config.newsletter
    values = [(key, meta.get(key), True) for key in ("subject", "preheader")]
    values += [
        ("newsletter.name", news.name, False),
        ("newsletter.from_name", news.from_name, False),
        ("newsletter.from_email", news.from_email, False),
        ("newsletter.reply_to", news.reply_to, False),
        ("newsletter.list_id", news.list_id, False),
    ]
    return [(name, value, issue) for name, value, issue in values if isinstance(value, str)]


def check_headers(data: CheckInput) -> list[Finding]:
    """An error for each header value (subject, preheader, sender name, ...) with a control character."""
    findings = []
    for name, value, from_issue in header_values(data):
        bad = control_characters(value)
        if not bad:
            continue
        path = data.loaded.toml_path if from_issue else data.config_path
        line = line_of_key(data.loaded.toml_text, name) if from_issue else None
        findings.append(
            error(
                CODE,
                f"{name} contains a control character ({bad}): it would end up in an email header",
                path,
                line,
                "remove the line break or control character (write it on one line)",
            )
        )
    return findings
