"""The welcome email: built from templates/welcome like an issue, sent once per confirmed subscriber."""

from __future__ import annotations

import email
import json
import threading
from email import policy

import httpx
import pytest

from pain_news.campaign.plan import SendOptions
from pain_news.campaign.welcome import WELCOME_ISSUE, Welcomer, send_welcome, welcome_dir
from pain_news.errors import DeliveryError
from pain_news.ledger import CampaignLedger
from pain_news.vocab import CAMPAIGN_WELCOME
from pain_news.web.queues import WelcomeQueue
from tests.test_web_app import confirmation_link, path_of


def welcome_emails(project):
    return sorted(project.glob("outbox/campaign-*/*.eml"))


def message_of(eml):
    return email.message_from_bytes(eml.read_bytes(), policy=policy.default)


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


def test_the_welcome_is_rendered_in_memory_once_until_a_template_changes(config, store, project):
    welcomer = Welcomer(config, store)
    first = [welcomer.welcome(store.add(f"p{i}@example.org").id) for i in range(3)]
    assert [r.ledger["sent"] for r in first if r is not None] == [1, 2, 3]  # one campaign, one row each
    assert welcomer.renders == 1
    assert not (project / "build").exists()  # nothing written on disk but the outbox
    piece = welcome_dir(config) / "01-welcome.md"
    piece.write_text(piece.read_text().replace("What to expect", "What comes next"))
    later = welcomer.welcome(store.add("late@example.org").id)
    assert welcomer.renders == 2
    assert later is not None and later.campaign_id != first[0].campaign_id  # type: ignore[union-attr]
    assert len(welcome_emails(project)) == 4 and not (project / "build").exists()


def test_welcomes_from_several_processes_at_once_reach_everyone_exactly_once(config, any_store, project):
    # One queue (and Welcomer) per serve worker process, as `serve --workers 4` runs them; the
    # queues' retries resolve the run lock one process holds while another adds its row.
    people = [any_store.add(f"p{i:02d}@example.org", f"P{i}").id for i in range(24)]
    queues = [WelcomeQueue(config, any_store) for _ in range(4)]
    try:
        for n, sid in enumerate(people):
            queues[n % 4].submit(sid)
        for q in queues:
            q.join()
    finally:
        for q in queues:
            q.close()
    received = [str(message_of(eml)["To"]) for eml in welcome_emails(project)]
    assert sorted(received) == sorted(f"P{i} <p{i:02d}@example.org>" for i in range(24))
    assert CampaignLedger.for_store(any_store).counts(welcome_campaign(any_store).id)["sent"] == 24
    assert not (project / "build").exists()


def test_a_failed_welcome_delivery_is_retried_from_its_ledger_row(make_config, any_store, sendgrid_standin):
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
        }
    )
    sid = any_store.add("ana@example.org", "Ana").id
    sendgrid_standin.script("500", "500")  # SendGrid down for both of the runner's attempts
    pauses: list[float] = []

    def pause(delay: float) -> bool:  # no real wait; False: keep going
        pauses.append(delay)
        return False

    quick = SendOptions(threads=1, backoff_base=0.01, max_attempts=2)
    queue = WelcomeQueue(
        config,
        any_store,
        welcomer=Welcomer(config, any_store, quick),
        retry_delays=(7.0,),
        pause=pause,
    )
    try:
        queue.submit(sid)
        queue.join()
    finally:
        queue.close()
    assert pauses == [7.0]  # the runner gave up once, the queue waited, then delivered the pending row
    assert sendgrid_standin.recipients() == ["ana@example.org"]
    counts = CampaignLedger.for_store(any_store).counts(welcome_campaign(any_store).id)
    assert (counts["sent"], counts["pending"]) == (1, 0)


def test_a_welcome_that_still_fails_stays_pending_and_goes_out_with_the_next(
    make_config, store, sendgrid_standin
):
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
        }
    )
    welcomer = Welcomer(config, store, SendOptions(threads=1, backoff_base=0.01, max_attempts=1))
    sendgrid_standin.script("500")
    ana = store.add("ana@example.org", "Ana").id
    with pytest.raises(DeliveryError, match="gave up after 1 attempts"):
        welcomer.welcome(ana)
    campaign = welcome_campaign(store)
    assert CampaignLedger.for_store(store).counts(campaign.id)["pending"] == 1  # her row is kept
    report = welcomer.welcome(store.add("bo@example.org", "Bo").id)
    assert report is not None and report.ledger["sent"] == 2
    assert sorted(sendgrid_standin.recipients()) == ["ana@example.org", "bo@example.org"]
