"""What `serve` protects against (docs/security.md): list probing, signup abuse, leaky headers and logs."""

import logging

import httpx
import pytest

from pain_news.links import make_token, preferences_url, unsubscribe_url
from pain_news.subscribers.store import email_hash
from tests.fixtures.core import SECRET
from tests.fixtures.web import ORIGIN, PUBLIC


def path_of(url):
    return "/" + url.split("/", 3)[3]


def outbox(project):
    return sorted(project.glob("outbox/**/*.eml"))


def recipients(project):
    return sorted(eml.read_text().split("\nTo: ", 1)[1].split("\n", 1)[0] for eml in outbox(project))


def listed_as(store, status, address):
    store.add(address, "Ana")
    if status == "pending":
        store.delete(address)
        store.request_signup(address, "Ana")
    elif status != "active":
        store.opt_out(address, status, "webhook")


# ---- the form reveals nothing --------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "active", "pending", "unsubscribed", "bounced", "complained"])
def test_signup_answers_the_same_page_whoever_the_address_is(serve_app, project, status):
    server = serve_app()
    if status:
        listed_as(server.store, status, "ana@example.org")
    response = server.signup(email="ana@example.org", first_name="Mallory")
    # the address in the page is the only difference between any two answers
    assert response.status_code == 200
    body = response.text.replace("ana@example.org", "ADDRESS")
    fresh = server.signup(email="zoe@example.org", first_name="Mallory")
    assert (fresh.status_code, fresh.text.replace("zoe@example.org", "ADDRESS")) == (200, body)
    server.settle()
    mailed = "ana@example.org" in recipients(project)
    assert not any("Mallory" in eml.read_text() for eml in outbox(project))  # the form's name is in no email
    assert mailed == (status in (None, "pending", "unsubscribed"))
    record = server.store.get("ana@example.org")
    assert record.status == (status or "pending")
    # A form's name waits for its owner's confirmation: no row carries one before that.
    assert record.first_name == (
        "Ana" if status in ("active", "unsubscribed", "bounced", "complained") else ""
    )


def test_signup_answers_the_same_with_the_mail_server_down(serve_app, project):
    from tests.fixtures.core import free_port

    down = {  # nothing listens on this port: every attempt fails
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(free_port()),
        "PAIN_NEWS_SMTP_SECURITY": "none",
    }
    server = serve_app(down)
    server.store.add("ana@example.org")
    server.store.unsubscribe("ana@example.org")
    known = server.signup(email="ana@example.org")
    new = server.signup(email="nia@example.org")
    assert known.status_code == new.status_code == 200
    assert known.text.replace("ana@", "x@") == new.text.replace("nia@", "x@")
    server.settle()
    assert server.store.get("nia@example.org").status == "pending"  # kept: submitting again re-sends


def test_no_confirmation_mail_to_an_unknown_address_that_bounced_or_complained(server, project):
    server.store.opt_out_address("gone@example.org", "complained", "webhook")
    assert server.signup(email="gone@example.org").status_code == 200
    server.settle()
    assert outbox(project) == [] and server.store.get("gone@example.org") is None


# ---- abuse limits --------------------------------------------------------------------------------


def test_one_address_gets_at_most_the_daily_number_of_confirmations(serve_app, project):
    server = serve_app({"PAIN_NEWS_SERVE_SIGNUPS_PER_ADDRESS_PER_DAY": "2"})
    for _ in range(4):
        assert server.signup(email="nia@example.org").status_code == 200
    server.settle()
    assert recipients(project) == ["nia@example.org", "nia@example.org"]


def test_one_client_gets_at_most_the_hourly_number_of_signups(serve_app):
    server = serve_app({"PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR": "2"})
    first, second = server.signup(email="a@example.org"), server.signup(email="b@example.org")
    # X-Forwarded-For from a peer that is not a trusted proxy is the client's own claim: ignored
    forged = server.signup(email="c@example.org", headers={**ORIGIN, "X-Forwarded-For": "203.0.113.9"})
    assert (first.status_code, second.status_code, forged.status_code) == (200, 200, 429)
    assert "too many signups from your network" in forged.text
    server.settle()
    assert sorted(r.email for r in server.store.iter_subscribers()) == ["a@example.org", "b@example.org"]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(serve_app):
    server = serve_app(
        {"PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR": "1", "PAIN_NEWS_SERVE_TRUSTED_PROXIES": "127.0.0.1"}
    )

    def via_proxy(address, client):
        # the client may send its own X-Forwarded-For; the proxy appends the address it saw
        headers = {**ORIGIN, "X-Forwarded-For": f"198.51.100.66, {client}"}
        return server.signup(email=address, headers=headers).status_code

    assert via_proxy("a@example.org", "203.0.113.1") == 200
    assert via_proxy("b@example.org", "203.0.113.2") == 200
    assert via_proxy("c@example.org", "203.0.113.1") == 429


def test_ipv6_clients_are_limited_by_their_64_bit_network(serve_app):
    # Anyone given one IPv6 address holds its whole /64: counting single addresses would not limit them.
    server = serve_app(
        {"PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR": "1", "PAIN_NEWS_SERVE_TRUSTED_PROXIES": "127.0.0.1"}
    )

    def via_proxy(address, client):
        return server.signup(email=address, headers={**ORIGIN, "X-Forwarded-For": client}).status_code

    assert via_proxy("a@example.org", "2001:db8:1:2::1") == 200
    assert via_proxy("b@example.org", "2001:db8:1:2:ffff:ffff:ffff:fffe") == 429  # same /64
    assert via_proxy("c@example.org", "2001:db8:1:3::1") == 200  # the next /64 is another client
    assert via_proxy("d@example.org", "::ffff:203.0.113.7") == 200
    assert via_proxy("e@example.org", "203.0.113.7") == 429  # the same IPv4 client, written two ways


def test_a_filled_in_honeypot_gets_the_usual_page_and_nothing_happens(server, project):
    response = server.signup(email="bot@example.org", first_name="Bot", website="https://spam.example")
    assert response.status_code == 200 and "Check your inbox" in response.text
    server.settle()
    assert list(server.store.iter_subscribers()) == [] and outbox(project) == []


def test_the_form_has_a_hidden_honeypot_field(server):
    form = httpx.get(f"{server.url}/subscribe").text
    assert 'name="website"' in form and 'tabindex="-1"' in form and 'aria-hidden="true"' in form


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 403),
        ({"Referer": "https://evil.example/news.tristatepain.example/subscribe"}, 403),
        ({"Referer": PUBLIC + "/subscribe"}, 200),
        ({"Origin": PUBLIC}, 200),
    ],
)
def test_signups_posted_from_another_site_are_refused(server, headers, status):
    response = server.signup(email="nia@example.org", headers=headers)
    assert response.status_code == status
    server.settle()
    assert (server.store.get("nia@example.org") is not None) == (status == 200)


def test_a_form_posted_from_the_page_serve_itself_shows_is_accepted(server):
    assert server.signup(email="nia@example.org", headers={"Origin": server.url}).status_code == 200


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({}, 403),
        ({"Referer": "https://evil.example/preferences/x"}, 403),
        ({"Referer": PUBLIC + "/preferences/x"}, 200),
        ({"Origin": PUBLIC}, 200),
    ],
)
def test_preference_forms_posted_from_another_site_are_refused(server, headers, status):
    # A page elsewhere could otherwise post a reader's forwarded link: change topics, unsubscribe.
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    link = server.url + path_of(preferences_url(server.config, sid, 2))
    saved = httpx.post(link, data={"action": "save", "first_name": "Eve"}, headers=headers)
    assert saved.status_code == status
    assert (server.store.get(sid).first_name == "Eve") == (status == 200)
    left = httpx.post(link, data={"action": "unsubscribe"}, headers=headers)
    assert left.status_code == status
    assert (server.store.get(sid).status == "unsubscribed") == (status == 200)


def test_a_fresh_link_asked_for_from_another_site_mails_nothing(server, project):
    sid = server.store.add("ana@example.org").id
    expired = make_token(SECRET, sid, 2, purpose="preferences")  # made before links expired
    response = httpx.post(
        f"{server.url}/preferences/{expired}",
        data={"action": "fresh"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    server.settle()
    assert outbox(project) == []


# ---- the Host header --------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", "news.tristatepain.example.evil.example", "[::2]"])
def test_requests_for_a_host_that_is_not_ours_are_refused(server, host):
    for path in ("/subscribe", "/2026-12-winter", "/"):
        response = httpx.get(server.url + path, headers={"Host": host}, follow_redirects=False)
        assert response.status_code == 400, path
        assert "evil" not in response.headers.get("location", "")


@pytest.mark.parametrize("host", ["news.tristatepain.example", "localhost", "127.0.0.1", "[::1]:8000"])
def test_public_url_host_and_loopback_are_served_by_default(server, host):
    assert httpx.get(server.url + "/subscribe", headers={"Host": host}).status_code == 200


def test_the_archive_redirect_is_built_from_public_url_not_the_host_header(serve_app, run_cli):
    run_cli("archive")
    server = serve_app({"PAIN_NEWS_SERVE_ALLOWED_HOSTS": "127.0.0.1,news-internal.example"})
    for host in ("news-internal.example", server.url.removeprefix("http://")):
        response = httpx.get(
            server.url + "/2026-12-winter?x=1", headers={"Host": host}, follow_redirects=False
        )
        assert response.status_code in (301, 307, 308)
        assert response.headers["location"] == PUBLIC + "/2026-12-winter/?x=1"
    # serve.allowed_hosts replaces the default list: public_url's host is not in this one
    refused = httpx.get(server.url + "/subscribe", headers={"Host": "localhost"})
    assert refused.status_code == 400


def test_allowed_hosts_with_a_misplaced_wildcard_is_a_config_error(make_config):
    from pain_news.errors import ConfigError

    with pytest.raises(ConfigError, match="serve.allowed_hosts"):
        make_config({"PAIN_NEWS_SERVE_ALLOWED_HOSTS": "news.*.example"})


# ---- headers, types, logs --------------------------------------------------------------------------


SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def assert_secured(response):
    for name, value in SECURITY.items():
        assert response.headers.get(name) == value, (response.url, name)
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, response.url


def test_every_response_carries_the_security_headers(serve_app, run_cli):
    run_cli("archive")
    server = serve_app()
    sid = server.store.add("ana@example.org").id
    responses = [
        httpx.get(server.url + "/"),
        httpx.get(server.url + "/2026-12-winter/"),
        httpx.get(server.url + "/latest/"),
        httpx.get(server.url + "/feed.xml"),
        httpx.get(server.url + "/no-such-page"),
        httpx.get(server.url + "/subscribe"),
        httpx.get(server.url + path_of(unsubscribe_url(server.config, sid, None))),
        httpx.get(f"{server.url}/confirm/{make_token(SECRET, sid, 1, purpose='confirm')}"),
        httpx.post(f"{server.url}/webhooks/sendgrid", json=[]),
        httpx.post(f"{server.url}/subscribe", content=b"x" * 100_000),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 200, 200, 200, 403, 413]
    for response in responses:
        assert_secured(response)
    assert responses[3].headers["content-type"] == "application/atom+xml; charset=utf-8"
    images = [p for p in (server.config.resolve("archive")).rglob("*") if p.suffix in (".jpg", ".png")]
    for image in images[:1]:
        relative = image.relative_to(server.config.resolve("archive")).as_posix()
        assert_secured(httpx.get(f"{server.url}/{relative}"))


def test_the_server_log_names_no_address(serve_app, smtp_server, caplog):
    server = serve_app(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
    )
    smtp_server.refuse["Nia.Patient@example.org"] = "550 5.1.1 mailbox unavailable"
    with caplog.at_level(logging.INFO, logger="pain_news"):
        assert server.signup(email="Nia.Patient@example.org").status_code == 200
        server.settle()
    logged = caplog.text
    assert "not sent after 3 attempts" in logged
    assert "nia.patient" not in logged.lower()
    assert email_hash("Nia.Patient@example.org")[:12] in logged


@pytest.mark.usefixtures("server")  # serve installs the filter on the loggers it writes to
def test_webhook_log_lines_name_no_address(caplog):
    with caplog.at_level(logging.INFO, logger="pain_news"):
        logging.getLogger("pain_news.sendgrid.webhook").warning(
            "event skipped: %s", "bounce for Ana@Example.org"
        )
    assert "Ana@Example.org" not in caplog.text
    assert email_hash("ana@example.org")[:12] in caplog.text
