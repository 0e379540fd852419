"""Opens and clicks from SendGrid's webhook are counted per campaign and never tied to a reader."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from pain_news.models import DeliveryEvent
from pain_news.webhook import apply_events


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
    assert set(report["recipients"][0]) == {"email", "subscriber_id", "state", "message_id", "reason"}
    assert re.search(r"webhook open \(total\) +3\n", run_cli("report", str(sample_issue)).stdout)
