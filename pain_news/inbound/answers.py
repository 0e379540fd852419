"""The messages inbound mail makes: the automatic answer, the opt-out confirmation and the forward.

The answer and the confirmation are templates in `templates/replies/` that staff edit (the first
line is `Subject: …`); `check` renders them and refuses an answer without the phone, 911 and 988
lines (pain_news/checks/replies.py). Rendering depends only on the templates and the settings, so
the same settings always give the same text.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from pain_news.errors import TemplateError
from pain_news.render.pipeline import bytecode_cache

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


def localized(config: Config, name: str, language: str | None) -> str:
    """The template in `language` (`replies/answer.es.txt.j2`) when the project or the package has
    it, else `name` itself (the default language's): a reader is answered in their language."""
    if not language or language == config.default_language:
        return name
    own = name.replace(".txt.j2", f".{language}.txt.j2")
    return own if (config.templates_dir / own).is_file() or (DEFAULT_TEMPLATES / own).is_file() else name


def language_of(name: str, config: Config) -> str:
    """The language a reply template is written in (`answer.es.txt.j2` → `es`)."""
    parts = Path(name).name.split(".")
    return parts[1] if len(parts) == 4 else config.default_language


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


def template_path(config: Config, name: str) -> Path:
    """The project's template, or the packaged default when the project predates it."""
    own = config.templates_dir / name
    return own if own.is_file() else DEFAULT_TEMPLATES / name


@lru_cache(maxsize=8)
def _environment(folder: Path) -> jinja2.Environment:
    """One environment per template folder, its templates compiled once per process and kept
    compiled between runs (`check` renders every reply template of every language); an edited
    template is read afresh (auto_reload)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text; the HTML part escapes it (as_html)
        keep_trailing_newline=True,
        bytecode_cache=bytecode_cache(),
    )


def compose(config: Config, name: str, **context: str) -> Composed:
    """Render one reply template; TemplateError (with file and line) when it is broken."""
    path = template_path(config, name)
    try:
        rendered = (
            _environment(path.parent).get_template(path.name).render(newsletter=config.newsletter, **context)
        )
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
    subject = " ".join(head.removeprefix("Subject:").split())
    return Composed(subject, text, as_html(text, language_of(name, config)))


def answer(config: Config, language: str | None = None) -> Composed:
    """The automatic answer to a reply (clinic voice: not read by clinicians; 911; 988), in the
    reader's `language` when there is a template in it."""
    return compose(config, localized(config, ANSWER, language))


def unsubscribed(config: Config, email: str, language: str | None = None) -> Composed:
    """The one confirmation after a reply asked to stop, with the way back in (in `language` when
    there is a template in it)."""
    base = config.newsletter.public_url.rstrip("/")
    name = localized(config, UNSUBSCRIBED, language)
    return compose(config, name, email=email, subscribe_url=f"{base}/subscribe" if base else "")


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


def as_html(text: str, language: str = "en") -> str:
    """The text part as a minimal HTML part in `language`: escaped, paragraphs and line breaks kept."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    body = "\n".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return f'<!DOCTYPE html>\n<html lang="{language}"><body style="font-family:sans-serif">\n{body}\n</body></html>\n'
