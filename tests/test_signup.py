"""Signup requests in the store and the domain function, on SQLite and PostgreSQL."""

import datetime as dt

import pytest

from pain_news.errors import ConfigError, InvalidToken, StoreError
from pain_news.subscribers import signup

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("status", ["active", "bounced", "complained"])
def test_no_confirmation_for_active_bounced_or_complained_and_nothing_changes(any_store, status):
    any_store.add("ana@example.org", "Ana")
    if status != "active":
        any_store.opt_out("ana@example.org", status, "webhook")
    _, before = any_store.history("ana@example.org")
    request = any_store.request_signup("ana@example.org", "Mallory", daily_limit=3)
    assert not request.send_confirmation
    record, after = any_store.history("ana@example.org")
    assert (record.status, record.first_name, len(after)) == (status, "Ana", len(before))


@pytest.mark.parametrize("reason", ["bounced", "complained"])
def test_no_confirmation_for_an_unknown_address_suppressed_for_a_bounce_or_complaint(any_store, reason):
    any_store.opt_out_address("gone@example.org", reason, "sendgrid-sync")
    assert not any_store.request_signup("gone@example.org").send_confirmation
    assert any_store.get("gone@example.org") is None


def test_an_unsubscribed_address_may_ask_back_in_but_keeps_its_name(any_store):
    any_store.add("ana@example.org", "Ana")
    any_store.unsubscribe("ana@example.org")
    request = any_store.request_signup("ana@example.org", "Mallory")
    assert request.send_confirmation
    record = any_store.get("ana@example.org")
    assert (record.status, record.first_name) == ("unsubscribed", "Ana")


def test_one_address_gets_at_most_the_daily_limit_of_confirmations(any_store):
    sent = [
        any_store.request_signup("nia@example.org", daily_limit=2, now=NOW + dt.timedelta(minutes=i))
        for i in range(4)
    ]
    assert [r.send_confirmation for r in sent] == [True, True, False, False]
    next_day = any_store.request_signup("nia@example.org", daily_limit=2, now=NOW + dt.timedelta(hours=25))
    assert next_day.send_confirmation


@pytest.mark.parametrize(
    "email, first_name, message",
    [("nope", "", "invalid email address"), ("nia@example.org", "N\x1bia", "control character")],
)
def test_fields_are_checked_before_anything_is_looked_up(email, first_name, message):
    with pytest.raises(StoreError, match=message):
        signup.validate_signup(email, first_name)  # no store at all: nothing can be looked up


# ---- strangers cannot write into the clinic's email ------------------------------------------

SPAM = "Call 555-0100 now"


def test_the_confirmation_mail_greets_nobody_by_the_name_typed_on_the_form(make_config, any_store):
    confirmation = signup.request_signup(make_config(), any_store, "nia@example.org", SPAM)
    assert confirmation is not None
    assert confirmation.text.startswith("Hello,\n") and "<p>Hello,</p>" in confirmation.html
    assert SPAM not in confirmation.text + confirmation.html + confirmation.subject


def test_a_signup_name_is_kept_only_once_its_owner_confirms(any_store):
    request = any_store.request_signup("nia@example.org", SPAM, now=NOW)
    assert any_store.get("nia@example.org").first_name == ""  # nothing a later issue could greet with
    newer = any_store.request_signup("nia@example.org", "Nia", now=NOW + dt.timedelta(minutes=5))
    any_store.confirm_signup(newer.subscriber_id, newer.request_event_id, now=NOW + dt.timedelta(minutes=9))
    record = any_store.get("nia@example.org")
    assert (record.status, record.first_name) == ("active", "Nia")  # the confirmed submission's name
    assert request.request_event_id != newer.request_event_id
    assert _names_waiting(any_store) == []  # neither the stranger's name nor the confirmed one stays behind


@pytest.mark.parametrize("typed, kept", [("Ana María", "Ana María"), ("", "Ana")])
def test_an_opted_out_subscriber_who_confirms_again_gets_the_name_they_typed(any_store, typed, kept):
    any_store.add("ana@example.org", "Ana")
    any_store.unsubscribe("ana@example.org")
    request = any_store.request_signup("ana@example.org", typed)
    assert any_store.get("ana@example.org").first_name == "Ana"
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    assert any_store.get("ana@example.org").first_name == kept


def _names_waiting(store):
    from sqlalchemy import select

    from pain_news.db.models import SubscriberEvent

    with store.session() as s:
        return list(
            s.scalars(select(SubscriberEvent.submitted_name).where(SubscriberEvent.submitted_name != ""))
        )


# ---- unconfirmed signups are purged ------------------------------------------------------------


def _stale_and_fresh(store):
    """A signup 8 days old, one 6 days old, an old one renewed yesterday, and an opted-out person's
    old request to come back, as seen from NOW."""
    store.request_signup("old@example.org", SPAM, now=NOW - dt.timedelta(days=8))
    store.request_signup("fresh@example.org", "Fay", now=NOW - dt.timedelta(days=6))
    store.request_signup("renewed@example.org", now=NOW - dt.timedelta(days=20))
    store.request_signup("renewed@example.org", now=NOW - dt.timedelta(days=1))
    store.add("ana@example.org", "Ana", now=NOW - dt.timedelta(days=30))
    store.unsubscribe("ana@example.org", now=NOW - dt.timedelta(days=29))
    return store.request_signup("ana@example.org", SPAM, now=NOW - dt.timedelta(days=9))


def test_unconfirmed_signups_and_their_addresses_are_purged_after_the_configured_days(make_config, any_store):
    ana = _stale_and_fresh(any_store)
    purged = signup.purge_unconfirmed(make_config(), any_store, now=NOW)
    assert (purged.subscribers, purged.names) == (1, 1)
    left = {r.email: r.status for r in any_store.iter_subscribers()}
    assert left == {
        "fresh@example.org": "pending",
        "renewed@example.org": "pending",
        "ana@example.org": "unsubscribed",
    }
    assert _names_waiting(any_store) == ["Fay"]  # the opted-out person's old request keeps no name
    with pytest.raises(InvalidToken):  # and it can no longer bring them back
        any_store.confirm_signup(ana.subscriber_id, ana.request_event_id, since=NOW - dt.timedelta(days=7))
    assert any_store.get("ana@example.org").status == "unsubscribed"


def test_the_purge_follows_subscribers_pending_purge_days(make_config, any_store):
    _stale_and_fresh(any_store)
    config = make_config({"PAIN_NEWS_SUBSCRIBERS_PENDING_PURGE_DAYS": "2"})
    assert signup.purge_unconfirmed(config, any_store, now=NOW).subscribers == 2
    assert sorted(r.email for r in any_store.iter_subscribers()) == ["ana@example.org", "renewed@example.org"]


def test_a_confirmation_link_older_than_the_purge_days_confirms_nothing(make_config, any_store):
    from pain_news import links

    config = make_config()
    request = any_store.request_signup("nia@example.org", "Nia", now=NOW - dt.timedelta(days=8))
    token = links.confirm_url(config, request.subscriber_id, request.request_event_id).rsplit("/", 1)[1]
    with pytest.raises(InvalidToken, match="replaced or withdrawn"):
        signup.confirm_signup(config, any_store, token, now=NOW)
    assert any_store.get("nia@example.org").status == "pending"
    fresh = any_store.request_signup("nia@example.org", "Nia", now=NOW - dt.timedelta(days=6))
    token = links.confirm_url(config, fresh.subscriber_id, fresh.request_event_id).rsplit("/", 1)[1]
    assert signup.confirm_signup(config, any_store, token, now=NOW).subscriber.first_name == "Nia"


def test_pending_purge_days_must_be_at_least_one(make_config):
    with pytest.raises(ConfigError, match="subscribers.pending_purge_days must be 1 or more, got 0"):
        make_config({"PAIN_NEWS_SUBSCRIBERS_PENDING_PURGE_DAYS": "0"})
