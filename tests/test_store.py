"""SubscriberStore on SQLite and PostgreSQL: statuses, history, opt-outs that stick, streaming."""

import pytest
from sqlalchemy import inspect

from pain_news import db
from pain_news.errors import InvalidToken, StoreError


def test_new_database_is_migrated_to_head(any_store):
    assert db.current_revision(any_store.engine) == db.head_revision()
    assert {"subscribers", "subscriber_events", "suppressions", "delivery_events", "send_ledger"} <= set(
        inspect(any_store.engine).get_table_names()
    )


def test_sqlite_database_is_in_wal_mode(store):
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_email_is_unique_case_insensitively_and_stored_as_given(any_store):
    any_store.add("Maria.Lopez@Example.com", "Maria")
    with pytest.raises(StoreError, match="already in the list"):
        any_store.add("maria.lopez@example.com")
    assert any_store.get("MARIA.LOPEZ@example.com").email == "Maria.Lopez@Example.com"


def test_invalid_address_is_refused(any_store):
    with pytest.raises(StoreError, match="invalid email address"):
        any_store.add("not-an-address")


def test_unsubscribe_is_idempotent_and_logged_once(any_store):
    any_store.add("ana@example.org")
    first = any_store.unsubscribe("ana@example.org", "link", 3)
    second = any_store.unsubscribe("ana@example.org", "link", 3)
    assert (first.changed, second.changed) == (True, False)
    record, events = any_store.history("ana@example.org")
    assert (record.status, record.opt_out_method, record.opt_out_campaign_id) == ("unsubscribed", "link", 3)
    assert [(e.old_status, e.new_status, e.method) for e in events] == [
        (None, "active", "manual"),
        ("active", "unsubscribed", "link"),
    ]


def test_resubscribe_needs_a_reason_and_is_logged(any_store):
    any_store.add("ana@example.org")
    any_store.opt_out("ana@example.org", "complained", "webhook")
    with pytest.raises(StoreError, match="reason"):
        any_store.resubscribe("ana@example.org", "  ")
    assert any_store.resubscribe("ana@example.org", "asked at the desk").subscriber.status == "active"
    assert any_store.history("ana@example.org")[1][-1].detail == "asked at the desk"


def test_delete_erases_the_person_but_keeps_them_from_coming_back(any_store):
    any_store.add("ana@example.org", "Ana", tags=["knee"])
    any_store.delete("ana@example.org")
    assert any_store.get("ana@example.org") is None
    with pytest.raises(StoreError, match="suppressed"):
        any_store.add("ANA@example.org")
    assert any_store.stats()["suppressed (deleted or unknown)"] == 1


def test_signup_stays_pending_until_confirmed(any_store):
    request = any_store.request_signup("new@example.org", "Nia")
    assert any_store.get("new@example.org").status == "pending"
    assert any_store.confirm_signup(request.subscriber_id, request.request_event_id).changed
    assert any_store.get("new@example.org").status == "active"


def test_repeated_signup_of_opted_out_address_reactivates_only_on_confirm(any_store):
    any_store.add("ana@example.org")
    any_store.unsubscribe("ana@example.org", "link")
    request = any_store.request_signup("ana@example.org")
    assert request.send_confirmation
    assert any_store.get("ana@example.org").status == "unsubscribed"
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    assert any_store.get("ana@example.org").status == "active"


def test_old_confirmation_cannot_undo_a_later_unsubscribe(any_store):
    request = any_store.request_signup("ana@example.org")
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    any_store.unsubscribe("ana@example.org", "link")
    with pytest.raises(InvalidToken):
        any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    assert any_store.get("ana@example.org").status == "unsubscribed"


def test_list_streams_with_status_and_tag_filters(any_store):
    any_store.add("a@example.org", tags=["knee", "back"])
    any_store.add("b@example.org", tags=["knee"])
    any_store.add("c@example.org")
    any_store.unsubscribe("b@example.org")
    rows = list(any_store.iter_subscribers())
    assert [(r.email, r.tags) for r in rows] == [
        ("a@example.org", ("back", "knee")),
        ("b@example.org", ("knee",)),
        ("c@example.org", ()),
    ]
    assert [r.email for r in any_store.iter_subscribers(status="active", tag="knee")] == ["a@example.org"]


def test_delivery_events_are_kept_once_per_event_id(any_store):
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    assert any_store.record_delivery_event("ev1", "open", now, campaign_id=1, subscriber_id=None)
    assert not any_store.record_delivery_event("ev1", "open", now, campaign_id=1, subscriber_id=None)


def race_after_locked_lookup(monkeypatch, action):
    """`action` runs on another connection right after the operation's locked read of the row."""
    from pain_news.subscribers.store import core
    from tests.fixtures.store import Race

    race = Race(action)
    lookup = core.lookup  # every part reads a subscriber through core.lookup

    def lookup_then_race(s, who, *, lock=False):
        found = lookup(s, who, lock=lock)
        if lock:
            race.fire()
        return found

    monkeypatch.setattr(core, "lookup", lookup_then_race)
    return race


def test_resubscribe_never_overwrites_a_complaint_that_lands_meanwhile(any_store, monkeypatch):
    any_store.add("ana@example.org")
    any_store.unsubscribe("ana@example.org")
    race = race_after_locked_lookup(
        monkeypatch, lambda: any_store.opt_out("ana@example.org", "complained", "webhook")
    )
    any_store.resubscribe("ana@example.org", "asked at the desk")
    race.finish()
    assert any_store.get("ana@example.org").status == "complained"


def test_confirmation_never_overwrites_an_unsubscribe_that_lands_meanwhile(any_store, monkeypatch):
    request = any_store.request_signup("nia@example.org")
    race = race_after_locked_lookup(monkeypatch, lambda: any_store.unsubscribe("nia@example.org", "link"))
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    race.finish()
    assert any_store.get("nia@example.org").status == "unsubscribed"


@pytest.mark.parametrize("first, last", [("An\x00a", ""), ("Ana", "Di\x1baz"), ("Ana\nMaria", "")])
def test_names_with_control_characters_are_refused(any_store, first, last):
    with pytest.raises(StoreError, match=r"contains a control character \(U\+00"):
        any_store.add("ana@example.org", first, last)
    with pytest.raises(StoreError, match="contains a control character"):
        any_store.request_signup("ana@example.org", first, last)
    assert list(any_store.iter_subscribers()) == []


def test_opt_out_of_an_address_with_a_nul_byte_suppresses_it_without_a_database_error(any_store):
    assert any_store.opt_out_address("ana\x00@example.org", "bounced", "sendgrid-sync") is None
    assert any_store.stats()["suppressed (deleted or unknown)"] == 1


def test_delete_leaves_the_address_nowhere_in_the_ledger_or_delivery_events(any_store):
    import datetime as dt

    from sqlalchemy import select

    from pain_news.db.models import Campaign, DeliveryEvent, LedgerEntry
    from pain_news.subscribers.store import email_hash

    now = dt.datetime.now(dt.UTC)
    ana = any_store.add("Ana@Example.org").id
    bo = any_store.add("bo@example.org").id
    with any_store.session() as s:
        campaign = Campaign(
            issue="2027-01", subject="Winter", provider="smtp", html="", text="", created_at=now
        )
        s.add(campaign)
        s.flush()
        for position, (sid, email) in enumerate([(ana, "Ana@Example.org"), (bo, "bo@example.org")]):
            s.add(
                LedgerEntry(
                    campaign_id=campaign.id,
                    subscriber_id=sid,
                    position=position,
                    email=email,
                    state="failed",
                    reason=f"550 5.1.1 <{email.lower()}>: no such user",
                    attempts=1,
                    updated_at=now,
                )
            )
    any_store.record_delivery_event(
        "ev1",
        "bounce",
        now,
        campaign_id=campaign.id,
        subscriber_id=ana,
        detail='{"reason": "550 <ana@example.org> unknown"}',
    )
    any_store.delete("ana@example.org")
    with any_store.session() as s:
        ledger = {e.subscriber_id: (e.email, e.reason) for e in s.scalars(select(LedgerEntry))}
        details = list(s.scalars(select(DeliveryEvent.detail)))
    placeholder = f"deleted:{email_hash('ana@example.org')[:12]}"
    assert ledger[ana] == (placeholder, f"550 5.1.1 <{placeholder}>: no such user")
    assert ledger[bo] == ("bo@example.org", "550 5.1.1 <bo@example.org>: no such user")
    assert details == [""]
