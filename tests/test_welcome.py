"""The welcome email: built from templates/welcome like an issue, sent once per confirmed subscriber."""

from __future__ import annotations

import email
import json
import threading
from email import policy

import httpx

from pain_news.campaign.welcome import WELCOME_ISSUE, send_welcome, welcome_dir
from pain_news.ledger import CampaignLedger
from pain_news.vocab import CAMPAIGN_WELCOME
from tests.test_web_app import confirmation_link, path_of


def welcome_emails(project):
    return sorted(project.glob("outbox/campaign-*/*.eml"))


def welcome_campaign(store):
    found = CampaignLedger.for_store(store).latest(WELCOME_ISSUE, kind=CAMPAIGN_WELCOME)
    assert found is not None
    return found


def test_the_welcome_folder_checks_and_builds_like_an_issue(run_cli, project, tmp_path):
    checked = run_cli("check", "templates/welcome")
    assert "welcome: 0 errors" in checked.stdout
    built = run_cli("build", "templates/welcome", "--out", str(tmp_path / "welcome"))
    assert "Welcome to Pain News" in built.stdout
    text = (tmp_path / "welcome" / "email.txt").read_text()
    assert text.startswith("PAIN NEWS - Welcome (December 1, 2026)")  # number 0: no "Issue 0"


def test_a_repeated_confirmation_sends_one_welcome(serve_app, project):
    server = serve_app()
    server.signup(email="nia@example.org", first_name="Nia")
    server.settle()
    link = server.url + path_of(confirmation_link(project))
    assert httpx.get(link).status_code == 200  # the page with the button: nothing sent yet
    server.settle()
    assert welcome_emails(project) == []
    answers = [httpx.post(link), httpx.post(link), httpx.post(link)]  # pressed again, or a resubmit
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "A welcome email is on its way" in answers[0].text
    assert "A welcome email" not in answers[1].text  # "(it was already confirmed)": nothing more comes
    server.settle()

    [eml] = welcome_emails(project)
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert (message["To"], message["Subject"]) == ("Nia <nia@example.org>", "Welcome to Pain News")
    assert "List-Unsubscribe" in message
    plain = message.get_body(("plain",))
    assert plain is not None and "Dear Nia," in plain.get_content()
    campaign = welcome_campaign(server.store)
    assert CampaignLedger.for_store(server.store).counts(campaign.id)["sent"] == 1


def test_the_confirmation_page_links_to_the_latest_issue_when_the_archive_is_built(
    serve_app, project, run_cli
):
    run_cli("archive")
    server = serve_app()
    server.signup(email="nia@example.org")
    server.settle()
    page = httpx.post(server.url + path_of(confirmation_link(project)))
    public = server.config.newsletter.public_url.rstrip("/")
    assert f'<a href="{public}/latest/" id="latest">Read the latest issue</a>' in page.text
    server.settle()


def test_welcome_is_sent_once_ever_even_after_the_text_changes(config, store, project, run_cli):
    ana = store.add("ana@example.org", "Ana").id
    first = send_welcome(config, store, ana)
    assert first is not None and first.ledger["sent"] == 1
    assert send_welcome(config, store, ana) is None  # again: nothing
    piece = welcome_dir(config) / "01-welcome.md"
    piece.write_text(piece.read_text().replace("What to expect", "What comes next"))
    assert send_welcome(config, store, ana) is None  # a new copy is a new campaign, but Ana had hers
    bo = store.add("bo@example.org", "Bo").id
    second = send_welcome(config, store, bo)
    assert second is not None and second.campaign_id != first.campaign_id
    assert len(welcome_emails(project)) == 2
    table = run_cli("report", "--campaign", str(second.campaign_id)).stdout
    assert "welcome email — Welcome to Pain News" in table
    listed = json.loads(run_cli("campaigns", "--format", "json").stdout)
    assert {c["kind"] for c in listed} == {"welcome"}


def test_two_confirmations_at_once_send_one_welcome(config, any_store, project):
    sid = any_store.add("ana@example.org", "Ana").id
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(send_welcome(config, any_store, sid)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert len(welcome_emails(project)) == 1


def test_no_welcome_folder_means_no_welcome(config, store, project):
    import shutil

    shutil.rmtree(welcome_dir(config))
    sid = store.add("ana@example.org").id
    assert send_welcome(config, store, sid) is None
    assert welcome_emails(project) == []


def test_a_welcome_never_mails_someone_who_opted_out_meanwhile(config, store, project):
    sid = store.add("ana@example.org").id
    store.unsubscribe(sid, "link")
    report = send_welcome(config, store, sid)
    assert report is not None and report.ledger["skipped"] == 1 and report.ledger["sent"] == 0
    assert welcome_emails(project) == []


def test_the_welcome_folder_is_never_sent_to_the_whole_list(run_cli, store, project):
    store.add("ana@example.org")
    result = run_cli("send", "templates/welcome", "--yes", ok=False)
    assert (
        result.exit_code == 1
        and "is the welcome email: serve sends it to each new subscriber" in result.stderr
    )
    assert CampaignLedger.for_store(store).campaigns() == []
    assert run_cli("send", "templates/welcome", "--test", "--to", "editor@example.org").exit_code == 0


def test_a_welcome_goes_through_sendgrid_with_tracking_pinned_off(make_config, store, sendgrid_standin):
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
        }
    )
    sid = store.add("ana@example.org", "Ana").id
    report = send_welcome(config, store, sid)
    assert report is not None and report.ledger["sent"] == 1
    [body] = sendgrid_standin.accepted
    assert body["subject"] == "Welcome to Pain News" and sendgrid_standin.recipients() == ["ana@example.org"]
    assert body["tracking_settings"]["click_tracking"] == {"enable": False, "enable_text": False}
    assert body["personalizations"][0]["custom_args"]["campaign_id"] == str(report.campaign_id)
    assert welcome_campaign(store).provider == "sendgrid"
