"""The send ledger's methods, on SQLite and PostgreSQL: create, claim, record, reset, counts, report figures."""

from __future__ import annotations

import pytest

from pain_news.db.models import utcnow
from pain_news.errors import StoreError
from pain_news.ledger import CampaignLedger, NewCampaign, Outcome, is_finished


def add_people(store, n):
    return [store.add(f"p{i:03d}@example.org", f"Name{i}", "Test").id for i in range(n)]


def new_campaign(ledger, issue="2026-12-winter", seen=None):
    created = ledger.create(
        NewCampaign(
            issue=issue,
            subject="Winter",
            provider="outbox",
            html="<p>hi</p>",
            text="hi",
            seen_campaign_id=seen,
        )
    )
    assert created.campaign_id is not None
    return created.campaign_id


def states(ledger, campaign_id):
    found = ledger.figures(campaign_id, recipients=True).recipients
    return {r["email"]: (r["state"], r["reason"]) for r in found}


@pytest.fixture
def ledger(any_store):
    return CampaignLedger.for_store(any_store)


def test_a_new_campaign_freezes_everyone_active_pending_and_the_rest_skipped_with_why(any_store, ledger):
    ids = add_people(any_store, 4)
    any_store.unsubscribe(ids[1], "link")
    any_store.opt_out(ids[2], "bounced", "webhook")
    cid = new_campaign(ledger)
    assert states(ledger, cid) == {
        "p000@example.org": ("pending", None),
        "p001@example.org": ("skipped", "unsubscribed at the start of the send"),
        "p002@example.org": ("skipped", "bounced at the start of the send"),
        "p003@example.org": ("pending", None),
    }
    assert ledger.counts(cid) == {
        "pending": 2,
        "in_flight": 0,
        "sent": 0,
        "failed": 0,
        "uncertain": 0,
        "skipped": 2,
        "cancelled": 0,  # only a cancelled scheduled send has any (campaign/schedule.py)
        "withdrawn": 0,  # only a scheduled send has any (sendgrid/withdraw.py)
        "held": 0,  # only a canary holds any (campaign/canary.py)
        "paused": 0,  # only the circuit breaker pauses any
    }
    record = ledger.latest("2026-12-winter")
    assert (record.id, record.subject, record.html, record.text) == (cid, "Winter", "<p>hi</p>", "hi")
    assert ledger.get(cid) == record and ledger.get(cid + 100) is None and ledger.latest("other") is None


def test_create_writes_nothing_when_another_send_created_a_campaign_since_the_plan(any_store, ledger):
    add_people(any_store, 2)
    first = new_campaign(ledger)
    late = ledger.create(
        NewCampaign(
            issue="2026-12-winter", subject="W", provider="outbox", html="", text="", seen_campaign_id=None
        )
    )
    assert late.campaign_id is None and late.newest == first
    assert [c.id for c, _ in ledger.campaigns()] == [first]


def test_campaigns_are_listed_newest_first_with_their_counts(any_store, ledger):
    add_people(any_store, 3)
    first = new_campaign(ledger, "2026-11-autumn")
    second = new_campaign(ledger, "2026-12-winter")
    writer = ledger.writer(second)
    claim = writer.claim(10)
    writer.record([e.entry_id for e in claim.entries], [Outcome("sent", "m1")] * 3)
    listed = ledger.campaigns()
    assert [(c.id, c.issue) for c, _ in listed] == [(second, "2026-12-winter"), (first, "2026-11-autumn")]
    assert [(counts["sent"], counts["pending"], is_finished(counts)) for _, counts in listed] == [
        (3, 0, True),
        (0, 3, False),
    ]


def test_a_claim_takes_pending_in_ledger_order_and_skips_who_opted_out_since(any_store, ledger):
    ids = add_people(any_store, 5)
    cid = new_campaign(ledger)
    any_store.unsubscribe(ids[1], "one-click")
    with any_store.session() as s:
        any_store.suppress(s, "p002@example.org", "test", utcnow())
    writer = ledger.writer(cid)
    claim = writer.claim(3)
    assert [e.email for e in claim.entries] == ["p000@example.org"]
    assert claim.skipped == 2 and claim.attempts == 1
    assert states(ledger, cid)["p001@example.org"] == ("skipped", "unsubscribed before its batch")
    assert states(ledger, cid)["p002@example.org"] == ("skipped", "suppressed before its batch")
    assert [e.first_name for e in writer.claim(3).entries] == ["Name3", "Name4"]
    assert ledger.counts(cid)["in_flight"] == 3
    assert writer.claim(3) is None  # nothing pending any more


def test_record_writes_each_outcome_and_a_retry_goes_back_to_pending(any_store, ledger):
    add_people(any_store, 4)
    cid = new_campaign(ledger)
    writer = ledger.writer(cid)
    ids = [e.entry_id for e in writer.claim(4).entries]
    outcomes = [Outcome("sent", "m1"), Outcome("sent", "m1"), Outcome("failed", None, "550 no such user")]
    settled = writer.record(ids, [*outcomes, Outcome("pending", None, "429")])
    assert settled == {"sent": 2, "failed": 1}
    report = ledger.figures(cid, recipients=True)
    assert report.failed == [("p002@example.org", "550 no such user")]
    assert [(r["state"], r["message_id"]) for r in report.recipients] == [
        ("sent", "m1"),
        ("sent", "m1"),
        ("failed", None),
        ("pending", None),
    ]
    assert writer.claim(4).attempts == 2  # the retried recipient's second attempt


def test_record_and_claim_writes_one_batch_and_takes_the_next_in_one_transaction(any_store, ledger):
    add_people(any_store, 5)
    cid = new_campaign(ledger)
    writer = ledger.writer(cid)
    first = [e.entry_id for e in writer.claim(2).entries]
    settled, second = writer.record_and_claim(first, [Outcome("sent", "m1")] * 2, 2)
    assert settled == {"sent": 2}
    assert [e.email for e in second.entries] == ["p002@example.org", "p003@example.org"]
    assert ledger.counts(cid)["sent"] == 2 and ledger.counts(cid)["in_flight"] == 2
    ids = [e.entry_id for e in second.entries]
    settled, third = writer.record_and_claim(
        ids, [Outcome("failed", None, "refused"), Outcome("sent", "m2")], 2
    )
    assert settled == {"failed": 1, "sent": 1} and [e.email for e in third.entries] == ["p004@example.org"]
    # The last one: its outcome is written even though nothing is left to claim.
    settled, none = writer.record_and_claim([third.entries[0].entry_id], [Outcome("sent", "m3")], 2)
    assert settled == {"sent": 1} and none is None
    assert ledger.counts(cid)["sent"] == 4 and ledger.counts(cid)["failed"] == 1


def test_reset_for_run_makes_in_flight_uncertain_and_applies_the_flags(any_store, ledger):
    add_people(any_store, 4)
    cid = new_campaign(ledger)
    writer = ledger.writer(cid)
    ids = [e.entry_id for e in writer.claim(4).entries]
    writer.record(ids[:2], [Outcome("failed", None, "refused")] * 2)  # two left in flight: a run died
    assert ledger.reset_for_run(cid) == 0
    assert states(ledger, cid)["p002@example.org"] == (
        "uncertain",
        "the sending process stopped while this batch was in flight",
    )
    assert ledger.figures(cid).uncertain == ["p002@example.org", "p003@example.org"]
    assert is_finished(ledger.counts(cid))
    assert ledger.reset_for_run(cid, resend_uncertain=True) == 2
    assert ledger.reset_for_run(cid, retry_failed=True) == 4
    assert writer.claim(10).attempts == 1  # attempts start again with each run


def test_report_figures_count_opt_outs_and_webhook_events_of_the_campaign(any_store, ledger):
    ids = add_people(any_store, 3)
    cid = new_campaign(ledger)
    any_store.unsubscribe(ids[0], "link", campaign_id=cid)
    any_store.opt_out(ids[1], "bounced", "webhook", campaign_id=cid)
    for n, (event, who) in enumerate([("delivered", ids[0]), ("delivered", ids[0]), ("open", ids[2])]):
        any_store.record_delivery_event(f"ev{n}", event, utcnow(), campaign_id=cid, subscriber_id=who)
    figures = ledger.figures(cid)
    assert figures.opt_outs == {"unsubscribed": 1, "bounced": 1}
    assert figures.events == {"delivered": 1, "open": 1}  # distinct recipients per event
    assert figures.recipients is None


def test_audience_counts_and_suppressed_addresses(any_store, ledger):
    ids = add_people(any_store, 3)
    any_store.unsubscribe(ids[0], "link")
    with any_store.session() as s:
        any_store.suppress(s, "gone@example.org", "test", utcnow())
    assert ledger.audience_counts() == {"active": 2, "unsubscribed": 1}
    assert ledger.suppressed(["gone@example.org", "p001@example.org"]) == {"gone@example.org"}


def test_a_database_failure_leaves_the_ledger_as_a_store_error(tmp_path):
    from pain_news.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no schema: every query fails
    try:
        with pytest.raises(StoreError, match="the subscriber database failed: no such table"):
            CampaignLedger(engine, engine).latest("2026-12-winter")
    finally:
        engine.dispose()


def test_advisory_locks_are_per_schema_so_installations_sharing_a_database_never_block_each_other(
    postgres_url, make_config
):
    from contextlib import ExitStack

    from tests.fixtures.store import _postgres_store

    with ExitStack() as stack:
        one, other = (stack.enter_context(_closing(_postgres_store(postgres_url, make_config))) for _ in "ab")
        with CampaignLedger.for_store(one).advisory_lock(7, "1") as got:
            assert got
            with CampaignLedger.for_store(other).advisory_lock(7, "1") as got_elsewhere:
                assert got_elsewhere  # campaign 1 of another schema is another campaign
            with CampaignLedger.for_store(one).advisory_lock(7, "1") as got_again:
                assert not got_again  # the same campaign, from another connection: busy
        with CampaignLedger.for_store(one).advisory_lock(7, "1") as got:
            assert got  # released when the block ended


def _closing(generator):
    """A fixture-style generator (yield the value, clean up after) as a context manager."""
    from contextlib import contextmanager

    @contextmanager
    def managed():
        value = next(generator)
        try:
            yield value
        finally:
            next(generator, None)

    return managed()


def test_ledger_writes_are_durable_across_a_power_loss(store):
    # WAL with synchronous=NORMAL may lose the last commits on power loss: a `sent` could be resent.
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
