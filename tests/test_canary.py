"""Canary sends and the circuit breaker: against the SendGrid stand-in, an SMTP sink and the signed
event webhook, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest

from pain_news import campaign
from pain_news.errors import CanaryRefused, ScheduleError, SendPaused
from pain_news.ledger import CampaignLedger
from tests import test_campaign, test_webhook
from tests.fixtures.core import REAL_NEWSLETTER, sign_off
from tests.test_campaign import add_people, ledger_counts, send
from tests.test_webhook import post_events

# The list-send fixtures of tests/test_campaign.py: every gate passes.
sg_config = test_campaign.sg_config
smtp_config = test_campaign.smtp_config

# serve on the same database as `any_store`, receiving SendGrid's signed event webhook.
signing_key = test_webhook.signing_key
any_hook = test_webhook.any_hook


@pytest.fixture
def hook(any_hook, signing_key):
    """hook(kind, addresses, campaign_id, **fields): post those events through the signed webhook."""

    def post(kind, addresses, campaign_id, **extra):
        events = [
            {
                "email": address,
                "event": kind,
                "sg_event_id": f"{kind}-{campaign_id}-{address}",
                "timestamp": 1_700_000_000,
                "campaign_id": str(campaign_id),
                **extra,
            }
            for address in addresses
        ]
        response = post_events(any_hook, signing_key, events)
        assert response.status_code == 200, response.text

    return post


def events_during(hook, nth, kind, how_many, **fields):
    """A stand-in hook: while the `nth` Mail Send request is answered, post `how_many` events of
    `kind` about the first request's readers through the signed webhook."""
    requests = []

    def on_request(body):
        requests.append(body)
        if len(requests) == nth:
            first = requests[0]["personalizations"]
            cid = int(first[0]["custom_args"]["campaign_id"])
            hook(kind, [p["to"][0]["email"] for p in first[:how_many]], cid, **fields)

    return on_request


def with_env(sg_config, **env):
    """sg_config with more settings (the canary's wait, its default size)."""
    from dataclasses import replace

    delivery = replace(sg_config.delivery, **env)
    return replace(sg_config, delivery=delivery)


def test_a_canary_sends_n_chosen_at_random_and_holds_the_rest(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    add_people(any_store, 30)
    report = send(sg_config, any_store, sample_issue, canary=10)
    sent = sendgrid_standin.recipients()
    assert len(sent) == 10 and sent != [f"p{i:03d}@example.org" for i in range(10)]  # not the first ten
    assert ledger_counts(any_store, report.campaign_id)["held"] == 20 and not report.finished
    text = "\n".join(report.lines())
    assert "Canary sent: 10 went out; 20 recipients wait." in text
    assert "Run the same command again from" in text and "bounces (limit 2.00%)" in text
    assert "spam complaints (limit 0.10%)" in text and "SendGrid's event webhook" in text


def test_the_canary_is_the_same_recipients_for_the_same_campaign(make_config, tmp_path):
    from pain_news.ledger import NewCampaign
    from pain_news.subscribers.store import open_store

    chosen = []
    for name in ("one", "two"):
        store = open_store(
            make_config({"PAIN_NEWS_DATABASE_URL": f"sqlite:///{tmp_path / name}.db"}), create=True
        )
        add_people(store, 50)
        ledger = CampaignLedger.for_store(store)
        new = NewCampaign(
            issue="x", subject="s", provider="sendgrid", html="h", text="t", seen_campaign_id=None
        )
        cid = ledger.create(new).campaign_id
        assert cid is not None
        assert ledger.hold_for_canary(cid, 7) == 43
        entries = [e.email for e, _ in ledger.unsent(cid)]
        chosen.append(entries)
        store.close()
    assert chosen[0] == chosen[1] and len(chosen[0]) == 7


def test_the_rest_waits_for_the_canary_then_goes_once_under_the_limits(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    add_people(any_store, 30)
    send(sg_config, any_store, sample_issue, canary=10)
    with pytest.raises(CanaryRefused, match=r"checked from .* \(120 minutes left\)"):
        send(sg_config, any_store, sample_issue)
    report = send(with_env(sg_config, canary_wait_minutes=0), any_store, sample_issue)
    assert report.finished and report.ledger["sent"] == 30
    delivered = Counter(sendgrid_standin.recipients())
    assert sorted(delivered) == [f"p{i:03d}@example.org" for i in range(30)] and set(delivered.values()) == {
        1
    }


def test_a_canary_over_the_bounce_limit_refuses_with_its_figures_until_ignore_canary(
    sg_config, any_store, sample_issue, sendgrid_standin, hook
):
    add_people(any_store, 40)
    first = send(sg_config, any_store, sample_issue, canary=20)
    canary_sent = sendgrid_standin.recipients()
    hook("bounce", canary_sent[:2], first.campaign_id, type="bounce", reason="550 no such user")
    hook("bounce", canary_sent[2:3], first.campaign_id, type="blocked", reason="spam block")
    config = with_env(sg_config, canary_wait_minutes=0)
    with pytest.raises(CanaryRefused) as refused:
        send(config, any_store, sample_issue)
    assert "bounces 3 of 20 sent = 15.00% (limit 2.00%)" in refused.value.message, refused.value.message
    assert "complaints 0 of 20 sent = 0.00% (limit 0.10%" in refused.value.message
    assert "--ignore-canary" in (refused.value.hint or "")
    assert len(sendgrid_standin.recipients()) == 20  # nothing more went out
    report = send(config, any_store, sample_issue, ignore_canary=True)
    assert report.finished and report.ledger["sent"] == 40
    assert Counter(sendgrid_standin.recipients()).most_common(1)[0][1] == 1


def test_the_circuit_breaker_pauses_a_paced_send_and_ignore_canary_resumes_it(
    sg_config, any_store, sample_issue, sendgrid_standin, hook
):
    add_people(any_store, 150)
    # During the third batch, spam reports for two of the first batch's readers.
    sendgrid_standin.on_request = events_during(hook, 3, "spamreport", 2)
    with pytest.raises(SendPaused) as paused:
        send(sg_config, any_store, sample_issue, rate=50, breaker_every=0)
    assert "complaints 2 of 100 sent = 2.00% (limit 0.10%; mailbox providers throttle above 0.30%)" in str(
        paused.value
    )
    assert "50 recipients were not sent" in str(paused.value)
    latest = CampaignLedger.for_store(any_store).latest("2026-12-winter")
    assert latest is not None
    cid = latest.id
    counts = ledger_counts(any_store, cid)
    assert (counts["sent"], counts["paused"], counts["pending"], counts["in_flight"]) == (100, 50, 0, 0)
    with pytest.raises(CanaryRefused, match="the circuit breaker paused this send"):
        send(sg_config, any_store, sample_issue)
    sendgrid_standin.on_request = None
    report = send(sg_config, any_store, sample_issue, rate=50, ignore_canary=True)
    assert report.finished and report.ledger["sent"] == 150
    delivered = Counter(sendgrid_standin.recipients())
    assert len(delivered) == 150 and set(delivered.values()) == {1}


def test_the_breaker_lets_a_send_under_the_limits_finish(
    sg_config, any_store, sample_issue, sendgrid_standin, hook
):
    add_people(any_store, 120)
    sendgrid_standin.on_request = events_during(hook, 2, "bounce", 1, type="bounce")  # 1 of 120: 0.83%
    report = send(sg_config, any_store, sample_issue, rate=200, breaker_every=0)
    assert report.finished and report.ledger["sent"] == 120


def test_a_first_send_to_a_large_list_gets_a_default_canary_and_smtp_says_what_it_can_measure(
    smtp_config, store, sample_issue, smtp_server
):
    from dataclasses import replace

    add_people(store, 8)
    config = replace(smtp_config, delivery=replace(smtp_config.delivery, first_send_canary=5))
    report = send(config, store, sample_issue)
    assert len(smtp_server.messages) == 5 and report.ledger["held"] == 3
    text = "\n".join(report.lines())
    assert "SMTP has no event feed: only bounce reports that come back by mail" in text


@pytest.mark.parametrize(
    "people, provider, options, held",
    [
        (5, "sendgrid", {}, 0),  # a list no larger than the canary is sent whole
        (8, "sendgrid", {"no_canary": True}, 0),
        (8, "outbox", {}, 0),  # the outbox mails nobody: never a default canary
        (8, "sendgrid", {}, 3),
        (8, "sendgrid", {"canary": 20}, 0),  # a canary as large as the list: one send
    ],
)
def test_the_default_canary_rule(sg_config, store, sample_issue, people, provider, options, held):
    add_people(store, people)
    config = with_env(sg_config, first_send_canary=5)
    report = send(config, store, sample_issue, provider=provider, **options)
    assert report.ledger["held"] == held


def test_an_import_larger_than_the_canary_since_the_last_send_brings_the_canary_back(
    sg_config, store, sample_issue, tmp_path
):
    from pain_news.subscribers.importer import import_file

    add_people(store, 3)
    config = with_env(sg_config, first_send_canary=5)
    ledger = CampaignLedger.for_store(store)
    send(config, store, sample_issue)
    assert campaign.canary.canary_size(config, ledger, campaign.SendOptions(), "sendgrid", 50) == 0
    csv = tmp_path / "old-patients.csv"
    csv.write_text(
        "email,first_name\n" + "".join(f"old{i}@example.org,Old\n" for i in range(6)), encoding="utf-8"
    )
    import_file(store, csv)
    assert campaign.canary.canary_size(config, ledger, campaign.SendOptions(), "sendgrid", 50) == 5


def test_a_canary_cannot_be_scheduled(sg_config, store, sample_issue):
    import datetime as dt

    add_people(store, 10)
    sign_off(sg_config, store, sample_issue)
    at = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    options = campaign.SendOptions(canary=3, at=at)
    with pytest.raises(ScheduleError, match="a canary cannot be scheduled"):
        campaign.prepare_send(sg_config, store, sample_issue, options)


def test_send_canary_on_the_command_line_stops_with_the_next_step(
    run_cli, store, sample_issue, sg_config, sendgrid_standin
):
    add_people(store, 12)
    env = {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
        "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
        "SENDGRID_API_KEY": sendgrid_standin.api_key,
    }
    first = run_cli("send", str(sample_issue), "--canary", "4", "--yes", env=env)
    assert "Canary:     4 of 12 recipients, chosen at random, go first (--canary)" in first.stdout
    assert "Canary sent: 4 went out; 8 recipients wait." in first.stdout
    again = run_cli("send", str(sample_issue), "--yes", env=env, ok=False)
    assert again.exit_code == 1 and "minutes left" in again.stderr
    wrong = run_cli("send", str(sample_issue), "--test", "--canary", "3", env=env, ok=False)
    assert wrong.exit_code == 2 and "--canary is for list sends" in wrong.stderr
    both = run_cli("send", str(sample_issue), "--canary", "3", "--no-canary", env=env, ok=False)
    assert both.exit_code == 2
    assert len(sendgrid_standin.recipients()) == 4


def test_an_smtp_canary_counts_the_addresses_the_server_refused_as_bounces(
    smtp_config, any_store, sample_issue, smtp_server
):
    from dataclasses import replace

    add_people(any_store, 20)
    for i in range(0, 20, 2):  # half the list no longer exists
        smtp_server.refuse[f"p{i:03d}@example.org"] = "550 5.1.1 No such user"
    config = replace(smtp_config, delivery=replace(smtp_config.delivery, canary_wait_minutes=0))
    first = send(config, any_store, sample_issue, canary=8)
    refused = first.ledger["failed"]
    assert first.ledger["sent"] + refused == 8 and refused > 0  # 8 of 20 at random: some refused
    with pytest.raises(CanaryRefused) as stopped:
        send(config, any_store, sample_issue)
    assert f"bounces {refused} of 8 sent = {refused / 8:.2%} (limit 2.00%)" in stopped.value.message
    assert "SMTP has no event feed" in stopped.value.message
    assert len(smtp_server.messages) == 8 - refused
