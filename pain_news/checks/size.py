"""How big the largest personalised copy of an email can be (Gmail clips above CLIP_BYTES).

Apart from the check modules (which import pain_news.checks), so CheckInput can measure without
an import cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pain_news import placeholders

if TYPE_CHECKING:
    from pain_news.config import Config
    from pain_news.render import Rendered

#: Gmail clips a message body larger than this and hides the rest (the footer with the unsubscribe link).
CLIP_BYTES = 102 * 1024
#: Warn this far below the clip: a template or content tweak should not tip an issue over.
WARN_BYTES = 90 * 1024
#: The longest name the subscriber store accepts. Same value as pain_news.store.MAX_NAME (a test pins
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


def largest_values(config: Config) -> dict[str, str]:
    """Placeholder values that make the biggest personalised copy, with a real-length unsubscribe link."""
    from pain_news.unsubscribe import make_token

    base = (config.newsletter.public_url or "https://newsletter.example.org").rstrip("/")
    # The token's length does not depend on the secret, so no secret is needed to measure it.
    token = make_token("measure-only", LARGEST_ID, LARGEST_ID)
    return {
        "first_name": LONGEST_NAME,
        "last_name": LONGEST_NAME,
        "email": LONGEST_EMAIL,
        "unsubscribe_url": f"{base}/unsubscribe/{token}",
        "preferences_url": f"{base}/preferences/{token}",
    }


def largest_copy_bytes(config: Config, rendered: Rendered) -> int:
    """Size in bytes of the biggest personalised email HTML."""
    return len(placeholders.fill(rendered.email_html, largest_values(config)).encode("utf-8"))
