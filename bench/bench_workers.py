"""`serve --workers 2` on PostgreSQL while a list send runs, and 500 one-click unsubscribes arrive at once.

`pain-news serve --workers 2` runs as its own process on a loopback port; the list send runs in
this process (SMTP to an aiosmtpd sink here, which notes when each copy arrives); 500 one-click
POSTs go out from a pool of 16 threads once the send is under way. Counted: answers, history
rows, copies that arrived after their recipient's answer, errors in serve's log.

PostgreSQL: PAIN_NEWS_BENCH_POSTGRES_URL (default postgresql+psycopg://root@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-key-0123456789abcdef"
SUBSCRIBERS = 10_000
UNSUBSCRIBES = 500
WORKERS = 2


def _serve(folder: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pain_news", "serve", "--port", str(port), "--workers", str(WORKERS)],
        cwd=folder,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    import httpx

    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/subscribe", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)


def _project(folder: Path, url: str, smtp_port: int) -> tuple[dict[str, str], object, object]:
    from sqlalchemy import insert

    from pain_news.config.settings import load_config
    from pain_news.db.models import Subscriber, utcnow
    from pain_news.subscribers.store import open_store

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(ROOT / "pain-news.toml", folder / "pain-news.toml")
    shutil.copytree(ROOT / "templates", folder / "templates")
    shutil.copytree(ROOT / "issues" / "2026-12-winter", folder / "issues" / "2026-12-winter")
    from bench_send import REAL_NEWSLETTER

    env = {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_SECRET_KEY": SECRET,
        "PAIN_NEWS_DNS_NAMESERVER": "127.0.0.1:9",  # the doctor gate offline: answers at once
        "PAIN_NEWS_DATABASE_URL": url,
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(smtp_port),
        "PAIN_NEWS_SMTP_SECURITY": "none",
    }
    config = load_config(folder / "pain-news.toml", env=env)
    store = open_store(config, create=True)
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            insert(Subscriber),
            [
                {
                    "email": f"p{i:06d}@example.org",
                    "email_key": f"p{i:06d}@example.org",
                    "first_name": f"P{i}",
                    "last_name": "Example",
                    "status": "active",
                    "source": "bench",
                    "created_at": now,
                    "status_changed_at": now,
                }
                for i in range(SUBSCRIBERS)
            ],
        )
    return env, config, store


def _measure(work: Path, url: str) -> dict[str, float]:
    import httpx

    from pain_news.ledger import CampaignLedger
    from pain_news.links import unsubscribe_url
    from tests.fixtures.core import free_port
    from tests.fixtures.smtp import RecordingHandler, SmtpServer

    arrived: dict[str, list[float]] = {}

    class Arrivals(RecordingHandler):
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            for address in envelope.rcpt_tos:
                arrived.setdefault(address, []).append(time.monotonic())
            return await super().handle_DATA(server, session, envelope)

    sink = SmtpServer(Arrivals(record=False)).start()
    env, config, store = _project(work / "project", url, sink.port)
    port = free_port()
    serve = _serve(work / "project", env, port)
    try:
        people = {r.id: r.email for r in store.iter_subscribers()}  # type: ignore[attr-defined]
        leaving = random.Random(7).sample(sorted(people), UNSUBSCRIBES)
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))}
        started = time.monotonic()
        sender = subprocess.Popen(  # the list send as a user runs it, in its own process
            [
                sys.executable,
                "-m",
                "pain_news",
                "send",
                "issues/2026-12-winter",
                "--yes",
                "--skip-published-check",
                "--no-canary",  # the whole list in one run: a first send's canary would hold most back
            ],
            cwd=work / "project",
            env={**clean, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        while sink.count < 200:
            time.sleep(0.01)

        def one_click(sid: int) -> tuple[int, int, float, float]:
            path = urlsplit(unsubscribe_url(config, sid, 1)).path  # type: ignore[arg-type]
            t = time.monotonic()
            with httpx.Client(timeout=60) as client:
                status = client.post(
                    f"http://127.0.0.1:{port}{path}", data={"List-Unsubscribe": "One-Click"}
                ).status_code
            return sid, status, time.monotonic(), time.monotonic() - t

        posted = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(one_click, leaving))
        posts_wall = time.monotonic() - posted
        out, send_err = sender.communicate()
        send_wall = time.monotonic() - started
        assert sender.returncode == 0, send_err
    finally:
        serve.terminate()
        _, err = serve.communicate(timeout=30)
        sink.stop()
    once = sum(
        1
        for sid, *_ in answers
        if [e.method for e in store.history(sid)[1]] == ["one-click"]  # type: ignore[attr-defined]
    )
    late = sum(
        1 for sid, _, answered, _ in answers if any(t > answered for t in arrived.get(people[sid], []))
    )
    took = sorted(a[3] for a in answers)
    [(_, counts)] = CampaignLedger.for_store(store).campaigns()  # type: ignore[arg-type]
    store.close()  # type: ignore[attr-defined]
    return {
        "answered_200": sum(1 for a in answers if a[1] == 200),
        "recorded_once": once,
        "mailed_after_answer": late,
        "mailed_twice": sum(1 for t in arrived.values() if len(t) > 1),
        "errors": err.decode().count("Traceback") + err.decode().count("ERROR"),
        "sent": counts["sent"],
        "skipped": counts["skipped"],
        "send_wall": send_wall,
        "posts_wall": posts_wall,
        "median": statistics.median(took),
        "p95": took[int(len(took) * 0.95) - 1],
    }


def run(work: Path) -> str:
    from common import postgres_schema

    load = os.getloadavg()[0]
    with postgres_schema() as url:
        r = _measure(work, url)
    return (
        "## Several web workers during a list send (`bench/bench_workers.py`)\n\n"
        f"`pain-news serve --workers {WORKERS}` (its own process, PostgreSQL) while a list send to "
        f"{SUBSCRIBERS:,} subscribers runs (`pain-news send --yes`, its own process, SMTP to an aiosmtpd sink in "
        f"the bench's process); {UNSUBSCRIBES} one-click unsubscribes "
        f"posted from 16 threads once the send was under way. One run. Load average at the start: {load:.1f}.\n\n"
        "| what | count |\n|---|---:|\n"
        f"| one-clicks answered 200 | {r['answered_200']} of {UNSUBSCRIBES} |\n"
        f"| recorded once (one history row each) | {r['recorded_once']} of {UNSUBSCRIBES} |\n"
        f"| copies that arrived after their recipient's answer | {r['mailed_after_answer']} |\n"
        f"| addresses mailed twice | {r['mailed_twice']} |\n"
        f"| errors in serve's log | {r['errors']} |\n"
        f"| send: sent / skipped (opted out before their batch) | {r['sent']:,} / {r['skipped']:,} |\n\n"
        f"One-click answer time: median {r['median'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms (an answer waits "
        "for a copy to that person already in flight); all 500 in "
        f"{r['posts_wall']:.1f} s; the send took {r['send_wall']:.1f} s.\n"
    )


if __name__ == "__main__":
    import tempfile

    sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]
    sys.stdout.write(run(Path(tempfile.mkdtemp())))
