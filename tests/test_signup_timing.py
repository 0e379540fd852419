"""Signup reveals nothing by timing (docs/security.md): a stranger who signs up a victim and then
their own address cannot tell from their own mail server's clock whether the victim is on the list.

The relay is a real aiosmtpd server that takes RELAY_DELAY seconds over every message, as a slow
relay does; the signups go through serve's own signup queue on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

from tests.fixtures.smtp import RecordingHandler, SmtpServer

RELAY_DELAY = 0.25  # seconds the relay takes over each message
TRIALS = 20


class SlowRelay(RecordingHandler):
    """Takes RELAY_DELAY over each message, then notes when it arrived (this process's monotonic clock)."""

    def __init__(self) -> None:
        super().__init__(record=False)
        self.arrived: dict[str, float] = {}
        self.arrival = threading.Condition()

    async def handle_DATA(self, server, session, envelope) -> str:
        await asyncio.sleep(RELAY_DELAY)
        with self.arrival:
            for address in envelope.rcpt_tos:
                self.arrived[address] = time.monotonic()
            self.arrival.notify_all()
        return await super().handle_DATA(server, session, envelope)

    def wait_for(self, address: str) -> float:
        with self.arrival:
            assert self.arrival.wait_for(lambda: address in self.arrived, timeout=30), (
                f"{address} never arrived"
            )
            return self.arrived[address]


def test_the_next_confirmation_arrives_at_the_same_time_whether_the_victim_is_listed_or_new(
    make_config, any_store
):
    from pain_news.web.signups import SignupQueue

    relay = SlowRelay()
    smtp = SmtpServer(relay).start()
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp.port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
    )
    any_store.add("victim@example.org", "Vic")  # on the list: nobody is mailed for their signup
    queue = SignupQueue(config, any_store)
    seen: dict[str, list[float]] = {"active": [], "new": []}
    try:
        queue.submit_signup("warm-up@example.org", "")  # the server has mailed someone before
        queue.join()
        for trial in range(TRIALS):
            for kind in ("active", "new"):  # interleaved: the machine's load falls on both alike
                victim = "victim@example.org" if kind == "active" else f"new-{trial}@example.org"
                own = f"me-{kind}-{trial}@attacker.example"
                started = time.monotonic()
                queue.submit_signup(victim, "")
                queue.submit_signup(own, "")
                seen[kind].append(relay.wait_for(own) - started)
                queue.join()
    finally:
        queue.close()
        smtp.stop()
    active, new = statistics.median(seen["active"]), statistics.median(seen["new"])
    assert abs(active - new) < 0.1 * RELAY_DELAY, f"median {active:.3f} s (listed) vs {new:.3f} s (new)"
    assert relay.count == 1 + TRIALS + 2 * TRIALS  # the warm-up, each new victim, each of the stranger's own


def test_the_signup_budget_covers_the_slowest_recent_confirmation_in_coarse_steps():
    from pain_news.web.signups import BUDGET_STEPS, SignupPace

    pace = SignupPace(window=3)
    assert pace.budget() == 1.0  # nothing timed yet
    for seconds in (0.31, 0.29, 0.33):
        pace.delivered(seconds)
    assert pace.budget() == 0.5
    pace.delivered(1.7)  # one slow delivery: the next signups all wait as long
    assert pace.budget() == 2.0
    for seconds in (0.3, 0.3, 0.3):
        pace.delivered(seconds)
    assert pace.budget() == 0.5  # ... until it leaves the window
    pace.delivered(600.0)  # a stalled relay never stalls signups past the last step
    assert pace.budget() == BUDGET_STEPS[-1] == 15.0
