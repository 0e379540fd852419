"""Build one issue into a folder: email.html, email.txt, web.html, meta.json and the issue's files.

Output is written to a sibling temporary folder and swapped into place, so an error never
leaves half-written output, and the same sources always give the same bytes. A marker file
(`.pain-news-build`) says the folder is ours: only such a folder (or an empty one) is ever replaced,
and never one that is, holds or sits in the sources (issue, issues/, templates/).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pain_news.config.settings import Config
from pain_news.errors import IssueError, OutputError
from pain_news.issue.loader import Issue, load_issue
from pain_news.render.pipeline import Rendered, render_issue

OUTPUT_FILES = ("email.html", "email.txt", "web.html", "meta.json")


def marker_name(kind: str) -> str:
    """The file that marks a folder as written by `pain-news <kind>` (build or archive)."""
    return f".pain-news-{kind}"


def marker_text(kind: str) -> str:
    # Fixed text (no date, no version): the same sources must give the same bytes.
    return (
        f"This folder was written by 'pain-news {kind}', which replaces all of it on the next run.\n"
        "Keep nothing else here.\n"
    )


@dataclass(frozen=True)
class BuildResult:
    issue: Issue
    rendered: Rendered
    out: Path
    meta: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())
    editions: tuple[tuple[Issue, Rendered], ...] = ()  # the other languages' editions, rendered

    def summary_line(self) -> str:
        sizes = self.meta["sizes"]
        more = "".join(f", {e.language} edition in {e.edition_dir}/" for e, _ in self.editions)
        return (
            f"Built '{self.issue.subject}' → {self.out} "
            f"(email.html {sizes['email.html'] / 1024:.1f} KB, email.txt {sizes['email.txt'] / 1024:.1f} KB, "
            f"{self.meta['word_count']} words, {len(self.warnings)} warning(s){more})"
        )


def default_out(config: Config, issue_dir: Path) -> Path:
    return config.resolve(config.build.out) / issue_dir.resolve().name


def render(config: Config, issue_dir: Path) -> tuple[Issue, Rendered]:
    """Load and render an issue without writing anything (for check, preview and send)."""
    # The loader also refuses missing or outside files, and topics that [topics] does not declare.
    issue = load_issue(issue_dir, config.newsletter.public_url, config.topic_keys, config.languages)
    rendered = render_issue(issue, config.newsletter, config.templates_dir, config.reviewers)
    return issue, rendered


def render_editions(config: Config, issue: Issue) -> tuple[tuple[Issue, Rendered], ...]:
    """Each edition of `issue` in another language, rendered (the default one is `render`'s)."""
    return tuple(
        (e, render_issue(e, config.newsletter, config.templates_dir, config.reviewers))
        for e in issue.editions
    )


def edition_files(issue: Issue, rendered: Rendered, warnings: tuple[str, ...]) -> dict[str, str]:
    """One edition's email.html, email.txt, web.html and meta.json, under its folder (es/ or none)."""
    prefix = f"{issue.edition_dir}/" if issue.edition_dir else ""
    meta = make_meta(issue, rendered, warnings)
    return {
        f"{prefix}email.html": rendered.email_html,
        f"{prefix}email.txt": rendered.email_text,
        f"{prefix}web.html": rendered.web_html,
        f"{prefix}meta.json": json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
    }


def make_meta(issue: Issue, rendered: Rendered, warnings: tuple[str, ...]) -> dict[str, Any]:
    """meta.json: what was built, how big it is, and what `check` warned about."""
    outputs = {
        "email.html": rendered.email_html,
        "email.txt": rendered.email_text,
        "web.html": rendered.web_html,
    }
    extra = {"language": issue.language, "languages": list(issue.languages)} if issue.editions else {}
    if issue.edition_dir:
        extra = {"language": issue.language}
    return {
        **extra,
        "issue": issue.slug,
        "title": issue.title,
        "number": issue.number,
        "date": issue.date.isoformat(),
        "subject": issue.subject,
        "preheader": issue.preheader,
        "sizes": {name: len(text.encode("utf-8")) for name, text in outputs.items()},
        "word_count": sum(p.word_count for p in issue.pieces)
        + (len(issue.intro.text.split()) if issue.intro else 0),
        "word_counts": {p.slug: p.word_count for p in issue.pieces},
        "assets": issue.assets,
        "warnings": list(warnings),
    }


def build_issue(
    config: Config,
    issue_dir: Path,
    out_path: Path | None = None,
    warnings: tuple[str, ...] = (),
    rendered: tuple[Issue, Rendered] | None = None,
) -> BuildResult:
    """Render an issue (unless `rendered` already is) and write it atomically into `out_path`
    (default build/<issue>/), each edition in another language in a folder of its own (es/) of
    the same tree: one swap replaces them all."""
    issue, output = rendered or render(config, issue_dir)
    out = (out_path or default_out(config, issue_dir)).resolve()
    meta = make_meta(issue, output, warnings)
    editions = render_editions(config, issue)
    files = edition_files(issue, output, warnings)
    for edition, edition_output in editions:
        files.update(edition_files(edition, edition_output, warnings))
    write_build(
        out,
        files,
        issue,
        {"issues folder": config.resolve(config.build.issues), "templates folder": config.templates_dir},
    )
    return BuildResult(issue=issue, rendered=output, out=out, meta=meta, warnings=warnings, editions=editions)


def write_build(out: Path, files: dict[str, str], issue: Issue, protected: Mapping[str, Path]) -> None:
    """Write into a temporary sibling folder, then swap it in; the old build survives any error."""
    # Every edition's folder gets the files any edition links to, so relative links work in each.
    copies = {
        f"{e.edition_dir}/{asset}" if e.edition_dir else asset: issue.folder / asset
        for e in issue.all_editions
        for asset in issue.every_asset
    }
    write_tree(out, files, copies, kind="build", protected={"issue folder": issue.folder, **protected})


def write_tree(
    out: Path, files: dict[str, str], copies: dict[str, Path], *, kind: str, protected: Mapping[str, Path]
) -> None:
    """Write text `files` and copy `copies` (relative name → source file) into a fresh `out`, atomically.

    `out` must be empty, missing, or marked as written by `pain-news <kind>`, and must not be, hold
    or sit in any `protected` folder (label → folder); every name must land inside it.
    """
    out = out.resolve()
    check_out(out, kind, protected)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / marker_name(kind)).write_text(marker_text(kind), encoding="utf-8", newline="\n")
        for name, text in files.items():
            dest = _inside(tmp, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8", newline="\n")
        for name, source in copies.items():
            dest = _inside(tmp, name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
        swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _inside(tmp: Path, name: str) -> Path:
    """`tmp / name`, refused when `name` (`../x`, `/etc/x`) would land outside `tmp`."""
    dest = (tmp / name).resolve()
    if not dest.is_relative_to(tmp.resolve()) or dest == tmp.resolve():
        raise IssueError(
            f"refusing to write {name}: it is outside the output folder",
            hint="relative links and images must name files inside the issue folder",
        )
    return dest


def check_out(out: Path, kind: str, protected: Mapping[str, Path]) -> None:
    """Refuse an output folder that would destroy someone's files (see the module docstring)."""
    named = [(folder.resolve(), label) for label, folder in protected.items()]
    relations = (
        ("is the", lambda folder: out == folder),
        ("is inside the", lambda folder: out.is_relative_to(folder)),
        ("contains the", lambda folder: folder.is_relative_to(out)),
    )
    for relation, test in relations:
        for folder, label in named:
            if test(folder):
                which = "" if out == folder else f" {folder}"
                raise OutputError(
                    f"refusing to write the {kind} into {out}: it {relation} {label}{which}",
                    hint="choose an --out folder of its own, outside the issues and templates (the default is fine)",
                )
    if out.exists() and not out.is_dir():
        raise OutputError(
            f"refusing to replace {out}: it is a file, not a folder", hint="choose another --out folder"
        )
    if (
        out.is_dir()
        and not (out / marker_name(kind)).is_file()
        and any(out.iterdir())
        and not _unmarked_build(out, kind)
    ):
        raise OutputError(
            f"refusing to replace {out}: it is not empty and was not written by pain-news {kind} "
            f"(no {marker_name(kind)} file in it)",
            hint="choose another --out folder, or empty or remove this one yourself",
        )


def _unmarked_build(out: Path, kind: str) -> bool:
    """A build from before the marker existed: the four outputs and the assets its meta.json lists, nothing else."""
    try:
        assets = json.loads((out / "meta.json").read_text(encoding="utf-8"))["assets"]
        found = {str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir()}
        return kind == "build" and set(OUTPUT_FILES) <= found <= {*OUTPUT_FILES, *assets}
    except (OSError, ValueError, KeyError, TypeError):
        return False


def swap_in(tmp: Path, out: Path) -> None:
    """Replace the folder `out` with the finished folder `tmp` (a sibling), keeping the old one until then."""
    os.chmod(tmp, 0o755)
    old = None
    if out.exists():
        old = tmp.with_name(tmp.name + ".old")  # as unique as tmp itself: never a folder of someone else's
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
