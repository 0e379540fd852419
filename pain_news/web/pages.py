"""HTML pages for the web app: one Jinja2 environment with autoescaping for everything shown."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

PAGES = Path(__file__).parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # autoescape everywhere: pages show subscriber-supplied text (names, addresses).
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(PAGES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def page(
    name: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """Render `templates/<name>` inside the shared layout as an HTML response."""
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def opt_out_hint(inbound_domain: str, phone: str) -> str:
    """The error pages' other way off the list, promised only where it is true: a reply is read
    for "unsubscribe" only when inbound mail is set up (docs/serve.md); the phone always works."""
    ways = []
    if inbound_domain:
        ways.append('reply "unsubscribe" to any of our emails')
    if phone:
        ways.append(f"call us at {phone}")
    if not ways:
        ways.append("contact the clinic")
    return f"Copy the whole link from the email, or {' or '.join(ways)}, and we will take you off the list."
