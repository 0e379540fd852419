"""The gates before a list send (pain_news/campaign/gates.py): each refuses with one line, sends nothing
and creates no campaign; the outbox provider and test sends go ahead with a warning."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from pain_news.campaign.gates import SendRequest, published_before_mailed
from pain_news.campaign.options import SendOptions
from pain_news.campaign.placeholder_settings import is_reserved_host, placeholder_settings
from pain_news.errors import IssueError
from pain_news.ledger import CampaignLedger
from tests.fixtures.core import REAL_NEWSLETTER, error_lines, publish_archive, sign_off

SPOTLIGHT = "01-spotlight-failed-spine-surgery.md"


def smtp_settings(smtp_server) -> dict[str, str]:
    """Real-looking settings for a list send through the loopback SMTP server."""
    return {
        **REAL_NEWSLETTER,
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
        "PAIN_NEWS_SMTP_SECURITY": "none",
    }


@pytest.fixture
def smtp_env(smtp_server, store):
    """A list send through the loopback SMTP server, to two subscribers, with real-looking settings."""
    store.add("p1@example.org", "Pat", "One")
    store.add("p2@example.org", "Sam", "Two")
    return smtp_settings(smtp_server)


@pytest.fixture
def published(make_config, sample_issue, store):
    """The sample issue archived and signed off with the real-looking settings (what public_url would serve)."""
    publish_archive(make_config(REAL_NEWSLETTER))
    sign_off(make_config(REAL_NEWSLETTER), store, sample_issue)
    return sample_issue


def refused(run_cli, store, smtp_server, issue: Path, env: dict[str, str], *args: str) -> str:
    """Run a list send that must be refused: exit 1, nothing sent, no campaign; returns the Error line."""
    result = run_cli("send", str(issue), "--yes", *args, env=env, ok=False)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert smtp_server.messages == []
    assert CampaignLedger.for_store(store).latest(issue.name) is None
    assert "Traceback" not in result.stderr
    return "\n".join(error_lines(result))


def set_review(issue: Path, date: str) -> None:
    """The spotlight's review date, in every edition (check's parity wants them equal)."""
    for path in (issue / SPOTLIGHT, (issue / SPOTLIGHT).with_suffix(".es.md")):
        path.write_text(path.read_text().replace("reviewed_on: 2026-11-02", f"reviewed_on: {date}"))


# ---- placeholder settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "reserved"),
    [
        ("example.com", True),
        ("news.example.org", True),
        ("tristatepain.example", True),
        ("mail.clinic.test", True),
        ("x.invalid", True),
        ("localhost", True),
        ("tristatepain-news.org", False),
        ("example.community", False),
        ("myexample.com", False),
    ],
)
def test_reserved_example_domains_are_told_apart_from_real_ones(host, reserved):
    assert is_reserved_host(host) is reserved


def test_placeholder_settings_refuse_an_smtp_list_send_naming_each_setting_and_its_file(
    run_cli, store, smtp_server, published, smtp_env, make_config
):
    env = {k: v for k, v in smtp_env.items() if "NEWSLETTER" not in k}  # the fixture's .example values
    sign_off(make_config(env), store, published)  # the sender is part of the approved version
    err = refused(run_cli, store, smtp_server, published, env, "--skip-published-check")
    first = err.splitlines()[0]
    assert first.startswith("Error: placeholder settings cannot go to subscribers: ")
    for key in (
        "from_email",
        "reply_to",
        "postal_address",
        "public_url",
        "conditions_url",
        "list_id",
        "appointment_url",
    ):
        assert f"newsletter.{key} " in first
        assert f"(set in pain-news.toml key newsletter.{key})" in first


def test_a_placeholder_from_the_environment_names_the_variable(
    run_cli, store, smtp_server, published, smtp_env, make_config
):
    env = {**smtp_env, "PAIN_NEWS_NEWSLETTER_FROM_EMAIL": "news@mail.example.net"}
    sign_off(make_config(env), store, published)
    err = refused(run_cli, store, smtp_server, published, env)
    assert err.splitlines()[0] == (
        "Error: placeholder settings cannot go to subscribers: newsletter.from_email 'news@mail.example.net' "
        "is on a reserved example domain (set in environment variable PAIN_NEWS_NEWSLETTER_FROM_EMAIL)"
    )
    assert err.splitlines()[1].startswith("Hint: set the clinic's real addresses")


def test_what_init_wrote_is_a_placeholder_even_off_an_example_domain(make_config):
    from pain_news.campaign.placeholder_settings import scaffold_newsletter

    postal = scaffold_newsletter()["postal_address"]
    config = make_config({**REAL_NEWSLETTER, "PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS": postal})
    assert placeholder_settings(config) == [
        f"newsletter.postal_address {postal!r} is still what pain-news init wrote "
        "(set in environment variable PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS)"
    ]
    assert placeholder_settings(make_config(REAL_NEWSLETTER)) == []


def test_the_outbox_provider_sends_placeholder_settings_with_a_warning(run_cli, store, sample_issue):
    store.add("p1@example.org")
    result = run_cli("send", str(sample_issue), "--yes", "--provider", "outbox")
    assert (
        "Warning: placeholder settings (a list send through smtp or sendgrid refuses them)" in result.stdout
    )
    assert "Ledger: sent 1" in result.stdout


def test_a_test_send_with_placeholder_settings_goes_out_with_a_warning(
    run_cli, store, smtp_server, sample_issue, smtp_env
):
    env = {k: v for k, v in smtp_env.items() if "NEWSLETTER" not in k}
    result = run_cli("send", str(sample_issue), "--test", "--to", "ed@example.org", env=env)
    assert "Warning: placeholder settings" in result.stderr
    assert "Warning: the issue is not published" in result.stderr
    assert [m["To"] for m in smtp_server.messages] == ["ed@example.org"]


# ---- drafts ----------------------------------------------------------------------------------


def make_draft(issue: Path) -> None:
    toml = issue / "issue.toml"
    toml.write_text("draft = true\n" + toml.read_text())


def test_a_list_send_refuses_a_draft_and_a_test_send_does_not(
    run_cli, store, smtp_server, published, smtp_env
):
    make_draft(published)
    err = refused(run_cli, store, smtp_server, published, smtp_env)
    assert err.splitlines()[0] == (
        f"Error: {published / 'issue.toml'}: this issue is a draft: remove draft = true from issue.toml to send"
    )
    run_cli("send", str(published), "--test", "--to", "ed@example.org", env=smtp_env)
    assert [m["To"] for m in smtp_server.messages] == ["ed@example.org"]
    run_cli("build", str(published))
    run_cli("check", str(published))


# ---- medical review --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("date", "why"), [("2020-01-15", "more than 12 months before"), ("2099-01-01", "is after today")]
)
def test_a_review_out_of_date_or_in_the_future_refuses_a_list_send(
    run_cli, store, smtp_server, sample_issue, smtp_env, make_config, date, why
):
    set_review(sample_issue, date)
    publish_archive(make_config(REAL_NEWSLETTER))
    err = refused(run_cli, store, smtp_server, sample_issue, smtp_env)
    assert "medical review is not current for a list send" in err
    assert why in err
    assert f"{SPOTLIGHT}:12: " in err


def test_review_months_sets_the_limit(run_cli, store, smtp_server, sample_issue, smtp_env, make_config):
    set_review(sample_issue, "2020-01-15")
    publish_archive(make_config(REAL_NEWSLETTER))
    env = {**smtp_env, "PAIN_NEWS_BUILD_REVIEW_MONTHS": "1200"}
    sign_off(make_config(env), store, sample_issue)
    result = run_cli("send", str(sample_issue), "--yes", env=env)
    assert "Ledger: sent 2" in result.stdout


# ---- published before mailed ---------------------------------------------------------------


def test_an_unarchived_issue_refuses_a_list_send_with_the_archive_hint(
    run_cli, store, smtp_server, sample_issue, smtp_env, make_config
):
    sign_off(make_config(smtp_env), store, sample_issue)
    err = refused(run_cli, store, smtp_server, sample_issue, smtp_env)
    assert "the issue is not published in the archive folder" in err.splitlines()[0]
    assert "2026-12-winter/index.html missing" in err.splitlines()[0]
    assert err.splitlines()[1] == (
        "Hint: run 'pain-news archive', then publish the archive folder at public_url; "
        "--skip-published-check if you publish it another way"
    )


def test_a_stale_archive_refuses_a_list_send(run_cli, store, smtp_server, published, smtp_env, make_config):
    toml = published / "issue.toml"
    toml.write_text(toml.read_text().replace('subject = "', 'subject = "CHANGED '))
    sign_off(make_config(smtp_env), store, published)
    err = refused(run_cli, store, smtp_server, published, smtp_env)
    assert "2026-12-winter/index.html stale (differs from this build)" in err.splitlines()[0]


def tiny_png() -> bytes:
    """A valid 1×1 PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


def test_a_missing_image_in_the_archive_is_named(
    run_cli, store, smtp_server, sample_issue, smtp_env, project, make_config
):
    (sample_issue / "images").mkdir()
    (sample_issue / "images" / "chart.png").write_bytes(tiny_png())
    article = sample_issue / "02-winter-activity.md"
    article.write_text(article.read_text() + "\n![A walking chart](images/chart.png)\n")
    spanish = sample_issue / "02-winter-activity.es.md"  # the same image in the Spanish edition
    spanish.write_text(spanish.read_text() + "\n![Un gráfico de caminatas](images/chart.png)\n")
    publish_archive(make_config(REAL_NEWSLETTER))
    image = project / "archive" / sample_issue.name / "images" / "chart.png"
    assert image.is_file()
    image.unlink()
    sign_off(make_config(smtp_env), store, sample_issue)
    err = refused(run_cli, store, smtp_server, sample_issue, smtp_env)
    assert "2026-12-winter/images/chart.png missing" in err.splitlines()[0]


def test_skip_published_check_sends_and_the_plan_says_so(
    run_cli, store, smtp_server, sample_issue, smtp_env, make_config
):
    sign_off(make_config(smtp_env), store, sample_issue)
    result = run_cli("send", str(sample_issue), "--yes", "--skip-published-check", env=smtp_env)
    assert (
        "Warning: not checked that the issue is published under public_url (--skip-published-check)"
        in result.stdout
    )
    assert len(smtp_server.messages) == 2


class ArchiveServer:
    """The archive folder served on loopback (http.server), as a static host would serve it."""

    def __init__(self, folder: Path) -> None:
        handler = functools.partial(QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


@pytest.fixture
def archive_server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = ArchiveServer(folder)
    yield server, folder
    server.stop()


def test_check_published_requests_each_url(make_config, sample_issue, archive_server, tmp_path):
    """--check-published: HEAD on the web version and every image; missing or other length refuses."""
    import shutil

    from pain_news.campaign.gates import checked_build

    server, folder = archive_server
    config = make_config({**REAL_NEWSLETTER, "PAIN_NEWS_NEWSLETTER_PUBLIC_URL": server.url})
    result = checked_build(config, sample_issue)
    request = SendRequest(
        config=config, issue_dir=sample_issue, options=SendOptions(provider="smtp", published="online")
    )
    with pytest.raises(
        IssueError, match=rf"not published at {server.url}: {server.url}/2026-12-winter/ answers HTTP 404"
    ):
        published_before_mailed(request, result)
    publish_archive(config)
    shutil.copytree(config.resolve("archive"), folder, dirs_exist_ok=True)
    published_before_mailed(request, result)  # every URL answers with this build's bytes
    (folder / "2026-12-winter" / "index.html").write_text("an older web version")
    with pytest.raises(IssueError, match=r"2026-12-winter/ stale \(20 bytes online"):
        published_before_mailed(request, result)


def test_check_published_on_the_command_line(run_cli, store, sample_issue, archive_server):
    """CLI: with the outbox provider an unpublished issue only warns, naming the URL it asked."""
    server, _ = archive_server
    store.add("p1@example.org")
    env = {"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": server.url}
    result = run_cli("send", str(sample_issue), "--yes", "--check-published", env=env)
    assert (
        f"Warning: the issue is not published at {server.url}: {server.url}/2026-12-winter/ answers HTTP 404"
        in result.stdout
    )
    both = run_cli("send", str(sample_issue), "--check-published", "--skip-published-check", ok=False)
    assert both.exit_code == 2


# ---- every gate at once --------------------------------------------------------------------


def test_dry_run_lists_every_gate_that_refuses(run_cli, store, smtp_server, sample_issue, smtp_env):
    make_draft(sample_issue)
    set_review(sample_issue, "2020-01-15")
    env = {**smtp_env, "PAIN_NEWS_NEWSLETTER_FROM_EMAIL": "news@example.com"}
    err = refused(run_cli, store, smtp_server, sample_issue, env, "--dry-run")
    lines = err.splitlines()
    assert lines[0] == "Error: the list send is refused (5 problems):"
    assert "placeholder settings cannot go to subscribers" in lines[1]
    assert "remove draft = true from issue.toml to send" in lines[2]
    assert "medical review is not current" in lines[3]
    assert "issue 2026-12-winter has no approval: nobody has signed off this version" in lines[4]
    assert "the issue is not published" in lines[5]
    assert lines[6].startswith("Hint: fix each one")


# ---- the resume summary --------------------------------------------------------------------


def test_the_resume_plan_says_pending_not_already_settled_pending():
    from pain_news.campaign.summary import SendPlan

    plan = SendPlan(
        issue="x",
        subject="s",
        provider="smtp",
        sender="a@b.org",
        to_send=2,
        opted_out=0,
        not_confirmed=0,
        campaign_id=3,
        ledger={"pending": 2, "in_flight": 0, "sent": 5, "failed": 0},
    )
    assert plan.lines()[4] == "Recipients: 2 to send now; already settled: sent 5; pending 2"
    only_pending = SendPlan(
        issue="x",
        subject="s",
        provider="smtp",
        sender="a@b.org",
        to_send=2,
        opted_out=0,
        not_confirmed=0,
        campaign_id=3,
        ledger={"pending": 2, "sent": 0},
    )
    assert only_pending.lines()[4] == "Recipients: 2 to send now; pending 2"


def test_an_untouched_scaffold_refuses_a_list_send_naming_the_sentences(
    run_cli, store, smtp_server, project, smtp_env
):
    run_cli("new", "issues/2027-01-january")
    issue = project / "issues" / "2027-01-january"
    err = refused(run_cli, store, smtp_server, issue, smtp_env, "--dry-run")
    assert err.splitlines()[0].startswith("Error: 2027-01-january: ") and "errors" in err.splitlines()[0]
    assert "still the scaffold's text: 'Name of the condition'" in err
    assert err.splitlines()[-1] == f"Hint: run pain-news check {issue} and fix the errors, then send again"
