"""`pain-news archive`: a static web archive of every published issue, for any static host.

Layout (the email's "View in browser" link points at `<public_url>/<issue-folder>/`):

    index.html                issues, newest first
    <issue-folder>/index.html the issue's web version, plus its images
    <issue-folder>/es/index.html  its edition in another language, if any (linked with hreflang)
    latest/index.html         the newest issue
    feed.xml                  Atom feed

The same sources give the same bytes: dates come from issue.toml, never from the clock.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pain_news.checks.run import checked_render
from pain_news.config.settings import Config, require
from pain_news.errors import CheckFailed, IssueError, PainNewsError
from pain_news.issue.loader import Issue
from pain_news.issue.model import is_draft
from pain_news.publish.build import render_editions, write_tree

ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class ArchiveResult:
    out: Path
    issues: tuple[Issue, ...]
    drafts: tuple[str, ...]

    def summary_line(self) -> str:
        drafts = f", skipped {len(self.drafts)} draft(s): {', '.join(self.drafts)}" if self.drafts else ""
        return f"Archived {len(self.issues)} issue(s) → {self.out} (latest: {self.issues[0].slug}{drafts})"


def issue_folders(config: Config) -> tuple[list[Path], list[str]]:
    """Issue folders under build.issues that are not drafts, and the drafts' names.

    Drafts are told apart by reading only their issue.toml's `draft` line, before anything is
    loaded, so a half-written draft never stops the archive (tests/test_archive.py).
    """
    root = config.resolve(config.build.issues)
    if not root.is_dir():
        raise IssueError("issues folder not found", path=root, hint="set [build] issues in pain-news.toml")
    folders, drafts = [], []
    for folder in sorted(p for p in root.iterdir() if (p / "issue.toml").is_file()):
        if is_draft_file(folder / "issue.toml"):
            drafts.append(folder.name)
        else:
            folders.append(folder)
    return folders, drafts


def is_draft_file(toml_path: Path) -> bool:
    """`draft = true` in this issue.toml; an issue.toml that does not parse is not a draft (the loader says why)."""
    try:
        return is_draft(tomllib.loads(toml_path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def published_issues(config: Config) -> tuple[list[tuple[Issue, dict[str, str]]], list[str]]:
    """Every published issue with its pages (newest first), checked as `build` checks it; and the drafts.

    The pages are each edition's web version by its path in the archive (`<issue>/index.html`,
    `<issue>/es/index.html`).

    An issue that `build` would refuse stops the archive, naming the issue; nothing is written then.
    """
    folders, drafts = issue_folders(config)
    issues = []
    for folder in folders:
        try:
            issue, rendered, _ = checked_render(config, folder, refused="not archived")
        except PainNewsError as exc:
            kind = CheckFailed if isinstance(exc, CheckFailed) else IssueError
            raise kind(
                f"{exc.message} (issue {folder.name} is not archived; the last archive is left as it was)",
                path=exc.path,
                line=exc.line,
                hint=exc.hint or f"fix it, or set draft = true in {folder.name}/issue.toml to leave it out",
            ) from None
        pages = {f"{issue.slug}/index.html": rendered.web_html}
        for edition, edition_rendered in render_editions(config, issue):
            pages[f"{issue.slug}/{edition.edition_dir}/index.html"] = edition_rendered.web_html
        issues.append((issue, pages))
    issues.sort(key=lambda pair: (pair[0].date, pair[0].number, pair[0].slug), reverse=True)
    return issues, drafts


def build_archive(
    config: Config, out_path: Path | None = None, *, index_page: Callable[[Config, list[Issue]], str]
) -> ArchiveResult:
    """Write the archive into `out_path` (default build.archive_out) atomically.

    `index_page` renders the front page (pain_news/web/archive_pages.py, in the web app's shared
    layout): the caller passes it in, so this module never imports the web layer.
    """
    require(config, "newsletter.public_url")  # every link in the archive is absolute
    published, drafts = published_issues(config)
    if not published:
        raise IssueError(
            "no published issues (all are drafts, or there are none)",
            path=config.resolve(config.build.issues),
            hint="set draft = false in an issue's issue.toml",
        )
    issues = [issue for issue, _ in published]
    pages = {path: html for _, issue_pages in published for path, html in issue_pages.items()}
    pages["latest/index.html"] = pages[f"{issues[0].slug}/index.html"]
    pages["index.html"] = index_page(config, issues)
    pages["feed.xml"] = atom_feed(config, issues)
    copies = {
        f"{issue.slug}/{edition.edition_dir + '/' if edition.edition_dir else ''}{asset}": issue.folder
        / asset
        for issue in issues
        for edition in issue.all_editions
        for asset in issue.every_asset
    }
    out = (out_path or config.resolve(config.build.archive_out)).resolve()
    protected = {
        "issues folder": config.resolve(config.build.issues),
        "templates folder": config.templates_dir,
    }
    write_tree(out, pages, copies, kind="archive", protected=protected)
    return ArchiveResult(out=out, issues=tuple(issues), drafts=tuple(drafts))


def atom_feed(config: Config, issues: list[Issue]) -> str:
    """An Atom 1.0 feed (RFC 4287) of the issues, newest first; times are the issue dates at 00:00 UTC."""
    ET.register_namespace("", ATOM)
    base = config.newsletter.public_url.rstrip("/")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed")
    add(feed, "title", config.newsletter.name)
    add(feed, "subtitle", f"The newsletter of {config.newsletter.clinic}")
    add(feed, "id", f"{base}/")
    add(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/feed.xml")
    add(feed, "link", rel="alternate", type="text/html", href=f"{base}/")
    add(feed, "updated", f"{issues[0].date.isoformat()}T00:00:00Z")
    author = add(feed, "author")
    add(author, "name", config.newsletter.from_name or config.newsletter.name)
    for issue in issues:
        entry = add(feed, "entry")
        url = f"{base}/{issue.slug}/"
        add(entry, "title", f"{issue.title}: {issue.subject}")
        add(entry, "id", url)
        add(entry, "link", rel="alternate", type="text/html", href=url)
        add(entry, "published", f"{issue.date.isoformat()}T00:00:00Z")
        add(entry, "updated", f"{issue.date.isoformat()}T00:00:00Z")
        add(entry, "summary", issue.preheader or issue.subject)
    ET.indent(feed)
    return ET.tostring(feed, encoding="unicode", xml_declaration=True) + "\n"
