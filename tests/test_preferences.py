"""The preference page and the signup form's topics, over real HTTP and in Chromium."""

from __future__ import annotations

import email
import json
import re
import time
from email import policy

import httpx
import pytest

from pain_news.links import (
    DAY_SECONDS,
    make_token,
    preferences_token_maker,
    preferences_url,
    read_preferences_token,
    unsubscribe_url,
)
from tests.fixtures.core import SECRET
from tests.fixtures.web import ORIGIN
from tests.test_schedule import in_hours, send, sg_config  # noqa: F401 (sg_config is a fixture)
from tests.test_topics import TOPICS_TOML
from tests.test_web_app import confirmation_link, path_of

OLD_KEY = "an-older-secret-key-of-at-least-32-bytes!"


@pytest.fixture(autouse=True)
def with_topics(project):
    with (project / "pain-news.toml").open("a", encoding="utf-8") as f:
        f.write(TOPICS_TOML)


def preferences_path(server, sid, campaign=7):
    return path_of(preferences_url(server.config, sid, campaign))


def history(server, who):
    return [(e.method, e.new_status, e.detail) for e in server.store.history(who)[1]]


# ---- the link in every list email --------------------------------------------------------------


def test_every_list_email_links_to_the_readers_own_preference_page(config, store, sample_issue, project):
    from pain_news import campaign

    sid = store.add("ana@example.org", "Ana").id
    opts = campaign.SendOptions(batch_size=10, threads=1)
    before = int(time.time())
    report = campaign.run_send(config, store, campaign.prepare_send(config, store, sample_issue, opts))
    after = int(time.time())
    [eml] = project.glob("outbox/**/*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    [href] = re.findall(r'<a [^>]*href="([^"]+/preferences/[^"]+)"[^>]*>Manage preferences</a>', html)
    assert f"Manage preferences: {href}\n" in text
    token = href.rsplit("/", 1)[1]
    link = read_preferences_token(SECRET, token)
    assert (link.subscriber_id, link.campaign_id) == (sid, report.campaign_id)
    assert (
        link.delivered is not None and before <= link.delivered <= after
    )  # its days count from when the copy was handed over
    # The one-click header stays the global unsubscribe link.
    assert (
        "/unsubscribe/" in message["List-Unsubscribe"] and "/preferences/" not in message["List-Unsubscribe"]
    )


# ---- over HTTP -----------------------------------------------------------------------------------


def test_get_shows_the_form_and_changes_nothing(server):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    before = history(server, sid)
    response = httpx.get(server.url + preferences_path(server, sid))
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert '<input type="checkbox" id="topic-news" name="topic" value="news" checked>' in response.text
    assert '<input type="checkbox" id="topic-events" name="topic" value="events">' in response.text
    assert '<label for="topic-events">Classes and events</label>' in response.text
    assert 'value="Ana"' in response.text and "ana@example.org" in response.text
    assert history(server, sid) == before


def test_post_saves_topics_and_first_name_in_the_history(server):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    response = httpx.post(
        server.url + preferences_path(server, sid),
        data={"action": "save", "first_name": "Ana María", "topic": ["events", "back-pain"]},
        headers=ORIGIN,
    )
    assert response.status_code == 200 and "Your preferences are saved." in response.text
    record = server.store.get(sid)
    assert (record.first_name, record.topics, record.status) == (
        "Ana María",
        ("back-pain", "events"),
        "active",
    )
    assert history(server, sid)[-2:] == [
        ("topics", "active", "+back-pain +events -news (preference page)"),
        ("name", "active", "first name changed (preference page)"),
    ]
    again = httpx.post(
        server.url + preferences_path(server, sid),
        data={"action": "save", "first_name": "Ana María", "topic": ["events", "back-pain"]},
        headers=ORIGIN,
    )
    assert "Nothing needed changing." in again.text and len(history(server, sid)) == 4


def test_post_unsubscribes_from_everything_through_the_status_change_path(server):
    sid = server.store.add("ana@example.org", topics=["news"]).id
    response = httpx.post(
        server.url + preferences_path(server, sid, 9), data={"action": "unsubscribe"}, headers=ORIGIN
    )
    assert response.status_code == 200 and "You have been unsubscribed" in response.text
    record = server.store.get(sid)
    assert (record.status, record.opt_out_method, record.opt_out_campaign_id) == ("unsubscribed", "link", 9)
    assert history(server, sid)[-1][:2] == ("link", "unsubscribed")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"first_name": "Ana"}, "Please use one of the buttons on this page."),
        ({"action": "save", "topic": "admin"}, "unknown topic &#39;admin&#39;"),
        ({"action": "save", "first_name": "A\x00na"}, "first name contains a control character"),
    ],
)
def test_a_bad_post_changes_nothing(server, data, message):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    before = history(server, sid)
    response = httpx.post(server.url + preferences_path(server, sid), data=data, headers=ORIGIN)
    assert response.status_code == 400 and message in response.text
    assert history(server, sid) == before and server.store.get(sid).topics == ("news",)


def test_tokens_of_other_purposes_do_not_open_the_page_nor_this_one_unsubscribe(server):
    sid = server.store.add("ana@example.org").id
    unsubscribe_token = path_of(unsubscribe_url(server.config, sid, 1)).rsplit("/", 1)[1]
    confirm_token = make_token(SECRET, sid, 1, purpose="confirm")
    for token in (unsubscribe_token, confirm_token, f"{sid}.1.forged"):
        assert httpx.get(f"{server.url}/preferences/{token}").status_code == 400
        posted = httpx.post(
            f"{server.url}/preferences/{token}", data={"action": "unsubscribe"}, headers=ORIGIN
        )
        assert posted.status_code == 400
    preferences_token = preferences_path(server, sid, 1).rsplit("/", 1)[1]
    assert httpx.post(f"{server.url}/unsubscribe/{preferences_token}").status_code == 400
    assert server.store.get(sid).status == "active"


def test_a_link_signed_before_a_key_rotation_still_opens_the_page(serve_app):
    new_key = "a-brand-new-secret-key-of-at-least-32-bytes"
    server = serve_app({"PAIN_NEWS_SECRET_KEY": new_key, "PAIN_NEWS_PREVIOUS_SECRET_KEYS": SECRET})
    sid = server.store.add("ana@example.org").id
    now = int(time.time())
    old_link = f"{server.url}/preferences/{preferences_token_maker(SECRET)(sid, 3, now)}"
    assert httpx.get(old_link).status_code == 200
    httpx.post(old_link, data={"action": "save", "topic": "events"}, headers=ORIGIN)
    assert server.store.get(sid).topics == ("events",)
    forged = f"{server.url}/preferences/{preferences_token_maker(OLD_KEY)(sid, 3, now)}"
    assert httpx.get(forged).status_code == 400


def test_a_deleted_subscribers_link_is_a_friendly_404(server):
    sid = server.store.add("ana@example.org").id
    server.store.delete(sid)
    response = httpx.get(server.url + preferences_path(server, sid))
    assert response.status_code == 404 and "no longer have" in response.text


# ---- links expire; an expired one can only ask for a fresh link -----------------------------------


def dated_path(sid, delivered, campaign=7):
    return f"/preferences/{preferences_token_maker(SECRET)(sid, campaign, delivered)}"


def days_ago(days):
    return int(time.time()) - int(days * DAY_SECONDS)


def mails_to(project, address):
    found = []
    for eml in sorted(project.glob("outbox/**/*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def fresh(server, path):
    return httpx.post(server.url + path, data={"action": "fresh"}, headers=ORIGIN)


def test_a_link_works_for_the_configured_days_after_its_email_was_delivered(serve_app):
    server = serve_app({"PAIN_NEWS_SERVE_PREFERENCE_LINK_DAYS": "10"})
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    recent = httpx.get(server.url + dated_path(sid, days_ago(9.9)))
    assert recent.status_code == 200 and "ana@example.org" in recent.text
    old = httpx.get(server.url + dated_path(sid, days_ago(10)))
    assert old.status_code == 200 and "This link has expired" in old.text
    assert "works for 10 days after its email was sent" in old.text


def test_an_expired_links_page_reveals_nothing_and_changes_nothing(server):
    sid = server.store.add("ana@example.org", "Ana", topics=["back-pain"]).id
    before = history(server, sid)
    path = dated_path(sid, days_ago(31))
    page = httpx.get(server.url + path)
    assert page.status_code == 200
    assert (
        '<button type="submit" name="action" value="fresh" id="fresh">Email me a fresh link</button>'
        in page.text
    )
    for secret in ("ana@example.org", 'value="Ana"', "Back pain", "back-pain", "not receiving"):
        assert secret not in page.text
    # The same page, byte for byte, as for an id nobody has: it tells nothing about the subscriber.
    assert page.text == httpx.get(server.url + dated_path(99_999, days_ago(31))).text
    for data in ({"action": "save", "first_name": "Eve", "topic": "news"}, {"action": "unsubscribe"}):
        refused = httpx.post(server.url + path, data=data, headers=ORIGIN)
        assert refused.status_code == 400 and "This link has expired" in refused.text
    record = server.store.get(sid)
    assert (record.first_name, record.topics, record.status) == ("Ana", ("back-pain",), "active")
    assert history(server, sid) == before


def test_a_links_delivery_time_cannot_be_moved_forward(server):
    sid = server.store.add("ana@example.org").id
    old = days_ago(40)
    token = preferences_token_maker(SECRET)(sid, 7, old)
    moved = token.replace(f".{old}.", f".{int(time.time())}.")
    assert moved != token
    response = httpx.get(f"{server.url}/preferences/{moved}")
    assert response.status_code == 400 and "ana@example.org" not in response.text


def test_a_link_made_before_links_expired_counts_as_expired(server, project):
    sid = server.store.add("ana@example.org", "Ana").id
    undated = f"/preferences/{make_token(SECRET, sid, 3, purpose='preferences')}"
    page = httpx.get(server.url + undated)
    assert (
        page.status_code == 200
        and "This link has expired" in page.text
        and "ana@example.org" not in page.text
    )
    assert fresh(server, undated).status_code == 200
    server.settle()
    assert len(mails_to(project, "ana@example.org")) == 1


def test_the_expired_page_mails_a_fresh_link_to_the_subscribers_own_address(server, project):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    answer = fresh(server, dated_path(sid, days_ago(40)))
    assert answer.status_code == 200
    assert "We have emailed a fresh link to the address this link was sent to" in answer.text
    assert "ana@example.org" not in answer.text
    server.settle()
    [mail] = mails_to(project, "ana@example.org")
    assert mail["Subject"] == "Your link to your Pain News preferences"
    text = mail.get_body(("plain",)).get_content()
    assert "it works for 30 days" in text
    [link] = re.findall(r"https://\S+/preferences/\S+", text)
    assert read_preferences_token(SECRET, link.rsplit("/", 1)[1]).delivered >= days_ago(0.01)
    opened = httpx.get(server.url + path_of(link))
    assert (
        opened.status_code == 200
        and "ana@example.org" in opened.text
        and "This link has expired" not in opened.text
    )


def test_the_fresh_link_email_speaks_the_subscribers_language(server, project):
    sid = server.store.add("ana@example.org", "Ana", language="es").id
    fresh(server, dated_path(sid, days_ago(40)))
    server.settle()
    [mail] = mails_to(project, "ana@example.org")
    assert mail["Subject"] == "Su enlace a sus preferencias de Pain News"
    assert "funciona durante 30 días" in mail.get_body(("plain",)).get_content()


def test_at_most_three_fresh_links_a_day_and_none_to_an_opted_out_address(server, project):
    ana = server.store.add("ana@example.org").id
    bob = server.store.add("bob@example.org").id
    server.store.unsubscribe(bob)
    answers = {fresh(server, dated_path(ana, days_ago(40))).text for _ in range(4)}
    answers.add(fresh(server, dated_path(bob, days_ago(40))).text)
    assert len(answers) == 1  # the same answer every time, for both
    server.settle()
    assert len(mails_to(project, "ana@example.org")) == 3
    assert mails_to(project, "bob@example.org") == []


def test_a_scheduled_sends_preference_links_count_from_send_at(
    sg_config,  # noqa: F811 (the fixture imported above)
    store,
    sample_issue,
    sendgrid_standin,
):
    store.add("ana@example.org", "Ana")
    at = in_hours(2)
    send(sg_config, store, sample_issue, at=at)
    tokens = set(re.findall(r"/preferences/([0-9A-Za-z_.-]+)", json.dumps(sendgrid_standin.accepted)))
    assert tokens and {read_preferences_token(SECRET, t).delivered for t in tokens} == {int(at.timestamp())}


def test_the_fresh_link_limit_holds_per_subscriber_for_a_day(any_store):
    import datetime as dt

    ana = any_store.add("ana@example.org").id
    bob = any_store.add("bob@example.org").id
    start = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    claims = [any_store.claim_fresh_link(ana, 3, now=start + dt.timedelta(hours=h)) for h in range(4)]
    assert claims == [True, True, True, False]
    assert any_store.claim_fresh_link(bob, 3, now=start)  # another subscriber's own three
    assert any_store.claim_fresh_link(ana, 3, now=start + dt.timedelta(hours=24, seconds=1))  # a day later


# ---- signup with topics ------------------------------------------------------------------------


def test_signup_form_offers_the_topics_with_the_configured_defaults(server):
    response = httpx.get(f"{server.url}/subscribe")
    assert '<input type="checkbox" id="topic-news" name="topic" value="news" checked>' in response.text
    assert '<input type="checkbox" id="topic-back-pain" name="topic" value="back-pain">' in response.text
    assert "<legend>What would you like to hear about?</legend>" in response.text


def test_chosen_topics_apply_when_the_signup_is_confirmed(server, project):
    response = server.signup(email="nia@example.org", first_name="Nia", topic=["events", "back-pain"])
    assert response.status_code == 200
    server.settle()
    assert server.store.get("nia@example.org").topics == ()  # pending: nothing chosen yet
    link = confirmation_link(project)
    httpx.post(server.url + path_of(link))
    record = server.store.get("nia@example.org")
    assert (record.status, record.topics) == ("active", ("back-pain", "events"))


def test_an_unknown_topic_on_the_signup_form_is_refused_and_nothing_queued(server, project):
    response = server.signup(email="nia@example.org", topic="admin")
    assert response.status_code == 400 and "unknown topic &#39;admin&#39;" in response.text
    server.settle()
    assert server.store.get("nia@example.org") is None


# ---- in a real browser -----------------------------------------------------------------------


@pytest.mark.browser
def test_browser_preference_page_changes_topics_and_name_then_unsubscribes(server, page_at, artifacts):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    page = page_at(375)
    page.goto(server.url + preferences_path(server, sid))
    assert page.get_attribute("html", "lang") == "en"
    assert page.is_checked("#topic-news") and not page.is_checked("#topic-events")
    page.screenshot(path=str(artifacts / "preferences-form-375.png"), full_page=True)
    assert history(server, sid)[-1][0] == "topics"  # opening the page changed nothing
    page.get_by_label("Classes and events").check()  # labels are tied to their boxes
    page.get_by_label("Every issue of Pain News").uncheck()
    page.get_by_label("First name").fill("Anita")
    page.click("#save")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "Your preferences are saved."
    assert page.is_checked("#topic-events") and not page.is_checked("#topic-news")
    page.screenshot(path=str(artifacts / "preferences-saved-375.png"), full_page=True)
    record = server.store.get(sid)
    assert (record.first_name, record.topics) == ("Anita", ("events",))
    page.click("#unsubscribe")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "You have been unsubscribed"
    assert server.store.get(sid).status == "unsubscribed"


@pytest.mark.browser
def test_browser_signup_ticks_topics(server, page_at, artifacts, project):
    page = page_at(600)
    page.goto(f"{server.url}/subscribe")
    page.fill("#email", "nia@example.org")
    assert page.is_checked("#topic-news")
    page.get_by_label("Back pain").check()
    page.screenshot(path=str(artifacts / "subscribe-topics-600.png"), full_page=True)
    page.click("#subscribe")
    page.wait_for_selector("#result")
    server.settle()
    page.goto(server.url + path_of(confirmation_link(project)))
    page.click("#confirm")
    page.wait_for_selector("#result")
    assert server.store.get("nia@example.org").topics == ("back-pain", "news")
