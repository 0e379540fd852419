"""Preview one issue as a reader would see it: rebuilt when a source or template changes.

The web page (pain_news/web/preview.py, which also runs the server) asks `PreviewState.current()`
on every request; a changed file fingerprint (path, size, mtime of the issue folder and the
templates) triggers a rebuild and bumps the version the page polls, so it reloads itself — also
while the issue does not build, so a fix shows up as soon as it is saved. Imports go one way:
this module never imports the web layer.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
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
        self._forced_dark: dict[tuple[int, int], bytes] = {}  # (version, width) → PNG
        self._forced_dark_lock = threading.Lock()

    def forced_dark(self, width: int, shoot: Callable[[], bytes]) -> bytes:
        """The forced-dark picture of the current version at `width`, taken once per version."""
        with self._forced_dark_lock:  # one Chromium at a time; a frame asked twice is taken once
            key = (self.current().version, width)
            if key not in self._forced_dark:
                self._forced_dark = {
                    key: shoot(),
                    **{k: v for k, v in self._forced_dark.items() if k[0] == key[0]},
                }
            return self._forced_dark[key]

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
    """Save desktop.png (600 px) and phone.png (375 px) of the email at `email_url`, full height, with
    headless Chromium; desktop-dark.png and phone-dark.png as a reader in dark mode sees it; and
    desktop-forced-dark.png and phone-forced-dark.png as Gmail and Yahoo readers in dark mode see it."""
    out.mkdir(parents=True, exist_ok=True)
    shots = [
        Shot(
            out / f"{name}{SHOT_SUFFIX[scheme]}.png",
            width,
            scheme,
            forced_dark_url(email_url) if scheme == "forced-dark" else email_url,
        )
        for (name, width), scheme in product(WIDTHS.items(), SCHEMES)
    ]
    _in_browser_thread(_shoot, shots)
    return [shot.path for shot in shots]


def forced_dark_url(email_url: str) -> str:
    """Gmail and Yahoo apply no palette of the email's own: they invert the light one."""
    return f"{email_url}?scheme=light"


def forced_dark_png(email_url: str, width: int) -> bytes:
    """The email at `email_url` as a client that inverts colours itself shows it (Chromium's own
    force-dark, the algorithm Android's web views apply): the preview's forced-dark frame."""
    with tempfile.TemporaryDirectory(prefix="pain-news-forced-dark-") as folder:
        path = Path(folder) / "forced-dark.png"
        _in_browser_thread(_shoot, [Shot(path, width, "forced-dark", forced_dark_url(email_url))])
        return path.read_bytes()


#: light: the palette every client shows; dark: the email's own dark palette (Apple Mail, iOS,
#: Outlook); forced-dark: the light email inverted by the client (Gmail, Yahoo), whatever it declares.
Scheme = Literal["light", "dark", "forced-dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark", "forced-dark")
SHOT_SUFFIX: dict[Scheme, str] = {"light": "", "dark": "-dark", "forced-dark": "-forced-dark"}
FORCED_DARK_ARGS = ["--enable-features=WebContentsForceDark"]


@dataclass(frozen=True)
class Shot:
    path: Path
    width: int
    scheme: Scheme
    url: str


def _in_browser_thread(shoot: Callable[[list[Shot]], None], shots: list[Shot]) -> None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        raise ServerError(
            "screenshots need Playwright", hint="pip install playwright (it uses your Chromium)"
        ) from None
    if not Path(CHROMIUM).is_file():
        raise ServerError(
            f"Chromium not found at {CHROMIUM}",
            hint="install it (apt-get install chromium) or set PAIN_NEWS_CHROMIUM to its path",
        )
    with ThreadPoolExecutor(max_workers=1) as worker:
        # Playwright's sync API refuses a thread that already runs an event loop (a caller's, or a
        # test session's browser), so it gets a fresh thread of its own.
        worker.submit(shoot, shots).result()


def _shoot(shots: list[Shot]) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Force-dark is a switch of the whole browser, so those shots get a browser of their own.
        for forced in (False, True):
            wanted = [shot for shot in shots if (shot.scheme == "forced-dark") == forced]
            if not wanted:
                continue
            try:
                args = CHROMIUM_ARGS + (FORCED_DARK_ARGS if forced else [])
                browser = p.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            except PlaywrightError as exc:
                raise ServerError(f"Chromium did not start: {str(exc).splitlines()[0]}") from None
            try:
                for shot in wanted:
                    scheme: Literal["light", "dark"] = "dark" if shot.scheme == "dark" else "light"
                    page = browser.new_page(
                        viewport={"width": shot.width, "height": 900}, color_scheme=scheme
                    )
                    page.goto(shot.url, wait_until="load")
                    page.screenshot(path=str(shot.path), full_page=True)
                    page.close()
            finally:
                browser.close()
