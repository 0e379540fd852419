import subprocess
import sys
from importlib.metadata import version

import click
import pytest

from pain_news.cli import cli
from tests.fixtures.core import BAD, error_lines


def all_commands(group=cli, prefix=()):
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if isinstance(command, click.Group):
            yield from all_commands(command, path)


def test_version_matches_package_metadata(run_cli):
    result = run_cli("--version")
    assert result.stdout.strip() == f"pain-news, version {version('pain-news')}"


@pytest.mark.parametrize("path", [()] + list(all_commands()), ids=lambda p: " ".join(p) or "pain-news")
def test_every_command_help_has_an_example(run_cli, path):
    result = run_cli(*path, "--help")
    assert "Example" in result.stdout


def test_python_dash_m_runs_the_cli():
    result = subprocess.run(
        [sys.executable, "-m", "pain_news", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("pain-news, version")


def test_build_prints_summary_and_writes_files(run_cli, project, sample_issue):
    result = run_cli("build", str(sample_issue))
    assert "Built 'Pain after back surgery? You have options'" in result.stdout
    assert (project / "build" / "2026-12-winter" / "email.txt").is_file()


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-issue-toml", "issue.toml: file not found"),
        ("broken-toml", "issue.toml:1: invalid TOML"),
        ("broken-yaml", "01-a.md:"),
        ("unknown-kind", "02-news.md:3: unknown kind 'newz' (expected article or spotlight)"),
        ("spotlight-missing-section", "spotlight is missing the '## Symptoms' section"),
        ("spotlight-no-reviewer", "01-s.md:2: spotlight needs 'reviewed_by'"),
        ("missing-image", "01-a.md:4: image not found: images/missing.jpg"),
        ("missing-markdown-image", "01-a.md:8: file not found: images/chart.png"),
    ],
)
def test_build_rejects_bad_issue(run_cli, project, tmp_path, case, message):
    result = run_cli("build", str(BAD / case), "--out", str(tmp_path / "out"), ok=False)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(project, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pain_news",
            "--debug",
            "build",
            str(BAD / "unknown-kind"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "unknown kind 'newz'" in result.stderr


def test_missing_issue_folder_is_a_usage_error(run_cli, project):
    result = run_cli("build", "issues/nope", ok=False)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_bad_config_names_key_and_file(run_cli, project, sample_issue):
    (project / "pain-news.toml").write_text('[newsletter]\nfrom_nmae = "x"\n')
    result = run_cli("build", str(sample_issue), ok=False)
    assert result.exit_code == 1
    assert "unknown key 'newsletter.from_nmae'" in result.stderr
    assert "pain-news.toml" in result.stderr


def test_init_starts_a_project_that_builds_a_new_issue(run_cli, tmp_path, monkeypatch):
    folder = tmp_path / "clinic"
    folder.mkdir()
    monkeypatch.chdir(folder)
    run_cli("init")
    assert (folder / "pain-news.toml").is_file()
    env_text = (folder / ".env").read_text()
    assert (
        "PAIN_NEWS_SECRET_KEY=" in env_text
        and len(env_text.split("PAIN_NEWS_SECRET_KEY=")[1].split()[0]) >= 40
    )
    assert (folder / "templates" / "base.mjml.j2").is_file()
    run_cli("new", "issues/2027-01-january", "--title", "January 2027")
    toml = (folder / "issues" / "2027-01-january" / "issue.toml").read_text()
    assert 'title = "January 2027"' in toml and "number = 1" in toml
    # The scaffold's prompts are errors until replaced (docs/writing.md); --force builds it to look at.
    refused = run_cli("build", "issues/2027-01-january", ok=False)
    assert refused.exit_code == 1 and "[scaffold-text]" in refused.stderr
    result = run_cli("build", "issues/2027-01-january", "--force")
    assert "Built 'January 2027'" in result.stdout


def test_init_writes_the_inbound_domain_it_is_given_and_no_retired_key(run_cli, tmp_path):
    from pain_news.config.settings import load_config

    result = run_cli("init", str(tmp_path / "a"), "--inbound-domain", "Reply.Clinic.Example")
    config = load_config(tmp_path / "a" / "pain-news.toml", env={})
    assert config.newsletter.inbound_domain == "reply.clinic.example"
    assert "unsubscribe_mailto" not in (tmp_path / "a" / "pain-news.toml").read_text()
    assert "warning" not in result.stderr.lower()
    run_cli("init", str(tmp_path / "b"))  # no terminal: no question, and no inbound domain
    assert load_config(tmp_path / "b" / "pain-news.toml", env={}).newsletter.inbound_domain == ""
    bad = run_cli("init", str(tmp_path / "c"), "--inbound-domain", "not a domain", ok=False)
    assert bad.exit_code == 1 and "not a domain name: 'not a domain'" in bad.stderr
    assert not (tmp_path / "c" / "pain-news.toml").exists()


def test_init_in_a_terminal_asks_for_the_inbound_domain(tmp_path):
    import os
    import pty
    import select

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "pain_news", "init", str(tmp_path / "clinic")],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    seen = b""
    while b"(Enter for none)" not in seen:
        ready, _, _ = select.select([controller], [], [], 30)
        assert ready, f"init asked nothing; it wrote: {seen!r}"
        seen += os.read(controller, 1024)
    os.write(controller, b"reply.clinic.example\n")
    try:
        while select.select([controller], [], [], 30)[0]:
            seen += os.read(controller, 1024)
    except OSError:  # the terminal closes when init exits
        pass
    assert process.wait(timeout=30) == 0, seen
    os.close(controller)
    toml = (tmp_path / "clinic" / "pain-news.toml").read_text()
    assert 'inbound_domain = "reply.clinic.example"' in toml


def test_init_refuses_to_overwrite_a_project(run_cli, project):
    result = run_cli("init", ok=False)
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_new_numbers_after_the_highest_issue(run_cli, project):
    run_cli("new", "issues/2027-01", "--title", "Next")
    assert "number = 2" in (project / "issues" / "2027-01" / "issue.toml").read_text()


def test_output_piped_into_a_closed_pipe_stops_quietly(project, run_cli):
    rows = "\n".join(f"p{i:05d}@example.org,P{i},Reader" for i in range(3000))
    (project / "many.csv").write_text("email,first_name,last_name\n" + rows + "\n")
    run_cli("subscribers", "import", "many.csv")
    # `true` exits without reading, so every write meets a closed pipe (like `| head` does).
    result = subprocess.run(
        f"{sys.executable} -m pain_news subscribers list --format csv | true",
        shell=True,
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert result.stderr == f"using {project / 'pain-news.toml'}; database {database_url(project)}\n"


def database_url(project):
    return f"sqlite:///{project / 'subscribers' / 'pain-news.db'}"


def test_check_from_outside_the_project_uses_the_issues_own_config(project, run_cli, monkeypatch):
    inside = run_cli("check", "issues/2026-12-winter")
    monkeypatch.chdir(project.parent)  # no pain-news.toml here or above: found from the issue folder
    outside = run_cli("check", "project/issues/2026-12-winter")
    assert (
        outside.stdout.splitlines()[-1]
        == inside.stdout.splitlines()[-1]
        == "2026-12-winter: 0 errors, 0 warnings"
    )
    campaigns = run_cli("report", "project/issues/2026-12-winter", ok=False)
    assert f"using {project / 'pain-news.toml'}; database {database_url(project)}" in campaigns.stderr


@pytest.mark.parametrize(
    "command", [["serve"], ["preview", "issues/2026-12-winter"]], ids=["serve", "preview"]
)
def test_a_port_in_use_is_one_clear_error(run_cli, project, command):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(*command, "--port", str(port), ok=False)
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "http://" not in result.stdout  # no success line before the failure


# ---- a database with no schema is refused, never created, by what only reads or sends ----


def _refused_without_schema(result, why):
    assert result.exit_code == 1
    error, hint = error_lines(result)
    assert error.startswith("Error: the subscriber database is not set up: ") and why in error
    assert hint.startswith("Hint: ") and "`pain-news db upgrade`" in hint


@pytest.mark.parametrize(
    "command",
    [
        ("serve", "--port", "0"),
        ("send", "issues/2026-12-winter", "--yes"),
        ("subscribers", "list"),
        ("subscribers", "unsubscribe", "ana@example.org"),
        ("campaigns",),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_commands_that_read_or_send_refuse_a_missing_database_and_create_none(project, run_cli, command):
    result = run_cli(*command, ok=False)
    _refused_without_schema(result, "pain-news.db does not exist")
    assert "serving on" not in result.stderr
    assert list((project / "subscribers").glob("pain-news.db*")) == []
    assert not (project / "outbox").exists()


def test_serve_refuses_an_empty_database_file_and_leaves_it_empty(project, run_cli):
    database = project / "subscribers" / "pain-news.db"
    database.touch()  # e.g. a wrong path that happens to exist, or a half-made setup
    result = run_cli("serve", "--port", "0", ok=False)
    _refused_without_schema(result, "it has no Pain News tables yet")
    assert database.stat().st_size == 0


@pytest.mark.parametrize(
    "command",
    [
        ("subscribers", "add", "ana@example.org"),
        ("subscribers", "import", "subscribers/sample.csv"),
        ("db", "upgrade"),
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_commands_that_add_data_create_the_database(project, run_cli, command):
    run_cli(*command)
    assert (project / "subscribers" / "pain-news.db").stat().st_size > 0
    run_cli("subscribers", "list")  # and from then on every command finds it


def test_debug_never_prints_a_subscribers_data_on_a_database_error(project, run_cli):
    """A real database failure under --debug: a traceback, but no name, address or statement values."""
    import os

    from sqlalchemy import create_engine

    from tests.fixtures.core import SECRET
    from tests.fixtures.store import refuse_insert_of

    run_cli("db", "upgrade")
    engine = create_engine(f"sqlite:///{project / 'subscribers' / 'pain-news.db'}")
    refuse_insert_of(engine, "zelda.quill@example.org")
    engine.dispose()
    (project / "list.csv").write_text(
        "email,first_name\nzelda.quill@example.org,Zeldarine\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIN_NEWS_", "SENDGRID_"))}
    env["PAIN_NEWS_SECRET_KEY"] = SECRET
    for debug in ([], ["--debug"]):
        result = subprocess.run(
            [sys.executable, "-m", "pain_news", *debug, "subscribers", "import", "list.csv"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1
        assert "the subscriber database refused" in result.stderr
        assert ("Traceback" in result.stderr) == bool(debug)
        assert "zelda" not in result.stderr.lower() and "Zeldarine" not in result.stderr


@pytest.mark.parametrize(
    "folder, title, date",
    [
        ("2027-01-january", "January 2027", "2027-01-01"),
        ("2027-06-summer-news", "Summer News 2027", "2027-06-01"),
        ("2027-03", "March 2027", "2027-03-01"),
    ],
)
def test_new_proposes_title_and_date_from_the_folder_name(run_cli, project, folder, title, date):
    run_cli("new", f"issues/{folder}")
    toml = (project / "issues" / folder / "issue.toml").read_text()
    assert f'title = "{title}"' in toml and f"date = {date}" in toml


def test_new_without_a_date_in_the_name_needs_a_title(run_cli, project):
    result = run_cli("new", "issues/next", ok=False)
    assert result.exit_code == 1
    assert "cannot tell the issue's title from the folder name 'next'" in result.stderr
    assert not (project / "issues" / "next").exists()
    run_cli("new", "issues/next", "--title", "Next one")
    assert 'title = "Next one"' in (project / "issues" / "next" / "issue.toml").read_text()
