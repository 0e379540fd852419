"""The `serve` app over real HTTP on a loopback port: unsubscribe, one-click, signup/confirm, webhook."""

import base64
import email
import json
import re
import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pain_news.links import make_token, unsubscribe_url
from tests.fixtures.core import SECRET


def path_of(url):
    return "/" + url.split("/", 3)[3]


def test_get_shows_a_button_and_changes_nothing(server):
    sid = server.store.add("ana@example.org").id
    response = httpx.get(server.url + path_of(unsubscribe_url(server.config, sid, 4)))
    assert response.status_code == 200
    assert '<button type="submit" id="unsubscribe">' in response.text and "ana@example.org" in response.text
    # same-origin: the token in this URL never reaches another site through Referer
    assert response.headers["referrer-policy"] == "same-origin"
    assert server.store.get(sid).status == "active"


def test_post_unsubscribes_and_twice_is_fine(server):
    sid = server.store.add("ana@example.org").id
    url = server.url + path_of(unsubscribe_url(server.config, sid, 4))
    first, second = httpx.post(url), httpx.post(url)
    assert (first.status_code, second.status_code) == (200, 200)
    assert "You have been unsubscribed" in first.text and "already unsubscribed" in second.text
    record, events = server.store.history(sid)
    assert (record.status, record.opt_out_method, record.opt_out_campaign_id) == ("unsubscribed", "link", 4)
    assert len(events) == 2


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_answers_200_without_redirect_or_cookies(server, encoding):
    sid = server.store.add("ana@example.org").id
    url = server.url + path_of(unsubscribe_url(server.config, sid, 9))
    if encoding == "urlencoded":
        response = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    else:
        response = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")}, follow_redirects=False)
    assert response.status_code == 200 and "set-cookie" not in response.headers
    assert server.store.get(sid).opt_out_method == "one-click"


def test_forged_truncated_and_other_subscriber_tokens_change_nothing(server):
    ana = server.store.add("ana@example.org").id
    bo = server.store.add("bo@example.org").id
    good = make_token(SECRET, ana, 1)
    forged = make_token("wrong-secret", bo, 1)
    other = f"{bo}.1.{good.rsplit('.', 1)[1]}"  # Ana's signature on Bo's id
    for token, status in [(forged, 400), (good[:-3], 400), (other, 400), ("nonsense", 400)]:
        for method in (httpx.get, httpx.post):
            response = method(f"{server.url}/unsubscribe/{token}")
            assert response.status_code == status and "This link does not work" in response.text
    assert [r.status for r in server.store.iter_subscribers()] == ["active", "active"]


def test_the_unsubscribe_link_of_a_test_copy_says_it_is_a_test_copy(server):
    from pain_news.campaign.personalize import sample_recipient

    server.store.add("maria.lopez@example.com")  # the [sample] subscriber's address is on the list too
    link = sample_recipient(server.config, "editor@example.org").values["unsubscribe_url"]
    for method in (httpx.get, httpx.post):
        response = method(server.url + path_of(link))
        assert response.status_code == 200
        assert "This is a test copy" in response.text and "nothing was changed" in response.text
        assert "no longer have" not in response.text
    assert [r.status for r in server.store.iter_subscribers()] == ["active"]


def test_token_of_a_deleted_subscriber_is_404(server):
    sid = server.store.add("ana@example.org").id
    server.store.delete(sid)
    response = httpx.post(f"{server.url}/unsubscribe/{make_token(SECRET, sid, None)}")
    assert response.status_code == 404


def test_pages_escape_what_they_show(server):
    response = server.signup(email='"><b>x</b>', first_name="<i>y</i>")
    assert response.status_code == 400
    assert "<b>x</b>" not in response.text and "&lt;b&gt;x&lt;/b&gt;" in response.text
    assert "<i>y</i>" not in response.text and "&lt;i&gt;y&lt;/i&gt;" in response.text


def test_oversized_body_is_refused(server):
    sid = server.store.add("ana@example.org").id
    response = httpx.post(
        server.url + path_of(unsubscribe_url(server.config, sid, None)), data={"x": "y" * 100_000}
    )
    assert response.status_code == 413
    assert server.store.get(sid).status == "active"


def confirmation_link(project):
    emls = sorted(project.glob("outbox/**/*.eml"), key=lambda p: p.stat().st_mtime)
    assert emls, "no confirmation email in the outbox"
    message = email.message_from_bytes(emls[-1].read_bytes())
    payload = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert isinstance(payload, bytes)
    return confirm_link_in(payload.decode())


def confirm_link_in(text: str) -> str:
    found = re.search(r"https://\S+/confirm/\S+", text)
    assert found, "no confirmation link"
    return found.group(0)


def test_signup_is_pending_until_the_emailed_link_is_opened_and_confirmed(server, project):
    response = server.signup(email="nia@example.org", first_name="Nia")
    assert response.status_code == 200 and "Check your inbox" in response.text
    server.settle()
    assert server.store.get("nia@example.org").status == "pending"
    link = server.url + path_of(confirmation_link(project))
    shown = httpx.get(link)
    assert shown.status_code == 200 and '<button type="submit" id="confirm">' in shown.text
    assert server.store.get("nia@example.org").status == "pending"
    confirmed = httpx.post(link)
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.text
    assert server.store.get("nia@example.org").status == "active"


def test_a_link_scanner_opening_the_confirmation_link_reactivates_nobody(server, project):
    server.store.add("ana@example.org", "Ana")
    server.store.unsubscribe("ana@example.org", "link")
    server.signup(email="ana@example.org", first_name="Mallory")
    server.settle()
    link = server.url + path_of(confirmation_link(project))
    for _ in range(3):  # gateways open every link in a message, sometimes more than once
        assert httpx.get(link).status_code == 200
    record = server.store.get("ana@example.org")
    assert (record.status, record.first_name) == ("unsubscribed", "Ana")
    assert httpx.post(link).status_code == 200  # the person's own press of the button
    record = server.store.get("ana@example.org")
    # Confirmed by the mailbox's owner: the name on the form they confirmed is theirs now.
    assert (record.status, record.first_name) == ("active", "Mallory")


def test_signup_with_a_bad_address_shows_the_form_again(server):
    response = server.signup(email="nope")
    assert response.status_code == 400 and "invalid email address" in response.text
    server.settle()
    assert list(server.store.iter_subscribers()) == []


def test_tampered_confirmation_link_activates_nobody(server):
    request = server.store.request_signup("nia@example.org")
    token = make_token(SECRET, request.subscriber_id, request.request_event_id + 1, purpose="confirm")
    for method in (httpx.get, httpx.post):
        response = method(f"{server.url}/confirm/{token}")
        assert response.status_code == 400 and "replaced or withdrawn" in response.text
    assert server.store.get("nia@example.org").status == "pending"


# ---- SendGrid signed event webhook -----------------------------------------------------------


@pytest.fixture
def signing_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def hook(web_server, signing_key):
    der = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return web_server({"PAIN_NEWS_SENDGRID_WEBHOOK_PUBLIC_KEY": base64.b64encode(der).decode()})


def post_events(server, key, events, timestamp=None, signature=None):
    body = json.dumps(events)
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    if signature is None:
        signature = base64.b64encode(
            key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))
        ).decode()
    headers = {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        "X-Twilio-Email-Event-Webhook-Signature": signature,
    }
    return httpx.post(f"{server.url}/webhooks/sendgrid", content=body, headers=headers)


def event(kind, address, n, **extra):
    return {
        "email": address,
        "event": kind,
        "sg_event_id": f"ev-{n}",
        "timestamp": int(time.time()),
        "campaign_id": "7",
        **extra,
    }


def test_signed_events_apply_opt_outs_and_store_engagement(hook, signing_key):
    for address in ("a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"):
        hook.store.add(address)
    events = [
        event("unsubscribe", "a@example.org", 1),
        event("bounce", "b@example.org", 2, type="bounce"),
        event("spamreport", "c@example.org", 3),
        event("dropped", "d@example.org", 4, reason="Bounced Address"),
        event("bounce", "e@example.org", 5, type="blocked"),
        event("open", "e@example.org", 6),
        event("delivered", "e@example.org", 7),
        event("group_unsubscribe", "new@example.org", 8),
    ]
    response = post_events(hook, signing_key, events)
    assert response.status_code == 200 and response.json()["applied"] == 4
    assert [r.status for r in hook.store.iter_subscribers()] == [
        "unsubscribed",
        "bounced",
        "complained",
        "bounced",
        "active",
    ]
    assert hook.store.get("a@example.org").opt_out_campaign_id == 7
    assert hook.store.stats()["suppressed (deleted or unknown)"] == 1  # new@ can never be imported


def test_replayed_events_are_counted_once(hook, signing_key):
    hook.store.add("a@example.org")
    assert post_events(hook, signing_key, [event("open", "a@example.org", 1)]).json()["recorded"] == 1
    again = post_events(hook, signing_key, [event("open", "a@example.org", 1)]).json()
    assert (again["recorded"], again["repeated"]) == (0, 1)


@pytest.mark.parametrize("case", ["bad-signature", "unsigned", "stale", "other-key"])
def test_unverified_webhook_requests_are_refused(hook, signing_key, case):
    hook.store.add("a@example.org")
    events = [event("unsubscribe", "a@example.org", 1)]
    if case == "bad-signature":
        response = post_events(hook, signing_key, events, signature=base64.b64encode(b"x" * 70).decode())
    elif case == "unsigned":
        response = httpx.post(f"{hook.url}/webhooks/sendgrid", json=events)
    elif case == "stale":
        response = post_events(hook, signing_key, events, timestamp=int(time.time()) - 3600)
    else:
        response = post_events(hook, ec.generate_private_key(ec.SECP256R1()), events)
    assert response.status_code == 403
    assert hook.store.get("a@example.org").status == "active"


def test_webhook_without_configured_key_refuses_everything(server, signing_key):
    server.store.add("a@example.org")
    assert post_events(server, signing_key, [event("unsubscribe", "a@example.org", 1)]).status_code == 403
    assert server.store.get("a@example.org").status == "active"


# ---- in a real browser -----------------------------------------------------------------------


@pytest.mark.browser
def test_browser_unsubscribe_by_clicking_the_button(server, page_at, artifacts):
    sid = server.store.add("ana@example.org").id
    page = page_at(375)
    page.goto(server.url + path_of(unsubscribe_url(server.config, sid, 2)))
    assert server.store.get(sid).status == "active"
    page.screenshot(path=str(artifacts / "unsubscribe-confirm-375.png"), full_page=True)
    page.click("#unsubscribe")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "You have been unsubscribed"
    page.screenshot(path=str(artifacts / "unsubscribe-done-375.png"), full_page=True)
    assert server.store.get(sid).status == "unsubscribed"


@pytest.mark.browser
def test_browser_signup_form(server, page_at, artifacts):
    page = page_at(600)
    page.goto(f"{server.url}/subscribe")
    page.fill("#email", "nia@example.org")
    page.fill("#first_name", "Nia")
    page.screenshot(path=str(artifacts / "subscribe-form-600.png"), full_page=True)
    page.click("#subscribe")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "Check your inbox"
    page.screenshot(path=str(artifacts / "subscribe-sent-600.png"), full_page=True)
    server.settle()
    assert server.store.get("nia@example.org").status == "pending"


@pytest.mark.browser
def test_browser_confirmation_needs_the_button(server, page_at, artifacts, project):
    page = page_at(375)
    page.goto(f"{server.url}/subscribe")
    page.fill("#email", "nia@example.org")
    page.click("#subscribe")
    page.wait_for_selector("#result")
    server.settle()
    page.goto(server.url + path_of(confirmation_link(project)))
    page.screenshot(path=str(artifacts / "confirm-button-375.png"), full_page=True)
    assert server.store.get("nia@example.org").status == "pending"
    page.click("#confirm")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "Subscription confirmed"
    assert server.store.get("nia@example.org").status == "active"


# ---- robustness: odd tokens, oversize bodies, misconfiguration, failing email --------------------


@pytest.mark.parametrize("token", ["1.-.%C3%A9%C3%A9", "1.5.%C3%A9", "%C2%B2.-.abc", "1.%D9%A1.abc"])
def test_non_ascii_tokens_show_the_friendly_400_page(server, token):
    sid = server.store.add("ana@example.org").id
    for response in (
        httpx.get(f"{server.url}/unsubscribe/{token}"),
        httpx.post(f"{server.url}/unsubscribe/{token}"),
        httpx.get(f"{server.url}/confirm/{token}"),
    ):
        assert response.status_code == 400 and "This link does not work" in response.text
    assert server.store.get(sid).status == "active"


def chunks(size):  # a body without Content-Length (chunked), so only counting it can stop it
    yield b"List-Unsubscribe=One-Click&email=nia%40example.org&x="
    for _ in range(size // 1024):
        yield b"a" * 1024


@pytest.mark.parametrize("route", ["subscribe", "unsubscribe"])
def test_oversized_chunked_body_is_refused_with_413(server, route):
    sid = server.store.add("ana@example.org").id
    url = (
        f"{server.url}/subscribe"
        if route == "subscribe"
        else server.url + path_of(unsubscribe_url(server.config, sid, None))
    )
    response = httpx.post(
        url, content=chunks(64 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert [(r.email, r.status) for r in server.store.iter_subscribers()] == [("ana@example.org", "active")]


def test_missing_secret_gives_a_friendly_503_page_not_a_crash(serve_app):
    server = serve_app({"PAIN_NEWS_SECRET_KEY": ""})
    sid = server.store.add("ana@example.org").id
    for response in (
        httpx.get(f"{server.url}/unsubscribe/{sid}.-.abc"),
        httpx.post(f"{server.url}/unsubscribe/{sid}.-.abc"),
        httpx.get(f"{server.url}/confirm/{sid}.1.abc"),
        httpx.post(f"{server.url}/confirm/{sid}.1.abc"),
        server.signup(email="nia@example.org"),
    ):
        assert response.status_code == 503 and "Temporarily unavailable" in response.text
        assert "PAIN_NEWS_SECRET_KEY" not in response.text and "Traceback" not in response.text
    server.settle()
    assert [r.email for r in server.store.iter_subscribers()] == ["ana@example.org"]  # no half-made signup


def smtp_env(smtp_server):
    return {
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
        "PAIN_NEWS_SMTP_SECURITY": "none",
    }


def test_a_confirmation_the_mail_server_refuses_is_retried_in_the_background(serve_app, smtp_server):
    pauses = []

    def pause(delay):  # the worker waits between attempts: the mail server recovers meanwhile
        pauses.append(delay)
        if len(pauses) == 2:
            del smtp_server.refuse["nia@example.org"]
        return False

    server = serve_app(smtp_env(smtp_server), pause=pause)
    smtp_server.refuse["nia@example.org"] = "550 5.1.1 mailbox unavailable"
    response = server.signup(email="nia@example.org", first_name="Nia")
    assert response.status_code == 200 and "Check your inbox" in response.text  # the page never waits
    server.settle()
    assert pauses == [1.0, 2.0]
    [message] = smtp_server.messages
    link = confirm_link_in(message.get_body(("plain",)).get_content())
    assert httpx.post(server.url + path_of(link)).status_code == 200
    assert server.store.get("nia@example.org").status == "active"


def test_signup_form_refuses_control_characters_for_known_and_new_addresses(server):
    server.store.add("ana@example.org")
    server.store.unsubscribe("ana@example.org")
    for address in ("nia@example.org", "ana@example.org"):  # checked before any lookup
        response = server.signup(email=address, first_name="Ni\x00a")
        assert response.status_code == 400 and "control character" in response.text
    server.settle()
    assert [r.email for r in server.store.iter_subscribers()] == ["ana@example.org"]


def test_one_malformed_event_does_not_stop_the_rest_of_the_batch(hook, signing_key):
    for address in ("a@example.org", "b@example.org", "c@example.org"):
        hook.store.add(address)
    events = [
        event("unsubscribe", "a@example.org", 1, timestamp=10**30),  # absurd time: opt-out still applied
        event("unsubscribe", "x\x00@example.org", 2),  # NUL byte: skipped
        event("bounce", "b@example.org", 3, type="bounce"),
        event("spamreport", "c@example.org", 4, campaign_id=10**20),
    ]  # id too big for the column
    response = post_events(hook, signing_key, events)
    assert response.status_code == 200
    assert (response.json()["applied"], response.json()["skipped"]) == (3, 1)
    assert [r.status for r in hook.store.iter_subscribers()] == ["unsubscribed", "bounced", "complained"]


def test_malformed_events_are_skipped_on_every_database(any_store):
    from pain_news.sendgrid.webhook import apply_events

    any_store.add("a@example.org")
    any_store.add("b@example.org")
    events = [
        event("unsubscribe", "a@example.org", 1, timestamp="9" * 40),
        {"event": "bounce", "type": "bounce", "email": "nul\x00@example.org", "sg_event_id": "ev-\x00-2"},
        {"event": "open", "email": ["not", "text"], "sg_event_id": "ev-3"},
        event("unsubscribe", "b@example.org", 4, sg_event_id="ev-\x00-4"),
    ]
    summary = apply_events(any_store, events)
    assert (summary.applied, summary.skipped, summary.recorded) == (2, 1, 3)
    assert [r.status for r in any_store.iter_subscribers()] == ["unsubscribed", "unsubscribed"]


def test_serve_also_serves_the_published_archive(web_server, run_cli, project):
    run_cli("archive")
    server = web_server()
    index = httpx.get(server.url + "/")
    assert index.status_code == 200 and "Winter 2026" in index.text
    issue = httpx.get(server.url + "/2026-12-winter/")
    assert issue.status_code == 200 and ">Failed spine surgery syndrome</h2>" in issue.text
    assert httpx.get(server.url + "/feed.xml").status_code == 200
    assert httpx.get(server.url + "/subscribe").status_code == 200  # the endpoints still win
    assert httpx.get(server.url + "/../pain-news.toml").status_code == 404


def test_without_an_archive_the_home_page_leads_to_signup(server):
    response = httpx.get(server.url + "/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/subscribe"


@pytest.mark.parametrize("archive", [False, True])
def test_an_unknown_address_gets_the_html_404_page(web_server, run_cli, archive):
    if archive:
        run_cli("archive")  # the archive mount answers unknown files with the same page
    server = web_server()
    response = httpx.get(server.url + "/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in response.text and "Page not found" in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


def test_serve_purges_signups_nobody_confirmed_when_it_starts(make_config, any_store):
    import datetime as dt

    from pain_news.web.app import create_app
    from pain_news.web.server import uvicorn_config
    from tests.fixtures.core import free_port, start_uvicorn

    config, store = make_config(), any_store  # the app works on the store it is given
    store.request_signup(
        "stranger@example.org", "Call 555-0100 now", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    )
    store.request_signup("nia@example.org", "Nia")
    port = free_port()
    server, thread = start_uvicorn(
        uvicorn_config(create_app(config, store), "127.0.0.1", port, lifespan="on")
    )
    try:
        deadline = time.monotonic() + 20
        while store.get("stranger@example.org") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.should_exit = True
        thread.join(10)
    assert [r.email for r in store.iter_subscribers()] == ["nia@example.org"]


def test_serve_keeps_purging_while_it_runs(make_config, any_store):
    import datetime as dt

    from pain_news.web.signups import SignupPurge

    purge = SignupPurge(make_config(), any_store, interval=0.05)  # serve's runs hourly
    purge.start()
    try:
        time.sleep(0.2)  # its first round, at start, found nothing
        any_store.request_signup("late@example.org", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
        deadline = time.monotonic() + 20
        while any_store.get("late@example.org") is not None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        purge.close()
    assert any_store.get("late@example.org") is None
