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

from pain_news.i18n import N_
from pain_news.inbound import answers
from pain_news.publish.build import render, render_editions

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.issue.loader import Issue
    from pain_news.render.pipeline import Rendered

KIND_ISSUE = "issue"
KIND_WELCOME = "welcome"
KIND_ANSWER = "auto-answer"
WELCOME_NAME = "welcome"  # the welcome email's name in approvals (as in its campaigns: campaign/welcome.py)
ANSWER_NAME = "auto-answer"  # the automatic answer to replies (pain_news/inbound/answers.py)
# How a person names each kind (msgids: the /approve page shows them translated).
TITLES = {
    KIND_ISSUE: N_("issue %(name)s"),
    KIND_WELCOME: N_("the welcome email"),
    KIND_ANSWER: N_("the automatic answer to replies"),
}


@dataclass(frozen=True)
class Approvable:
    """An issue-like folder as a reviewer approves it: its kind, name, hash and sources."""

    kind: str  # issue | welcome
    name: str  # the issue's folder name, or "welcome"
    folder: Path
    hash: str
    sources: dict[str, dict[str, str]]  # relative name → {"text": ...} or {"sha256": ...}
    has_spotlight: bool
    # What a reader sees of this version before opening it, and its text part (the /approve page shows them).
    subject: str = ""
    preheader: str = ""
    text: str = ""

    @property
    def title(self) -> str:
        """How a person names it: "issue 2026-12-winter", "the welcome email", "the automatic answer"."""
        return TITLES.get(self.kind, TITLES[KIND_ISSUE]) % {"name": self.name}

    @property
    def short(self) -> str:
        return short_hash(self.hash)

    def sources_json(self) -> str:
        return json.dumps(self.sources, sort_keys=True, ensure_ascii=False)


def short_hash(value: str) -> str:
    """The first 12 hex digits: enough to tell versions apart in a line of text."""
    return value[:12]


def answer_dir(config: Config) -> Path:
    """The folder of the automatic answer's template: the project's templates/replies, or the packaged one."""
    return answers.template_path(config, answers.ANSWER).parent


def identify(config: Config, folder: Path) -> tuple[str, str]:
    """(kind, name) of an approvable folder: the welcome email, the automatic answer's folder, or
    an issue by its folder name."""
    if folder.resolve() == config.welcome_dir.resolve():
        return KIND_WELCOME, WELCOME_NAME
    if folder.resolve() == answer_dir(config).resolve():
        return KIND_ANSWER, ANSWER_NAME
    return KIND_ISSUE, folder.resolve().name


def approvable(config: Config, folder: Path, built: tuple[Issue, Rendered] | None = None) -> Approvable:
    """Render `folder` (unless `built` already is) and describe the version a reviewer would approve."""
    kind, name = identify(config, folder)
    if kind == KIND_ANSWER:
        return answer_approvable(config)
    issue, rendered = built or render(config, folder)
    return Approvable(
        kind=kind,
        name=name,
        folder=folder.resolve(),
        hash=approval_hash(config, issue, rendered),
        sources=read_sources(folder),
        has_spotlight=any(p.kind == "spotlight" for p in issue.pieces),
        subject=issue.subject,
        preheader=issue.preheader,
        text=rendered.email_text,
    )


def answer_approvable(config: Config) -> Approvable:
    """The automatic answer as a reviewer approves it: its rendered subject and text, its sender, its template."""
    composed = answers.answer(config)
    path = answers.template_path(config, answers.ANSWER)
    parts = [
        ("subject", composed.subject.encode()),
        ("email.txt", composed.text.encode()),
        ("email.html", composed.html.encode()),
        ("sender", _sender(config).encode()),
    ]
    return Approvable(
        kind=KIND_ANSWER,
        name=ANSWER_NAME,
        folder=path.parent.resolve(),
        hash=_digest(parts),
        sources={path.name: {"text": path.read_text(encoding="utf-8")}},
        has_spotlight=False,
        subject=composed.subject,
        text=composed.text,
    )


def _sender(config: Config) -> str:
    news = config.newsletter
    return f"{news.from_name} <{news.from_email}> reply-to {news.reply_to}"


def approval_hash(config: Config, issue: Issue, rendered: Rendered) -> str:
    """SHA-256 over every part a recipient reads before personalising, in every edition, each with
    its name and length: a translation is medical content too (docs/writing.md), so editing only
    the Spanish edition asks for a new approval (tests/test_signoff.py)."""
    parts: list[tuple[str, bytes]] = [("sender", _sender(config).encode())]
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
    return _digest(parts)


def _digest(parts: list[tuple[str, bytes]]) -> str:
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
