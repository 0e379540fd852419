"""The run lock: one process at a time runs a campaign, so a second `send` cannot turn live in_flight rows uncertain."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from pain_news.errors import CampaignBusy
from pain_news.ledger import CampaignLedger
from pain_news.private_files import create_private_file, make_private_dir

_RUN_LOCK = 0x504E02  # PostgreSQL advisory-lock namespace: a campaign's run, keyed by campaign id


@contextmanager
def run_lock(ledger: CampaignLedger, campaign_id: int) -> Iterator[None]:
    """Held for a whole run; refuses at once when another process holds it.

    PostgreSQL: a session advisory lock on a dedicated connection. SQLite: flock on a file in
    `<database>.locks/` next to the database. Both are released by the OS when the process dies,
    so a killed send never leaves a stale lock.
    """
    busy = CampaignBusy(
        f"campaign {campaign_id} is being sent by another process",
        hint="wait for that send to finish (or stop it), then run send again to resume",
    )
    if ledger.is_postgres:
        with ledger.advisory_lock(_RUN_LOCK, str(campaign_id)) as got:
            if not got:
                raise busy
            yield
        return
    database = ledger.database_file
    if database is None:
        yield  # only this process can see an in-memory database
        return
    # Private like the database beside them (pain_news/private_files.py): their names tell which
    # campaigns are being sent, and nothing else on the machine needs to open them.
    folder = database.with_name(database.name + ".locks")
    make_private_dir(folder)
    lock_file = folder / f"campaign-{campaign_id}.lock"
    create_private_file(lock_file)
    with open(lock_file, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
