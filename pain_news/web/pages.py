"""HTML pages for the web app: one Jinja2 environment per language, autoescaping everything shown.

Templates mark their text with `_()` (jinja2.ext.i18n, new-style gettext: values are escaped and
filled in by name); each language's environment has that language's catalogue installed
(pain_news/i18n.py), so two requests in two languages never share translations.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from pain_news import i18n

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
    ways = []
    if inbound_domain:
        ways.append(i18n.translate(language, 'reply "unsubscribe" to any of our emails'))
    if phone:
        ways.append(i18n.translate(language, "call us at %(phone)s", phone=phone))
    if not ways:
        ways.append(i18n.translate(language, "contact the clinic"))
    joined = i18n.translate(language, " or ").join(ways)
    return i18n.translate(
        language,
        "Copy the whole link from the email, or %(ways)s, and we will take you off the list.",
        ways=joined,
    )
