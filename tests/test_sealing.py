"""The test suite is sealed: a developer's own settings never reach it (docs/development.md, "Sealed from the developer's settings").

A copy of the test suite runs in a subprocess inside a "project" whose pain-news.toml, .env and
environment all point at a mail relay and a SendGrid API on loopback ports this test started.
Representative tests (list sends, test sends, signup confirmations, CLI runs) must pass and the
relay and the API must receive nothing.
"""

import http.server
import shutil
import subprocess
import sys
import threading

import pytest

from tests.fixtures.core import ROOT

REPRESENTATIVE = [
    "tests/test_campaign.py::test_send_yes_prints_plan_and_summary_then_report_answers_who_got_it",
    "tests/test_campaign.py::test_send_test_prefixes_the_subject_uses_sample_values_and_records_nothing",
    "tests/test_campaign.py::test_report_of_an_unknown_campaign_is_one_clear_line",
    "tests/test_web_app.py::test_signup_is_pending_until_the_emailed_link_is_opened_and_confirmed",
    "tests/test_cli.py::test_build_prints_summary_and_writes_files",
    "tests/test_cli.py::test_debug_shows_the_traceback",
    "tests/test_config.py::test_file_values_are_read",
]


class RecordingApi(http.server.BaseHTTPRequestHandler):
    """A stand-in for api.sendgrid.com that records every request and accepts it."""

    requests: list[str] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        RecordingApi.requests.append(self.path)
        self.send_response(202)
        self.end_headers()

    do_GET = do_PUT = do_DELETE = do_POST

    def log_message(self, *args):
        pass


@pytest.fixture
def sendgrid_api():
    RecordingApi.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", RecordingApi.requests
    server.shutdown()
    server.server_close()


def copy_of_the_suite(tmp_path):
    """The tests with what they read from the repository, in a folder we can make hostile."""
    checkout = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("artifacts", "__pycache__", "*.pyc")
    shutil.copytree(ROOT / "tests", checkout / "tests", ignore=ignore)
    for folder in ("templates", "issues", "subscribers"):
        shutil.copytree(ROOT / folder, checkout / folder, ignore=shutil.ignore_patterns("*.db*"))
    shutil.copyfile(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    return checkout


def test_a_relay_configured_by_the_developer_receives_nothing_from_a_test_run(
    tmp_path, smtp_server, sendgrid_api
):
    api_url, api_requests = sendgrid_api
    checkout = copy_of_the_suite(tmp_path)
    hostile_settings = {
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
        "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
        "PAIN_NEWS_SMTP_SECURITY": "none",
        "PAIN_NEWS_SENDGRID_HOST": api_url,
        "PAIN_NEWS_DELIVERY_TEST_RECIPIENTS": "developer@example.org",
        "PAIN_NEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'developer.db'}",
        "SENDGRID_API_KEY": "SG.the-developers-own-key",
        "SENDGRID_HOST": api_url,
    }
    (checkout / "pain-news.toml").write_text(
        f"""[newsletter]
public_url = "https://developer.example"
[database]
url = "sqlite:///{tmp_path / "developer.db"}"
[delivery]
provider = "smtp"
test_recipients = ["developer@example.org"]
[smtp]
host = "127.0.0.1"
port = {smtp_server.port}
security = "none"
[sendgrid]
host = "{api_url}"
"""
    )
    (checkout / ".env").write_text("".join(f"{k}={v}\n" for k, v in hostile_settings.items()))
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))}
    env.update(hostile_settings)
    env["PAIN_NEWS_CONFIG"] = str(checkout / "pain-news.toml")
    env["PAIN_NEWS_SECRET_KEY"] = "the-developers-secret-key-0123456789abcdef"

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not postgres and not browser"]
        + ["--basetemp", str(tmp_path / "basetemp"), *REPRESENTATIVE],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{len(REPRESENTATIVE)} passed" in run.stdout
    assert smtp_server.messages == []
    assert api_requests == []
    assert not (tmp_path / "developer.db").exists()
