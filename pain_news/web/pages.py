"""HTML pages for the web app: one Jinja2 environment per language, autoescaping everything shown.

Templates mark their text with `_()` (jinja2.ext.i18n, new-style gettext: values are escaped and
filled in by name); each language's environment has that language's catalogue installed
(pain_news/i18n.py), so two requests in two languages never share translations.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.responses import HTMLResponse

from pain_news import i18n

if TYPE_CHECKING:
    from pain_news.config.settings import NewsletterSettings

PAGES = Path(__file__).parent / "templates"


@lru_cache(maxsize=8)
def environment(language: str = i18n.SOURCE_LANGUAGE) -> jinja2.Environment:
    """The pages' environment with `language`'s catalogue, date and number filters (i18n.install)."""
    # autoescape everywhere: pages show subscriber-supplied text (names, addresses).
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PAGES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    i18n.install(env, language)
    return env


def page(
    name: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    language: str = i18n.SOURCE_LANGUAGE,
    **context: Any,
) -> HTMLResponse:
    """Render `templates/<name>` inside the shared layout, in `language`, as an HTML response."""
    html = environment(language).get_template(name).render(**context)
    return HTMLResponse(
        html, status_code=status_code, headers={**(headers or {}), "Content-Language": language}
    )


def opt_out_hint(inbound_domain: str, phone: str, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """The error pages' other way off the list, promised only where it is true: a reply is read
    for "unsubscribe" only when inbound mail is set up (docs/serve.md); the phone always works."""
    reply = i18n.translate(language, 'reply "unsubscribe" to any of our emails') if inbound_domain else ""
    return i18n.translate(
        language,
        "Copy the whole link from the email, or %(ways)s, and we will take you off the list.",
        ways=_ways(reply, phone, language),
    )


def help_ways(newsletter: NewsletterSettings, language: str = i18n.SOURCE_LANGUAGE) -> str:
    """How a reader reaches a person, for the error pages' "%(ways)s, and we will help": a reply
    is offered only when one reaches the clinic — pain-news handles mail to the newsletter and
    forwards it to a monitored inbox (inbound_domain and replies_forward_to, docs/serve.md)."""
    handled = newsletter.inbound_domain and newsletter.replies_forward_to
    reply = i18n.translate(language, "reply to any of our emails") if handled else ""
    return _ways(reply, newsletter.phone, language)


def _ways(reply: str, phone: str, language: str) -> str:
    """The reply (when offered) or the phone, else "contact the clinic", joined with "or"."""
    ways = [reply] if reply else []
    if phone:
        ways.append(i18n.translate(language, "call us at %(phone)s", phone=phone))
    if not ways:
        ways.append(i18n.translate(language, "contact the clinic"))
    return i18n.translate(language, " or ").join(ways)
