"""SendGrid's event webhook in bulk: a batch is one transaction, on SQLite and PostgreSQL."""

import base64
import json
import logging
import re
import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text

from pain_news.db.models import DeliveryEvent
from pain_news.sendgrid.webhook import apply_events


def event(kind, address, n, **extra):
    return {
        "email": address,
        "event": kind,
        "sg_event_id": f"ev-{n}",
        "timestamp": int(time.time()),
        "campaign_id": "7",
        **extra,
    }


def stored_event_ids(store):
    with store.session() as s:
        return sorted(s.scalars(select(DeliveryEvent.sg_event_id)))


def statuses(store):
    return {r.email: r.status for r in store.iter_subscribers()}


def test_duplicates_inside_a_batch_and_repeats_of_earlier_batches_count_once(any_store):
    for address in ("a@example.org", "b@example.org"):
        any_store.add(address)
    first = [
        event("delivered", "a@example.org", 1),
        event("unsubscribe", "a@example.org", 2),
        event("unsubscribe", "a@example.org", 2),  # SendGrid may repeat an event inside a batch
        event("open", "b@example.org", 3),
    ]
    summary = apply_events(any_store, first)
    assert (summary.applied, summary.recorded, summary.repeated) == (1, 3, 1)
    second = [*first, event("spamreport", "b@example.org", 4), event("click", "b@example.org", 5)]
    summary = apply_events(any_store, second)  # the first batch again, with two new events
    assert (summary.applied, summary.recorded, summary.repeated) == (1, 2, 4)
    assert apply_events(any_store, second).recorded == 0
    assert stored_event_ids(any_store) == ["ev-1", "ev-2", "ev-3", "ev-4", "ev-5"]
    assert statuses(any_store) == {"a@example.org": "unsubscribed", "b@example.org": "complained"}
    _, history = any_store.history("a@example.org")
    assert [(e.old_status, e.new_status, e.method, e.campaign_id) for e in history] == [
        (None, "active", "manual", None),
        ("active", "unsubscribed", "webhook", 7),
    ]


def test_events_for_one_address_apply_in_order_with_a_history_row_each(any_store):
    any_store.add("a@example.org")
    events = [
        event("unsubscribe", "a@example.org", 1),
        event("spamreport", "a@example.org", 2),
        event("unsubscribe", "a@example.org", 3),  # never downgrades the complaint
    ]
    assert apply_events(any_store, events).applied == 2
    record, history = any_store.history("a@example.org")
    assert (record.status, record.opt_out_method, record.opt_out_campaign_id) == ("complained", "webhook", 7)
    assert [(e.old_status, e.new_status) for e in history[1:]] == [
        ("active", "unsubscribed"),
        ("unsubscribed", "complained"),
    ]
    event_ids = {e.sg_event_id: e.subscriber_id for e in _events(any_store)}
    assert event_ids == {"ev-1": record.id, "ev-2": record.id, "ev-3": record.id}


def _events(store):
    with store.session() as s:
        return list(s.scalars(select(DeliveryEvent)))


def test_a_malformed_event_is_skipped_and_logged_without_its_address(any_store, caplog):
    any_store.add("a@example.org")
    any_store.add("b@example.org")
    events = [
        event("unsubscribe", "a@example.org", 1),
        event("bounce", "secret-patient@@example.org", 2, type="bounce"),
        event("spamreport", "b@example.org", 3),
    ]
    with caplog.at_level(logging.WARNING, logger="pain_news.sendgrid.webhook"):
        summary = apply_events(any_store, events)
    assert (summary.applied, summary.recorded, summary.skipped) == (2, 2, 1)
    assert statuses(any_store) == {"a@example.org": "unsubscribed", "b@example.org": "complained"}
    [line] = [r.getMessage() for r in caplog.records]
    assert line == "webhook event 1 skipped (ev-2): the email field is not a valid address"
    assert "secret-patient" not in caplog.text


# ---- through HTTP, with a database failure midway ----------------------------------------------


@pytest.fixture
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def any_hook(web_server, any_store, signing_key):
    """`serve` on the same database as `any_store`, with the webhook's public key configured."""
    der = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return web_server(
        {
            "PAIN_NEWS_SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(der).decode(),
            "PAIN_NEWS_DATABASE_URL": any_store.engine.url.render_as_string(hide_password=False),
        }
    )


def post_events(server, key, events):
    return post_body(server, key, json.dumps(events))


def post_body(server, key, body):
    timestamp = str(int(time.time()))
    signature = base64.b64encode(key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "X-Twilio-Email-Event-Webhook-Signature": signature,
    }
    return httpx.post(f"{server.url}/webhooks/sendgrid", content=body, headers=headers, timeout=30)


def refuse_event(engine, sg_event_id):
    """A trigger that makes the database itself refuse one delivery event (a real failure)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_event BEFORE INSERT ON delivery_events "
                    f"WHEN NEW.sg_event_id = '{sg_event_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    f"IF NEW.sg_event_id = '{sg_event_id}' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_event BEFORE INSERT ON delivery_events "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_event()"
                )
            )


def test_a_database_failure_midway_answers_503_and_the_retry_applies_the_batch_once(
    any_hook, any_store, signing_key
):
    for i in range(30):
        any_store.add(f"p{i}@example.org")
    events = [event("delivered", f"p{i}@example.org", i) for i in range(30)]
    events += [event("bounce", f"p{i}@example.org", 100 + i, type="bounce") for i in range(0, 30, 3)]
    events += [event("unsubscribe", "stranger@example.org", 200)]
    refuse_event(any_store.engine, "ev-112")  # the opt-outs are written before the events
    response = post_events(any_hook, signing_key, events)
    assert response.status_code == 503 and response.json() == {"error": "temporarily unavailable"}
    assert set(statuses(any_store).values()) == {"active"}  # nothing half-applied
    assert stored_event_ids(any_store) == []
    assert any_store.stats()["suppressed (deleted or unknown)"] == 0

    with any_store.engine.begin() as conn:  # the database is healthy again; SendGrid retries
        conn.execute(
            text(
                "DROP TRIGGER refuse_event" + ("" if conn.dialect.name == "sqlite" else " ON delivery_events")
            )
        )
    retried = post_events(any_hook, signing_key, events)
    assert retried.status_code == 200
    assert retried.json() == {"applied": 10, "recorded": 41, "repeated": 0, "skipped": 0}
    again = post_events(any_hook, signing_key, events).json()
    assert (again["applied"], again["recorded"], again["repeated"]) == (0, 0, 41)
    assert list(statuses(any_store).values()).count("bounced") == 10
    _, history = any_store.history("p3@example.org")
    assert [(e.new_status, e.method) for e in history] == [("active", "manual"), ("bounced", "webhook")]
    assert any_store.stats()["suppressed (deleted or unknown)"] == 1


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,  # deeper than the interpreter can parse
        '[{"event": "delivered", "email": "ana@example.org", "x": ' + "[" * 50 + "]" * 50 + "}]",
    ],
    ids=["100000-deep", "50-deep-in-an-event"],
)
def test_a_signed_body_nested_too_deeply_is_refused_with_400(any_hook, any_store, signing_key, body):
    any_store.add("ana@example.org")
    response = post_body(any_hook, signing_key, body)
    assert response.status_code == 400
    assert stored_event_ids(any_store) == []


def test_odd_characters_in_event_fields_are_kept_exactly(any_store):
    odd = 'ev-"{a,b}"\\ NULL'
    summary = apply_events(any_store, [event("bounce", "x@example.org", 1, sg_event_id=odd, type="bounce")])
    assert summary.recorded == 1
    [stored] = _events(any_store)
    assert (stored.sg_event_id, stored.event, stored.detail) == (odd, "bounce", '{"type": "bounce"}')
    assert stored.occurred_at.timestamp() == pytest.approx(time.time(), abs=60)
    assert apply_events(any_store, [event("bounce", "x@example.org", 1, sg_event_id=odd)]).repeated == 1


def test_a_complaint_about_an_address_being_imported_applies_to_the_imported_row(
    any_store, tmp_path, monkeypatch
):
    from pain_news.subscribers.importer import import_file
    from pain_news.subscribers.store import bulk_import
    from tests.fixtures.store import Race

    race = Race(lambda: apply_events(any_store, [event("spamreport", "new@example.org", 1)]))
    read_known = bulk_import.read_known

    def read_then_race(s, keys):  # SendGrid posts a batch while the import adds the address
        known = read_known(s, keys)
        race.fire()
        return known

    monkeypatch.setattr(bulk_import, "read_known", read_then_race)
    path = tmp_path / "list.csv"
    path.write_text("email\nnew@example.org\n")
    import_file(any_store, path)
    race.finish()
    assert any_store.get("new@example.org").status == "complained"
    assert any_store.stats()["suppressed (deleted or unknown)"] == 0


# ---- opens and clicks: totals only --------------------------------------------------------


def test_opens_and_clicks_are_stored_without_subscriber_address_or_url(any_store, run_cli, sample_issue):
    ana = any_store.add("ana@example.org").id
    events = [
        {"event": "open", "email": "ana@example.org", "sg_event_id": "o1", "campaign_id": "1"},
        {"event": "open", "email": "ana@example.org", "sg_event_id": "o2", "campaign_id": "1"},
        {
            "event": "click",
            "email": "ana@example.org",
            "sg_event_id": "c1",
            "campaign_id": "1",
            "url": f"https://news.example/unsubscribe/{ana}.1.sig",
        },
        {"event": "delivered", "email": "ana@example.org", "sg_event_id": "d1", "campaign_id": "1"},
    ]
    assert apply_events(any_store, events).recorded == 4
    with any_store.session() as s:
        rows = {e.sg_event_id: (e.subscriber_id, e.detail) for e in s.scalars(select(DeliveryEvent))}
    assert rows["o1"] == rows["o2"] == (None, "{}")
    assert rows["c1"][0] is None and "url" not in json.loads(rows["c1"][1]) and "ana" not in rows["c1"][1]
    assert rows["d1"][0] == ana  # delivery stays per recipient (did this patient get it?)


def test_report_shows_open_and_click_totals_only(store, run_cli, sample_issue):
    store.add("ana@example.org")
    run_cli("send", str(sample_issue), "--yes", "--provider", "outbox")
    cid = json.loads(run_cli("campaigns", "--format", "json").stdout)[0]["id"]
    opens = [
        {"event": "open", "email": "ana@example.org", "sg_event_id": f"o{n}", "campaign_id": str(cid)}
        for n in range(3)
    ]
    apply_events(store, opens)
    report = json.loads(run_cli("report", str(sample_issue), "--format", "json", "--recipients").stdout)
    assert report["events"]["open"] == 3  # three opens, not "one reader"
    assert set(report["recipients"][0]) == {
        "email",
        "subscriber_id",
        "state",
        "message_id",
        "reason",
        "language",
    }
    assert re.search(r"webhook open \(total\) +3\n", run_cli("report", str(sample_issue)).stdout)
