"""`serve --workers N`: several processes against PostgreSQL while a list send runs, and while many
people confirm at once; SQLite refuses.

The serve command runs as a real process on a loopback port; the list send runs in this process
(SMTP to aiosmtpd, which notes when each copy arrives), and 500 one-click unsubscribes are posted
concurrently from a bounded thread pool while it runs. Confirmations are posted the same way, each
twice (a double click), and every welcome email is counted as aiosmtpd receives it.
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
from pain_news.ledger import CampaignLedger
from pain_news.links import unsubscribe_url
from tests.fixtures.core import REAL_NEWSLETTER, SECRET, free_port, publish_archive, sign_off
from tests.fixtures.smtp import RecordingHandler, SmtpServer
from tests.fixtures.store import _postgres_store
from tests.fixtures.web import ORIGIN
from tests.test_web_app import confirm_link_in, path_of

SUBSCRIBERS = 3000
UNSUBSCRIBES = 500
CONFIRMING = 24  # people who confirm at once across the workers
WELCOME_SUBJECT = "Welcome to Pain News"


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


def _serve_env(store, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """serve's settings: the test's PostgreSQL schema, mail to the test's SMTP server."""
    return {
        "PAIN_NEWS_SECRET_KEY": SECRET,
        "PAIN_NEWS_DATABASE_URL": store.engine.url.render_as_string(hide_password=False),
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(smtp.port),
        "PAIN_NEWS_SMTP_SECURITY": "none",
        **extra,
    }


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
        # REAL_NEWSLETTER: the list send's gates need real-looking settings (and the issue published).
        env = _serve_env(store, smtp, **REAL_NEWSLETTER)
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
            # The whole list at once: a first send's default canary would hold most of it back.
            options = campaign.SendOptions(no_canary=True)
            prepared = campaign.prepare_send(config, store, sample_issue, options)
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


def _wait_for(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.05)


@pytest.mark.postgres
def test_confirmations_at_once_across_workers_each_get_one_welcome_and_nothing_is_built(
    project, make_config, postgres_url
):
    smtp = SmtpServer(RecordingHandler()).start()
    stores = _postgres_store(postgres_url, make_config)
    store = next(stores)
    people = [f"w{i:02d}@example.org" for i in range(CONFIRMING)]
    try:
        # Every signup comes from 127.0.0.1: lift the per-client limit.
        env = _serve_env(store, smtp, PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR="1000")
        serve, url = _start_serve(project, env, workers=3)
        try:

            def sign_up(address: str) -> int:
                with httpx.Client(timeout=60) as client:
                    return client.post(
                        f"{url}/subscribe", data={"email": address}, headers=ORIGIN
                    ).status_code

            with ThreadPoolExecutor(max_workers=8) as pool:
                assert list(pool.map(sign_up, people)) == [200] * CONFIRMING
            _wait_for(lambda: smtp.count >= CONFIRMING, "every confirmation email arrived")
            links = {
                str(m["To"]): confirm_link_in(m.get_body(("plain",)).get_content()) for m in smtp.messages
            }
            assert sorted(links) == people

            def confirm(link: str) -> int:
                with httpx.Client(timeout=60) as client:
                    return client.post(url + path_of(link)).status_code

            with ThreadPoolExecutor(max_workers=16) as pool:
                answers = list(pool.map(confirm, [link for link in links.values() for _ in range(2)]))
            assert answers == [200] * (2 * CONFIRMING)

            def welcomes() -> list[str]:
                return [str(m["To"]) for m in list(smtp.messages) if m["Subject"] == WELCOME_SUBJECT]

            _wait_for(lambda: len(welcomes()) >= CONFIRMING, "every welcome email arrived")
            time.sleep(1.0)  # a second copy to anyone would arrive now
        finally:
            errors = _stop(serve)
        assert "Traceback" not in errors and "ERROR" not in errors, errors
        assert sorted(welcomes()) == people  # each confirmed person, exactly once
        [(welcome, counts)] = [
            c for c in CampaignLedger.for_store(store).campaigns() if c[0].kind == "welcome"
        ]
        assert (counts["sent"], counts["pending"], counts["uncertain"]) == (CONFIRMING, 0, 0), welcome.id
        assert not (project / "build").exists()  # rendered in memory: nothing written under build/
    finally:
        smtp.stop()
        stores.close()


def test_sqlite_refuses_more_than_one_worker(run_cli, store):
    result = run_cli("serve", "--workers", "2", "--port", str(free_port()), ok=False)
    assert result.exit_code == 1
    assert "--workers 2 needs PostgreSQL: this database is SQLite" in result.stderr
    assert "Hint: run serve with one worker" in result.stderr
