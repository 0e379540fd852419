"""Sign-off: reviewers from config, the approval hash, approving (terminal and emailed link), the send's gate."""

from __future__ import annotations

import datetime as dt
import email
import re

import httpx
import pytest

from pain_news import campaign
from pain_news.campaign.runner import create_campaign
from pain_news.checks.run import check_issue
from pain_news.config.reviewers import find_reviewer
from pain_news.errors import ApprovalError, ConfigError, InvalidToken
from pain_news.ledger import CampaignLedger
from pain_news.ledger.approvals import ApprovalBook
from pain_news.signoff import approve
from pain_news.signoff.content import approvable
from tests.fixtures.core import REAL_NEWSLETTER, publish_archive
from tests.test_gates import smtp_settings, tiny_png

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SPOTLIGHT = "01-spotlight-failed-spine-surgery.md"


@pytest.fixture
def smtp_list(make_config, smtp_server, sample_issue):
    """A list send through the loopback SMTP server, real-looking settings, the issue published."""
    config = make_config(smtp_settings(smtp_server))
    publish_archive(config)
    return config


def send(config, store, issue):
    opts = campaign.SendOptions(batch_size=10, threads=1, backoff_base=0.01)
    return campaign.run_send(config, store, campaign.prepare_send(config, store, issue, opts))


def approve_as(config, store, issue, key="clinic-reviewer", note=""):
    return approve.approve_here(config, store, issue, key, note=note, os_user="ana", now=NOW)


def edit(issue, name, old, new):
    path = issue / name
    path.write_text(path.read_text().replace(old, new, 1))


# ---- reviewers --------------------------------------------------------------------------------


def test_reviewers_are_read_from_the_file_and_not_from_the_environment(make_config):
    config = make_config({"PAIN_NEWS_REVIEWERS_CLINIC_REVIEWER_NAME": "Mallory"})
    reviewer = find_reviewer(config.reviewers, "clinic-reviewer")
    assert reviewer is not None
    assert (reviewer.name, reviewer.credentials, reviewer.clinical) == ("Clinic Reviewer", "MD", True)
    remote = find_reviewer(config.reviewers, "remote-md")
    assert remote is not None and remote.email_only


def test_an_unknown_reviewer_key_is_a_check_error_with_did_you_mean(config, sample_issue):
    edit(sample_issue, SPOTLIGHT, "reviewed_by: clinic-reviewer", "reviewed_by: clinic-reviewr")
    [found] = [f for f in check_issue(config, sample_issue) if f.code == "reviewer-unknown"]
    assert found.severity == "error" and found.line == 11
    assert "did you mean 'clinic-reviewer'?" in found.message


def test_old_free_text_reviewed_by_gets_a_migration_hint(config, sample_issue):
    edit(sample_issue, SPOTLIGHT, "reviewed_by: clinic-reviewer", "reviewed_by: Dr. Anita Rao, MD")
    [found] = [f for f in check_issue(config, sample_issue) if f.code == "reviewer-unknown"]
    assert "is free text" in found.message
    assert "[reviewers.<key>]" in found.fix and "reviewed_by: <key>" in found.fix


def test_the_shipped_placeholder_reviewer_is_refused_for_a_list_send_and_warned_for_the_outbox(
    smtp_list, store, sample_issue, project, make_config, smtp_server
):
    toml = project / "pain-news.toml"
    toml.write_text(toml.read_text().replace("reviewer@tristatepain-news.org", "reviewer@example.org"))
    config = make_config(smtp_settings(smtp_server))
    store.add("p1@example.org")
    approve_as(config, store, sample_issue)
    with pytest.raises(ConfigError, match="placeholder reviewer cannot sign an email to subscribers"):
        send(config, store, sample_issue)
    assert smtp_server.messages == []
    outbox = campaign.prepare_send(config, store, sample_issue, campaign.SendOptions(provider="outbox"))
    assert any(
        "placeholder reviewer" in w and "is still what pain-news init wrote" in w
        for w in outbox.plan.warnings
    ), outbox.plan.warnings


# ---- the approval hash ------------------------------------------------------------------------


def test_the_hash_is_the_same_for_the_same_sources_and_changes_with_text_or_image(config, sample_issue):
    (sample_issue / "images").mkdir()
    (sample_issue / "images" / "chart.png").write_bytes(tiny_png())
    article = sample_issue / "02-winter-activity.md"
    article.write_text(article.read_text() + "\n![A walking chart](images/chart.png)\n")
    first = approvable(config, sample_issue).hash
    assert approvable(config, sample_issue).hash == first
    (sample_issue / "images" / "chart.png").write_bytes(tiny_png() + b"\0")
    changed_image = approvable(config, sample_issue).hash
    assert changed_image != first
    edit(sample_issue, "issue.toml", 'preheader = "', 'preheader = "New: ')
    assert approvable(config, sample_issue).hash not in (first, changed_image)


# ---- approving and the send's gate ------------------------------------------------------------


def test_an_approved_issue_sends_and_the_campaign_records_who_approved_it(
    smtp_list, any_store, sample_issue, smtp_server, run_cli
):
    any_store.add("p1@example.org")
    recorded = approve_as(smtp_list, any_store, sample_issue, note="checked the dosages")
    assert recorded.given == "terminal, by OS user ana"
    report = send(smtp_list, any_store, sample_issue)
    assert report.ledger["sent"] == 1
    newest = CampaignLedger.for_store(any_store).latest(sample_issue.name)
    assert newest is not None and newest.approval_id == recorded.id
    from pain_news.campaign.report import campaign_report

    lines = list(campaign_report(any_store, newest).lines())
    assert any(
        "approved by Clinic Reviewer (clinic-reviewer) at" in line
        and recorded.hash[:12] in line
        and "terminal, by OS user ana" in line
        for line in lines
    )


def test_an_edit_after_approval_refuses_the_list_send_naming_the_approval_and_the_files(
    smtp_list, any_store, sample_issue, smtp_server
):
    any_store.add("p1@example.org")
    approved = approve_as(smtp_list, any_store, sample_issue)
    edit(sample_issue, "02-winter-activity.md", "cold", "freezing")
    publish_archive(smtp_list)
    with pytest.raises(ApprovalError) as refused:
        send(smtp_list, any_store, sample_issue)
    message = str(refused.value)
    assert "changed after its approval: Clinic Reviewer (clinic-reviewer) approved version" in message
    assert approved.hash[:12] in message
    assert "changed since: 02-winter-activity.md" in message
    assert smtp_server.messages == []
    assert CampaignLedger.for_store(any_store).latest(sample_issue.name) is None
    _, diff = approve.source_diff_since_approval(smtp_list, any_store, sample_issue)
    assert "--- approved/02-winter-activity.md" in diff and "+" in diff and "freezing" in diff


def test_editing_only_the_spanish_edition_needs_a_new_approval(
    smtp_list, any_store, sample_issue, smtp_server
):
    any_store.add("p1@example.org")
    approved = approve_as(smtp_list, any_store, sample_issue)
    english = approvable(smtp_list, sample_issue).hash
    edit(sample_issue, "02-winter-activity.es.md", "frío", "mucho frío")
    assert approvable(smtp_list, sample_issue).hash not in (approved.hash, english)
    publish_archive(smtp_list)
    with pytest.raises(ApprovalError) as refused:
        send(smtp_list, any_store, sample_issue)
    assert "changed since: 02-winter-activity.es.md" in str(refused.value)
    assert smtp_server.messages == []
    edit(sample_issue, "issue.toml", 'title = "Invierno 2026"', 'title = "Invierno de 2026"')
    assert "issue.toml" in approve.source_diff_since_approval(smtp_list, any_store, sample_issue)[1]


def test_an_image_changed_after_approval_is_named(smtp_list, any_store, sample_issue):
    (sample_issue / "images").mkdir()
    (sample_issue / "images" / "chart.png").write_bytes(tiny_png())
    article = sample_issue / "02-winter-activity.md"
    article.write_text(article.read_text() + "\n![A walking chart](images/chart.png)\n")
    approve_as(smtp_list, any_store, sample_issue)
    (sample_issue / "images" / "chart.png").write_bytes(tiny_png() + b"\0")
    status = approve.approval_status(smtp_list, any_store, sample_issue)
    assert not status.approved
    assert status.changed() == ["images/chart.png"]
    _, diff = approve.source_diff_since_approval(smtp_list, any_store, sample_issue)
    assert diff == "Binary file images/chart.png changed\n"


def test_a_spotlight_needs_a_clinical_reviewer(smtp_list, any_store, sample_issue):
    approve_as(smtp_list, any_store, sample_issue, key="editor")
    status = approve.approval_status(smtp_list, any_store, sample_issue)
    assert not status.approved
    assert "approved by Eddie Editor (editor), who is not a clinical reviewer" in status.problem(dt.UTC)


def test_an_email_only_reviewer_cannot_approve_in_the_terminal(config, any_store, sample_issue):
    with pytest.raises(ApprovalError, match="approves only through the emailed link"):
        approve_as(config, any_store, sample_issue, key="remote-md")


def test_an_unknown_reviewer_cannot_approve(config, any_store, sample_issue):
    with pytest.raises(ApprovalError, match="no reviewer 'clinic-reviwer' in pain-news.toml"):
        approve_as(config, any_store, sample_issue, key="clinic-reviwer")


def test_a_resumed_send_keeps_the_approved_copy_whatever_was_edited_since(
    smtp_list, any_store, sample_issue, smtp_server
):
    any_store.add("p1@example.org")
    any_store.add("p2@example.org")
    approve_as(smtp_list, any_store, sample_issue)
    opts = campaign.SendOptions(batch_size=1, threads=1, backoff_base=0.01)
    prepared = campaign.prepare_send(smtp_list, any_store, sample_issue, opts)
    campaign_id = create_campaign(CampaignLedger.for_store(any_store), prepared)
    edit(sample_issue, "02-winter-activity.md", "cold", "UNAPPROVED EDIT")
    publish_archive(smtp_list)
    resumed = campaign.prepare_send(smtp_list, any_store, sample_issue, opts)
    assert resumed.campaign_id == campaign_id
    campaign.run_send(smtp_list, any_store, resumed)
    assert len(smtp_server.messages) == 2
    for message in smtp_server.messages:
        assert "UNAPPROVED EDIT" not in message.as_string()


def test_test_and_outbox_sends_go_ahead_with_a_warning(config, store, sample_issue, run_cli):
    store.add("p1@example.org")
    result = run_cli("send", str(sample_issue), "--yes", "--provider", "outbox")
    assert "has no approval: nobody has signed off this version" in result.stdout
    assert "Ledger: sent 1" in result.stdout


# ---- the command line -------------------------------------------------------------------------


def test_approve_command_records_and_diff_prints_the_changes(run_cli, store, sample_issue):
    result = run_cli("approve", str(sample_issue), "--as", "clinic-reviewer", "--note", "fine")
    assert re.search(
        r"Approved 2026-12-winter version [0-9a-f]{12} as Clinic Reviewer \(clinic-reviewer\), "
        r"terminal, by OS user \S+, at ",
        result.stdout,
    )
    edit(sample_issue, "issue.toml", 'subject = "', 'subject = "NEW ')
    diff = run_cli("approve", str(sample_issue), "--diff").stdout
    assert "Last approved by Clinic Reviewer (clinic-reviewer)" in diff
    assert '+subject = "NEW ' in diff
    refused = run_cli("approve", str(sample_issue), "--as", "remote-md", ok=False)
    assert refused.exit_code == 1 and "email_only" in refused.stderr and "Traceback" not in refused.stderr


# ---- the emailed link -------------------------------------------------------------------------


def _token_from_outbox(config) -> str:
    [eml] = sorted(config.resolve(config.delivery.outbox_dir).rglob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes())
    assert message["Subject"].startswith("[REVIEW] ")
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    text = part.get_payload(decode=True)
    assert isinstance(text, bytes)
    found = re.search(rb"/approve/([0-9]+\.[0-9]+\.[A-Za-z0-9_-]+)", text)
    assert found is not None
    return found.group(1).decode()


def test_an_emailed_link_approves_once_as_that_reviewer(make_config, any_store, sample_issue):
    config = make_config(REAL_NEWSLETTER)
    sent = approve.request_review(config, any_store, sample_issue, "remote-md", NOW)
    assert sent.reviewer.email == "remote@tristatepain-news.org"
    token = _token_from_outbox(config)
    review = approve.open_link(config, any_store, token, NOW + dt.timedelta(hours=1))
    assert review.current and review.reviewer.key == "remote-md"
    recorded = approve.approve_by_link(config, any_store, token, "", NOW + dt.timedelta(hours=1))
    assert (recorded.reviewer, recorded.given) == ("remote-md", "emailed link")
    assert approve.approval_status(config, any_store, sample_issue).approved
    with pytest.raises(InvalidToken, match="already been used"):
        approve.approve_by_link(config, any_store, token, "", NOW + dt.timedelta(hours=2))


def test_an_emailed_link_expires_is_bound_to_the_version_and_cannot_be_forged(
    make_config, any_store, sample_issue
):
    config = make_config(REAL_NEWSLETTER)
    approve.request_review(config, any_store, sample_issue, "remote-md", NOW)
    token = _token_from_outbox(config)
    with pytest.raises(InvalidToken, match="expired"):
        approve.open_link(config, any_store, token, NOW + dt.timedelta(days=14, seconds=1))
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken, match="not valid"):
        approve.open_link(config, any_store, forged, NOW)
    edit(sample_issue, "02-winter-activity.md", "cold", "freezing")
    with pytest.raises(ApprovalError, match="changed after this link was sent"):
        approve.approve_by_link(config, any_store, token, "", NOW)


# ---- the /approve page (serve) ----------------------------------------------------------------


@pytest.fixture
def approve_server(make_config, any_store):
    """serve's app for a real-looking project on SQLite and PostgreSQL: (config, store, base URL)."""
    from pain_news.web.app import create_app
    from pain_news.web.server import uvicorn_config
    from tests.fixtures.core import free_port, start_uvicorn

    config = make_config(REAL_NEWSLETTER)
    app = create_app(config, any_store)
    port = free_port()
    server, thread = start_uvicorn(uvicorn_config(app, "127.0.0.1", port, lifespan="off"))
    yield config, any_store, f"http://127.0.0.1:{port}"
    app.state.signups.close()
    app.state.welcomes.close()
    server.should_exit = True
    thread.join(10)


def origin_of(config) -> dict[str, str]:
    """The Origin a browser sends with a form posted from our own page."""
    return {"Origin": config.newsletter.public_url}


def _request_link(config, store, folder, key="remote-md") -> str:
    approve.request_review(config, store, folder, key, dt.datetime.now(dt.UTC))
    return _token_from_outbox(config)


def test_the_approve_page_shows_what_changed_and_its_button_approves_once(approve_server, sample_issue):
    config, store, url = approve_server
    approve_as(config, store, sample_issue)
    edit(sample_issue, "02-winter-activity.md", "cold", "freezing")
    token = _request_link(config, store, sample_issue)
    page = httpx.get(f"{url}/approve/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "Review issue 2026-12-winter" in page.text and "For Dr. Remote." in page.text
    assert "Last approved by Clinic Reviewer on" in page.text
    assert '<span class="add">+' in page.text and "freezing" in page.text
    assert 'id="approve"' in page.text
    assert "%%" not in page.text  # the words as the review copy shows them, the sample's name filled in
    assert not approve.approval_status(config, store, sample_issue).approved  # a GET changes nothing

    forged_origin = httpx.post(
        f"{url}/approve/{token}", data={"note": "x"}, headers={"Origin": "https://evil.example"}
    )
    assert forged_origin.status_code == 403
    assert not approve.approval_status(config, store, sample_issue).approved

    done = httpx.post(f"{url}/approve/{token}", data={"note": "read on my phone"}, headers=origin_of(config))
    assert done.status_code == 200 and "Approved" in done.text
    status = approve.approval_status(config, store, sample_issue)
    assert status.approved and status.approval is not None
    assert (status.approval.reviewer, status.approval.given, status.approval.note) == (
        "remote-md",
        "emailed link",
        "read on my phone",
    )
    again = httpx.post(f"{url}/approve/{token}", data={}, headers=origin_of(config))
    assert again.status_code == 400 and "already been used" in again.text
    assert len(ApprovalBook.for_store(store).of_content("issue", sample_issue.name)) == 2


def test_the_approve_page_refuses_a_changed_version_and_speaks_spanish(approve_server, sample_issue):
    config, store, url = approve_server
    token = _request_link(config, store, sample_issue)
    first = httpx.get(f"{url}/approve/{token}", headers={"Accept-Language": "es"})
    assert first.status_code == 200 and first.headers["content-language"] == "es"
    assert "Aprobar esta versión" in first.text and "primera aprobación" in first.text
    edit(sample_issue, "02-winter-activity.md", "cold", "freezing")
    page = httpx.get(f"{url}/approve/{token}")
    assert 'id="changed"' in page.text and 'id="approve"' not in page.text
    refused = httpx.post(f"{url}/approve/{token}", data={}, headers=origin_of(config))
    assert refused.status_code == 409 and "can no longer be approved" in refused.text
    assert ApprovalBook.for_store(store).of_content("issue", sample_issue.name) == []
    broken = httpx.get(f"{url}/approve/{token[:-3]}xyz")
    assert broken.status_code == 400 and "not valid" in broken.text


@pytest.mark.browser
def test_a_reviewer_approves_in_a_browser_without_a_terminal(approve_server, sample_issue, page_at):
    config, store, url = approve_server
    token = _request_link(config, store, sample_issue)
    page = page_at(375)
    page.goto(f"{url}/approve/{token}")
    assert "this would be the first approval" in page.inner_text("#diff")
    page.fill("#note", "fine by me")
    page.click("#approve")
    page.wait_for_selector("#result")
    assert "Dr. Remote approved version" in page.inner_text("main")
    status = approve.approval_status(config, store, sample_issue)
    assert status.approval is not None and status.approval.given == "emailed link"
    assert status.approval.note == "fine by me"


# ---- the welcome email and the automatic answer -----------------------------------------------

INBOUND = {"PAIN_NEWS_NEWSLETTER_INBOUND_DOMAIN": "reply.tristatepain-news.org"}


def test_report_warns_until_the_welcome_and_the_answer_are_approved_and_again_after_an_edit(
    run_cli, store, sample_issue, project
):
    store.add("p1@example.org")
    run_cli("send", str(sample_issue), "--yes", "--provider", "outbox", env=INBOUND)
    before = run_cli("report", str(sample_issue), env=INBOUND).stdout
    assert "warning: the welcome email has no approval: nobody has signed off this version" in before
    assert "warning: the automatic answer to replies has no approval" in before
    assert "it is still sent. Hint: pain-news approve --welcome --as KEY" in before

    welcome = run_cli("approve", "--welcome", "--as", "clinic-reviewer", env=INBOUND).stdout
    assert welcome.startswith("Approved welcome version ")
    run_cli("approve", "--auto-answer", "--as", "editor", "--note", "read the 988 line", env=INBOUND)
    after = run_cli("report", str(sample_issue), env=INBOUND).stdout
    assert "sign-off: the welcome email (version " in after and "approved by Clinic Reviewer" in after
    assert "sign-off: the automatic answer to replies (version " in after and "Eddie Editor" in after
    assert "warning" not in after

    answer = project / "templates" / "replies" / "answer.txt.j2"
    answer.write_text(answer.read_text() + "\nWe are closed on Sundays.\n")
    edited = run_cli("report", str(sample_issue), env=INBOUND).stdout
    assert "warning: the automatic answer to replies changed after its approval" in edited
    assert "changed since: answer.txt.j2" in edited
    diff = run_cli("approve", "--auto-answer", "--diff", env=INBOUND).stdout
    assert "+We are closed on Sundays." in diff
    without_inbound = run_cli("report", str(sample_issue)).stdout
    assert "automatic answer" not in without_inbound  # no replies are answered: nothing to warn about


def test_the_automatic_answer_is_approved_by_the_emailed_link(make_config, any_store):
    config = make_config(REAL_NEWSLETTER | INBOUND)
    folder = approve.content_folder(config, None, welcome=False, auto_answer=True)
    approve.request_review(config, any_store, folder, "remote-md", NOW)
    [eml] = sorted(config.resolve(config.delivery.outbox_dir).rglob("*.eml"))
    assert "911" in eml.read_text()  # the answer itself, as readers get it
    token = _token_from_outbox(config)
    review = approve.open_link(config, any_store, token, NOW)
    assert review.current and review.status is not None and review.status.content.kind == "auto-answer"
    recorded = approve.approve_by_link(config, any_store, token, "", NOW)
    assert (recorded.kind, recorded.content, recorded.given) == ("auto-answer", "auto-answer", "emailed link")
    assert approve.clinic_content_lines(config, any_store)[-1].startswith(
        "sign-off: the automatic answer to replies"
    )


def test_approve_needs_one_thing_to_approve(run_cli, sample_issue):
    both = run_cli("approve", str(sample_issue), "--welcome", "--as", "editor", ok=False)
    assert both.exit_code == 2 and "exactly one of ISSUE_DIR, --welcome or --auto-answer" in both.stderr


def test_serve_says_at_start_whether_the_welcome_and_the_answer_are_approved(project, store, config):
    from tests.fixtures.core import SECRET
    from tests.test_serve_workers import _start_serve, _stop

    approve.approve_here(
        config, store, config.welcome_dir, "clinic-reviewer", note="", os_user="ana", now=NOW
    )
    proc, _ = _start_serve(project, {"PAIN_NEWS_SECRET_KEY": SECRET, **INBOUND}, workers=1)
    said = _stop(proc)
    assert "serving on http://127.0.0.1:" in said
    assert "sign-off: the welcome email (version " in said and "approved by Clinic Reviewer" in said
    assert "warning: the automatic answer to replies has no approval" in said
