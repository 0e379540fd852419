"""What every desk handler shares: the config, store, session secrets, previews and sends in flight,
read from `request.app.state.desk`; and the one page helper (autoescaped Jinja2, desk/templates/)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pain_news.config.clock import clinic_zone, shown
from pain_news.desk.board import issue_folders
from pain_news.desk.guard import CSRF_FIELD, DeskSession
from pain_news.desk.jobs import SendJobs
from pain_news.errors import NotFound
from pain_news.publish.preview import PreviewState

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class DeskState:
    """One running desk over one project."""

    config: Config
    store: SubscriberStore
    session: DeskSession = field(default_factory=DeskSession)
    jobs: SendJobs = field(default_factory=SendJobs)
    _previews: dict[str, PreviewState] = field(default_factory=dict)
    drafts: dict[str, str] = field(default_factory=dict)  # issue → the newest unsaved draft's email
    # Spreadsheets waiting between their preview and "Import it": personal data, so in a private
    # folder of this desk's own (0700), removed when the desk stops.
    uploads: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pain-news-desk-")))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_dir(self, name: str) -> Path:
        """The issue folder called `name` (NotFound unless it is one of build.issues' folders)."""
        for folder in issue_folders(self.config):
            if folder.name == name:
                return folder
        raise NotFound(f"no issue folder '{name}'")

    def piece_path(self, name: str, file: str) -> Path:
        """A piece file of the issue (NotFound for anything else: the desk edits only *.md pieces)."""
        folder = self.issue_dir(name)
        if file not in piece_files(folder):
            raise NotFound(f"no piece '{file}' in {name}")
        return folder / file

    def preview(self, name: str) -> PreviewState:
        """The issue's preview (pain_news/publish/preview.py), rebuilt when its files change."""
        folder = self.issue_dir(name)
        with self._lock:
            if name not in self._previews:
                self._previews[name] = PreviewState(self.config, folder)
            return self._previews[name]

    def close(self) -> None:
        """Stop the sends in flight after their batch, and remove the waiting uploads."""
        self.jobs.close()
        shutil.rmtree(self.uploads, ignore_errors=True)

    def when(self, at: dt.datetime) -> str:
        """A time as people read it: in newsletter.timezone, with the zone."""
        return shown(at, clinic_zone(self.config))


def piece_files(folder: Path) -> list[str]:
    """The issue's markdown files (pieces and their language editions), in order."""
    return sorted(p.name for p in folder.glob("*.md") if p.is_file() and not p.name.startswith("."))


def desk_state(request: Request) -> DeskState:
    state: DeskState = request.app.state.desk
    return state


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # autoescape everywhere: pages show subscriber addresses and the issue's own text.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )


def show(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render desk/templates/<template> with what every page needs (the CSRF token, the project)."""
    state = desk_state(request)
    html = (
        environment()
        .get_template(template)
        .render(
            csrf_field=CSRF_FIELD,
            csrf_token=state.session.csrf,
            newsletter=state.config.newsletter.name,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
