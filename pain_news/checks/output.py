"""Checks on the built email: footer requirements, leftover tags, size budget, headings."""

from __future__ import annotations

import html
import re
from pathlib import Path

from pain_news.checks import CheckInput, Finding, error, warning
from pain_news.checks.tags import PERCENT_TAG, check_tags, is_known_placeholder
from pain_news.config.settings import Config
from pain_news.issue import placeholders
from pain_news.links import make_token, preferences_token_maker
from pain_news.render.pipeline import Rendered

#: Gmail clips a message body larger than this and hides the rest (the footer with the unsubscribe link).
CLIP_BYTES = 102 * 1024
#: Warn this far below the clip: a template or content tweak should not tip an issue over.
WARN_BYTES = 90 * 1024
#: The longest name the subscriber store accepts. Same value as pain_news.subscribers.store.MAX_NAME (a test pins
#: them equal); not imported from there because store pulls in SQLAlchemy, ~200 ms on every build.
MAX_NAME = 200
#: The character that grows most when the HTML part escapes it (`'` → `&#x27;`, 6 bytes; `"` ties, `&`
#: makes 5, a 4-byte emoji stays 4); the store and RFC 5322's dot-atom local part both allow it.
WORST_CHAR = "'"
#: The largest recipient the store can hold: maximum-length names and a 254-character address
#: (RFC 5321's limit, 64 characters before the @), all made of WORST_CHAR where the rules allow.
LONGEST_NAME = WORST_CHAR * MAX_NAME
LONGEST_EMAIL = WORST_CHAR * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".org"
LARGEST_ID = 2**31 - 1  # subscribers.id and campaign ids are 32-bit INTEGER columns
LATEST_DELIVERY = 10**10 - 1  # a preference link's delivery time: Unix seconds until the year 2286


_TAG_OR_COMMENT = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


def reader_text(text: str, markup: bool = False) -> str:
    """Text as a reader sees it: tags dropped (with `markup`), entities decoded, whitespace collapsed.

    Line wrapping (pain_news/render/linewrap.py) breaks lines at spaces, so a phrase such as a postal
    address can sit across two lines of the built HTML; a reader still sees it whole
    (tests/test_check.py, the footer cases).
    """
    if markup:
        text = html.unescape(_TAG_OR_COMMENT.sub(" ", text))
    return _WHITESPACE.sub(" ", text).strip()


def largest_values(config: Config) -> dict[str, str]:
    """Placeholder values that make the biggest personalised copy, with a real-length unsubscribe link."""

    base = (config.newsletter.public_url or "https://newsletter.example.org").rstrip("/")
    # The token's length does not depend on the secret, so no secret is needed to measure it.
    token = make_token("measure-only", LARGEST_ID, LARGEST_ID)
    return placeholders.recipient_values(
        first_name=LONGEST_NAME,
        last_name=LONGEST_NAME,
        email=LONGEST_EMAIL,
        unsubscribe_url=f"{base}/unsubscribe/{token}",
        preferences_url=f"{base}/preferences/{preferences_token_maker('measure-only')(LARGEST_ID, LARGEST_ID, LATEST_DELIVERY)}",
    )


def largest_copy_bytes(config: Config, rendered: Rendered) -> int:
    """Size in bytes of the biggest personalised email HTML."""
    return len(placeholders.fill(rendered.email_html, largest_values(config)).encode("utf-8"))


def check_output(data: CheckInput) -> list[Finding]:
    """Findings about the built email (none when the issue did not render)."""
    if data.rendered is None:
        return []
    config, rendered, out_name = data.config, data.rendered, data.out_name
    findings: list[Finding] = []
    html_name, text_name = out_name / "email.html", out_name / "email.txt"
    config_path = data.config_path
    address = config.newsletter.postal_address.strip()
    if not address:
        findings.append(
            error(
                "postal-address",
                "newsletter.postal_address is not set; the law requires it in every email",
                config_path,
                fix="set postal_address under [newsletter] in pain-news.toml",
            )
        )
    else:
        parts = [reader_text(p) for p in address.splitlines() if p.strip()]
        for name, body in (
            (html_name, reader_text(rendered.email_html, markup=True)),
            (text_name, reader_text(rendered.email_text)),
        ):
            if not all(p in body for p in parts):
                findings.append(
                    error(
                        "postal-address",
                        "the postal address is missing from the output",
                        name,
                        fix="put {{ newsletter.postal_address }} back in the footer template",
                    )
                )
    for name, body, part in ((html_name, rendered.email_html, "h"), (text_name, rendered.email_text, "t")):
        if placeholders.placeholder(part, "unsubscribe_url") not in body:
            findings.append(
                error(
                    "unsubscribe-missing",
                    "the unsubscribe link is missing from the output",
                    name,
                    fix="put {{ links.unsubscribe_url }} back in the footer template",
                )
            )
    # The sources name the file and line; the output is the safety net for templates and the subject.
    if not check_tags(data):
        for name, body in ((html_name, rendered.email_html), (text_name, rendered.email_text)):
            findings.extend(_leftover_tags(body, name))
    has_images = any(t.kind == "image" for source in data.loaded.sources for t in source.targets)
    if has_images and not config.newsletter.public_url:
        findings.append(
            error(
                "public-url",
                "the issue has images but newsletter.public_url is not set, so mail clients cannot load them",
                config_path,
                fix="set public_url under [newsletter] to where the archive is published",
            )
        )
    h1_count = rendered.email_html.lower().count("<h1")
    if h1_count > 1:
        h1_lines = [(source.path, line) for source in data.loaded.sources for line in source.h1_lines]
        where: list[tuple[Path, int | None]] = [*h1_lines] or [(html_name, None)]
        for path, line in where:
            findings.append(
                warning(
                    "h1-many",
                    f"the email has {h1_count} h1 headings; screen readers expect one",
                    path,
                    line,
                    "use ## for headings in pieces; the header has the only # heading",
                )
            )
    if data.email_bytes is not None:
        findings.extend(_size_findings(data.email_bytes, html_name))
    return findings


def _leftover_tags(body: str, name: Path) -> list[Finding]:
    """`{{ ... }}`, `{% ... %}` or unknown `%%...%%` left in the output would reach readers verbatim."""
    found: dict[str, None] = {}
    for match in placeholders.ANY_TAG.finditer(body):
        found.setdefault(match.group(0), None)
    for match in PERCENT_TAG.finditer(body):
        if not is_known_placeholder(match.group(0)):
            found.setdefault(match.group(0), None)
    return [
        error(
            "placeholder",
            f"unresolved placeholder in the output: {tag}",
            name,
            fix="fix the tag in issue.toml or the templates; only first_name, last_name and email can be filled",
        )
        for tag in found
    ]


def _size_findings(size: int, name: Path) -> list[Finding]:
    kb = size / 1024
    if size > CLIP_BYTES:
        return [
            error(
                "size-clip",
                f"largest personalised email HTML is {kb:.1f} KB, {(size - CLIP_BYTES) / 1024:.1f} KB over "
                f"Gmail's {CLIP_BYTES // 1024} KB clip (the unsubscribe footer would be hidden)",
                name,
                fix="shorten or split the issue, or move long pieces to the web version",
            )
        ]
    if size > WARN_BYTES:
        return [
            warning(
                "size-near-clip",
                f"largest personalised email HTML is {kb:.1f} KB, "
                f"{(CLIP_BYTES - size) / 1024:.1f} KB under Gmail's {CLIP_BYTES // 1024} KB clip",
                name,
                fix="trim content so the issue stays under 90 KB",
            )
        ]
    return []
