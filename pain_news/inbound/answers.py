"""The messages inbound mail makes: the automatic answer, the opt-out confirmation and the forward.

The answer and the confirmation are templates in `templates/replies/` that staff edit (the first
line is `Subject: …`); `check` renders them and refuses an answer without the phone, 911 and 988
lines (pain_news/checks/replies.py). Rendering depends only on the templates and the settings, so
the same settings always give the same text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from pain_news.errors import TemplateError

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.inbound.message import Inbound

ANSWER = "replies/answer.txt.j2"
UNSUBSCRIBED = "replies/unsubscribed.txt.j2"
TEMPLATES = (ANSWER, UNSUBSCRIBED)
DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "default_templates"
# A forward's subject is fixed: a reader's own subject may name a condition, and headers pass
# through the provider's logs (docs/security.md). The original subject is in the forward's body.
FORWARD_SUBJECT = "Reply from a reader of {name}"


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def template_path(config: Config, name: str) -> Path:
    """The project's template, or the packaged default when the project predates it."""
    own = config.templates_dir / name
    return own if own.is_file() else DEFAULT_TEMPLATES / name


def compose(config: Config, name: str, **context: str) -> Composed:
    """Render one reply template; TemplateError (with file and line) when it is broken."""
    path = template_path(config, name)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(path.parent)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text; the HTML part escapes it (as_html)
        keep_trailing_newline=True,
    )
    try:
        rendered = env.get_template(path.name).render(newsletter=config.newsletter, **context)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", path=path, line=exc.lineno) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc}", path=path) from None
    head, _, body = rendered.lstrip("\n").partition("\n")
    if not head.startswith("Subject:") or not head.removeprefix("Subject:").strip():
        raise TemplateError(
            "the first line must be 'Subject: …'", path=path, hint="start the template with the subject line"
        )
    text = body.strip("\n") + "\n"
    return Composed(" ".join(head.removeprefix("Subject:").split()), text, as_html(text))


def answer(config: Config) -> Composed:
    """The automatic answer to a reply (clinic voice: not read by clinicians; 911; 988)."""
    return compose(config, ANSWER)


def unsubscribed(config: Config, email: str) -> Composed:
    """The one confirmation after a reply asked to stop, with the way back in."""
    base = config.newsletter.public_url.rstrip("/")
    return compose(config, UNSUBSCRIBED, email=email, subscribe_url=f"{base}/subscribe" if base else "")


def forward(config: Config, message: Inbound) -> Composed:
    """What the clinic's inbox receives: who wrote, when, their subject, their text."""
    who = f"{message.sender_name} <{message.sender}>" if message.sender_name else message.sender
    lines = [
        f"A reader replied to {config.newsletter.name}. Answer them with Reply (it goes to {message.sender}).",
        "",
        f"From: {who}",
        f"Date: {message.date or 'unknown'}",
        f"Subject: {message.subject or '(none)'}",
    ]
    if message.attachments:
        lines.append(
            f"Attachments: {message.attachments} (not forwarded; ask the reader to send them another way)"
        )
    text = "\n".join(lines) + "\n\n" + message.text.strip("\n") + "\n"
    return Composed(FORWARD_SUBJECT.format(name=config.newsletter.name), text, as_html(text))


def as_html(text: str) -> str:
    """The text part as a minimal HTML part: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html lang="en"><body style="font-family:sans-serif">\n{body}\n</body></html>\n'
