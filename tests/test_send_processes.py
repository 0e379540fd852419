"""A large SendGrid send personalises its batches in worker processes (campaign/personalizing.py)."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter

import pytest

from pain_news.campaign.personalize import Personalizer
from pain_news.campaign.personalizing import EncodingPool, auto_processes
from pain_news.delivery import message_from_config
from pain_news.delivery.sendgrid import PeopleEncoder
from pain_news.errors import DeliveryError
from pain_news.ledger import ClaimedEntry
from pain_news.links import read_token
from tests.fixtures.core import SECRET
from tests.fixtures.worker_probe import WorkerState
from tests.test_campaign import (  # noqa: F401 (sg_config is a fixture)
    TOM,
    add_people,
    latest_campaign,
    ledger_counts,
    send,
    sg_config,
)


@pytest.mark.parametrize(("cores", "workers"), [(None, 0), (1, 0), (2, 1), (4, 3), (5, 4), (64, 4)])
def test_by_default_a_large_send_starts_one_worker_per_core_but_one(monkeypatch, cores, workers):
    monkeypatch.setattr("os.cpu_count", lambda: cores)
    assert auto_processes() == workers


def test_a_worker_process_encodes_exactly_what_this_process_encodes(sg_config):  # noqa: F811
    message = message_from_config(
        sg_config,
        "Winter",
        '<p>Dear %%h.first_name|friend%%</p><a href="%%h.unsubscribe_url%%">x</a>',
        "Dear %%t.first_name|friend%%: %%t.preferences_url%%",
        list_message=True,
        campaign_id=7,
    )
    entries = [
        ClaimedEntry(1, 11, "ana@example.org", "Ana", "Ölund"),
        ClaimedEntry(2, 12, "tom@example.org", TOM, ""),
        ClaimedEntry(3, 13, "big@example.org", "é" * 2600, "X"),  # over SendGrid's substitution limit
        ClaimedEntry(4, 14, "bo@example.org", "", ""),
    ]
    encoder = PeopleEncoder(message)
    personalizer = Personalizer(sg_config)
    send_at = 1_900_000_000  # a scheduled send's time: the preference links count from it
    here = encoder(
        [
            personalizer.recipient(7, e.subscriber_id, e.email, e.first_name, e.last_name, send_at)
            for e in entries
        ]
    )
    pool = EncodingPool(sg_config, 1)
    try:
        there = pool.submit(encoder, 7, entries, send_at).result(timeout=60)
    finally:
        pool.close()
    assert there == here
    assert there.posted == (0, 1, 3) and set(there.refused) == {2} and there.size == 4


def test_a_worker_process_loads_neither_the_database_layer_nor_the_web_stack(sg_config):  # noqa: F811
    # A worker imports the module of each function it runs; the campaign package would bring
    # SQLAlchemy and the ledger, start-up time a worker does not need (personalize_worker.py).
    # What it loaded is frozen, so collecting a batch's garbage does not walk it every time.
    pool = EncodingPool(sg_config, 1)
    try:
        asked = pool.submit(WorkerState(), 7, [ClaimedEntry(1, 11, "ana@example.org", "Ana", "")])
        state = json.loads(asked.result(timeout=60).people_json)
    finally:
        pool.close()
    packages = set(state["packages"])
    assert "pain_news" in packages  # it ran the pool's initializer (personalize_worker.start)
    assert not packages & {"sqlalchemy", "alembic", "starlette", "uvicorn", "jinja2", "rich"}
    assert state["frozen"] > 1_000


def test_a_send_personalised_in_worker_processes_mails_everyone_once_with_their_own_links(
    sg_config,  # noqa: F811
    any_store,
    sample_issue,
    sendgrid_standin,
):
    ids = add_people(any_store, 35)
    any_store.add("tom@example.org", TOM, "Jerry")
    report = send(sg_config, any_store, sample_issue, threads=3, processes=2)
    assert report.ledger["sent"] == 36 and report.finished
    assert Counter(sendgrid_standin.recipients()) == Counter(
        [f"p{i:03d}@example.org" for i in range(35)] + ["tom@example.org"]
    )
    people = [p for body in sendgrid_standin.accepted for p in body["personalizations"]]
    by_email = {p["to"][0]["email"]: p for p in people}
    for i, sid in enumerate(ids):
        person = by_email[f"p{i:03d}@example.org"]
        link = person["substitutions"]["%%t.unsubscribe_url%%"]
        assert read_token(SECRET, link.rsplit("/", 1)[1]) == (sid, report.campaign_id)
        assert person["custom_args"] == {"campaign_id": str(report.campaign_id), "subscriber_id": str(sid)}
    tom = by_email["tom@example.org"]["substitutions"]
    assert any(
        v == "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;" for k, v in tom.items() if "h.first_name" in k
    )


def test_a_worker_process_that_dies_leaves_its_batches_pending_and_the_send_resumes_once(
    sg_config,  # noqa: F811
    any_store,
    sample_issue,
    sendgrid_standin,
):
    add_people(any_store, 30)

    def kill_workers(body):
        for child in multiprocessing.active_children():
            child.kill()
        sendgrid_standin.on_request = None

    sendgrid_standin.on_request = kill_workers  # while the first batch is being posted
    with pytest.raises(DeliveryError, match="personalising a batch failed in a worker process") as failed:
        send(sg_config, any_store, sample_issue, processes=1)
    assert "\n" not in str(failed.value)
    counts = ledger_counts(any_store, latest_campaign(any_store, sample_issue.name).id)
    # The first batch went out; nothing else left this machine, and nothing is in flight or uncertain.
    assert counts["sent"] == 10 and counts["pending"] == 20
    assert counts["in_flight"] == 0 and counts["uncertain"] == 0
    assert len(sendgrid_standin.recipients()) == 10
    report = send(sg_config, any_store, sample_issue, processes=1)
    assert report.ledger["sent"] == 30 and report.finished
    assert Counter(sendgrid_standin.recipients()) == Counter({f"p{i:03d}@example.org": 1 for i in range(30)})
