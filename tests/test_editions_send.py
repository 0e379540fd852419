"""A send mails each person their edition: the plan, the frozen editions, the ledger, report, resume."""

from __future__ import annotations

import email
import json
import re
import signal
from collections import Counter
from email import policy
from email.utils import parseaddr

import pytest
from sqlalchemy import select

from pain_news import campaign
from pain_news.db.models import LedgerEntry
from pain_news.ledger import CampaignLedger
from tests.fixtures.core import REAL_NEWSLETTER, publish_archive, sign_off
from tests.test_campaign import (  # noqa: F401 (sg_config, smtp_config are fixtures)
    ISSUE,
    _kill_between_batches,
    _pain_news,
    latest_campaign,
    send,
    sg_config,
    smtp_config,
)

EN_SUBJECT = "Pain after back surgery? You have options"
ES_SUBJECT = "¿Dolor después de una cirugía de espalda? Tiene opciones"


def add_readers(store, english=3, spanish=2, french=0):
    """`en00…`, `es00…` and `fr00…@example.org`, each with that language."""
    for lang, n in (("en", english), ("es", spanish), ("fr", french)):
        for i in range(n):
            store.add(f"{lang}{i:02d}@example.org", f"Name{i}", "Test", language=lang)


def subjects_by_recipient(standin):
    """Address → the subjects of every request that carried it (one each when nobody got two)."""
    found: dict[str, list[str]] = {}
    for body in standin.accepted:
        for p in body["personalizations"]:
            for to in p["to"]:
                found.setdefault(to["email"], []).append(p.get("subject") or body["subject"])
    return found


def editions_in_ledger(store, campaign_id):
    with store.reader.connect() as conn:
        rows = conn.execute(
            select(LedgerEntry.email, LedgerEntry.language).where(LedgerEntry.campaign_id == campaign_id)
        )
        return dict(rows.all())


def sendgrid_config(make_config, standin, **extra):
    """The SendGrid stand-in with real-looking settings and the issue published."""
    config = make_config(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": standin.url,
            "SENDGRID_API_KEY": standin.api_key,
            "PAIN_NEWS_SENDGRID_TIMEOUT": "3",
            **extra,
        }
    )
    publish_archive(config)
    return config


@pytest.fixture
def sg_three(make_config, sendgrid_standin, any_store, sample_issue):
    """SendGrid with French among the configured languages: the sample issue has no French edition."""
    return sendgrid_config(make_config, sendgrid_standin, PAIN_NEWS_NEWSLETTER_LANGUAGES="en,es,fr")


def test_each_subscriber_gets_their_edition_and_the_ledger_says_which(
    sg_three, any_store, sample_issue, sendgrid_standin
):
    add_readers(any_store, english=3, spanish=2, french=1)
    report = send(sg_three, any_store, sample_issue, threads=2)
    assert report.finished and report.ledger["sent"] == 6
    got = subjects_by_recipient(sendgrid_standin)
    assert all(len(s) == 1 for s in got.values())  # exactly once
    assert {a for a, [s] in got.items() if s == ES_SUBJECT} == {"es00@example.org", "es01@example.org"}
    assert got["fr00@example.org"] == [EN_SUBJECT]  # the issue lacks French: the default edition
    spanish_body = next(b for b in sendgrid_standin.accepted if b["subject"] == ES_SUBJECT)
    html = next(c["value"] for c in spanish_body["content"] if c["type"] == "text/html")
    assert 'lang="es"' in html
    assert editions_in_ledger(any_store, report.campaign_id) == {
        "en00@example.org": "en",
        "en01@example.org": "en",
        "en02@example.org": "en",
        "es00@example.org": "es",
        "es01@example.org": "es",
        "fr00@example.org": "en",
    }


def test_the_plan_shows_recipients_per_edition_and_who_gets_the_default_for_want_of_theirs(
    sg_three, any_store, sample_issue
):
    add_readers(any_store, english=3, spanish=2, french=1)
    sign_off(sg_three, any_store, sample_issue)
    prepared = campaign.prepare_send(sg_three, any_store, sample_issue, campaign.SendOptions())
    lines = prepared.plan.lines()
    assert (
        "Editions:   English (en) 4, Español (es) 2; 1 whose language the issue lacks (fr 1) "
        "get the English edition"
    ) in lines
    assert prepared.plan.to_send == 6


def test_every_edition_is_frozen_and_a_resumed_send_mails_the_frozen_spanish(
    sg_config,  # noqa: F811
    any_store,
    sample_issue,
    sendgrid_standin,  # noqa: F811
):
    add_readers(any_store, english=2, spanish=12)
    sendgrid_standin.script("202", "400")  # the English batch, then the first Spanish one stops the send
    with pytest.raises(Exception, match="400|SendGrid"):
        send(sg_config, any_store, sample_issue)
    cid = latest_campaign(any_store, sample_issue.name).id
    [frozen] = CampaignLedger.for_store(any_store).editions(cid)
    assert frozen.language == "es" and frozen.subject == ES_SUBJECT
    spotlight = sample_issue / "01-spotlight-failed-spine-surgery.es.md"
    spotlight.write_text(spotlight.read_text().replace("Algunas causas", "EDITADO causas"))
    report = send(sg_config, any_store, sample_issue)
    assert report.finished and report.ledger["sent"] == 14
    got = subjects_by_recipient(sendgrid_standin)
    assert all(len(s) == 1 for s in got.values()) and len(got) == 14
    for body in sendgrid_standin.accepted:
        html = next(c["value"] for c in body["content"] if c["type"] == "text/html")
        assert "EDITADO" not in html  # the copy frozen when the campaign began


def test_report_counts_each_edition_in_text_and_json(run_cli, store, sample_issue):
    add_readers(store, english=3, spanish=2)
    store.unsubscribe(store.get("es01@example.org").id, "link")
    sent = run_cli("send", str(sample_issue), "--yes")
    assert "Editions:   English (en) 3, Español (es) 1" in sent.stdout
    data = json.loads(run_cli("report", str(sample_issue), "--format", "json", "--recipients").stdout)
    assert data["languages"]["en"] == {"recipients": 3, "ledger": data["languages"]["en"]["ledger"]}
    assert data["languages"]["en"]["ledger"]["sent"] == 3
    assert data["languages"]["es"]["ledger"]["sent"] == 1
    assert data["languages"]["es"]["ledger"]["skipped"] == 1
    assert {r["email"]: r["language"] for r in data["recipients"]}["es00@example.org"] == "es"
    table = run_cli("report", str(sample_issue)).stdout
    assert "edition Español (es)" in table and "sent 1, skipped 1" in table
    assert "edition English (en)" in table


def test_smtp_sends_each_reader_their_edition(smtp_config, any_store, sample_issue, smtp_server):  # noqa: F811
    add_readers(any_store, english=2, spanish=2)
    report = send(smtp_config, any_store, sample_issue)
    assert report.ledger["sent"] == 4
    subjects = {parseaddr(m["To"])[1]: str(m["Subject"]) for m in smtp_server.messages}
    assert subjects == {
        "en00@example.org": EN_SUBJECT,
        "en01@example.org": EN_SUBJECT,
        "es00@example.org": ES_SUBJECT,
        "es01@example.org": ES_SUBJECT,
    }
    spanish = next(m for m in smtp_server.messages if parseaddr(m["To"])[1] == "es00@example.org")
    text = spanish.get_body(("plain",)).get_content()
    assert "Estimado/a Name0" in text  # the Spanish edition, personalised


def test_the_outbox_writes_each_reader_their_edition(run_cli, store, sample_issue, project):
    add_readers(store, english=1, spanish=1)
    result = run_cli("send", str(sample_issue), "--yes")
    assert "Ledger: sent 2 — finished" in result.stdout
    folder = next((project / "outbox").glob("campaign-*"))
    read = {p.name: email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in folder.iterdir()}
    assert str(read["es00@example.org.eml"]["Subject"]) == ES_SUBJECT
    assert str(read["en00@example.org.eml"]["Subject"]) == EN_SUBJECT


def test_topics_and_retry_failed_keep_each_reader_s_edition(
    project, make_config, store, sample_issue, sendgrid_standin
):
    with (project / "pain-news.toml").open("a", encoding="utf-8") as f:
        f.write('\n[topics]\nevents = "Classes and events"\n')
    config = sendgrid_config(make_config, sendgrid_standin)
    store.add("en00@example.org", language="en", topics=["events"])
    store.add("es00@example.org", language="es", topics=["events"])
    store.add("josé@example.org", language="es", topics=["events"])  # SendGrid refuses this address
    store.add("es01@example.org", language="es")  # did not choose the topic
    first = send(config, store, sample_issue, topics=("events",))
    assert first.ledger["sent"] == 2 and first.ledger["failed"] == 1
    retried = send(config, store, sample_issue, retry_failed=True)
    assert retried.ledger["failed"] == 1  # refused again, and again in Spanish
    tried = [
        b["subject"]
        for b in sendgrid_standin.received
        for p in b["personalizations"]
        if p["to"][0]["email"] == "josé@example.org"
    ]
    assert tried == [ES_SUBJECT, ES_SUBJECT]
    got = subjects_by_recipient(sendgrid_standin)
    assert got == {"en00@example.org": [EN_SUBJECT], "es00@example.org": [ES_SUBJECT]}


def test_a_killed_send_with_two_editions_resumes_and_mails_each_reader_their_edition_once(
    project,
    store,
    sample_issue,
    sendgrid_standin,
    sg_config,  # noqa: F811
):
    add_readers(store, english=30, spanish=30)
    proc = _pain_news(project, sendgrid_standin, "send", ISSUE, "--yes", "--rate", "20")
    _kill_between_batches(proc, store)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    resumed = _pain_news(project, sendgrid_standin, "send", ISSUE, "--yes")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert "resuming" in out
    # The resumed plan counts, per edition, who this run will try: those the kill left pending.
    left = re.search(r"Editions:   English \(en\) (\d+), Español \(es\) (\d+)", out)
    assert left is not None and int(left[1]) + int(left[2]) < 60
    report = json.loads(
        _pain_news(project, sendgrid_standin, "report", ISSUE, "--format", "json").communicate(timeout=30)[0]
    )
    assert report["ledger"]["sent"] == 60 and not report["uncertain"]
    assert report["languages"]["es"]["ledger"]["sent"] == 30
    got = subjects_by_recipient(sendgrid_standin)
    assert Counter(len(s) for s in got.values()) == {1: 60}  # everyone exactly once
    assert all(s == [ES_SUBJECT] for a, s in got.items() if a.startswith("es"))
    assert all(s == [EN_SUBJECT] for a, s in got.items() if a.startswith("en"))


def test_send_test_lang_es_sends_the_spanish_edition_to_the_editor(run_cli, store, sample_issue, project):
    result = run_cli("send", str(sample_issue), "--test", "--lang", "Spanish", "--to", "editor@example.org")
    assert "Test sent to editor@example.org" in result.stdout
    [path] = (project / "outbox" / "test").iterdir()
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert str(msg["Subject"]) == f"[TEST] {ES_SUBJECT}"
    html = msg.get_body(("html",))
    assert html is not None and 'lang="es"' in html.get_content()


def test_send_lang_is_refused_for_a_list_send_and_for_an_unknown_language(run_cli, store, sample_issue):
    listed = run_cli("send", str(sample_issue), "--lang", "es", "--yes", ok=False)
    assert listed.exit_code == 2 and "add --test" in listed.stderr
    unknown = run_cli("send", str(sample_issue), "--test", "--lang", "klingon", ok=False)
    assert unknown.exit_code == 2 and "unknown language 'klingon'" in unknown.stderr


def test_a_scheduled_send_puts_every_edition_in_one_batch_at_one_time(
    make_config, store, sample_issue, sendgrid_standin
):
    import datetime as dt

    config = sendgrid_config(make_config, sendgrid_standin)
    add_readers(store, english=3, spanish=3)
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    report = send(config, store, sample_issue, at=at)
    assert report.ledger["sent"] == 6
    bodies = sendgrid_standin.accepted
    assert {b["subject"] for b in bodies} == {EN_SUBJECT, ES_SUBJECT}
    assert {b["send_at"] for b in bodies} == {int(at.timestamp())}
    assert len({b["batch_id"] for b in bodies}) == 1
    assert sendgrid_standin.api_calls == [("POST", "/v3/mail/batch")]
