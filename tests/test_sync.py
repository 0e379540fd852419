"""`subscribers sync` through the official sendgrid client against the loopback stand-in."""

import pytest

from pain_news.errors import DeliveryError
from pain_news.sendgrid.sync import sync_suppressions
from tests.fixtures.core import REAL_NEWSLETTER, publish_archive, sign_off


@pytest.fixture
def sync_config(make_config, sendgrid_standin):
    return make_config(
        {
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
            "PAIN_NEWS_SENDGRID_ASM_GROUP_ID": "77",
            "PAIN_NEWS_SENDGRID_TIMEOUT": "5",
        }
    )


def test_every_list_and_every_page_is_applied(store, sync_config, sendgrid_standin):
    for i in range(1200):  # three pages of 500
        store.add(f"u{i}@example.org")
        sendgrid_standin.suppress("unsubscribes", f"u{i}@example.org")
    store.add("grp@example.org")
    sendgrid_standin.suppress("group:77", "grp@example.org")
    store.add("bnc@example.org")
    sendgrid_standin.suppress("bounces", "bnc@example.org", reason="550 no such user")
    store.add("spam@example.org")
    sendgrid_standin.suppress("spam_reports", "spam@example.org")
    store.add("inv@example.org")
    sendgrid_standin.suppress("invalid_emails", "INV@example.org")
    sendgrid_standin.suppress("blocks", "stranger@example.org")
    store.add("ok@example.org")
    summary = sync_suppressions(sync_config, store)
    assert summary.seen["unsubscribes"] == 1200 and summary.changed == 1204
    stats = store.stats()
    assert (stats["unsubscribed"], stats["bounced"], stats["complained"], stats["active"]) == (1201, 2, 1, 1)
    assert store.get("u5@example.org").opt_out_method == "sendgrid-sync"
    from pain_news.errors import StoreError

    with pytest.raises(StoreError, match="suppressed"):  # unknown address suppressed for good
        store.add("stranger@example.org")
    assert all(h == f"Bearer {sendgrid_standin.api_key}" for h in sendgrid_standin.auth_headers)
    assert sync_suppressions(sync_config, store).changed == 0  # a second sync is a no-op


def test_wrong_api_key_is_one_clear_error(store, make_config, sendgrid_standin):
    config = make_config({"PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url, "SENDGRID_API_KEY": "SG.wrong"})
    with pytest.raises(
        DeliveryError, match=r"refused GET /v3/suppression/unsubscribes \(401\): The provided authorization"
    ):
        sync_suppressions(config, store)


def test_sync_via_cli_prints_the_summary(project, run_cli, sendgrid_standin, monkeypatch):
    monkeypatch.setenv("PAIN_NEWS_SENDGRID_HOST", sendgrid_standin.url)
    monkeypatch.setenv("SENDGRID_API_KEY", sendgrid_standin.api_key)
    run_cli("subscribers", "add", "a@example.org")
    sendgrid_standin.suppress("bounces", "a@example.org")
    result = run_cli("subscribers", "sync")
    assert "1 subscribers opted out here" in result.stdout
    assert "bounced" in run_cli("subscribers", "show", "a@example.org").stdout


def test_group_unsubscribes_are_read_in_one_request_without_paging(store, sync_config, sendgrid_standin):
    for i in range(700):  # more than one page of the paginated lists: the group endpoint is not paginated
        sendgrid_standin.suppress("group:77", f"g{i}@example.org")
    summary = sync_suppressions(sync_config, store)
    assert summary.seen["group unsubscribes"] == 700 and summary.suppressed_unknown == 700


@pytest.fixture
def offset_ignoring_server():
    """A loopback server that answers every GET with the same full page, as if `offset` were ignored."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = json.dumps([{"email": f"p{i}@example.org", "created": 1} for i in range(500)]).encode()
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_repeated_page_ends_the_paging_instead_of_looping(store, make_config, offset_ignoring_server):
    url, hits = offset_ignoring_server
    config = make_config(
        {"PAIN_NEWS_SENDGRID_HOST": url, "SENDGRID_API_KEY": "SG.x", "PAIN_NEWS_SENDGRID_TIMEOUT": "5"}
    )
    summary = sync_suppressions(config, store)
    assert summary.seen["unsubscribes"] == 500 and store.stats()["suppressed (deleted or unknown)"] == 500
    assert len(hits) == 2 * 5  # each of the five lists: the first page, then the repeat that stops it


def test_a_500_then_200_on_a_page_is_retried(store, sync_config, sendgrid_standin):
    for i in range(600):
        store.add(f"u{i}@example.org")
        sendgrid_standin.suppress("unsubscribes", f"u{i}@example.org")
    sendgrid_standin.script_get("200", "500", "200")  # the second page fails once
    waits: list[float] = []
    summary = sync_suppressions(sync_config, store, sleep=waits.append)
    assert summary.seen["unsubscribes"] == 600 and summary.changed == 600
    pages = [g for g in sendgrid_standin.gets if "unsubscribes" in g]
    assert pages == [
        "/v3/suppression/unsubscribes?limit=500&offset=0",
        "/v3/suppression/unsubscribes?limit=500&offset=500",
        "/v3/suppression/unsubscribes?limit=500&offset=500",
    ]
    assert len(waits) == 1 and 0.5 <= waits[0] <= 1.5  # the send's backoff: base 1 s with jitter


def test_429_waits_as_retry_after_says(store, sync_config, sendgrid_standin):
    sendgrid_standin.script_get(("429", {"Retry-After": "7"}))
    waits: list[float] = []
    sync_suppressions(sync_config, store, sleep=waits.append)
    assert len(waits) == 1 and 7 <= waits[0] <= 7.25


def test_failures_past_the_sends_attempts_are_one_clear_error(store, sync_config, sendgrid_standin):
    sendgrid_standin.script_get("503", "500", "500", "503", "500")  # the send's five attempts
    with pytest.raises(DeliveryError) as caught:
        sync_suppressions(sync_config, store, sleep=lambda seconds: None)
    assert str(caught.value) == (
        "SendGrid refused GET /v3/suppression/unsubscribes (500): scripted failure, "
        "still after 5 attempts; nothing was sent"
    )
    assert "\n" not in str(caught.value) and caught.value.hint


def test_a_dropped_connection_is_retried(store, sync_config, sendgrid_standin):
    sendgrid_standin.suppress("bounces", "gone@example.org")
    sendgrid_standin.script_get("drop")
    summary = sync_suppressions(sync_config, store, sleep=lambda seconds: None)
    assert summary.seen["bounces"] == 1 and summary.suppressed_unknown == 1


def test_each_list_is_applied_in_one_transaction_with_history(any_store, sync_config, sendgrid_standin):
    any_store.add("a@example.org")
    any_store.add("b@example.org")
    any_store.opt_out("b@example.org", "complained", "webhook")
    for address in (
        "a@example.org",
        "A@example.org",
        "b@example.org",
        "new@example.org",
        "ctl\x00@example.org",
    ):
        sendgrid_standin.suppress("unsubscribes", address)
    summary = sync_suppressions(sync_config, any_store)
    assert (summary.changed, summary.suppressed_unknown) == (1, 2)
    _, history = any_store.history("a@example.org")
    assert [(e.old_status, e.new_status, e.method, e.detail) for e in history][-1] == (
        "active",
        "unsubscribed",
        "sendgrid-sync",
        "SendGrid suppression/unsubscribes",
    )
    assert any_store.get("b@example.org").status == "complained"  # a complaint is never downgraded
    assert any_store.stats()["suppressed (deleted or unknown)"] == 2


# ---- the sync inside `pain-news send --provider sendgrid` --------------------------------------


@pytest.fixture
def send_env(any_store, sendgrid_standin, make_config, sample_issue):
    """`send` against the stand-in, on the same database as `any_store` (SQLite or PostgreSQL)."""
    for i in range(3):
        any_store.add(f"p{i}@example.org")
    publish_archive(make_config(REAL_NEWSLETTER))  # the list send's gates pass
    sign_off(make_config(REAL_NEWSLETTER), any_store, sample_issue)
    return {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_DATABASE_URL": any_store.engine.url.render_as_string(hide_password=False),
        "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
        "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
        "SENDGRID_API_KEY": sendgrid_standin.api_key,
        "PAIN_NEWS_SENDGRID_TIMEOUT": "5",
    }


def campaign_count(store):
    from sqlalchemy import func, select

    from pain_news.db.models import Campaign

    with store.session() as s:
        return s.scalar(select(func.count(Campaign.id)))


def test_send_rides_out_a_500_on_a_suppression_page(
    run_cli, any_store, sample_issue, sendgrid_standin, send_env
):
    sendgrid_standin.suppress("bounces", "p1@example.org")
    # Retry-After: 0 keeps the test quick; without it the wait is the send's backoff (tested above).
    sendgrid_standin.script_get("200", ("500", {"Retry-After": "0"}), "200")
    result = run_cli("send", str(sample_issue), "--yes", env=send_env)
    assert "Ledger: sent 2" in result.stdout
    assert sorted(sendgrid_standin.recipients()) == ["p0@example.org", "p2@example.org"]
    assert [g.split("?")[0] for g in sendgrid_standin.gets[:3]] == [
        "/v3/suppression/unsubscribes",
        "/v3/suppression/bounces",
        "/v3/suppression/bounces",
    ]
    assert any_store.get("p1@example.org").status == "bounced"


def test_500s_past_the_sends_attempts_stop_the_send_before_any_campaign(
    run_cli, any_store, sample_issue, sendgrid_standin, send_env
):
    sendgrid_standin.script_get(*[("500", {"Retry-After": "0"})] * 5)
    result = run_cli("send", str(sample_issue), "--yes", env=send_env, ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == (  # after the line naming the config file and database
        "Error: SendGrid refused GET /v3/suppression/unsubscribes (500): scripted failure, "
        "still after 5 attempts; nothing was sent"
    )
    assert "Traceback" not in result.stderr
    assert sendgrid_standin.requests == 0  # no Mail Send
    assert campaign_count(any_store) == 0


def test_three_500s_at_the_start_of_a_send_no_longer_abort_it(
    run_cli, any_store, sample_issue, sendgrid_standin, send_env
):
    any_store.add("ana@example.org")
    sendgrid_standin.script_get(*[("500", {"Retry-After": "0"})] * 3)
    run_cli("send", str(sample_issue), "--yes", env=send_env)
    assert "ana@example.org" in sendgrid_standin.recipients()  # the send went on


def test_a_short_incident_is_ridden_out_with_the_sends_own_policy(store, sync_config, sendgrid_standin):
    """Four failures in a row (three quick attempts used to give up): the fifth answer is taken,
    each wait is the send's backoff (base 1 s doubling, with jitter), a 429's Retry-After wins."""
    sendgrid_standin.suppress("unsubscribes", "gone@example.org")
    sendgrid_standin.script_get("503", "500", ("429", {"Retry-After": "3"}), "drop")
    waits: list[float] = []
    summary = sync_suppressions(sync_config, store, sleep=waits.append)
    assert summary.seen["unsubscribes"] == 1 and summary.suppressed_unknown == 1
    assert len(waits) == 4
    assert 0.5 <= waits[0] <= 1.5 and 1.0 <= waits[1] <= 3.0  # 1 s, 2 s (±50%)
    assert 3.0 <= waits[2] <= 3.25  # Retry-After honoured
    assert 4.0 <= waits[3] <= 12.0  # 8 s (±50%)


def test_every_sendgrid_call_of_the_sync_uses_the_same_policy_for_the_group_list(
    store, make_config, sendgrid_standin
):
    config = make_config(
        {
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
            "PAIN_NEWS_SENDGRID_ASM_GROUP_ID": "7",
        }
    )
    sendgrid_standin.suppress("group:7", "left@example.org")
    sendgrid_standin.script_get("200", "500", "500", "500")  # the group's GET comes second
    waits: list[float] = []
    summary = sync_suppressions(config, store, sleep=waits.append, attempts=4, base=0.01)
    assert summary.seen["group unsubscribes"] == 1
    assert len(waits) == 3 and all(w < 0.1 for w in waits)  # the attempts and base given, not 3 quick ones
