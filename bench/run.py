"""Run every bench/bench_*.py and write bench/RESULTS.md (`make bench`).

Each bench module exposes `run(work: Path) -> str` returning a Markdown section. Figures are
medians, each next to its peer measured in the same run. Benchmarks never gate the tests.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import re
import shutil
import sys
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work"
# Bench modules import `common` (this folder) and the project (its parent) alike.
sys.path[:0] = [str(BENCH), str(BENCH.parent)]


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _split_sections(text: str) -> dict[str, str]:
    """Sections of an existing RESULTS.md, by bench name (from their `<!-- bench:NAME -->` markers)."""
    parts = re.split(r"^<!-- bench:(\w+) -->\n", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def main(argv: list[str]) -> int:
    only = set(argv)
    WORK.mkdir(exist_ok=True)
    results = BENCH / "RESULTS.md"
    # Running some benches keeps the other sections of the last full run.
    sections = _split_sections(results.read_text(encoding="utf-8")) if only and results.exists() else {}
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
            sections[name] = load(path).run(work).rstrip() + "\n"
        except Exception:  # a broken bench is reported, the others still run
            failed = True
            sections[name] = f"## {name}\n\nFAILED:\n\n```\n{traceback.format_exc()}```\n"
        print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", flush=True)
    header = (
        "# Benchmark results\n\n"
        f"Run on {dt.date.today().isoformat()}: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Regenerate with `make bench` "
        "(or `make bench BENCH=build` for one section). Figures are medians.\n\n"
    )
    body = "\n".join(f"<!-- bench:{name} -->\n{sections[name]}" for name in sorted(sections))
    results.write_text(header + body, encoding="utf-8")
    print(f"wrote {results}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
