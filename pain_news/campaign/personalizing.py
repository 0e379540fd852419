"""Personalising a large SendGrid send's batches in worker processes.

Signing two links and building a personalization per recipient is most of a list send's CPU time,
and Python threads cannot run it side by side (the GIL). So a large send through a provider that
can encode its batches away from itself (delivery/base.py, EncodingProvider) hands each claimed
batch to a small pool of processes, while the sending threads wait on the ledger and the network
(figures: bench/RESULTS.md). A worker touches neither the database nor the network: it turns a
batch's entries into the request's text, and the thread that claimed the batch posts it and
records the outcome, so the ledger's order (in_flight before the request) is unchanged.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from pain_news.campaign import personalize_worker
from pain_news.campaign.personalize_worker import Encoder
from pain_news.delivery.base import EncodedBatch, EncodingProvider, Provider

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.ledger import ClaimedEntry

POOL_FROM = 20_000  # recipients pending: below this, starting processes costs more than it saves


def auto_processes() -> int:
    """One per core but the one the sending threads and the ledger use, at most four; none on a
    single core, where a worker would only take turns with the send itself. A worker personalises
    a batch faster than the sending process claims, posts and records one, so a second worker on
    a two-core machine only competed for the cores (docs/design/large-sends.md)."""
    cores = os.cpu_count() or 1
    return max(0, min(4, cores - 1))


class EncodingPool:
    """Worker processes that personalise and encode claimed batches (started before the campaign exists)."""

    def __init__(self, config: Config, processes: int) -> None:
        # Start every worker now (one task each), with Ctrl-C, SIGHUP and SIGTERM blocked: the mask
        # survives exec, so a stop signal while a worker starts up cannot kill it; the parent alone
        # decides how a send stops. Blocked before the pool exists, because making it starts
        # multiprocessing's resource tracker, which would otherwise die of a hang-up and leave a
        # traceback (tests/test_campaign.py). Not waited for: the first batches queue behind the start-up.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, personalize_worker.STOP_SIGNALS)
        try:
            # spawn, never fork: the parent has threads and open database connections.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                processes, context, initializer=personalize_worker.start, initargs=(config,)
            )
            try:
                for _ in range(processes):
                    self._pool.submit(os.getpid)
            except BaseException:
                self._pool.shutdown(cancel_futures=True)
                raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def submit(
        self, encoder: Encoder, campaign_id: int, entries: Sequence[ClaimedEntry], send_at: int | None = None
    ) -> Future[EncodedBatch]:
        """The batch's EncodedBatch, made by a worker. `encoder` travels with every batch: its
        message (tens of kilobytes) costs far less to send than the batch's personalizations.
        `send_at`: a scheduled send's time, when its preference links start counting."""
        plain = [(e.subscriber_id, e.email, e.first_name, e.last_name) for e in entries]
        try:
            return self._pool.submit(personalize_worker.encode, encoder, campaign_id, plain, send_at)
        except RuntimeError as error:  # a worker died earlier (BrokenProcessPool): this batch fails alike
            failed: Future[EncodedBatch] = Future()
            failed.set_exception(error)
            return failed

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def pool_for(config: Config, provider: Provider, pending: int, processes: int | None) -> EncodingPool | None:
    """A pool, or None to personalise in this process; its workers start loading at once.

    `processes` (send options, else delivery.processes): 0 none, N that many, -1 by list size.
    """
    if not isinstance(provider, EncodingProvider):
        return None
    count = config.delivery.processes if processes is None else processes
    if count < 0:
        count = auto_processes() if pending >= POOL_FROM else 0
    if count <= 0:
        return None
    return EncodingPool(config, count)
