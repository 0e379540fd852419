"""Issue model → email HTML, plain text and web version.

Pipeline: Jinja2 renders the MJML templates → mjml-python (MRML) → css-inline inlines the
`<mj-style inline>` rules that MRML leaves in <style> → lines wrapped under SMTP's limit.
The plain text comes from the content model through its own template, never from the HTML.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from pain_news import i18n
from pain_news.config.cache import cache_dir
from pain_news.config.languages import label
from pain_news.errors import TemplateError
from pain_news.i18n import SOURCE_LANGUAGE
from pain_news.issue import placeholders
from pain_news.issue.loader import Image, Issue, Piece, is_relative, local_path
from pain_news.issue.markdown import wrap
from pain_news.render import presentation
from pain_news.render.images import FULL_COLUMN, display_width, size_images
from pain_news.render.linewrap import wrap_html

if TYPE_CHECKING:
    from pain_news.config.reviewers import Reviewer
    from pain_news.config.settings import NewsletterSettings


WEB_TEMPLATE = "web.html.j2"


@dataclass(frozen=True)
class Rendered:
    """The three outputs of one issue; email parts still hold per-recipient placeholders."""

    email_html: str
    email_text: str
    web_html: str


@lru_cache(maxsize=8)
def _environment(templates: Path, language: str = SOURCE_LANGUAGE) -> jinja2.Environment:
    """The templates' environment with `language`'s catalogue: `_()` in a template is the chrome's
    text (footer, header, buttons) in the reader's language (pain_news/i18n.py)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("j2",), default=True),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        auto_reload=True,
        bytecode_cache=bytecode_cache(),
        extensions=["jinja2.ext.i18n"],
    )
    i18n.install(env, language)
    return env


@lru_cache(maxsize=1)
def bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept between runs: compiling them from source was most of a build's time
    (docs/design/editor-speed.md). Jinja keys each entry by the template's source checksum, so an
    edited template is compiled afresh. None when the cache folder cannot be made."""
    folder = cache_dir() / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


@lru_cache(maxsize=8)
def text_environment(templates: Path, language: str = SOURCE_LANGUAGE) -> jinja2.Environment:
    """The same loader without autoescaping, for the plain-text part (cached: templates compile once)."""
    return _environment(templates, language).overlay(autoescape=False)


def rows(pieces: Sequence[Piece]) -> list[list[Piece]]:
    """Group pieces into rows: two consecutive `layout: half` articles share a two-column row."""
    out: list[list[Piece]] = []
    pending: Piece | None = None
    for piece in pieces:
        if piece.layout == "half" and piece.kind == "article":
            if pending is None:
                pending = piece
                continue
            out.append([pending, piece])
            pending = None
            continue
        if pending is not None:
            out.append([pending])
            pending = None
        out.append([piece])
    if pending is not None:
        out.append([pending])
    return out


def links(newsletter: NewsletterSettings, issue: Issue) -> dict[str, str]:
    """Links every template may use; unsubscribe and preference links are placeholders filled per recipient."""
    base = newsletter.public_url.rstrip("/")
    # An edition in another language lives one folder down: /<issue>/es/ (docs/writing.md#building).
    edition = f"{issue.edition_dir}/" if issue.edition_dir else ""
    up = "../../" if edition else "../"
    return {
        "web_url": f"{base}/{issue.slug}/{edition}" if base else f"{up}{issue.slug}/{edition}",
        "issue_url": f"{base}/{issue.slug}/" if base else f"{up}{issue.slug}/",
        "archive_url": f"{base}/" if base else up,
        "subscribe_url": f"{base}/subscribe" if base else "/subscribe",
        "unsubscribe_url": placeholders.placeholder("h", "unsubscribe_url"),
        "unsubscribe_url_text": placeholders.placeholder("t", "unsubscribe_url"),
        "preferences_url": placeholders.placeholder("h", "preferences_url"),
        "preferences_url_text": placeholders.placeholder("t", "preferences_url"),
    }


def alternates(newsletter: NewsletterSettings, issue: Issue) -> list[dict[str, str]]:
    """Every edition of the issue (this one too) with its URL, for hreflang links; [] with one edition."""
    if len(issue.languages) < 2:
        return []
    base = newsletter.public_url.rstrip("/")
    root = f"{base}/{issue.slug}/" if base else ("../" if issue.edition_dir else "")
    found = []
    for number, language in enumerate(issue.languages):
        url = root if number == 0 else f"{root}{language}/"
        found.append({"language": language, "url": url or "./", "label": label(language)})
    return found


def _render_template(env: jinja2.Environment, name: str, context: dict[str, Any], templates: Path) -> str:
    try:
        return env.get_template(name).render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = Path(exc.filename) if exc.filename else templates / (exc.name or name)
        raise TemplateError(f"template syntax error: {exc.message}", path=where, line=exc.lineno) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}", path=templates) from None
    except jinja2.TemplateError as exc:
        path, line = _template_frame(exc, templates, name)
        raise TemplateError(f"template error: {exc}", path=path, line=line) from None


def _template_frame(exc: BaseException, templates: Path, default: str) -> tuple[Path, int | None]:
    """Jinja rewrites tracebacks so the template's own file and line appear as a frame."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith(".j2"):
            return Path(frame.filename), frame.lineno
    return templates / default, None


def _mjml_to_html(mjml_text: str, templates: Path) -> str:
    from mjml import mjml2html

    try:
        # fonts={} keeps MRML from adding Google Fonts links: the build makes no network request.
        # Comments stay: the buttons' <!--[if mso]> spacers make them clickable in Outlook.
        return str(mjml2html(mjml_text, disable_comments=False, fonts={}))
    except ValueError as exc:
        raise TemplateError(f"invalid MJML: {exc}", path=templates / "base.mjml.j2") from None


@lru_cache(maxsize=1)
def _inliner() -> Any:
    import css_inline

    # keep_style_tags: @media rules stay, so columns stack on phones (docs/design/dependency-traps.md);
    # load_remote_stylesheets=False: no network, ever.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=True, keep_link_tags=True)


def inline_css(html: str) -> str:
    """Inline <style> rules into style attributes, keeping @media, !important and MSO comments."""
    return str(_inliner().inline(html))


def _image_files(issue: Issue, web_url: str) -> Any:
    """src (as in the HTML) → the issue's own file, for images under public_url or relative."""

    def local_file(src: str) -> Path | None:
        target = src[len(web_url) :] if web_url and src.startswith(web_url) else src
        return local_path(issue.folder, target) if is_relative(target) else None

    return local_file


def _context(
    issue: Issue,
    newsletter: NewsletterSettings,
    reviewers: tuple[Reviewer, ...] = (),
    language: str = SOURCE_LANGUAGE,
) -> dict[str, Any]:
    issue_links = links(newsletter, issue)
    local_file = _image_files(issue, issue_links["issue_url"] if newsletter.public_url else "")

    def image_width(image: Image, column: int) -> int:
        return display_width(image.path, column)

    def sized(fragment: str, column: int) -> Markup:
        return Markup(size_images(str(fragment), column, local_file))

    return {
        "issue": issue,
        "pieces": issue.pieces,
        "rows": rows(issue.pieces),
        "newsletter": newsletter,
        "links": issue_links,
        "contact": presentation.contact(newsletter),
        "column": FULL_COLUMN,
        "intro_html": Markup(issue.intro.html) if issue.intro else "",
        "intro_text": issue.intro.text if issue.intro else "",
        "preheader_filler": presentation.PREHEADER_FILLER,
        "wrap": wrap,
        "sized": sized,
        "image_width": image_width,
        "spotlight_heading": presentation.spotlight_heading,
        "spotlight_heading_text": presentation.spotlight_heading_text,
        "review_line": lambda piece: presentation.review_line(piece, reviewers, language),
        "byline": lambda author: presentation.byline(author, language),
        "issue_date": presentation.issue_date(issue, language),
    }


def _templates_dir(templates: Path) -> Path:
    templates = templates.resolve()
    if not templates.is_dir():
        raise TemplateError("templates folder not found", path=templates)
    return templates


def issue_mjml(
    issue: Issue,
    newsletter: NewsletterSettings,
    templates: Path,
    mode: str = "email",
    reviewers: tuple[Reviewer, ...] = (),
    language: str = SOURCE_LANGUAGE,
) -> str:
    """The MJML document for one issue (what mjml-python renders; also used by the benchmark)."""
    templates = _templates_dir(templates)
    context = {**_context(issue, newsletter, reviewers, language), "mode": mode}
    return _render_template(_environment(templates, language), "base.mjml.j2", context, templates)


def render_issue(
    issue: Issue,
    newsletter: NewsletterSettings,
    templates: Path,
    reviewers: tuple[Reviewer, ...] = (),
    language: str | None = None,
) -> Rendered:
    """Render email HTML, plain text and the web version of one issue ([reviewers] name who reviewed),
    the newsletter's own text (header, footer, buttons, dates) in `language` (default: the edition's)."""
    language = language or issue.language
    templates = _templates_dir(templates)
    base_context = _context(issue, newsletter, reviewers, language)
    mjml_text = issue_mjml(issue, newsletter, templates, "email", reviewers, language)
    email = wrap_html(inline_css(_mjml_to_html(mjml_text, templates)))
    text = _render_template(
        text_environment(templates, language), "email.txt.j2", {**base_context, "mode": "email"}, templates
    )
    return Rendered(
        email_html=email,
        email_text=_tidy_text(text),
        web_html=placeholders.fill_defaults(web_page(issue, newsletter, templates, reviewers, language)),
    )


def web_page(
    issue: Issue,
    newsletter: NewsletterSettings,
    templates: Path,
    reviewers: tuple[Reviewer, ...] = (),
    language: str = SOURCE_LANGUAGE,
) -> str:
    """The web version: web.html.j2, a page shell of its own (a template set without one gets the
    email's layout in web mode, as before that template existed)."""
    templates = _templates_dir(templates)
    if not (templates / WEB_TEMPLATE).is_file():
        mjml_text = issue_mjml(issue, newsletter, templates, "web", reviewers, language)
        return wrap_html(inline_css(_mjml_to_html(mjml_text, templates)))
    context = _context(issue, newsletter, reviewers, language)
    page = {
        "url": context["links"]["web_url"] if newsletter.public_url else "",
        "description": presentation.page_description(issue),
        "image": presentation.page_image(issue),
        "alternates": alternates(newsletter, issue),
    }
    web_intro = presentation.without_salutation(str(context["intro_html"]))
    context.update(mode="web", page=page, web_intro=web_intro)
    return wrap_html(_render_template(_environment(templates, language), WEB_TEMPLATE, context, templates))


DARK_QUERY = "@media (prefers-color-scheme: dark)"


def force_color_scheme(html: str, scheme: str) -> str:
    """The page in one palette whatever the viewer's system prefers (the preview shows both side by side):
    the dark rules then apply always ('dark') or never ('light')."""
    return html.replace(DARK_QUERY, "@media all" if scheme == "dark" else "@media not all")


def _tidy_text(text: str) -> str:
    """Collapse runs of blank lines and trailing spaces; end with exactly one newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip() + "\n"
