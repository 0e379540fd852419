"""`serve --workers N`: several processes against PostgreSQL while a list send runs; SQLite refuses.

The serve command runs as a real process on a loopback port; the list send runs in this process
(SMTP to aiosmtpd, which notes when each copy arrives), and 500 one-click unsubscribes are posted
concurrently from a bounded thread pool while it runs.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import insert

from pain_news import campaign
from pain_news.db.models import Subscriber, utcnow
from pain_news.links import unsubscribe_url
from tests.fixtures.core import REAL_NEWSLETTER, SECRET, free_port, publish_archive, sign_off
from tests.fixtures.smtp import RecordingHandler, SmtpServer
from tests.fixtures.store import _postgres_store

SUBSCRIBERS = 3000
UNSUBSCRIBES = 500


class ArrivalHandler(RecordingHandler):
    """Notes when a copy to each address arrived (this process's monotonic clock)."""

    def __init__(self) -> None:
        super().__init__(record=False)
        self.arrived: dict[str, list[float]] = {}

    async def handle_DATA(self, server, session, envelope) -> str:
        now = time.monotonic()
        with self.lock:
            for address in envelope.rcpt_tos:
                self.arrived.setdefault(address, []).append(now)
        return await super().handle_DATA(server, session, envelope)


def _sealed_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))}
    return {**env, **extra}


def _start_serve(project, env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pain_news", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=project,
        env=_sealed_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "serve exited"
        assert time.monotonic() < deadline, "serve did not answer within 60 s"
        try:
            if httpx.get(url + "/subscribe", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err.decode()


@pytest.mark.postgres
def test_two_workers_record_every_one_click_once_and_nobody_is_mailed_after_their_answer(
    project, make_config, sample_issue, postgres_url
):
    smtp = SmtpServer(ArrivalHandler()).start()
    stores = _postgres_store(postgres_url, make_config)
    store = next(stores)
    try:
        env = {
            **REAL_NEWSLETTER,  # the list send's gates: real-looking settings, the issue published
            "PAIN_NEWS_SECRET_KEY": SECRET,
            "PAIN_NEWS_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp.port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
        config = make_config(env)
        publish_archive(config)
        sign_off(config, store, sample_issue)
        now = utcnow()
        with store.engine.begin() as conn:
            conn.execute(
                insert(Subscriber),
                [
                    {
                        "email": f"p{i:05d}@example.org",
                        "email_key": f"p{i:05d}@example.org",
                        "first_name": f"P{i}",
                        "last_name": "Example",
                        "status": "active",
                        "source": "test",
                        "created_at": now,
                        "status_changed_at": now,
                    }
                    for i in range(SUBSCRIBERS)
                ],
            )
        people = {r.id: r.email for r in store.iter_subscribers()}
        leaving = random.Random(11).sample(sorted(people), UNSUBSCRIBES)
        serve, url = _start_serve(project, env, workers=2)
        try:
            prepared = campaign.prepare_send(config, store, sample_issue, campaign.SendOptions())
            reports: list[object] = []
            sender = threading.Thread(
                target=lambda: reports.append(campaign.run_send(config, store, prepared)), daemon=True
            )
            sender.start()
            deadline = time.monotonic() + 60
            while smtp.count < 100:  # the send is under way
                assert sender.is_alive() and time.monotonic() < deadline, "the send did not start"
                time.sleep(0.01)

            def one_click(sid: int) -> tuple[int, int, float]:
                link = unsubscribe_url(config, sid, 1)
                with httpx.Client(timeout=60) as client:
                    response = client.post(url + urlsplit(link).path, data={"List-Unsubscribe": "One-Click"})
                return sid, response.status_code, time.monotonic()

            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(one_click, leaving))
            sender.join(120)
            assert not sender.is_alive(), "the send did not finish"
        finally:
            errors = _stop(serve)
        assert "Traceback" not in errors and "ERROR" not in errors, errors
        assert [status for _, status, _ in answers] == [200] * UNSUBSCRIBES
        for sid, _, answered in answers:
            record, events = store.history(sid)
            assert record.status == "unsubscribed"
            assert [(e.new_status, e.method) for e in events] == [("unsubscribed", "one-click")], sid
            late = [t for t in smtp.arrived.get(people[sid], []) if t > answered]
            assert late == [], f"{people[sid]} was mailed after their unsubscribe was answered"
        mailed = sum(len(times) for times in smtp.arrived.values())
        assert all(len(times) == 1 for times in smtp.arrived.values())  # nobody twice
        report = reports[0]
        assert report.ledger["sent"] == mailed  # type: ignore[attr-defined]
        assert report.ledger["sent"] + report.ledger["skipped"] == SUBSCRIBERS  # type: ignore[attr-defined]
        assert report.ledger["skipped"] >= 1  # type: ignore[attr-defined]
    finally:
        smtp.stop()
        stores.close()


def test_sqlite_refuses_more_than_one_worker(run_cli, store):
    result = run_cli("serve", "--workers", "2", "--port", str(free_port()), ok=False)
    assert result.exit_code == 1
    assert "--workers 2 needs PostgreSQL: this database is SQLite" in result.stderr
    assert "Hint: run serve with one worker" in result.stderr
