"""The preview and the check of what is in the editor before it is saved: the issue is copied to a
temporary folder with the edited piece in it and built there by the preview's own pipeline
(publish/preview.py → render, run_check), so the draft is judged exactly as the saved file will be."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pain_news.publish.preview import PreviewState

if TYPE_CHECKING:
    from pain_news.config.settings import Config


@dataclass(frozen=True)
class Draft:
    """A draft's email (None when it does not build: `problem` says why) and its findings."""

    email_html: str | None
    problem: str
    summary: str
    findings: list[dict[str, Any]]


def build_draft(config: Config, folder: Path, file: str, data: bytes) -> Draft:
    """Build and check the issue in `folder` as if `file` held `data`; nothing in `folder` changes."""
    with tempfile.TemporaryDirectory(prefix="pain-news-desk-") as tmp:
        copy = Path(tmp) / folder.name  # the same folder name: the slug and links stay
        shutil.copytree(folder, copy, symlinks=True)
        (copy / file).write_bytes(data)
        snapshot = PreviewState(config, copy).current()
        findings = [
            {
                "severity": f.severity,
                "code": f.code,
                "message": f.message,
                "fix": f.fix,
                "file": f.path.name if f.path is not None and f.path.parent == copy else "",
                "where": f.where(copy),
                "line": f.line,
            }
            for f in snapshot.report.findings
        ]
    return Draft(snapshot.email_html, snapshot.problem, snapshot.report.summary(), findings)
