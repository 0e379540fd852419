"""Files with personal data or secrets are private from their first byte, whatever the umask (docs/security.md):
the SQLite database and its -wal/-shm files, outbox .eml files and their folders, and .env."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.core import ROOT


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask():
    """The usual umask, under which a plain open() makes files world-readable (0644)."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_the_sqlite_database_and_its_wal_and_shm_files_are_0600(make_config, tmp_path):
    from pain_news.subscribers.store import open_store

    database = tmp_path / "private" / "data" / "news.db"
    store = open_store(make_config({"PAIN_NEWS_DATABASE_URL": f"sqlite:///{database}"}), create=True)
    try:
        store.add("ana@example.org", "Ana")
        files = sorted(p.name for p in database.parent.iterdir())
        assert files == ["news.db", "news.db-shm", "news.db-wal"]  # WAL files exist while it is open
        assert {name: mode(database.parent / name) for name in files} == dict.fromkeys(files, 0o600)
    finally:
        store.close()
    assert mode(tmp_path / "private") == mode(database.parent) == 0o700  # the folders it made


def test_db_upgrade_creates_the_database_0600(project, run_cli):
    run_cli("db", "upgrade")
    assert mode(project / "subscribers" / "pain-news.db") == 0o600


def test_run_lock_files_beside_the_database_are_0600_in_a_0700_folder(store):
    from pain_news.campaign.locks import run_lock
    from pain_news.ledger import CampaignLedger

    ledger = CampaignLedger.for_store(store)
    database = ledger.database_file
    assert database is not None
    with run_lock(ledger, 7):
        folder = database.with_name(database.name + ".locks")
        assert mode(folder) == 0o700
        assert mode(folder / "campaign-7.lock") == 0o600


def test_outbox_files_are_0600_in_folders_made_0700(tmp_path):
    from pain_news.delivery import OutgoingMessage, Recipient
    from pain_news.delivery.outbox import OutboxProvider

    outbox = tmp_path / "outbox"
    message = OutgoingMessage(
        subject="Hi",
        html="<p>Hi</p>",
        text="Hi",
        from_email="news@example.org",
        label="campaign-1",
        campaign_id=1,
    )
    OutboxProvider(outbox).deliver(message, [Recipient(email="ana@example.org")])
    [eml] = (outbox / "campaign-1").iterdir()
    assert eml.name == "ana@example.org.eml" and "ana@example.org" in eml.read_text()
    assert (mode(outbox), mode(outbox / "campaign-1"), mode(eml)) == (0o700, 0o700, 0o600)


def test_outbox_never_loosens_a_folder_it_did_not_make(tmp_path):
    from pain_news.delivery import OutgoingMessage, Recipient
    from pain_news.delivery.outbox import OutboxProvider

    outbox = tmp_path / "outbox"
    outbox.mkdir(mode=0o750)
    message = OutgoingMessage(
        subject="Hi", html="<p>Hi</p>", text="Hi", from_email="news@example.org", label="test"
    )
    OutboxProvider(outbox).deliver(message, [Recipient(email="bo@example.org")])
    [eml] = (outbox / "test").iterdir()
    assert (mode(outbox), mode(outbox / "test"), mode(eml)) == (0o750, 0o700, 0o600)


def test_init_creates_env_0600(tmp_path):
    from pain_news.issue.scaffold import init_project

    init_project(tmp_path / "clinic")
    env = tmp_path / "clinic" / ".env"
    assert "PAIN_NEWS_SECRET_KEY=" in env.read_text()
    assert mode(env) == 0o600


def test_make_env_writes_the_secret_into_a_file_that_is_already_0600(tmp_path):
    # PY is a wrapper that notes the mode of its stdout (the new .env) before the secret is written:
    # a rule that writes first and chmods after would be caught with the file still 0644.
    seen = tmp_path / "mode-when-written"
    wrapper = tmp_path / "py"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'{sys.executable} -c \'import os, stat; print(oct(stat.S_IMODE(os.fstat(1).st_mode)), file=open("{seen}", "w"))\'\n'
        f'exec {sys.executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), ".env", f"PY={wrapper}"],
        cwd=project,
        check=True,
        capture_output=True,
    )
    env = project / ".env"
    assert env.read_text().startswith("PAIN_NEWS_SECRET_KEY=")
    assert seen.read_text().strip() == "0o600"
    assert mode(env) == 0o600
