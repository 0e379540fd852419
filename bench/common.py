"""Small helpers shared by the benchmarks: timing, medians, peak memory, Markdown tables."""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

PG_URL = os.environ.get("PAIN_NEWS_BENCH_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"pn_bench_{secrets.token_hex(4)}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def median_seconds(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    """Median wall time of `fn()` over `repeat` runs, after `warmup` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_process_seconds(cmd: Sequence[str], repeat: int, **kwargs: object) -> float:
    """Median wall time of running `cmd` as a whole process."""
    return median_seconds(lambda: subprocess.run(cmd, check=True, capture_output=True, **kwargs), repeat)  # type: ignore[call-overload]


# A process's own peak resident set, in KiB, from the kernel's high-water mark of its memory.
# Not ru_maxrss: Linux carries the parent's peak across fork and exec into the child's, so a child
# of a large bench process reported the bench's own memory as its peak.
PEAK_RSS_KIB = "next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))"


def memory_kib(pid: int | str = "self", field: str = "VmHWM") -> int:
    """A running process's peak resident set (VmHWM) or current one (VmRSS), in KiB; 0 once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith(f"{field}:")), 0)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
