"""Signup requests in the store and the domain function, on SQLite and PostgreSQL."""

import datetime as dt

import pytest

from pain_news.errors import StoreError
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
