"""Run every bench/bench_*.py and write bench/RESULTS.md (`make bench`).

Each bench module exposes `run(work: Path) -> str` returning a Markdown section. Figures are
medians, each next to its peer measured in the same run. Benchmarks never gate the tests.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    only = set(argv)
    WORK.mkdir(exist_ok=True)
    sections = []
    failed = False
    for path in sorted(BENCH.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        print(f"bench: {name} ...", flush=True)
        started = time.perf_counter()
        work = WORK / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            sections.append(load(path).run(work).rstrip() + "\n")
        except Exception:  # a broken bench is reported, the others still run
            failed = True
            sections.append(f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n")
        print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    header = (
        "# Benchmark results\n\n"
        f"Run on {dt.date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Regenerate with `make bench` "
        "(or `make bench BENCH=build` for one section). Figures are medians.\n\n"
    )
    (BENCH / "RESULTS.md").write_text(header + "\n".join(sections), encoding="utf-8")
    print(f"wrote {BENCH / 'RESULTS.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
