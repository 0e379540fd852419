"""The checks behind `pain-news check`: one module per kind of check, all returning Findings.

Each check is a function `(CheckInput) -> list[Finding]`, registered in CHECKS in pain_news/checks/run.py.
Finding lives in pain_news/issue/findings.py (the loader reports them too) and is re-exported here, so a
check module needs one import: `from pain_news.checks import CheckInput, Finding, error, warning`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.issue.findings import Finding, error, warning

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.issue.loader import LoadResult
    from pain_news.render.pipeline import Rendered

__all__ = ["CheckInput", "Finding", "error", "warning"]


@dataclass(frozen=True)
class CheckInput:
    """What every check may look at: the loader's result, the rendered email (None when the issue
    does not load), its largest personalised size and the configuration.

    No clock: the same sources always give the same report.
    """

    config: Config
    loaded: LoadResult
    rendered: Rendered | None
    email_bytes: int | None = None  # size of the largest personalised email HTML, when rendered

    @property
    def folder(self) -> Path:
        return self.loaded.folder

    @property
    def out_name(self) -> Path:
        """Where the build writes this issue: output findings name email.html and email.txt there."""
        return Path(self.config.build.out) / self.folder.name

    @property
    def config_path(self) -> Path:
        return self.config.path or self.config.root / "pain-news.toml"
