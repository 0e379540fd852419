"""Opt-outs and erasures before a scheduled send's time reach SendGrid's suppression (sendgrid/withdraw.py).

The evidence is the SendGrid stand-in: it records each suppression request with the time it
arrived, and drops at delivery what is suppressed for the group (or globally), as SendGrid does.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest
from sqlalchemy import select

from pain_news import campaign
from pain_news.campaign.report import campaign_report
from pain_news.db.models import Withdrawal
from pain_news.ledger import CampaignLedger
from pain_news.sendgrid.calls import RetryPolicy
from pain_news.sendgrid.withdraw import drain_withdrawals
from pain_news.subscribers.store import IncomingEvent
from tests.fixtures.core import REAL_NEWSLETTER, publish_archive, sign_off

GROUP = 7
QUICK = RetryPolicy(attempts=5, base=0.01, sleep=lambda seconds: None)


def sg_env(standin, db_url: str | None = None, group: int | None = GROUP):
    env = {
        "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
        "PAIN_NEWS_SENDGRID_HOST": standin.url,
        "SENDGRID_API_KEY": standin.api_key,
        "PAIN_NEWS_SENDGRID_TIMEOUT": "3",
        **REAL_NEWSLETTER,
    }
    if group:
        env["PAIN_NEWS_SENDGRID_ASM_GROUP_ID"] = str(group)
    if db_url:
        env["PAIN_NEWS_DATABASE_URL"] = db_url
    return env


def db_url(store) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def schedule(config, store, issue, hours=2.0):
    """A scheduled list send of the issue, `hours` ahead; returns its send_at."""
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(microsecond=0)
    options = campaign.SendOptions(batch_size=10, threads=1, backoff_base=0.01, at=at)
    sign_off(config, store, issue)  # the list send's sign-off gate (tests/test_signoff.py)
    campaign.run_send(config, store, campaign.prepare_send(config, store, issue, options))
    return at


def latest(store):
    found = CampaignLedger.for_store(store).latest("2026-12-winter")
    assert found is not None
    return found


def queued(store):
    with store.session() as s:
        return [(w.action, w.email, w.late_at is not None) for w in s.scalars(select(Withdrawal))]


@pytest.fixture
def scheduled(any_store, make_config, sendgrid_standin, sample_issue):
    """Four subscribers with a scheduled send of the sample issue two hours ahead, group 7."""
    config = make_config(sg_env(sendgrid_standin, db_url(any_store)))
    publish_archive(config)
    for name in ("ana", "ben", "cy", "dee"):
        any_store.add(f"{name}@example.org", name.title())
    at = schedule(config, any_store, sample_issue)
    return config, any_store, at


def test_every_opt_out_path_and_an_erasure_is_suppressed_at_sendgrid_before_send_at(
    scheduled, sendgrid_standin
):
    config, store, at = scheduled
    store.unsubscribe("ana@example.org", "one-click")  # the web's one-click and page
    store.opt_out_address("ben@example.org", "complained", "webhook")  # a webhook event
    store.delete("cy@example.org")  # `subscribers delete`: an erasure
    assert sendgrid_standin.suppression_calls == []  # queued, not yet sent
    drained = drain_withdrawals(config, store, policy=QUICK)
    assert (drained.withdrawn, drained.late, drained.failing) == (3, 0, 0)
    [(arrived, method, path, body)] = sendgrid_standin.suppression_calls
    assert (method, path) == ("POST", f"/v3/asm/groups/{GROUP}/suppressions")
    assert body == {"recipient_emails": ["ana@example.org", "ben@example.org", "cy@example.org"]}
    assert arrived < at.timestamp()  # before send_at: SendGrid drops them at delivery
    assert sorted(sendgrid_standin.delivered()) == ["dee@example.org"]
    counts = CampaignLedger.for_store(store).counts(latest(store).id)
    assert (counts["withdrawn"], counts["sent"]) == (3, 1)
    assert queued(store) == []  # done: the erased address is no longer kept here


def test_report_shows_withdrawn_before_delivery_in_table_and_json(
    scheduled, sendgrid_standin, run_cli, sample_issue
):
    config, store, _ = scheduled
    store.unsubscribe("dee@example.org")
    env = sg_env(sendgrid_standin, db_url(store))
    table = run_cli("report", str(sample_issue), env=env)  # report drains first
    assert "  withdrawn before delivery: 1" in table.stdout.splitlines()
    data = json.loads(run_cli("report", str(sample_issue), "--format", "json", env=env).stdout)
    assert data["withdrawn"] == 1 and data["ledger"]["withdrawn"] == 1
    assert data["withdrawals"] == {"waiting": 0, "late": 0, "last_error": ""}


def test_subscribers_unsubscribe_passes_the_opt_out_on_before_the_command_ends(
    scheduled, sendgrid_standin, run_cli
):
    _, store, at = scheduled
    run_cli("subscribers", "unsubscribe", "ben@example.org", env=sg_env(sendgrid_standin, db_url(store)))
    [(arrived, method, path, body)] = sendgrid_standin.suppression_calls
    assert (method, body) == ("POST", {"recipient_emails": ["ben@example.org"]}) and arrived < at.timestamp()


def test_check_build_and_help_never_call_sendgrid(
    scheduled, sendgrid_standin, run_cli, sample_issue, tmp_path
):
    _, store, _ = scheduled
    store.unsubscribe("ben@example.org")
    env = sg_env(sendgrid_standin, db_url(store))
    run_cli("check", str(sample_issue), env=env, ok=False)
    run_cli("build", str(sample_issue), "--out", str(tmp_path / "out"), env=env)
    run_cli("subscribers", "unsubscribe", "--help", env=env)
    run_cli("send", "--help", env=env)
    assert sendgrid_standin.suppression_calls == []
    assert [a for a, _, _ in queued(store)] == ["withdraw"]


def test_a_send_without_a_group_uses_the_global_list_and_a_confirmed_return_lifts_it(
    any_store, make_config, sendgrid_standin, sample_issue
):
    config = make_config(sg_env(sendgrid_standin, db_url(any_store), group=None))
    publish_archive(config)
    any_store.add("ana@example.org")
    schedule(config, any_store, sample_issue)
    any_store.unsubscribe("ana@example.org")
    drain_withdrawals(config, any_store, policy=QUICK)
    assert sendgrid_standin.global_suppressions == ["ana@example.org"]
    any_store.resubscribe("ana@example.org", "asked at the front desk")
    drain_withdrawals(config, any_store, policy=QUICK)
    calls = [(m, p) for _, m, p, _ in sendgrid_standin.suppression_calls]
    assert calls == [
        ("POST", "/v3/asm/suppressions/global"),
        ("DELETE", "/v3/asm/suppressions/global/ana@example.org"),
    ]
    assert sendgrid_standin.global_suppressions == [] and queued(any_store) == []


def test_a_confirmed_resubscription_is_removed_from_the_group(any_store, make_config, sendgrid_standin):
    config = make_config(sg_env(sendgrid_standin, db_url(any_store)))
    any_store.add("ana@example.org")
    any_store.unsubscribe("ana@example.org")
    sendgrid_standin.suppress(f"group:{GROUP}", "ana@example.org")  # SendGrid's own copy of the opt-out
    request = any_store.request_signup("ana@example.org")
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    drain_withdrawals(config, any_store, policy=QUICK)
    [(_, method, path, _)] = sendgrid_standin.suppression_calls
    assert (method, path) == ("DELETE", f"/v3/asm/groups/{GROUP}/suppressions/ana@example.org")
    assert sendgrid_standin.group_suppressions[GROUP] == []  # later issues reach her again


def test_sendgrid_down_keeps_the_row_and_report_says_it_is_waiting_then_it_goes_through(
    scheduled, sendgrid_standin
):
    config, store, _ = scheduled
    store.unsubscribe("ana@example.org")
    sendgrid_standin.script_api(*["503"] * 5)  # the whole retry policy fails
    drained = drain_withdrawals(config, store, policy=QUICK)
    assert drained.failing == 1 and "503" in drained.errors[0]
    assert len(sendgrid_standin.suppression_calls) == 5  # retried like any provider call
    report = campaign_report(store, latest(store))
    assert any(line.startswith("Waiting: 1 opt-outs are not yet suppressed") for line in report.lines())
    drained = drain_withdrawals(config, store, policy=QUICK)  # SendGrid is back
    assert drained.withdrawn == 1
    assert CampaignLedger.for_store(store).counts(latest(store).id)["withdrawn"] == 1


def test_a_short_outage_is_ridden_out_within_one_drain(scheduled, sendgrid_standin):
    config, store, _ = scheduled
    store.unsubscribe("ana@example.org")
    sendgrid_standin.script_api("500", ("429", {"Retry-After": "0"}), "drop")
    waits: list[float] = []
    drained = drain_withdrawals(config, store, policy=RetryPolicy(attempts=5, base=0.01, sleep=waits.append))
    assert drained.withdrawn == 1 and len(waits) == 3


def test_a_suppression_not_made_before_send_at_is_reported_loudly_and_keeps_no_address(
    scheduled, sendgrid_standin
):
    config, store, at = scheduled
    store.delete("ana@example.org")
    after = at + dt.timedelta(minutes=1)
    drained = drain_withdrawals(config, store, now=after, policy=QUICK)
    assert drained.late == 1 and sendgrid_standin.suppression_calls == []
    assert any("too late" in line for line in drained.warnings())
    assert queued(store) == [("withdraw", "", True)]  # the fact kept, the erased address not
    report = campaign_report(store, latest(store), now=after)
    [warning] = [line for line in report.lines() if line.startswith("WARNING")]
    assert "1 opted out or were erased before the scheduled time" in warning
    assert report.as_dict()["withdrawals"]["late"] == 1


def test_a_cancelled_send_needs_no_withdrawal(scheduled, sendgrid_standin):
    from pain_news.campaign.schedule import cancel_send

    config, store, _ = scheduled
    store.unsubscribe("ana@example.org")
    cancel_send(config, store, "2026-12-winter", dt.datetime.now(dt.UTC))
    drain_withdrawals(config, store, policy=QUICK)
    assert sendgrid_standin.suppression_calls == [] and queued(store) == []


def test_a_webhook_batch_of_opt_outs_is_queued_in_its_own_transaction(scheduled, sendgrid_standin):
    config, store, _ = scheduled
    now = dt.datetime.now(dt.UTC)
    events = [
        IncomingEvent(f"ev{i}", "unsubscribe", now, None, f"{n}@example.org", "unsubscribed")
        for i, n in enumerate(("ana", "ben"))
    ]
    store.apply_delivery_events(events)
    assert sorted(e for _, e, _ in queued(store)) == ["ana@example.org", "ben@example.org"]


def test_serve_drains_in_the_background(scheduled, sendgrid_standin):
    from pain_news.web.queues import WithdrawalWorker

    config, store, at = scheduled
    worker = WithdrawalWorker(config, store, interval=0.05)
    worker.start()
    try:
        store.unsubscribe("cy@example.org", "link")
        deadline = time.monotonic() + 10
        while not sendgrid_standin.suppression_calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.close()
    [(arrived, method, _, body)] = sendgrid_standin.suppression_calls
    assert body == {"recipient_emails": ["cy@example.org"]} and arrived < at.timestamp()


def test_the_standin_takes_and_refuses_suppressions_as_sendgrid_documents(sendgrid_standin):
    headers = {"Authorization": f"Bearer {sendgrid_standin.api_key}"}
    url = f"{sendgrid_standin.url}/v3/asm/groups/3/suppressions"
    assert httpx.post(url, json={"recipient_emails": ["a@example.org"]}, headers=headers).status_code == 201
    assert httpx.post(url, json={"recipient_emails": "a@example.org"}, headers=headers).status_code == 400
    assert httpx.post(url, json={"recipient_emails": ["a@example.org"]}).status_code == 401
    assert httpx.delete(f"{url}/a%40example.org", headers=headers).status_code == 204
    assert sendgrid_standin.group_suppressions[3] == []
