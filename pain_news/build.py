"""Build one issue into a folder: email.html, email.txt, web.html, meta.json and the issue's files.

Output is written to a sibling temporary folder and swapped into place, so an error never
leaves half-written output, and the same sources always give the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pain_news.config import Config
from pain_news.content import Issue, is_relative, load_issue, markdown_targets
from pain_news.errors import IssueError
from pain_news.render import Rendered, render_issue

OUTPUT_FILES = ("email.html", "email.txt", "web.html", "meta.json")


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    rendered: Rendered
    out: Path
    meta: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())

    def summary_line(self) -> str:
        sizes = self.meta["sizes"]
        return (
            f"Built '{self.issue.subject}' → {self.out} "
            f"(email.html {sizes['email.html'] / 1024:.1f} KB, email.txt {sizes['email.txt'] / 1024:.1f} KB, "
            f"{self.meta['word_count']} words, {len(self.warnings)} warning(s))"
        )


def default_out(config: Config, issue_dir: Path) -> Path:
    return config.resolve(config.build.out) / issue_dir.resolve().name


def render(config: Config, issue_dir: Path) -> tuple[Issue, Rendered]:
    """Load and render an issue without writing anything (for check, preview and send)."""
    issue = load_issue(issue_dir, config.newsletter.public_url)
    ensure_assets_exist(issue)
    rendered = render_issue(issue, config.newsletter, config.templates_dir)
    return issue, rendered


def ensure_assets_exist(issue: Issue) -> None:
    """Every relative image or link must name a file in the issue folder."""
    for piece in issue.pieces:
        for target in markdown_targets(piece.source):
            if not target or not is_relative(target):
                continue
            local = target.split("#")[0].split("?")[0]
            if local and not (issue.folder / local).is_file():
                raise IssueError(
                    f"file not found: {local} (relative links and images must be in the issue folder)",
                    path=piece.path,
                    line=_line_containing(piece.source, target),
                )


def _line_containing(source: str, needle: str) -> int | None:
    for number, line in enumerate(source.splitlines(), start=1):
        if needle in line:
            return number
    return None


def make_meta(issue: Issue, rendered: Rendered, warnings: tuple[str, ...]) -> dict[str, Any]:
    """meta.json: what was built, how big it is, and what `check` warned about."""
    outputs = {"email.html": rendered.email_html, "email.txt": rendered.email_text, "web.html": rendered.web_html}
    return {
        "issue": issue.slug,
        "title": issue.title,
        "number": issue.number,
        "date": issue.date.isoformat(),
        "subject": issue.subject,
        "preheader": issue.preheader,
        "sizes": {name: len(text.encode("utf-8")) for name, text in outputs.items()},
        "word_count": sum(p.word_count for p in issue.pieces) + (len(issue.intro.text.split()) if issue.intro else 0),
        "word_counts": {p.slug: p.word_count for p in issue.pieces},
        "assets": issue.assets,
        "warnings": list(warnings),
    }


def build_issue(config: Config, issue_dir: Path, out_path: Path | None = None, warnings: tuple[str, ...] = ()) -> BuildResult:
    """Render an issue and write it atomically into `out_path` (default build/<issue>/)."""
    issue, rendered = render(config, issue_dir)
    out = (out_path or default_out(config, issue_dir)).resolve()
    meta = make_meta(issue, rendered, warnings)
    files = {
        "email.html": rendered.email_html,
        "email.txt": rendered.email_text,
        "web.html": rendered.web_html,
        "meta.json": json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }
    write_build(out, files, issue)
    return BuildResult(issue=issue, rendered=rendered, out=out, meta=meta, warnings=warnings)


def write_build(out: Path, files: dict[str, str], issue: Issue) -> None:
    """Write into a temporary sibling folder, then swap it in; the old build survives any error."""
    write_tree(out, files, {asset: issue.folder / asset for asset in issue.assets})


def write_tree(out: Path, files: dict[str, str], copies: dict[str, Path]) -> None:
    """Write text `files` and copy `copies` (relative name → source file) into a fresh `out`, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8", newline="\n")
        for name, source in copies.items():
            dest = tmp / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_in(tmp: Path, out: Path) -> None:
    """Replace the folder `out` with the finished folder `tmp` (a sibling), keeping the old one until then."""
    os.chmod(tmp, 0o755)
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        if old.exists():
            shutil.rmtree(old)
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
