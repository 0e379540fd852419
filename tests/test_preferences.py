"""The preference page and the signup form's topics, over real HTTP and in Chromium."""

from __future__ import annotations

import email
import re
from email import policy

import httpx
import pytest

from pain_news.links import make_token, preferences_url, read_token, unsubscribe_url
from tests.fixtures.core import SECRET
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
    report = campaign.run_send(config, store, campaign.prepare_send(config, store, sample_issue, opts))
    [eml] = project.glob("outbox/**/*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    html_part, text_part = message.get_body(("html",)), message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    [href] = re.findall(r'<a [^>]*href="([^"]+/preferences/[^"]+)"[^>]*>Manage preferences</a>', html)
    assert f"Manage preferences: {href}\n" in text
    token = href.rsplit("/", 1)[1]
    assert read_token(SECRET, token, purpose="preferences") == (sid, report.campaign_id)
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
    )
    assert "Nothing needed changing." in again.text and len(history(server, sid)) == 4


def test_post_unsubscribes_from_everything_through_the_status_change_path(server):
    sid = server.store.add("ana@example.org", topics=["news"]).id
    response = httpx.post(server.url + preferences_path(server, sid, 9), data={"action": "unsubscribe"})
    assert response.status_code == 200 and "You have been unsubscribed" in response.text
    record = server.store.get(sid)
    assert (record.status, record.opt_out_method, record.opt_out_campaign_id) == ("unsubscribed", "link", 9)
    assert history(server, sid)[-1][:2] == ("link", "unsubscribed")


@pytest.mark.parametrize(
    "data, message",
    [
        ({"first_name": "Ana"}, "Please use one of the buttons on this page."),
        ({"action": "save", "topic": "admin"}, "please choose among the topics shown"),
        ({"action": "save", "first_name": "A\x00na"}, "first name contains a control character"),
    ],
)
def test_a_bad_post_changes_nothing(server, data, message):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"]).id
    before = history(server, sid)
    response = httpx.post(server.url + preferences_path(server, sid), data=data)
    assert response.status_code == 400 and message in response.text
    assert history(server, sid) == before and server.store.get(sid).topics == ("news",)


def test_tokens_of_other_purposes_do_not_open_the_page_nor_this_one_unsubscribe(server):
    sid = server.store.add("ana@example.org").id
    unsubscribe_token = path_of(unsubscribe_url(server.config, sid, 1)).rsplit("/", 1)[1]
    confirm_token = make_token(SECRET, sid, 1, purpose="confirm")
    for token in (unsubscribe_token, confirm_token, f"{sid}.1.forged"):
        assert httpx.get(f"{server.url}/preferences/{token}").status_code == 400
        assert (
            httpx.post(f"{server.url}/preferences/{token}", data={"action": "unsubscribe"}).status_code == 400
        )
    preferences_token = preferences_path(server, sid, 1).rsplit("/", 1)[1]
    assert httpx.post(f"{server.url}/unsubscribe/{preferences_token}").status_code == 400
    assert server.store.get(sid).status == "active"


def test_a_link_signed_before_a_key_rotation_still_opens_the_page(serve_app):
    new_key = "a-brand-new-secret-key-of-at-least-32-bytes"
    server = serve_app({"PAIN_NEWS_SECRET_KEY": new_key, "PAIN_NEWS_PREVIOUS_SECRET_KEYS": SECRET})
    sid = server.store.add("ana@example.org").id
    old_link = f"{server.url}/preferences/{make_token(SECRET, sid, 3, purpose='preferences')}"
    assert httpx.get(old_link).status_code == 200
    httpx.post(old_link, data={"action": "save", "topic": "events"})
    assert server.store.get(sid).topics == ("events",)
    forged = f"{server.url}/preferences/{make_token(OLD_KEY, sid, 3, purpose='preferences')}"
    assert httpx.get(forged).status_code == 400


def test_a_deleted_subscribers_link_is_a_friendly_404(server):
    sid = server.store.add("ana@example.org").id
    server.store.delete(sid)
    response = httpx.get(server.url + preferences_path(server, sid))
    assert response.status_code == 404 and "no longer have" in response.text


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
    assert response.status_code == 400 and "please choose among the topics shown" in response.text
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
