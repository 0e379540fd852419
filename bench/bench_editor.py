"""Editor tools benchmark: `check` of the sample issue, `preview`'s rebuild after a save, and `archive`
of 100 generated issues."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import time
from pathlib import Path

from common import median_process_seconds, median_seconds, ms, table

ROOT = Path(__file__).resolve().parents[1]
ISSUE = ROOT / "issues" / "2026-12-winter"
ARCHIVE_ISSUES = 100


def _project_with_issues(work: Path, count: int) -> Path:
    """A project folder holding `count` copies of the sample issue, one a month, newest last."""
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copyfile(ROOT / "pain-news.toml", project / "pain-news.toml")
    shutil.copytree(ROOT / "templates", project / "templates")
    toml = (ISSUE / "issue.toml").read_text()
    for n in range(count):
        day = dt.date(2020 + n // 12, n % 12 + 1, 1)
        folder = project / "issues" / f"{day:%Y-%m}-issue-{n + 1}"
        shutil.copytree(ISSUE, folder)
        (folder / "issue.toml").write_text(
            toml.replace("number = 1", f"number = {n + 1}").replace(
                "date = 2026-12-01", f"date = {day.isoformat()}"
            )
        )
    return project


def _preview_rebuild(work: Path, config) -> float:  # type: ignore[no-untyped-def]
    """Median seconds from a saved piece to the preview's new snapshot (check + render), in-process."""
    from pain_news.publish.preview import PreviewState

    folder = work / "preview-issue"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ISSUE, folder)
    state = PreviewState(config, folder)
    state.current()
    piece = folder / "03-first-visit.md"
    original = piece.read_text()
    edits = iter(range(10_000))

    def save_and_rebuild() -> None:
        piece.write_text(original + f"\nEdit {next(edits)}.\n")
        before = state.current().version
        assert before >= 1

    return median_seconds(save_and_rebuild, 20)


def run(work: Path) -> str:
    load = os.getloadavg()[0]  # the targets are for a quiet machine (load under 1)
    from pain_news.checks.run import run_check
    from pain_news.config.settings import load_config
    from pain_news.publish.archive import build_archive
    from pain_news.web.archive_pages import index_page

    config = load_config(ROOT / "pain-news.toml", env={})
    started = time.perf_counter()
    first = run_check(config, ISSUE)
    cold = time.perf_counter() - started
    assert not first.errors, first.lines()
    warm = median_seconds(lambda: run_check(config, ISSUE), 50)
    errors_only = median_seconds(lambda: run_check(config, ISSUE, readability=False), 50)
    pn = shutil.which("pain-news") or str(Path(sys.executable).with_name("pain-news"))
    process = median_process_seconds([pn, "check", str(ISSUE)], 5, cwd=ROOT)
    rebuild = _preview_rebuild(work, config)

    project = _project_with_issues(work, ARCHIVE_ISSUES)
    archive_config = load_config(project / "pain-news.toml", env={})
    archive = median_seconds(
        lambda: build_archive(archive_config, work / "site", index_page=index_page), 3, warmup=0
    )
    pages = sum(1 for _ in (work / "site").rglob("index.html"))

    out = ["## Editor tools\n", f"Load average when this section started: {load:.1f} (2 cores).\n"]
    out.append(
        table(
            ["what", "Pain News", "target"],
            [
                [
                    "`pain-news check issues/2026-12-winter` as a process (median of 5)",
                    ms(process),
                    "≤ 250 ms",
                ],
                ["`check` of the sample issue, in-process (median of 50)", ms(warm), ""],
                [
                    "the same without reading grades (what `build` runs)",
                    ms(errors_only),
                    "fast enough for every build",
                ],
                ["first `check` in a process (syllable table from the cache folder)", ms(cold), ""],
                ["`preview`'s rebuild after a save, in-process (median of 20)", ms(rebuild), "< 150 ms"],
                [
                    f"`archive` of {ARCHIVE_ISSUES} generated issues ({pages} pages, median of 3)",
                    f"{archive:.2f} s",
                    "≤ 10 s",
                ],
            ],
        )
    )
    out.append(
        "\nNo peer is measured here: no other newsletter tool lints an issue's sources and its built email "
        "in one step. `--links` is not timed (it depends on the network).\n"
    )
    return "\n".join(out)
