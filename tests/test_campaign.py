"""List sends: the per-recipient ledger, resume, faults, opt-outs, and the send command."""

from __future__ import annotations

import email
import gc
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from email import policy

import pytest

from pain_news import campaign, delivery
from pain_news.errors import CheckFailed, DeliveryError
from pain_news.ledger import CampaignLedger
from pain_news.links import read_token
from tests.fixtures.core import REAL_NEWSLETTER, SECRET, publish_archive, sign_off

TOM = '<b>Tom & "Jerry"</b>'


def add_people(store, n, start=0):
    return [store.add(f"p{i:03d}@example.org", f"Name{i}", "Test").id for i in range(start, start + n)]


@pytest.fixture
def sg_config(make_config, sendgrid_standin, store, sample_issue):
    """SendGrid (the stand-in) with real-looking settings, the issue published and signed off (in the
    project's own database, which `pain-news send` in a subprocess opens): every gate passes."""
    config = make_config(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
            "PAIN_NEWS_SENDGRID_TIMEOUT": "3",
        }
    )
    publish_archive(config)
    sign_off(config, store, sample_issue)
    return config


@pytest.fixture
def smtp_config(make_config, smtp_server):
    """A loopback SMTP server with real-looking settings and the issue published: every gate passes."""
    config = make_config(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
    )
    publish_archive(config)
    return config


def send(config, store, issue, **options):
    sign_off(config, store, issue)
    opts = campaign.SendOptions(**{"batch_size": 10, "threads": 1, "backoff_base": 0.01, **options})
    return campaign.run_send(config, store, campaign.prepare_send(config, store, issue, opts))


def latest_campaign(store, issue):
    return CampaignLedger.for_store(store).latest(issue)


def ledger_counts(store, campaign_id):
    return CampaignLedger.for_store(store).counts(campaign_id)


def ledger_of(store, campaign_id):
    from sqlalchemy import select

    from pain_news.db.models import LedgerEntry

    with store.reader.connect() as conn:
        return {
            e: (s, r)
            for e, s, r in conn.execute(
                select(LedgerEntry.email, LedgerEntry.state, LedgerEntry.reason).where(
                    LedgerEntry.campaign_id == campaign_id
                )
            )
        }


def test_every_active_subscriber_is_mailed_exactly_once_in_ledger_order(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    add_people(any_store, 35)
    report = send(sg_config, any_store, sample_issue, threads=3)
    assert sorted(sendgrid_standin.recipients()) == [f"p{i:03d}@example.org" for i in range(35)]
    assert report.ledger["sent"] == 35 and report.finished
    assert len(sendgrid_standin.accepted) == 4  # batches of 10
    for body in sendgrid_standin.accepted:  # threads interleave batches; inside one, ledger order
        emails = [p["to"][0]["email"] for p in body["personalizations"]]
        assert emails == sorted(emails)
    with pytest.raises(DeliveryError, match="is finished"):
        send(sg_config, any_store, sample_issue)
    assert len(sendgrid_standin.recipients()) == 35


def test_opted_out_bounced_and_complained_are_never_mailed(sg_config, store, sample_issue, sendgrid_standin):
    ids = add_people(store, 6)
    store.unsubscribe(ids[0], "link")
    store.opt_out(ids[1], "bounced", "webhook")
    store.opt_out(ids[2], "complained", "webhook")
    report = send(sg_config, store, sample_issue)
    assert sorted(sendgrid_standin.recipients()) == [
        "p003@example.org",
        "p004@example.org",
        "p005@example.org",
    ]
    ledger = ledger_of(store, report.campaign_id)
    assert ledger["p001@example.org"] == ("skipped", "bounced at the start of the send")


def test_sendgrid_suppressions_are_synced_before_the_send(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 3)
    sendgrid_standin.suppress("bounces", "p001@example.org", reason="550 no such user")
    send(sg_config, store, sample_issue)
    assert sorted(sendgrid_standin.recipients()) == ["p000@example.org", "p002@example.org"]


def test_someone_who_unsubscribes_during_the_send_is_not_mailed_after(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    ids = add_people(any_store, 30)
    sendgrid_standin.on_request = lambda body: any_store.unsubscribe(ids[25], "one-click")
    report = send(sg_config, any_store, sample_issue)
    assert "p025@example.org" not in sendgrid_standin.recipients()
    assert len(sendgrid_standin.recipients()) == 29
    assert ledger_of(any_store, report.campaign_id)["p025@example.org"] == (
        "skipped",
        "unsubscribed before its batch",
    )


def test_429_waits_as_the_headers_say_then_delivers_once(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 5)
    sendgrid_standin.script(("429", {"Retry-After": "0.5"}))
    started = time.monotonic()
    report = send(sg_config, store, sample_issue)
    assert time.monotonic() - started >= 0.5
    assert sorted(sendgrid_standin.recipients()) == [f"p{i:03d}@example.org" for i in range(5)]
    assert report.ledger["sent"] == 5


def test_5xx_is_retried_with_backoff_and_gives_up_resumably(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 5)
    sendgrid_standin.script("500", "503")
    assert send(sg_config, store, sample_issue).ledger["sent"] == 5
    assert sendgrid_standin.requests == 3

    store.add("late@example.org")
    sendgrid_standin.script(*["500"] * 3)
    with pytest.raises(DeliveryError, match="gave up after 3 attempts: SendGrid answered 500"):
        send(sg_config, store, sample_issue, new_campaign=True, max_attempts=3)
    newest = latest_campaign(store, sample_issue.name)
    assert newest is not None
    assert ledger_counts(store, newest.id)["pending"] == 6
    assert send(sg_config, store, sample_issue).ledger["sent"] == 6  # resumed


@pytest.mark.parametrize("answer", ["401", "403"])
def test_a_wrong_api_key_stops_before_anything_is_marked_sent(
    sg_config, store, sample_issue, sendgrid_standin, answer
):
    add_people(store, 25)
    sendgrid_standin.script(answer)
    with pytest.raises(DeliveryError, match="the API key is wrong"):
        send(sg_config, store, sample_issue)
    newest = latest_campaign(store, sample_issue.name)
    assert newest is not None
    assert ledger_counts(store, newest.id)["pending"] == 25
    assert sendgrid_standin.accepted == []


def test_a_400_stops_and_shows_sendgrid_s_messages(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 3)
    sendgrid_standin.script("400")
    with pytest.raises(DeliveryError, match=r"SendGrid refused the request \(400\): Scripted bad request"):
        send(sg_config, store, sample_issue)


def test_a_400_naming_one_recipient_fails_that_one_and_sends_the_rest(
    sg_config, store, sample_issue, sendgrid_standin
):
    add_people(store, 2)
    store.add("josé@example.org", "Jose", "X")  # the store accepts it; SendGrid does not
    add_people(store, 2, start=10)
    report = send(sg_config, store, sample_issue)
    assert report.ledger["sent"] == 4 and report.ledger["failed"] == 1 and report.finished
    assert ledger_of(store, report.campaign_id)["josé@example.org"] == (
        "failed",
        "SendGrid: Does not contain a valid address.",
    )
    assert sorted(sendgrid_standin.recipients()) == [
        "p000@example.org",
        "p001@example.org",
        "p010@example.org",
        "p011@example.org",
    ]


def test_a_dropped_connection_marks_the_batch_uncertain_and_it_is_not_resent(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    add_people(any_store, 25)
    sendgrid_standin.script("drop")
    report = send(sg_config, any_store, sample_issue)
    assert report.ledger["uncertain"] == 10 and report.ledger["sent"] == 15 and report.finished
    assert len(sendgrid_standin.recipients()) == 15
    with pytest.raises(DeliveryError, match="is finished"):
        send(sg_config, any_store, sample_issue)
    report = send(sg_config, any_store, sample_issue, resend_uncertain=True)
    assert report.ledger["sent"] == 25
    assert Counter(sendgrid_standin.recipients()) == Counter({f"p{i:03d}@example.org": 1 for i in range(25)})


def test_smtp_list_send_personalises_and_a_550_fails_one_recipient(
    smtp_config, any_store, sample_issue, smtp_server
):
    ids = add_people(any_store, 4)
    smtp_server.refuse["p002@example.org"] = "550 5.1.1 No such user"
    report = send(smtp_config, any_store, sample_issue)
    assert report.ledger["sent"] == 3 and report.ledger["failed"] == 1
    assert ledger_of(any_store, report.campaign_id)["p002@example.org"] == (
        "failed",
        "550 5.1.1 No such user",
    )
    msg = next(m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "p001@example.org")
    header_url = msg["List-Unsubscribe"].strip("<>")
    assert read_token(SECRET, header_url.rsplit("/", 1)[1]) == (ids[1], report.campaign_id)
    assert (
        header_url in msg.get_body(("html",)).get_content()
        and header_url in msg.get_body(("plain",)).get_content()
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and msg["List-Id"]
    assert "Name1" in msg.get_body(("plain",)).get_content()

    del smtp_server.refuse["p002@example.org"]
    report = send(smtp_config, any_store, sample_issue, retry_failed=True)
    assert report.ledger["sent"] == 4
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages) == [
        f"p{i:03d}@example.org" for i in range(4)
    ]


def test_a_451_during_a_list_send_is_retried(smtp_config, store, sample_issue, smtp_server):
    add_people(store, 3)
    smtp_server.defer_once.add("p001@example.org")
    assert send(smtp_config, store, sample_issue).ledger["sent"] == 3
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages) == [
        f"p{i:03d}@example.org" for i in range(3)
    ]


def test_an_smtp_send_stopped_mid_batch_keeps_who_was_accepted_and_resumes_without_doubles(
    make_config, store, sample_issue
):
    from tests.fixtures.smtp import RecordingHandler, SmtpServer

    server = SmtpServer(RecordingHandler(), username="news", password="s3cret", max_logins=1).start()
    try:
        server.handler.messages_per_connection = 1  # 421 after each message; the re-login is refused
        cfg = make_config(
            {
                **REAL_NEWSLETTER,
                "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
                "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
                "PAIN_NEWS_SMTP_PORT": str(server.port),
                "PAIN_NEWS_SMTP_SECURITY": "none",
                "PAIN_NEWS_SMTP_USERNAME": "news",
                "PAIN_NEWS_SMTP_PASSWORD": "s3cret",
            }
        )
        publish_archive(cfg)
        add_people(store, 3)
        with pytest.raises(DeliveryError, match="refused the login"):
            send(cfg, store, sample_issue)
        newest = latest_campaign(store, sample_issue.name)
        assert newest is not None
        ledger = ledger_of(store, newest.id)
        assert ledger["p000@example.org"][0] == "sent"
        assert ledger["p001@example.org"][0] == ledger["p002@example.org"][0] == "pending"
        server.handler.messages_per_connection = 0
        server.logins = -100  # the login works again
        assert send(cfg, store, sample_issue).ledger["sent"] == 3
        assert Counter(m["To"].addresses[0].addr_spec for m in server.messages) == Counter(
            {f"p{i:03d}@example.org": 1 for i in range(3)}
        )
    finally:
        server.stop()


def test_a_non_ascii_address_fails_alone_and_the_smtp_send_goes_on(make_config, store, sample_issue):
    from tests.fixtures.smtp import RecordingHandler, SmtpServer

    server = SmtpServer(RecordingHandler(), enable_SMTPUTF8=False).start()
    try:
        cfg = make_config(
            {
                **REAL_NEWSLETTER,
                "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
                "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
                "PAIN_NEWS_SMTP_PORT": str(server.port),
                "PAIN_NEWS_SMTP_SECURITY": "none",
            }
        )
        publish_archive(cfg)
        add_people(store, 2)
        store.add("josé@example.org", "Jose", "X")
        report = send(cfg, store, sample_issue)
        assert report.ledger["sent"] == 2 and report.ledger["failed"] == 1 and report.finished
        state, reason = ledger_of(store, report.campaign_id)["josé@example.org"]
        assert state == "failed" and "lacks SMTPUTF8" in reason
    finally:
        server.stop()


def test_a_refused_sender_stops_the_smtp_send_resumably(smtp_config, store, sample_issue, smtp_server):
    add_people(store, 3)
    smtp_server.handler.refuse_sender = "553 5.7.1 Sender address rejected"
    with pytest.raises(DeliveryError, match="refused the sender"):
        send(smtp_config, store, sample_issue)
    newest = latest_campaign(store, sample_issue.name)
    assert newest is not None
    assert ledger_counts(store, newest.id)["pending"] == 3
    smtp_server.handler.refuse_sender = ""
    assert send(smtp_config, store, sample_issue).ledger["sent"] == 3


class _NotesFrozenHeap:
    """The outbox provider, noting how many objects the collector skips while it delivers."""

    def __init__(self, provider, seen, fail=False):
        self.provider, self.seen, self.fail = provider, seen, fail
        self.name, self.max_batch = provider.name, provider.max_batch

    def deliver(self, message, recipients):
        self.seen.append(gc.get_freeze_count())
        if self.fail:
            raise DeliveryError("the provider refused")
        return self.provider.deliver(message, recipients)

    def close(self):
        self.provider.close()


@pytest.mark.parametrize("fail", [False, True])
def test_a_send_runs_with_what_existed_before_it_frozen_and_unfreezes_after(
    config, store, sample_issue, fail
):
    # Frozen, the collector skips the modules and the built issue while the send churns through
    # small objects (runner.py); unfrozen after, even on failure, so nothing is kept for good.
    add_people(store, 3)
    before, seen = gc.get_freeze_count(), list[int]()
    prepared = campaign.prepare_send(
        config, store, sample_issue, campaign.SendOptions(batch_size=10, threads=1)
    )
    factory = lambda: _NotesFrozenHeap(delivery.get_provider(config, "outbox"), seen, fail)  # noqa: E731
    if fail:
        with pytest.raises(DeliveryError, match="the provider refused"):
            campaign.run_send(config, store, prepared, provider_factory=factory)
    else:
        assert campaign.run_send(config, store, prepared, provider_factory=factory).run["sent"] == 3
    assert seen and all(count > before + 10_000 for count in seen)
    assert gc.get_freeze_count() == before


def test_two_sends_prepared_at_once_create_one_campaign_and_mail_everyone_once(
    config, any_store, sample_issue, project
):
    add_people(any_store, 3)
    opts = campaign.SendOptions(batch_size=10, threads=1)
    first = campaign.prepare_send(config, any_store, sample_issue, opts)
    second = campaign.prepare_send(
        config, any_store, sample_issue, opts
    )  # another terminal, also at the prompt
    done = campaign.run_send(config, any_store, first)
    with pytest.raises(
        DeliveryError, match=f"another send of 2026-12-winter started campaign {done.campaign_id} meanwhile"
    ):
        campaign.run_send(config, any_store, second)
    newest = latest_campaign(any_store, sample_issue.name)
    assert newest is not None and newest.id == done.campaign_id
    assert len(list((project / "outbox").rglob("*.eml"))) == 3


def test_a_second_send_of_a_campaign_still_running_is_refused(
    sg_config, any_store, sample_issue, sendgrid_standin
):
    add_people(any_store, 5)
    sendgrid_standin.script("401")
    with pytest.raises(DeliveryError):
        send(sg_config, any_store, sample_issue)  # a campaign with everyone pending
    opts = campaign.SendOptions(batch_size=10, threads=1, resend_uncertain=True)
    running = campaign.prepare_send(sg_config, any_store, sample_issue, opts)
    late = campaign.prepare_send(
        sg_config, any_store, sample_issue, opts
    )  # prepared before the first run starts
    sendgrid_standin.script("hold")
    thread = threading.Thread(target=campaign.run_send, args=(sg_config, any_store, running))
    thread.start()
    try:
        sendgrid_standin.wait_for_requests(2)
        assert running.campaign_id is not None
        busy = f"campaign {running.campaign_id} is being sent by another process"
        with pytest.raises(DeliveryError, match=busy):
            campaign.prepare_send(sg_config, any_store, sample_issue, opts)
        with pytest.raises(DeliveryError, match=busy):
            campaign.run_send(sg_config, any_store, late)
        assert ledger_counts(any_store, running.campaign_id)["in_flight"] == 5
    finally:
        sendgrid_standin.release()
        thread.join()
    assert Counter(sendgrid_standin.recipients()) == Counter({f"p{i:03d}@example.org": 1 for i in range(5)})


def test_the_plan_counts_rows_left_in_flight_when_they_will_be_resent(config, store, sample_issue):
    from sqlalchemy import update

    from pain_news.db.models import LedgerEntry

    add_people(store, 4)
    send(config, store, sample_issue, dry_run=False)
    newest = latest_campaign(store, sample_issue.name)
    assert newest is not None
    with store.session() as s:  # as a killed run leaves them
        s.execute(
            update(LedgerEntry)
            .where(
                LedgerEntry.campaign_id == newest.id,
                LedgerEntry.email.in_(["p000@example.org", "p001@example.org"]),
            )
            .values(state="in_flight")
        )
    plan = campaign.prepare_send(
        config, store, sample_issue, campaign.SendOptions(resend_uncertain=True)
    ).plan
    assert plan.to_send == 2


def test_a_name_with_markup_is_escaped_in_html_and_verbatim_in_text(config, store, sample_issue, project):
    store.add("tom@example.org", TOM, "")
    report = send(config, store, sample_issue)
    msg = email.message_from_bytes(
        (project / "outbox" / f"campaign-{report.campaign_id}" / "tom@example.org.eml").read_bytes(),
        policy=policy.default,
    )
    html, plain = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html is not None and plain is not None
    assert "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;" in html.get_content()
    assert TOM not in html.get_content()
    assert TOM in plain.get_content()


def test_new_campaign_sends_a_finished_issue_again(config, store, sample_issue):
    add_people(store, 2)
    first = send(config, store, sample_issue)
    second = send(config, store, sample_issue, new_campaign=True)
    assert second.campaign_id != first.campaign_id and second.ledger["sent"] == 2


def test_the_frozen_copy_is_what_a_resumed_send_delivers(
    config, store, sample_issue, sendgrid_standin, sg_config
):
    add_people(store, 15)
    sendgrid_standin.script("202", "401")
    with pytest.raises(DeliveryError):
        send(sg_config, store, sample_issue)
    toml = sample_issue / "issue.toml"
    toml.write_text(toml.read_text().replace('subject = "', 'subject = "CHANGED '), encoding="utf-8")
    publish_archive(sg_config)  # the published gate checks the new build; the resume sends the frozen copy
    send(sg_config, store, sample_issue)
    assert {b["subject"] for b in sendgrid_standin.accepted} == {sendgrid_standin.accepted[0]["subject"]}
    assert "CHANGED" not in sendgrid_standin.accepted[0]["subject"]


def test_dry_run_personalises_everything_and_writes_nothing(config, store, sample_issue, project):
    add_people(store, 3)
    report = send(config, store, sample_issue, dry_run=True)
    assert report.lines() == ["dry run: 3 messages personalised; 0 emails left this machine"]
    assert not (project / "outbox").exists()
    assert latest_campaign(store, sample_issue.name) is None


def test_rate_caps_the_pace(config, store, sample_issue):
    add_people(store, 6)
    started = time.monotonic()
    send(config, store, sample_issue, rate=4.0)  # batches of 4, one second apart
    assert time.monotonic() - started >= 1.0


def test_send_refuses_an_issue_with_check_errors(config, store, make_issue):
    issue = make_issue(
        files={
            "01-article.md": "---\nkind: article\ntitle: Walk\n---\n\n![](walk.png)\n",
            "walk.png": b"\x89PNG",
        }
    )
    add_people(store, 1)
    with pytest.raises(CheckFailed):
        send(config, store, issue)
    assert latest_campaign(store, issue.name) is None


# ---- the command ---------------------------------------------------------------------------


def test_send_without_a_terminal_needs_yes_and_records_nothing(run_cli, store, sample_issue):
    add_people(store, 2)
    result = run_cli("send", str(sample_issue), ok=False)
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert latest_campaign(store, sample_issue.name) is None


def test_send_yes_prints_plan_and_summary_then_report_answers_who_got_it(
    run_cli, store, sample_issue, project
):
    ids = add_people(store, 3)
    store.unsubscribe(ids[2], "link")
    result = run_cli("send", str(sample_issue), "--yes")
    assert "Recipients: 2 to send now" in result.stdout
    assert "1 opted out" in result.stdout
    assert "Ledger: sent 2, skipped 1 — finished" in result.stdout
    data = json.loads(run_cli("report", str(sample_issue), "--format", "json", "--recipients").stdout)
    assert data["ledger"]["sent"] == 2 and data["finished"]
    states = {r["email"]: r["state"] for r in data["recipients"]}
    assert states == {"p000@example.org": "sent", "p001@example.org": "sent", "p002@example.org": "skipped"}
    table = run_cli("report", "--campaign", str(data["campaign"]["id"])).stdout
    assert "sent" in table and "finished" in table
    assert "2026-12-winter" in run_cli("campaigns").stdout


def test_send_test_prefixes_the_subject_uses_sample_values_and_records_nothing(
    run_cli, store, sample_issue, project
):
    result = run_cli("send", str(sample_issue), "--test", "--to", "editor@example.org")
    assert "Test sent to editor@example.org" in result.stdout
    [path] = (project / "outbox" / "test").iterdir()
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"].startswith("[TEST] ")
    plain = msg.get_body(("plain",))
    assert plain is not None and "Maria" in plain.get_content()  # [sample] first_name
    assert latest_campaign(store, sample_issue.name) is None


def _suppress(store, address):
    from pain_news.db.models import utcnow

    with store.session() as s:
        store.suppress(s, address, "test", utcnow())


def test_send_test_never_mails_an_opted_out_or_suppressed_address(run_cli, store, sample_issue, project):
    store.unsubscribe(store.add("gone@example.org").id, "link")
    store.opt_out(store.add("bounced@example.org").id, "bounced", "webhook")
    _suppress(store, "hashed@example.org")
    result = run_cli(
        "send",
        str(sample_issue),
        "--test",
        "--to",
        "gone@example.org",
        "--to",
        "bounced@example.org",
        "--to",
        "hashed@example.org",
        "--to",
        "editor@example.org",
    )
    assert "Test sent to editor@example.org via outbox." in result.stdout
    assert "Skipped gone@example.org: unsubscribed" in result.stderr
    assert "Skipped bounced@example.org: bounced" in result.stderr
    assert "Skipped hashed@example.org: suppressed" in result.stderr
    assert [p.name.endswith("-editor@example.org.eml") for p in (project / "outbox" / "test").iterdir()] == [
        True
    ]

    result = run_cli("send", str(sample_issue), "--test", "--to", "gone@example.org", ok=False)
    assert result.exit_code == 1
    assert "no test recipient left: gone@example.org is unsubscribed" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(list((project / "outbox" / "test").iterdir())) == 1


def test_send_test_dry_run_sends_nothing(run_cli, store, sample_issue, project):
    result = run_cli("send", str(sample_issue), "--test", "--dry-run", "--to", "editor@example.org")
    assert (
        "dry run: test built for editor@example.org via outbox; 0 emails left this machine." in result.stdout
    )
    assert not (project / "outbox").exists()


def test_dry_run_skips_suppressed_addresses_like_a_real_send(config, store, sample_issue, project):
    add_people(store, 3)
    _suppress(store, "p001@example.org")
    dry = send(config, store, sample_issue, dry_run=True)
    assert dry.lines() == [
        "dry run: 2 messages personalised, 1 suppressed addresses would be skipped; 0 emails left this machine"
    ]
    assert send(config, store, sample_issue).ledger["sent"] == 2


@pytest.mark.parametrize("missing", ["PAIN_NEWS_SECRET_KEY", "PAIN_NEWS_NEWSLETTER_PUBLIC_URL"])
def test_send_without_secret_key_or_public_url_refuses_before_any_campaign(
    run_cli, store, sample_issue, monkeypatch, missing
):
    add_people(store, 2)
    monkeypatch.delenv(missing, raising=False)
    env = {"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""} if missing == "PAIN_NEWS_NEWSLETTER_PUBLIC_URL" else None
    result = run_cli("send", str(sample_issue), "--yes", ok=False, env=env)
    assert result.exit_code == 1
    assert "Recipients:" not in result.stdout
    assert ("PAIN_NEWS_SECRET_KEY" if missing == "PAIN_NEWS_SECRET_KEY" else "public_url") in result.stderr
    assert latest_campaign(store, sample_issue.name) is None


def test_send_refusing_on_check_errors_says_how_to_fix_them(run_cli, store, make_issue):
    issue = make_issue(
        files={
            "01-article.md": "---\nkind: article\ntitle: Walk\n---\n\n![](walk.png)\n",
            "walk.png": b"\x89PNG",
        }
    )
    result = run_cli("send", str(issue), "--yes", ok=False)
    assert result.exit_code == 1
    assert f"run pain-news check {issue} and fix the errors" in result.stderr
    assert "--force" not in result.stderr


def test_report_of_an_unknown_campaign_is_one_clear_line(run_cli, store):
    result = run_cli("report", "--campaign", "99", ok=False)
    assert result.exit_code == 1
    assert "Error: no campaign 99" in result.stderr


# ---- crash and resume: a real `send` process killed with SIGKILL -----------------------------

ISSUE = "issues/2026-12-winter"


def _pain_news(project, standin, *args, processes="-1"):
    """`python -m pain_news ARGS` in its own process (and process group, as a terminal runs it),
    configured for the stand-in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIN_NEWS_") and k != "SENDGRID_API_KEY"}
    env.update(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_SECRET_KEY": SECRET,
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": standin.url,
            "SENDGRID_API_KEY": standin.api_key,
            "PAIN_NEWS_SENDGRID_TIMEOUT": "5",
            "PAIN_NEWS_DELIVERY_PROCESSES": processes,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pain_news", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _write_lock(store):
    """A raw SQLite connection holding the database's write lock (BEGIN IMMEDIATE) until rolled back."""
    import sqlite3

    conn = sqlite3.connect(
        store.engine.url.database, isolation_level=None, check_same_thread=False, timeout=30
    )
    conn.execute("BEGIN IMMEDIATE")
    return conn


def _kill_between_batches(proc, store):
    """SIGKILL once a batch's outcome is written and no other batch is claimed (checked under the write lock)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        newest = latest_campaign(store, "2026-12-winter")
        counts = ledger_counts(store, newest.id) if newest else {}
        if counts.get("sent") and not counts.get("in_flight"):
            lock = _write_lock(store)  # the process can claim nothing more while this is held
            try:
                in_flight = lock.execute(
                    "SELECT count(*) FROM send_ledger WHERE state = 'in_flight'"
                ).fetchone()[0]
                if in_flight == 0:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return
            finally:
                lock.rollback()
        time.sleep(0.02)
    raise TimeoutError("the send never reached a point between batches")


@pytest.mark.parametrize(
    "kill_at",
    ["between-batches", "during-a-request", "just-after-an-answer", "just-after-an-answer-unpaced"],
)
def test_a_killed_send_resumes_and_delivers_everyone_exactly_once(
    project, store, sample_issue, sendgrid_standin, kill_at, sg_config
):
    add_people(store, 60)
    standin = sendgrid_standin
    locks: list[sqlite3.Connection] = []  # the connection holding the write lock
    if kill_at.startswith("just-after-an-answer"):
        # Take the write lock before SendGrid answers: the process gets its 202 but cannot record it.
        standin.on_request = lambda body: locks.append(_write_lock(store)) if not locks else None
    # --rate 20: batches of 20 recipients, one second apart, so each kill point can be reached, and
    # each outcome is recorded on its own. Unpaced, one batch of all 60 whose outcome is recorded in
    # the same transaction as the next claim (runner.py, record_and_claim).
    paced = kill_at != "just-after-an-answer-unpaced"
    batch = 20 if paced else 60
    proc = _pain_news(project, standin, "send", ISSUE, "--yes", *(["--rate", "20"] if paced else []))
    if kill_at == "between-batches":
        _kill_between_batches(proc, store)
    elif kill_at == "during-a-request":
        standin.script("202", "hold")
        standin.wait_for_requests(2, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        standin.release()  # SendGrid took the held request after all: its batch really was delivered
    else:
        standin.wait_for_answers(1, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        locks[0].rollback()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    standin.on_request = None

    resumed = _pain_news(project, standin, "send", ISSUE, "--yes")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    report = json.loads(
        _pain_news(project, standin, "report", ISSUE, "--format", "json").communicate(timeout=30)[0]
    )
    ledger, uncertain = report["ledger"], set(report["uncertain"])
    delivered = Counter(standin.recipients())
    everyone = {f"p{i:03d}@example.org" for i in range(60)}
    assert ledger["sent"] + ledger["uncertain"] == 60 and ledger["pending"] == ledger["in_flight"] == 0
    assert all(delivered[e] == 1 for e in everyone - uncertain)  # exactly once
    assert all(delivered[e] <= 1 for e in uncertain)  # at most once, and reported
    if kill_at != "between-batches":
        assert len(uncertain) == batch and all(delivered[e] == 1 for e in uncertain)
    if kill_at == "between-batches":
        assert not uncertain
    if uncertain:
        assert f"{len(uncertain)} uncertain" in out


def test_debug_output_never_contains_the_api_key(project, store, sample_issue, sendgrid_standin, sg_config):
    add_people(store, 2)
    sendgrid_standin.script("401")
    proc = _pain_news(project, sendgrid_standin, "--debug", "send", ISSUE, "--yes")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "the API key is wrong" in err
    assert sendgrid_standin.api_key not in out + err


@pytest.mark.parametrize("processes", ["0", "2"], ids=["in-process", "worker-processes"])
def test_ctrl_c_stops_after_the_batch_in_flight_and_the_send_resumes(
    project, store, sample_issue, sendgrid_standin, sg_config, processes
):
    add_people(store, 60)
    standin = sendgrid_standin
    standin.script("hold")  # the first batch's request stays open until released
    proc = _pain_news(project, standin, "send", ISSUE, "--yes", "--rate", "20", processes=processes)
    standin.wait_for_requests(1, timeout=30)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the send and its workers alike
    time.sleep(0.5)  # the interrupt is seen while the batch is in flight …
    standin.release()  # … and the batch still finishes and is recorded
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted after the batch in flight" in err
    assert "Traceback" not in err
    newest = latest_campaign(store, "2026-12-winter")
    assert newest is not None
    counts = ledger_counts(store, newest.id)
    # The held batch was finished and recorded, nothing is left in flight, and the send stopped early
    # (on a slow machine a second batch may have started before the interrupt was seen).
    assert 20 <= counts["sent"] < 60 and counts["sent"] + counts["pending"] == 60
    assert not counts.get("in_flight") and not counts.get("uncertain")

    resumed = _pain_news(project, standin, "send", ISSUE, "--yes")
    _, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    delivered = Counter(standin.recipients())
    assert sorted(delivered) == [f"p{i:03d}@example.org" for i in range(60)]
    assert set(delivered.values()) == {1}


def test_report_always_shows_delivered_opened_and_clicked_for_sendgrid(
    run_cli, store, sample_issue, sg_config
):
    add_people(store, 3)
    send(sg_config, store, sample_issue)
    report = json.loads(run_cli("report", str(sample_issue), "--format", "json").stdout)
    assert report["events"] == {
        "delivered": 0,
        "open": 0,
        "click": 0,
    }  # none until SendGrid's webhook reports
    table = run_cli("report", str(sample_issue)).stdout
    assert "webhook delivered" in table and "webhook click" in table


def test_report_of_an_outbox_campaign_prints_no_webhook_counts(run_cli, store, sample_issue):
    add_people(store, 3)
    run_cli("send", str(sample_issue), "--yes", "--provider", "outbox")
    report = json.loads(run_cli("report", str(sample_issue), "--format", "json").stdout)
    assert report["events"] == {}
    table = run_cli("report", str(sample_issue)).stdout
    assert "webhook" not in table
    assert "(no delivered, open or click counts: only SendGrid reports them, this went via outbox)" in table


def test_a_resumed_send_says_in_plain_words_which_copy_goes_out_in_the_clinics_time(
    make_config, store, sample_issue
):
    from pain_news.campaign.runner import create_campaign

    config = make_config({"PAIN_NEWS_NEWSLETTER_TIMEZONE": "America/New_York"})
    store.add("ana@example.org")
    prepared = campaign.prepare_send(config, store, sample_issue, campaign.SendOptions())
    create_campaign(CampaignLedger.for_store(store), prepared)
    resumed = campaign.prepare_send(config, store, sample_issue, campaign.SendOptions())
    [note] = [n for n in resumed.plan.notes if n.startswith("resuming")]
    assert "readers get the email exactly as it was when this send started" in note
    assert ("EST)" in note or "EDT)" in note) and "UTC" not in note and "frozen" not in note


def test_a_first_test_send_needs_no_subscriber_database(run_cli, sample_issue, project):
    database = project / "subscribers" / "pain-news.db"
    assert not database.exists()
    result = run_cli("send", str(sample_issue), "--test", "--to", "editor@example.org")
    assert "Test sent to editor@example.org" in result.stdout
    assert len(list((project / "outbox" / "test").iterdir())) == 1
    assert not database.exists()  # a test send creates no list
