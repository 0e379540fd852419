"""The `subscribers`, `db upgrade` commands end to end (thin CLI over the store)."""

import json

import pytest

from tests.fixtures.core import error_lines


def test_import_reports_bad_rows_and_summary(project, run_cli):
    (project / "list.csv").write_text("email,first_name\nana@example.org,Ana\nbroken,X\n", encoding="utf-8")
    result = run_cli("subscribers", "import", "list.csv", "--tag", "winter")
    assert result.exit_code == 0
    assert "list.csv:3: skipped: invalid email address 'broken'" in result.stderr
    assert result.stdout.strip() == "added 1, updated 0, unchanged 0, skipped 1, kept opted-out 0"


def test_import_of_file_without_email_column_fails_cleanly(project, run_cli):
    (project / "list.csv").write_text("name\nAna\n", encoding="utf-8")
    result = run_cli("subscribers", "import", "list.csv", ok=False)
    assert result.exit_code == 1
    assert error_lines(result)[0].startswith("Error: list.csv:1: no 'email' column")
    assert "Traceback" not in result.stderr
    assert json.loads(run_cli("subscribers", "list", "--format", "json").stdout) == []


def test_dry_run_import_saves_nothing(project, run_cli):
    run_cli("db", "upgrade")
    (project / "list.csv").write_text("email\nana@example.org\n", encoding="utf-8")
    assert "dry run" in run_cli("subscribers", "import", "list.csv", "--dry-run").stdout
    assert "ana@example.org" not in run_cli("subscribers", "list").stdout


def test_dry_run_import_before_the_list_exists_creates_no_database(project, run_cli):
    # An empty database left behind would let `serve` run on it and answer every unsubscribe
    # link with "we no longer have you" (no silent empty database: docs/development.md).
    (project / "list.csv").write_text("email\nana@example.org\nbo@example.org\n", encoding="utf-8")
    result = run_cli("subscribers", "import", "list.csv", "--dry-run")
    assert result.stdout.strip() == (
        "dry run, nothing saved: would have added 2, updated 0, unchanged 0, skipped 0, kept opted-out 0"
    )
    assert "not set up yet" in result.stderr
    assert not list((project / "subscribers").glob("pain-news.db*"))
    refused = run_cli("subscribers", "list", ok=False)
    assert refused.exit_code == 1 and "not set up" in refused.stderr


def test_status_lifecycle_and_history(project, run_cli):
    run_cli("subscribers", "add", "ana@example.org", "--first-name", "Ana", "--tag", "knee")
    assert "unsubscribed" in run_cli("subscribers", "unsubscribe", "ana@example.org").stdout
    assert "nothing changed" in run_cli("subscribers", "unsubscribe", "ANA@example.org").stdout
    missing_reason = run_cli("subscribers", "resubscribe", "ana@example.org", ok=False)
    assert missing_reason.exit_code == 2 and "--reason" in missing_reason.stderr
    run_cli("subscribers", "resubscribe", "ana@example.org", "--reason", "asked by phone")
    shown = run_cli("subscribers", "show", "ana@example.org").stdout
    assert (
        "active -> unsubscribed (manual)" in shown
        and "unsubscribed -> active (resubscribe): asked by phone" in shown
    )
    local = run_cli(
        "subscribers", "show", "ana@example.org", env={"PAIN_NEWS_NEWSLETTER_TIMEZONE": "America/New_York"}
    ).stdout
    times = [line for line in local.splitlines() if line.startswith(("created:", "opted out:", "  20"))]
    assert len(times) >= 4 and all(" EST " in f"{line} " or " EDT " in f"{line} " for line in times)
    assert "UTC" not in local


def test_list_formats_and_filters(project, run_cli):
    run_cli("subscribers", "add", "a@example.org", "--first-name", "Ann", "--tag", "knee")
    run_cli("subscribers", "add", "b@example.org", "--tag", "back")
    run_cli("subscribers", "unsubscribe", "b@example.org")
    rows = json.loads(run_cli("subscribers", "list", "--format", "json").stdout)
    assert [{k: r[k] for k in ("email", "first_name", "last_name", "status", "tags")} for r in rows] == [
        {
            "email": "a@example.org",
            "first_name": "Ann",
            "last_name": "",
            "status": "active",
            "tags": ["knee"],
        },
        {
            "email": "b@example.org",
            "first_name": "",
            "last_name": "",
            "status": "unsubscribed",
            "tags": ["back"],
        },
    ]
    csv_out = run_cli("subscribers", "list", "--status", "active", "--format", "csv").stdout.splitlines()
    assert len(csv_out) == 2 and csv_out[1].startswith("a@example.org,Ann,,active,knee,")
    assert "b@example.org" in run_cli("subscribers", "list", "--tag", "back").stdout


def test_list_output_writes_a_file_only_its_owner_can_read(project, run_cli):
    import os
    import stat

    run_cli("subscribers", "add", "a@example.org", "--first-name", "Ann")
    before = os.umask(0o022)  # the usual umask, under which `> file` is world-readable
    try:
        result = run_cli("subscribers", "list", "--format", "json", "--output", "list.json")
        run_cli("subscribers", "export", "all.csv")
    finally:
        os.umask(before)
    assert result.stdout == ""  # the rows went to the file, not the terminal
    assert "wrote 1 subscribers to list.json" in result.stderr
    assert [r["email"] for r in json.loads((project / "list.json").read_text())] == ["a@example.org"]
    assert stat.S_IMODE((project / "list.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((project / "all.csv").stat().st_mode) == 0o600
    assert not list(project.glob(".*.tmp"))


def test_delete_then_export_and_stats(project, run_cli):
    run_cli("subscribers", "add", "a@example.org")
    run_cli("subscribers", "add", "b@example.org")
    run_cli("subscribers", "delete", "a@example.org", "--yes")
    again = run_cli("subscribers", "add", "a@example.org", ok=False)
    assert again.exit_code == 1 and "suppressed" in again.stderr
    assert "exported 1 subscribers" in run_cli("subscribers", "export", "out.csv").stdout
    assert "a@example.org" not in (project / "out.csv").read_text()
    assert "active                           1" in run_cli("subscribers", "stats").stdout


def test_unknown_subscriber_is_one_line_error(project, run_cli):
    run_cli("db", "upgrade")  # a list without this subscriber (no database at all is another error)
    result = run_cli("subscribers", "show", "nobody@example.org", ok=False)
    assert result.exit_code == 1 and error_lines(result)[0].startswith(
        "Error: no subscriber 'nobody@example.org'"
    )


def test_db_upgrade_creates_and_then_keeps_the_schema(project, run_cli):
    from pain_news.db import head_revision

    head = head_revision()  # the newest migration shipped
    assert run_cli("db", "upgrade").stdout.strip() == f"database at revision {head} (was empty)"
    assert run_cli("db", "upgrade").stdout.strip() == f"database at revision {head}"
    assert (project / "subscribers" / "pain-news.db").exists()


def test_bad_database_url_is_a_config_error(project, run_cli):
    result = run_cli("subscribers", "stats", ok=False, env={"PAIN_NEWS_DATABASE_URL": "mysql://x/y"})
    assert result.exit_code == 1 and "unsupported database 'mysql'" in result.stderr


def clean_exit(result):
    """Exit 1 with one error line: no crash underneath (CliRunner keeps an uncaught one in .exception)."""
    return (
        result.exit_code == 1
        and isinstance(result.exception, SystemExit)
        and error_lines(result)[0].startswith("Error: ")
    )


def test_serve_refuses_to_start_without_secret_or_public_url(project, run_cli):
    import socket

    with socket.socket() as taken:  # should serve ever start anyway, it fails to bind instead of hanging
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        no_secret = run_cli("serve", "--port", port, ok=False, env={"PAIN_NEWS_SECRET_KEY": ""})
        no_url = run_cli("serve", "--port", port, ok=False, env={"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""})
    assert clean_exit(no_secret) and "PAIN_NEWS_SECRET_KEY is not set" in no_secret.stderr
    assert clean_exit(no_url) and "newsletter.public_url" in no_url.stderr


def test_database_url_is_never_echoed_with_its_password(project, run_cli):
    for url in (
        "postgresql+psycopg://news:s3cretpw@db.internal:notaport/news",
        "postgresql+psycopg//news:s3cretpw@db/news",
    ):
        result = run_cli("subscribers", "stats", ok=False, env={"PAIN_NEWS_DATABASE_URL": url})
        assert clean_exit(result) and "not a valid database URL" in result.stderr
        assert "s3cretpw" not in result.stdout + result.stderr


def test_database_failure_is_one_line_without_the_statement_or_personal_data(project, run_cli):
    from sqlalchemy import create_engine

    from tests.fixtures.store import refuse_insert_of

    run_cli("db", "upgrade")
    engine = create_engine(f"sqlite:///{project / 'subscribers' / 'pain-news.db'}")
    refuse_insert_of(engine, "bo@example.org")
    engine.dispose()
    (project / "list.csv").write_text(
        "email,first_name\nana@example.org,Ana\nbo@example.org,Bo\n", encoding="utf-8"
    )
    result = run_cli("subscribers", "import", "list.csv", ok=False)
    assert clean_exit(result) and len(error_lines(result)) == 2  # Error: ... / Hint: ...
    assert "the subscriber database refused" in result.stderr and "nothing was saved" in result.stderr
    assert "example.org" not in result.stderr and "INSERT" not in result.stderr
    assert json.loads(run_cli("subscribers", "list", "--format", "json").stdout) == []


def test_delete_without_a_terminal_needs_yes(project, run_cli):
    run_cli("subscribers", "add", "ana@example.org")
    result = run_cli("subscribers", "delete", "ana@example.org", ok=False)  # CliRunner's stdin is no terminal
    assert result.exit_code == 2
    assert "add --yes" in result.stderr
    assert "ana@example.org" in run_cli("subscribers", "list", "--format", "csv").stdout  # nothing was erased


def test_export_into_a_missing_folder_names_that_folder(project, run_cli):
    result = run_cli("subscribers", "export", "no/such/dir/x.csv", ok=False)
    assert result.exit_code == 2
    assert "no/such/dir" in result.stderr and ".export-" not in result.stderr


def imported(run_cli):
    rows = json.loads(run_cli("subscribers", "list", "--format", "json").stdout)
    return [(r["email"], r["first_name"], r["last_name"]) for r in rows]


def test_common_header_spellings_map_to_our_fields(project, run_cli):
    (project / "a.csv").write_text("E-mail,Given name,Surname\nana@example.org,Ana,Ruiz\n", encoding="utf-8")
    (project / "b.csv").write_text(
        "Email address,First Name,Last name\nbo@example.org,Bo,Lee\n", encoding="utf-8"
    )
    for name in ("a.csv", "b.csv"):
        result = run_cli("subscribers", "import", name)
        assert "not recognised" not in result.stderr
    assert imported(run_cli) == [("ana@example.org", "Ana", "Ruiz"), ("bo@example.org", "Bo", "Lee")]


def test_unrecognised_columns_are_reported_with_a_suggestion(project, run_cli):
    (project / "list.csv").write_text(
        "email,Frist Name,last_name\nana@example.org,Ana,Ruiz\n", encoding="utf-8"
    )
    result = run_cli("subscribers", "import", "list.csv")
    assert error_lines(result) == [
        "list.csv:1: column not recognised, not imported: 'Frist Name' (did you mean 'first_name'?)"
    ]
    assert imported(run_cli) == [("ana@example.org", "", "Ruiz")]


def test_a_file_whose_rows_would_have_no_name_is_refused_unless_ignore_columns(project, run_cli):
    (project / "list.csv").write_text("E-mail;Vorname;Nachname\nana@example.org;Ana;Ruiz\n", encoding="utf-8")
    result = run_cli("subscribers", "import", "list.csv", ok=False)
    assert result.exit_code == 1
    lines = error_lines(result)
    assert lines[0] == (
        "Error: list.csv:1: columns not recognised: 'Vorname' (did you mean 'first_name'?), "
        "'Nachname'; "
        "every row would import with no name"
    )
    assert lines[1] == (
        "Hint: rename them (email, first_name, last_name, tags, topics), or add --ignore-columns to import without them"
    )
    assert imported(run_cli) == []
    run_cli("subscribers", "import", "list.csv", "--ignore-columns")
    assert imported(run_cli) == [("ana@example.org", "", "")]


def test_a_header_joining_several_columns_is_named(project, run_cli):
    """A semicolon file whose header also holds commas is read as ','-delimited: say what happened."""
    (project / "list.csv").write_text(
        'email,"Vorname;Nachname"\nana@example.org,Ana;Ruiz\n', encoding="utf-8"
    )
    result = run_cli("subscribers", "import", "list.csv", ok=False)
    assert result.exit_code == 1
    assert (
        "'Vorname;Nachname' (several columns joined by ';'? save the file with one delimiter)"
        in result.stderr
    )
    assert imported(run_cli) == []


# ---- which configuration and which database -------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["subscribers", "import", "list.csv"],
        ["subscribers", "import", "list.csv", "--dry-run"],
        ["subscribers", "add", "ana@example.org"],
        ["subscribers", "list", "--format", "json"],
        ["db", "upgrade"],
    ],
    ids=lambda command: " ".join(command[:2]) + (" --dry-run" if "--dry-run" in command else ""),
)
def test_from_a_folder_without_a_config_no_command_uses_or_creates_a_database(
    tmp_path, monkeypatch, run_cli, command
):
    elsewhere = tmp_path / "downloads"
    elsewhere.mkdir()
    (elsewhere / "list.csv").write_text("email\nana@example.org\n", encoding="utf-8")
    monkeypatch.chdir(elsewhere)
    result = run_cli(*command, ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: no pain-news.toml found")
    assert str(elsewhere) in result.stderr and "pain-news init" in result.stderr
    assert sorted(p.name for p in elsewhere.iterdir()) == ["list.csv"]  # no subscribers/pain-news.db


def test_every_subscriber_command_names_its_config_file_and_database_on_stderr(project, run_cli):
    used = (
        f"using {project / 'pain-news.toml'}; database sqlite:///{project / 'subscribers' / 'pain-news.db'}"
    )
    for command in (
        ["subscribers", "add", "ana@example.org"],
        ["subscribers", "list", "--format", "json"],
        ["subscribers", "list", "--format", "csv"],
        ["subscribers", "stats"],
        ["db", "upgrade"],
    ):
        result = run_cli(*command)
        assert used in result.stderr.splitlines(), command
        assert "using" not in result.stdout, command
    assert (
        json.loads(run_cli("subscribers", "list", "--format", "json").stdout)[0]["email"] == "ana@example.org"
    )


def test_a_database_named_in_the_environment_is_used_without_a_config_file(
    any_store, run_cli, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no pain-news.toml here or above
    url = any_store.engine.url.render_as_string(hide_password=False)
    result = run_cli("subscribers", "add", "ana@example.org", env={"PAIN_NEWS_DATABASE_URL": url})
    shown = any_store.engine.url.render_as_string(hide_password=True)
    assert f"using no config file (built-in settings); database {shown}" in result.stderr
    assert any_store.get("ana@example.org").status == "active"


def test_add_and_import_create_a_named_database_without_a_config_file(tmp_path, monkeypatch, run_cli):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "list.csv").write_text("email\nbo@example.org\n", encoding="utf-8")
    for name, command in (("added.db", ["add", "ana@example.org"]), ("imported.db", ["import", "list.csv"])):
        run_cli("subscribers", *command, env={"PAIN_NEWS_DATABASE_URL": f"sqlite:///{tmp_path / name}"})
        assert (tmp_path / name).is_file()


def test_the_database_password_is_masked_in_the_line_naming_it(project, run_cli):
    url = "postgresql+psycopg://news:s3cretpw@127.0.0.1:1/news"  # nothing listens on port 1
    result = run_cli("subscribers", "stats", ok=False, env={"PAIN_NEWS_DATABASE_URL": url})
    assert "database postgresql+psycopg://news:***@127.0.0.1:1/news" in result.stderr
    assert "s3cretpw" not in result.stdout + result.stderr


def test_subscribers_commands_purge_signups_nobody_confirmed_in_time(project, run_cli, store):
    import datetime as dt

    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    store.request_signup("stranger@example.org", "Call 555-0100 now", now=long_ago)
    store.request_signup("nia@example.org", "Nia")
    result = run_cli("subscribers", "list", "--format", "json")
    assert [r["email"] for r in json.loads(result.stdout)] == ["nia@example.org"]  # stdout stays JSON
    assert "purged 1 signup(s) not confirmed within 7 days" in result.stderr
    assert "purged" not in run_cli("subscribers", "list").stderr  # nothing left to purge


def test_help_and_dry_runs_purge_nothing(project, run_cli, store):
    import datetime as dt

    store.request_signup("stranger@example.org", now=dt.datetime.now(dt.UTC) - dt.timedelta(days=8))
    run_cli("subscribers", "list", "--help")
    (project / "list.csv").write_text("email\nana@example.org\n", encoding="utf-8")
    run_cli("subscribers", "import", "list.csv", "--dry-run")
    assert store.get("stranger@example.org").status == "pending"
