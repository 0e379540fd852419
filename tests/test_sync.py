"""`subscribers sync` through the official sendgrid client against the loopback stand-in."""

import pytest

from pain_news.errors import DeliveryError
from pain_news.sync import sync_suppressions


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
