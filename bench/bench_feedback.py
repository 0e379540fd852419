"""Feedback at list scale (issue 11): the event webhook, the suppression sync and the PostgreSQL import.

- Webhook: `pain-news serve` as its own process; signed batches of 1,000 events (delivered, open,
  click, a few bounces and spam reports) posted over HTTP, 100 batches = 100,000 events, on
  SQLite and PostgreSQL. Targets: <= 200 ms per batch (median), 100,000 events <= 30 s.
- Sync: `sync_suppressions` against the SendGrid stand-in running as its own process, 10,000 and
  100,000 unsubscribes of known subscribers. Targets: <= 3 s and <= 20 s.
- PostgreSQL import of 100,000 new CSV rows. Target: <= 5 s.

PostgreSQL: PAIN_NEWS_BENCH_POSTGRES_URL (default postgresql+psycopg://root@127.0.0.1:5432/test);
each run uses its own schema and drops it. Run alone: `python bench/run.py feedback`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000
BATCHES = 100
LIST_SIZE = 10_000  # subscribers the webhook events name
SYNC_SIZES = (10_000, 100_000)
IMPORT_ROWS = 100_000


def _project(work: Path, name: str, database_url: str | None) -> tuple[Path, dict[str, str]]:
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "subscribers").mkdir(parents=True)
    shutil.copyfile(ROOT / "pain-news.toml", root / "pain-news.toml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))},
        "PAIN_NEWS_SECRET_KEY": "bench-secret-key-of-at-least-32-bytes",
        "PAIN_NEWS_CONFIG": str(root / "pain-news.toml"),
    }
    if database_url:
        env["PAIN_NEWS_DATABASE_URL"] = database_url
    return root, env


@contextmanager
def _database(kind: str) -> Iterator[str | None]:
    """None (the project's SQLite file) or a PostgreSQL URL on a fresh schema, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    from common import postgres_schema

    with postgres_schema() as url:
        yield url


def _open(root: Path, env: dict[str, str]):
    from pain_news.config.settings import load_config
    from pain_news.subscribers.store import open_store

    return open_store(load_config(root / "pain-news.toml", env=env), create=True)


def _fill(store, rows: int, address: str = "p{i}@example.org") -> None:
    """Active subscribers inserted directly (imports are measured on their own)."""
    from sqlalchemy import insert

    from pain_news.db.models import Subscriber

    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as conn:
        for start in range(0, rows, 20_000):
            conn.execute(
                insert(Subscriber.__table__),
                [
                    {
                        "email": address.format(i=i),
                        "email_key": address.format(i=i),
                        "first_name": "Ana",
                        "last_name": "Diaz",
                        "status": "active",
                        "source": "bench",
                        "created_at": now,
                        "status_changed_at": now,
                    }
                    for i in range(start, min(start + 20_000, rows))
                ],
            )


# ---- webhook ---------------------------------------------------------------------------------


def _events(batch: int) -> list[dict[str, object]]:
    """1,000 events: mostly delivered/open/click, 1% bounces, 0.5% spam reports."""
    rng = random.Random(batch)
    now = int(time.time())
    events: list[dict[str, object]] = []
    for n in range(BATCH):
        who = f"p{rng.randrange(LIST_SIZE)}@example.org"
        kind = (
            "bounce"
            if n % 100 == 0
            else "spamreport"
            if n % 200 == 1
            else ("delivered", "open", "click")[n % 3]
        )
        event: dict[str, object] = {
            "email": who,
            "event": kind,
            "sg_event_id": f"b{batch}-{n}-{secrets.token_hex(6)}",
            "timestamp": now,
            "campaign_id": "1",
            "sg_message_id": secrets.token_hex(10),
        }
        if kind == "bounce":
            event.update(type="bounce", reason="550 5.1.1 no such user")
        if kind == "click":
            event["url"] = "https://news.tristatepain.example/2026-12-winter/"
        events.append(event)
    return events


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _webhook(work: Path, kind: str) -> dict[str, float]:
    import httpx
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with _database(kind) as url:
        root, env = _project(work, f"webhook-{kind}", url)
        env["PAIN_NEWS_SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.b64encode(der).decode()
        store = _open(root, env)
        _fill(store, LIST_SIZE)
        store.close()
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "pain_news", "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        client.post("/webhooks/sendgrid", content=b"[]")
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "serve did not start"
                        time.sleep(0.1)
                times = []
                total_start = time.perf_counter()
                for batch in range(BATCHES):
                    body = json.dumps(_events(batch))
                    stamp = str(int(time.time()))
                    signature = key.sign((stamp + body).encode(), ec.ECDSA(hashes.SHA256()))
                    headers = {
                        "Content-Type": "application/json",
                        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                    }
                    start = time.perf_counter()
                    response = client.post("/webhooks/sendgrid", content=body, headers=headers)
                    times.append(time.perf_counter() - start)
                    assert response.status_code == 200, response.text
                    assert response.json()["recorded"] == BATCH, response.text
                total = time.perf_counter() - total_start  # includes building and signing each batch
        finally:
            server.terminate()
            server.wait(10)
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[int(len(times) * 0.95) - 1],
        "rate": BATCH * BATCHES / sum(times),
        "total": total,
    }


# ---- suppression sync --------------------------------------------------------------------------


def _sync(work: Path, size: int) -> float:
    from pain_news.config.settings import load_config
    from pain_news.sendgrid.sync import sync_suppressions

    root, env = _project(work, f"sync-{size}", None)
    standin = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fixtures.sendgrid_standin",
            "--key",
            "SG.bench",
            "--unsubscribes",
            str(size),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(standin.stdout.readline())  # type: ignore[union-attr]
        env.update(
            PAIN_NEWS_SENDGRID_HOST=f"http://127.0.0.1:{port}",
            SENDGRID_API_KEY="SG.bench",
            PAIN_NEWS_SENDGRID_TIMEOUT="30",
        )
        store = _open(root, env)
        try:
            _fill(store, size, "u{i}@example.org")
            config = load_config(root / "pain-news.toml", env=env)
            start = time.perf_counter()
            summary = sync_suppressions(config, store)
            seconds = time.perf_counter() - start
            assert summary.changed == size, summary.summary_line()
        finally:
            store.close()
    finally:
        standin.terminate()
        standin.wait(10)
    return seconds


# ---- PostgreSQL import -------------------------------------------------------------------------


def _pg_import(work: Path) -> list[float]:
    from bench_store import _write_csv  # the same file as the SQLite import bench

    from pain_news.subscribers.importer import import_file

    times = []
    for run in range(3):
        with _database("postgresql") as url:
            root, env = _project(work, f"import-{run}", url)
            csv_path = root / "list.csv"
            _write_csv(csv_path, IMPORT_ROWS)
            store = _open(root, env)
            try:
                start = time.perf_counter()
                summary = import_file(store, csv_path)
                times.append(time.perf_counter() - start)
                assert summary.added == IMPORT_ROWS, summary.summary_line()
            finally:
                store.close()
    return times


def run(work: Path) -> str:
    """Markdown section."""
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    lines = [
        "## Feedback at list scale: webhook, suppression sync, PostgreSQL import",
        "",
        f"Load average when this section started: {load:.1f} (2 cores; other work on the machine slows every figure).",
        "",
        f"Signed webhook batches of {BATCH:,} events posted to `pain-news serve` (its own process) over HTTP, "
        f"{BATCHES} batches = {BATCH * BATCHES:,} events, {LIST_SIZE:,} subscribers; each batch is one "
        "transaction (signature check included):",
        "",
        "| database | median per batch | p95 | events/s | 100,000 events (wall) | targets |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind in ("sqlite", "postgresql"):
        r = _webhook(work, kind)
        lines.append(
            f"| {kind} | {r['median'] * 1000:.0f} ms | {r['p95'] * 1000:.0f} ms | {r['rate']:,.0f} | "
            f"{r['total']:.1f} s | <= 200 ms, <= 30 s |"
        )
    lines += [
        "",
        "`subscribers sync` (as before a SendGrid send) against the SendGrid stand-in in its own process, "
        "pages of 500, every address a known active subscriber (each becomes unsubscribed with a history row), SQLite:",
        "",
        "| suppressed addresses | time | target |",
        "| ---: | ---: | ---: |",
    ]
    for size, target in zip(SYNC_SIZES, ("<= 3 s", "<= 20 s"), strict=True):
        lines.append(f"| {size:,} | {_sync(work, size):.2f} s | {target} |")
    imports = _pg_import(work)
    lines += [
        "",
        f"Import of {IMPORT_ROWS:,} new CSV rows (the same file as the SQLite import above), PostgreSQL, one "
        f"transaction: median **{statistics.median(imports):.2f} s** over {len(imports)} runs "
        f"(target <= 5 s; runs: {', '.join(f'{t:.2f}' for t in imports)}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    import tempfile

    sys.path[:0] = [str(Path(__file__).parent), str(ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        sys.stdout.write(run(Path(tmp)))
