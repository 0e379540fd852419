"""What an approval covers: the hash of everything every recipient reads, and a copy of the sources.

The hash is over the built email HTML, the text part, the web version, the subject, the preheader,
the sender and the bytes of every file the issue ships (its images): builds are byte-identical
(tests/test_build.py), so the same sources and settings always give the same hash, and any edit a
reader could see gives another (tests/test_signoff.py).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.publish.build import render, render_editions

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.issue.loader import Issue
    from pain_news.render.pipeline import Rendered

KIND_ISSUE = "issue"
KIND_WELCOME = "welcome"
WELCOME_NAME = "welcome"  # the welcome email's name in approvals (as in its campaigns: campaign/welcome.py)


@dataclass(frozen=True)
class Approvable:
    """An issue-like folder as a reviewer approves it: its kind, name, hash and sources."""

    kind: str  # issue | welcome
    name: str  # the issue's folder name, or "welcome"
    folder: Path
    hash: str
    sources: dict[str, dict[str, str]]  # relative name → {"text": ...} or {"sha256": ...}
    has_spotlight: bool

    @property
    def short(self) -> str:
        return short_hash(self.hash)

    def sources_json(self) -> str:
        return json.dumps(self.sources, sort_keys=True, ensure_ascii=False)


def short_hash(value: str) -> str:
    """The first 12 hex digits: enough to tell versions apart in a line of text."""
    return value[:12]


def identify(config: Config, folder: Path) -> tuple[str, str]:
    """(kind, name) of an approvable folder: the welcome email, or an issue by its folder name."""
    if folder.resolve() == config.welcome_dir.resolve():
        return KIND_WELCOME, WELCOME_NAME
    return KIND_ISSUE, folder.resolve().name


def approvable(config: Config, folder: Path, built: tuple[Issue, Rendered] | None = None) -> Approvable:
    """Render `folder` (unless `built` already is) and describe the version a reviewer would approve."""
    issue, rendered = built or render(config, folder)
    kind, name = identify(config, folder)
    return Approvable(
        kind=kind,
        name=name,
        folder=folder.resolve(),
        hash=approval_hash(config, issue, rendered),
        sources=read_sources(folder),
        has_spotlight=any(p.kind == "spotlight" for p in issue.pieces),
    )


def approval_hash(config: Config, issue: Issue, rendered: Rendered) -> str:
    """SHA-256 over every part a recipient reads before personalising, in every edition, each with
    its name and length: a translation is medical content too (docs/writing.md), so editing only
    the Spanish edition asks for a new approval (tests/test_signoff.py)."""
    news = config.newsletter
    sender = f"{news.from_name} <{news.from_email}> reply-to {news.reply_to}"
    parts: list[tuple[str, bytes]] = [("sender", sender.encode())]
    for edition, output in ((issue, rendered), *render_editions(config, issue)):
        prefix = f"{edition.edition_dir}/" if edition.edition_dir else ""
        parts += [
            (f"{prefix}email.html", output.email_html.encode()),
            (f"{prefix}email.txt", output.email_text.encode()),
            (f"{prefix}web.html", output.web_html.encode()),
            (f"{prefix}subject", edition.subject.encode()),
            (f"{prefix}preheader", edition.preheader.encode()),
        ]
    parts += [(f"file:{name}", (issue.folder / name).read_bytes()) for name in sorted(issue.every_asset)]
    digest = hashlib.sha256()
    for name, data in parts:
        # Name and length before the bytes: no two different sets of parts hash alike.
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def read_sources(folder: Path) -> dict[str, dict[str, str]]:
    """Every file in the folder (hidden ones aside): text files in full, others by their SHA-256."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        data = path.read_bytes()
        try:
            found[relative.as_posix()] = {"text": data.decode("utf-8")}
        except UnicodeDecodeError:
            found[relative.as_posix()] = {"sha256": hashlib.sha256(data).hexdigest()}
    return found


def changed_files(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> list[str]:
    """Names added, removed or changed between two copies of the sources, sorted."""
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def source_diff(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]]) -> str:
    """A unified diff of the text files; a line per changed binary file ("" when nothing changed)."""
    out: list[str] = []
    for name in changed_files(old, new):
        before, after = old.get(name, {}), new.get(name, {})
        if "sha256" in before or "sha256" in after:
            what = "added" if not before else "removed" if not after else "changed"
            out.append(f"Binary file {name} {what}\n")
            continue
        out.extend(
            difflib.unified_diff(
                before.get("text", "").splitlines(keepends=True),
                after.get("text", "").splitlines(keepends=True),
                fromfile=f"approved/{name}" if before else "/dev/null",
                tofile=f"now/{name}" if after else "/dev/null",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
