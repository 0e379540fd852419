"""The desk over real HTTP (uvicorn on loopback): its door, saving pieces, images, the lock and the
issues list. The browser walk is tests/browser/test_desk.py."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys

import httpx
import pytest

from pain_news.desk import lock
from pain_news.desk.frontmatter import read_fields, write_fields
from pain_news.desk.routes.sending import uncertain_sentence
from pain_news.desk.sources import read_piece
from pain_news.errors import ServerError
from tests.fixtures.core import REAL_NEWSLETTER, SECRET, free_port, publish_archive, sign_off

SPOTLIGHT = "01-spotlight-failed-spine-surgery.es.md"  # comments, a folded summary, a date
ARTICLE = "02-winter-activity.md"


def fields_and_body(path):
    source = read_piece(path)
    return source, {**source.fields(), "version": source.version, "body": source.body}


# The door ------------------------------------------------------------------------------------------


def test_a_request_without_the_token_is_refused(desk):
    running = desk()
    answer = httpx.get(f"{running.url}/")
    assert answer.status_code == 403
    assert "pain-news desk" in answer.text
    assert httpx.get(f"{running.url}/?token=wrong").status_code == 403


def test_the_token_becomes_a_strict_httponly_cookie_and_leaves_the_address(desk):
    running = desk()
    answer = httpx.get(running.opening_url, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert running.client().get("/").status_code == 200


def test_a_cross_origin_post_is_refused_and_changes_nothing(desk, project):
    running = desk()
    client = running.client()
    data = {"csrf_token": running.session.csrf, "title": "Evil", "date": "2027-01-01"}
    answer = client.post("/issues", data=data, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert not any(p.name.startswith("2027-01") for p in (project / "issues").iterdir())


def test_a_post_without_the_csrf_token_is_refused(desk, project):
    running = desk()
    client = running.client()
    answer = client.post(
        "/issues", data={"title": "X", "date": "2027-01-01"}, headers={"Origin": running.url}
    )
    assert answer.status_code == 403
    assert not any(p.name.startswith("2027-01") for p in (project / "issues").iterdir())


def test_a_host_name_other_than_loopback_is_refused(desk):
    running = desk()
    client = running.client()
    assert client.get("/", headers={"Host": "attacker.example"}).status_code == 421


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "example.org"])
def test_desk_refuses_a_host_that_is_not_loopback(run_cli, host):
    result = run_cli("desk", "--host", host, "--no-open", ok=False)
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert f"--host {host}" in line and "127.0.0.1, ::1 or localhost" in line


def test_a_second_desk_on_the_same_project_refuses_and_says_where_the_first_runs(project):
    first = lock.acquire(project, "http://127.0.0.1:8420/?token=abc", "http://127.0.0.1:8420/")
    path = project / lock.LOCK_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ServerError, match=r"already runs for this project at http://127\.0\.0\.1:8420/"):
        lock.acquire(project, "http://127.0.0.1:8421/?token=def", "http://127.0.0.1:8421/")
    first.release()
    assert not path.exists()
    lock.acquire(project, "http://127.0.0.1:8421/?token=def", "http://127.0.0.1:8421/").release()


def test_a_lock_left_by_a_desk_that_stopped_is_taken_over(project):
    (project / lock.LOCK_NAME).write_text('{"pid": 999999999, "url": "x", "address": "y"}')
    lock.acquire(project, "http://127.0.0.1:8420/?token=a", "http://127.0.0.1:8420/").release()


# Saving pieces -------------------------------------------------------------------------------------


def test_a_save_without_a_change_is_byte_identical(desk, sample_issue):
    running = desk()
    client = running.client()
    path = sample_issue / SPOTLIGHT
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    _, form = fields_and_body(path)
    answer = running.post(client, f"/issues/{sample_issue.name}/pieces/{SPOTLIGHT}", form)
    assert answer.status_code == 200  # back on the editor, "Saved."
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime


def test_a_changed_title_changes_only_its_line_keeping_comments_and_order(desk, sample_issue):
    running = desk()
    client = running.client()
    path = sample_issue / SPOTLIGHT
    before = path.read_text().splitlines()
    _, form = fields_and_body(path)
    form["title"] = "Un título nuevo"
    answer = running.post(client, f"/issues/{sample_issue.name}/pieces/{SPOTLIGHT}", form)
    assert answer.status_code == 200
    after = path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [(before[6], 'title: "Un título nuevo"')]


def test_a_call_to_action_from_the_form_is_a_nested_mapping_the_loader_reads(sample_issue):
    source = read_piece(sample_issue / ARTICLE)
    fields = {**source.fields(), "cta_label": "Book a visit", "cta_url": "https://clinic.example/book"}
    front = write_fields(source.front, fields)
    assert "cta:\n  label: Book a visit\n  url: https://clinic.example/book\n" in front
    assert read_fields(front)["cta_label"] == "Book a visit"
    assert write_fields(front, read_fields(front)) == front


def test_a_file_edited_on_disk_while_open_is_not_overwritten(desk, sample_issue):
    running = desk()
    client = running.client()
    path = sample_issue / ARTICLE
    _, form = fields_and_body(path)
    edited = path.read_text().replace("Keep moving", "Keep on moving")
    path.write_text(edited)  # her text editor saved meanwhile
    form["body"] = form["body"] + "\nA line from the desk.\n"
    answer = running.post(client, f"/issues/{sample_issue.name}/pieces/{ARTICLE}", form)
    assert answer.status_code == 409
    assert "changed on disk since you opened it" in answer.text
    assert "A line from the desk." in answer.text  # her words are still on the page
    assert path.read_text() == edited


def test_two_tabs_saving_the_same_piece_the_second_is_told(desk, sample_issue):
    running = desk()
    first, second = running.client(), running.client()
    path = sample_issue / ARTICLE
    _, form = fields_and_body(path)
    url = f"/issues/{sample_issue.name}/pieces/{ARTICLE}"
    assert running.post(first, url, {**form, "body": form["body"] + "\nFirst tab.\n"}).status_code == 200
    answer = running.post(second, url, {**form, "body": form["body"] + "\nSecond tab.\n"})
    assert answer.status_code == 409
    text = path.read_text()
    assert "First tab." in text and "Second tab." not in text


def test_a_draft_is_built_and_checked_without_touching_the_file(desk, sample_issue):
    running = desk()
    client = running.client()
    path = sample_issue / ARTICLE
    before = path.read_bytes()
    _, form = fields_and_body(path)
    url = f"/issues/{sample_issue.name}/pieces/{ARTICLE}/draft"
    answer = running.post(client, url, {**form, "title": "A draft title", "kind": "newz"})
    assert answer.status_code == 200
    found = [f for f in answer.json()["findings"] if f["file"] == ARTICLE]
    assert any("unknown kind 'newz'" in f["message"] and f["line"] == 2 for f in found), found
    assert path.read_bytes() == before
    answer = running.post(client, url, {**form, "title": "A draft title"})
    assert "A draft title" in client.get(f"/issues/{sample_issue.name}/email.html?unsaved=1").text
    assert "A draft title" not in client.get(f"/issues/{sample_issue.name}/email.html").text


def test_saving_leaves_no_temporary_file(desk, sample_issue):
    running = desk()
    client = running.client()
    _, form = fields_and_body(sample_issue / ARTICLE)
    running.post(client, f"/issues/{sample_issue.name}/pieces/{ARTICLE}", {**form, "title": "Warm up"})
    assert sorted(p.name for p in sample_issue.iterdir() if p.name.startswith(".")) == []


# Images --------------------------------------------------------------------------------------------


def photo(width=3000, height=2000) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (180, 120, 90)).save(out, "JPEG", quality=95)
    return out.getvalue()


def test_an_image_is_resized_to_the_column_at_2x_and_saved_under_images(desk, sample_issue):
    from PIL import Image

    running = desk()
    client = running.client()
    answer = client.post(
        f"/issues/{sample_issue.name}/images",
        files={"image": ("Winter Walk.JPG", photo(), "image/jpeg")},
        data={"alt": "A path cleared of snow"},
        headers={"Origin": running.url, "X-CSRF-Token": running.session.csrf},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["markdown"] == "![A path cleared of snow](images/winter-walk.jpg)"
    with Image.open(sample_issue / "images" / "winter-walk.jpg") as saved:
        assert saved.size == (1104, 736)


def test_an_image_without_alt_text_is_refused_and_not_saved(desk, sample_issue):
    running = desk()
    client = running.client()
    answer = client.post(
        f"/issues/{sample_issue.name}/images",
        files={"image": ("walk.jpg", photo(800, 600), "image/jpeg")},
        data={"alt": "  "},
        headers={"Origin": running.url, "X-CSRF-Token": running.session.csrf},
    )
    assert answer.status_code == 400
    assert "alt text" in answer.json()["error"]
    assert not (sample_issue / "images" / "walk.jpg").exists()


# The issues list -----------------------------------------------------------------------------------


def test_new_issue_runs_the_scaffold_and_lists_it_as_a_draft(desk, project):
    running = desk()
    client = running.client()
    answer = running.post(client, "/issues", {"title": "January 2027", "date": "2027-01-05"})
    assert answer.status_code == 200
    folder = project / "issues" / "2027-01-january-2027"
    assert sorted(p.name for p in folder.iterdir()) == ["01-spotlight.md", "02-article.md", "issue.toml"]
    listed = client.get("/").text
    assert "2027-01-january-2027" in listed and "state-draft" in listed


def test_the_files_it_serves_are_only_the_issues_images(desk, sample_issue):
    running = desk()
    client = running.client()
    assert client.get(f"/issues/{sample_issue.name}/issue.toml").status_code == 404
    assert client.get(f"/issues/{sample_issue.name}/pieces/..%2Fissue.toml").status_code == 404
    assert client.get("/issues/nope").status_code == 404


def test_the_lock_file_is_private(project):
    held = lock.acquire(project, "http://127.0.0.1:1/?token=t", "http://127.0.0.1:1/")
    try:
        assert oct(os.stat(project / lock.LOCK_NAME).st_mode & 0o777) == "0o600"
    finally:
        held.release()


# The command -----------------------------------------------------------------------------------


def spawn_desk(project, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAIN_NEWS_") and k != "SENDGRID_API_KEY"}
    env["PAIN_NEWS_SECRET_KEY"] = SECRET
    return subprocess.Popen(
        [sys.executable, "-m", "pain_news", "desk", "--no-open", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def test_desk_prints_its_link_first_refuses_a_second_desk_and_cleans_up(project, run_cli):
    port = free_port()
    desk_process = spawn_desk(project, port)
    try:
        first = desk_process.stdout.readline().strip()
        assert first.startswith(f"http://127.0.0.1:{port}/?token=") and len(first.split("token=")[1]) >= 32
        held = project / lock.LOCK_NAME
        assert stat.S_IMODE(held.stat().st_mode) == 0o600
        assert json.loads(held.read_text())["url"] == first
        second = run_cli("desk", "--no-open", "--port", str(free_port()), ok=False)
        assert second.exit_code == 1
        assert f"a desk already runs for this project at http://127.0.0.1:{port}/" in second.stderr
        answer = httpx.get(first, follow_redirects=True, timeout=60)
        assert answer.status_code == 200 and "Issues" in answer.text
    finally:
        desk_process.send_signal(signal.SIGINT)
        desk_process.communicate(timeout=30)
    assert not (project / lock.LOCK_NAME).exists()


# Subscribers -----------------------------------------------------------------------------------


def test_a_person_is_looked_up_by_address_and_unsubscribed_with_the_staff_name(desk, store):
    store.add("maria@tristatepain-news.org", "Maria", "Lopez")
    running = desk()
    client = running.client()
    assert "maria@tristatepain-news.org" not in client.get("/subscribers").text  # nobody listed by default
    page = client.get("/subscribers", params={"email": "maria@tristatepain-news.org"}).text
    assert "Status: <strong>active</strong>" in page
    answer = running.post(
        client,
        "/subscribers/opt-out?email=maria%40tristatepain-news.org",
        {"email": "maria@tristatepain-news.org", "staff": "", "action": "unsubscribe"},
    )
    assert answer.status_code == 400 and "Give your name" in answer.text
    assert store.get("maria@tristatepain-news.org").status == "active"
    answer = running.post(
        client,
        "/subscribers/opt-out?email=maria%40tristatepain-news.org",
        {"email": "maria@tristatepain-news.org", "staff": "Rosa at the front desk", "action": "unsubscribe"},
    )
    assert answer.status_code == 200
    assert store.get("maria@tristatepain-news.org").status == "unsubscribed"
    _, history = store.history("maria@tristatepain-news.org")
    assert "recorded by Rosa at the front desk" in history[-1].detail
    assert "recorded by Rosa at the front desk" in answer.text


def test_an_erasure_keeps_only_a_hash_and_who_did_it(desk, store, project):
    store.add("sam@tristatepain-news.org", "Sam", "Doe")
    running = desk()
    client = running.client()
    answer = running.post(
        client,
        "/subscribers/opt-out?email=sam%40tristatepain-news.org",
        {"email": "sam@tristatepain-news.org", "staff": "Rosa", "action": "erase"},
    )
    assert answer.status_code == 200 and "Erased" in answer.text
    assert store.get("sam@tristatepain-news.org") is None
    log = (project / "subscribers" / "desk-erasures.log").read_text()
    assert "by Rosa" in log and "sam@" not in log
    assert stat.S_IMODE((project / "subscribers" / "desk-erasures.log").stat().st_mode) == 0o600


def test_an_import_shows_what_would_change_before_anything_does(desk, store):
    store.add("gone@tristatepain-news.org", "Gone", "Away")
    store.unsubscribe("gone@tristatepain-news.org")
    running = desk()
    client = running.client()
    csv = "email,first_name\nnew@tristatepain-news.org,New\ngone@tristatepain-news.org,Gone\nnot-an-address,Bad\n"
    answer = client.post(
        "/subscribers/import",
        files={"file": ("list.csv", csv.encode(), "text/csv")},
        data={"csrf_token": running.session.csrf},
        headers={"Origin": running.url},
    )
    assert answer.status_code == 200
    assert "Nothing saved yet." in answer.text and "Line 4 skipped" in answer.text
    assert store.get("new@tristatepain-news.org") is None
    upload_id = answer.text.split('name="upload_id" value="')[1].split('"')[0]
    uploads = running.app.state.desk.uploads
    assert stat.S_IMODE(uploads.stat().st_mode) == 0o700
    assert stat.S_IMODE((uploads / f"{upload_id}.csv").stat().st_mode) == 0o600
    answer = running.post(client, "/subscribers/import", {"upload_id": upload_id, "apply": "1"})
    assert "Imported:" in answer.text
    assert (
        list(uploads.iterdir()) == []
    )  # the spreadsheet is gone once imported    assert store.get("new@tristatepain-news.org").status == "active"
    assert store.get("gone@tristatepain-news.org").status == "unsubscribed"  # never made active again


# Sending -----------------------------------------------------------------------------------------


@pytest.fixture
def sendgrid_desk(desk, sendgrid_standin, any_store, sample_issue):
    """A desk sending through the SendGrid stand-in (on SQLite and PostgreSQL), the sample issue
    published and signed off, three people."""
    store = any_store
    running = desk(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
            "PAIN_NEWS_SENDGRID_TIMEOUT": "5",
            "PAIN_NEWS_NEWSLETTER_TIMEZONE": "America/New_York",  # a schedule's local time is read in it
        },
        store=store,
    )
    publish_archive(running.config)
    sign_off(running.config, store, sample_issue)
    for address in ("a@tristatepain-news.org", "b@tristatepain-news.org", "c@tristatepain-news.org"):
        store.add(address, "A", "B")
    return running


def wait_for_job(running, name):
    job = running.app.state.desk.jobs.get(name)
    assert job is not None
    for thread in running.app.state.desk.jobs._threads:
        thread.join(60)
    assert job.finished
    return job


def test_a_send_confirmed_for_another_number_of_recipients_sends_nothing(
    sendgrid_desk, sample_issue, sendgrid_standin
):
    client = sendgrid_desk.client()
    page = client.get(f"/issues/{sample_issue.name}/send").text
    assert "Send to 3 recipients" in page
    answer = sendgrid_desk.post(client, f"/issues/{sample_issue.name}/send", {"confirm_count": "2"})
    assert answer.status_code == 409
    assert "the number of recipients is now 3 (you confirmed 2)" in answer.text
    assert sendgrid_standin.recipients() == []
    assert sendgrid_desk.app.state.desk.jobs.get(sample_issue.name) is None


def test_a_send_from_the_desk_is_the_ledgers_send(sendgrid_desk, sample_issue, sendgrid_standin):
    from pain_news.ledger import CampaignLedger

    client = sendgrid_desk.client()
    answer = sendgrid_desk.post(client, f"/issues/{sample_issue.name}/send", {"confirm_count": "3"})
    assert answer.status_code == 200 and "/progress" in str(answer.url)
    job = wait_for_job(sendgrid_desk, sample_issue.name)
    assert job.error == "" and job.done == 3
    assert sorted(sendgrid_standin.recipients()) == [
        "a@tristatepain-news.org",
        "b@tristatepain-news.org",
        "c@tristatepain-news.org",
    ]
    ledger = CampaignLedger.for_store(sendgrid_desk.store)
    campaign = ledger.latest(sample_issue.name)
    assert campaign is not None
    assert ledger.counts(campaign.id)["sent"] == 3
    assert client.get(f"/issues/{sample_issue.name}/progress.json").json()["finished"] is True
    assert "sent" in client.get(f"/issues/{sample_issue.name}/report").text


def test_a_scheduled_send_shows_as_scheduled(sendgrid_desk, sample_issue, sendgrid_standin):
    import datetime as dt

    from pain_news.config.clock import clinic_zone

    client = sendgrid_desk.client()
    local = dt.datetime.now(clinic_zone(sendgrid_desk.config)) + dt.timedelta(hours=2)
    at = local.strftime("%Y-%m-%dT%H:%M")  # what <input type="datetime-local"> posts
    answer = sendgrid_desk.post(client, f"/issues/{sample_issue.name}/send", {"confirm_count": "3", "at": at})
    assert answer.status_code == 200, answer.text.split('id="notice"')[-1][:400]
    assert wait_for_job(sendgrid_desk, sample_issue.name).error == ""
    row = client.get("/").text.split(f'data-issue="{sample_issue.name}"')[1].split("</tr>")[0]
    assert "state-scheduled" in row
    assert 'id="cancel-form"' in client.get(f"/issues/{sample_issue.name}/send").text
    answer = sendgrid_desk.post(client, f"/issues/{sample_issue.name}/cancel", {})
    assert answer.status_code == 200 and "is cancelled" in answer.text


def test_uncertain_is_explained_in_one_sentence_with_the_choice():
    text = uncertain_sentence(2)
    assert text.count(".") == 1 and text.endswith(".")
    assert "2 people may or may not have received" in text
    assert "send to them again" in text and "leave them" in text


def test_a_piece_whose_front_matter_the_form_cannot_read_opens_as_a_whole_file(desk, sample_issue):
    running = desk()
    client = running.client()
    path = sample_issue / ARTICLE
    broken = path.read_text().replace("kind: article", "kind: [article", 1)
    path.write_text(broken)
    page = client.get(f"/issues/{sample_issue.name}/pieces/{ARTICLE}")
    assert page.status_code == 200 and "The form cannot show this piece" in page.text
    version = page.text.split('name="version" value="')[1].split('"')[0]
    fixed = broken.replace("kind: [article", "kind: article")
    answer = running.post(
        client, f"/issues/{sample_issue.name}/pieces/{ARTICLE}/raw", {"version": version, "text": fixed}
    )
    assert answer.status_code == 200
    assert path.read_text() == fixed
    assert 'id="piece-form"' in answer.text  # back in the form


def test_uncertain_recipients_are_explained_and_sent_again_only_when_she_chooses(
    sendgrid_desk, sample_issue, sendgrid_standin
):
    client = sendgrid_desk.client()
    url = f"/issues/{sample_issue.name}/send"
    sendgrid_standin.script("drop")  # the connection drops: delivery may or may not have happened
    sendgrid_desk.post(client, url, {"confirm_count": "3"})
    assert wait_for_job(sendgrid_desk, sample_issue.name).uncertain == 3
    page = client.get(url).text
    assert uncertain_sentence(3) in page, page.split('id="gates"')[1][:1500]
    assert "Send again, to 3 recipients (the uncertain included)" in page
    assert 'id="send-form"' not in page  # nobody else is left: only her choice remains
    sendgrid_desk.post(client, url, {"confirm_count": "3", "resend_uncertain": "1"})
    assert wait_for_job(sendgrid_desk, sample_issue.name).error == ""
    assert len(sendgrid_standin.recipients()) == 3
