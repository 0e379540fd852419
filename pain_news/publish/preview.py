"""Preview one issue as a reader would see it: rebuilt when a source or template changes.

The web page (pain_news/web/preview.py, which also runs the server) asks `PreviewState.current()`
on every request; a changed file fingerprint (path, size, mtime of the issue folder and the
templates) triggers a rebuild and bumps the version the page polls, so it reloads itself — also
while the issue does not build, so a fix shows up as soon as it is saved. Imports go one way:
this module never imports the web layer.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Literal

from pain_news.checks.run import CheckReport, run_check
from pain_news.config.settings import Config
from pain_news.errors import PainNewsError, ServerError
from pain_news.issue import placeholders
from pain_news.issue.loader import read_issue
from pain_news.render.pipeline import render_issue, web_page

CHROMIUM = os.environ.get("PAIN_NEWS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WIDTHS = {"desktop": 600, "phone": 375}


@dataclass(frozen=True)
class Snapshot:
    """One build of the issue, filled in for the sample subscriber."""

    version: int
    subject: str
    preheader: str
    from_name: str
    email_html: str | None  # None when the issue does not build; `problem` says why
    email_text: str
    assets: tuple[str, ...]
    report: CheckReport
    problem: str = ""
    slug: str = ""
    web_html: str = ""  # the web version, its links pointing into the preview too
    # The other editions' web versions by language (/<issue>/es/), so their links work in the preview.
    edition_pages: tuple[tuple[str, str], ...] = ()


#: Where the preview server answers for the reader's site (pain_news/web/preview.py): the email's
#: links point here, so every one of them opens a page while the author click-tests the preview
#: (tests/browser/test_preview_links.py follows each).
SITE = "/site"
#: The sample subscriber's own links: preview pages that show what the real ones do and change nothing.
SAMPLE_UNSUBSCRIBE = f"{SITE}/unsubscribe/sample"
SAMPLE_PREFERENCES = f"{SITE}/preferences/sample"


def sample_values(config: Config) -> dict[str, str]:
    """The sample subscriber from config [sample], with links to the preview's own pages."""
    return placeholders.recipient_values(
        first_name=config.sample.first_name,
        last_name=config.sample.last_name,
        email=config.sample.email,
        unsubscribe_url=SAMPLE_UNSUBSCRIBE,
        preferences_url=SAMPLE_PREFERENCES,
    )


class PreviewState:
    """The latest snapshot of one issue, rebuilt when its files change (thread-safe)."""

    def __init__(self, config: Config, issue_dir: Path) -> None:
        self.config = config
        self.folder = issue_dir.resolve()
        self._lock = threading.Lock()
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._snapshot: Snapshot | None = None

    def fingerprint(self) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for root in (self.folder, self.config.templates_dir):
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    stat = path.stat()
                    entries.append((str(path), stat.st_size, stat.st_mtime_ns))
        return tuple(entries)

    def current(self) -> Snapshot:
        """The snapshot for the files as they are now (rebuilding when they changed)."""
        with self._lock:
            fingerprint = self.fingerprint()
            if self._snapshot is None or fingerprint != self._fingerprint:
                version = self._snapshot.version + 1 if self._snapshot else 1
                self._snapshot = self._build(version)
                self._fingerprint = fingerprint
            return self._snapshot

    def _build(self, version: int) -> Snapshot:
        report = run_check(self.config, self.folder)
        values = sample_values(self.config)
        from_name = self.config.newsletter.from_name or self.config.newsletter.name
        try:
            # Images stay relative (the preview server serves them from the folder); the site's
            # links (web version, archive, subscribe) point at the preview's own pages under SITE.
            issue = read_issue(self.folder, "", languages=self.config.languages).require()
            newsletter = replace(self.config.newsletter, public_url=SITE)
            rendered = render_issue(issue, newsletter, self.config.templates_dir, self.config.reviewers)
            edition_pages = tuple(
                (
                    e.edition_dir,
                    web_page(e, newsletter, self.config.templates_dir, self.config.reviewers, e.language),
                )
                for e in issue.editions
            )
        except PainNewsError as exc:
            return Snapshot(version, "", "", from_name, None, "", (), report, str(exc))
        return Snapshot(
            version=version,
            subject=issue.subject,
            preheader=issue.preheader,
            from_name=from_name,
            email_html=placeholders.fill(rendered.email_html, values),
            email_text=placeholders.fill(rendered.email_text, values),
            assets=tuple(issue.assets),
            report=report,
            slug=issue.slug,
            web_html=rendered.web_html,
            edition_pages=edition_pages,
        )


def screenshot(email_url: str, out: Path) -> list[Path]:
    """Save desktop.png (600 px) and phone.png (375 px) of the email at `email_url`, full height, with headless Chromium,
    and desktop-dark.png and phone-dark.png as a reader in dark mode sees it."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ServerError(
            "--screenshot needs Playwright", hint="pip install playwright (it uses your Chromium)"
        ) from None
    if not Path(CHROMIUM).is_file():
        raise ServerError(
            f"Chromium not found at {CHROMIUM}",
            hint="install it (apt-get install chromium) or set PAIN_NEWS_CHROMIUM to its path",
        )
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=1) as worker:
        # Playwright's sync API refuses a thread that already runs an event loop (a caller's, or a
        # test session's browser), so it gets a fresh thread of its own.
        return worker.submit(_shoot, email_url, out).result()


def _shoot(url: str, out: Path) -> list[Path]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    saved = []
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        except PlaywrightError as exc:
            raise ServerError(f"Chromium did not start: {str(exc).splitlines()[0]}") from None
        try:
            schemes: tuple[Literal["light", "dark"], ...] = ("light", "dark")
            for (name, width), scheme in product(WIDTHS.items(), schemes):
                page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
                page.goto(url, wait_until="load")
                path = out / (f"{name}.png" if scheme == "light" else f"{name}-dark.png")
                page.screenshot(path=str(path), full_page=True)
                page.close()
                saved.append(path)
        finally:
            browser.close()
    return saved
