"""What a worker process of a large send runs (the pool: pain_news/campaign/personalizing.py).

A module of its own, outside the pain_news.campaign package: a worker imports the module of every
function it is handed, and that package brings SQLAlchemy and the ledger: start-up time that
competes with the send's own start-up for the same cores (docs/design/large-sends.md). A worker
touches neither the database nor the network (tests/test_send_processes.py checks what it imports).
"""

from __future__ import annotations

import gc
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pain_news.campaign.personalize import Personalizer
from pain_news.delivery.base import EncodedBatch, Recipient

if TYPE_CHECKING:
    from pain_news.config.settings import Config

Entry = tuple[int, str, str, str]  # subscriber id, address, first name, last name
Encoder = Callable[[Sequence[Recipient]], EncodedBatch]

_personalizer: Personalizer | None = None
# What stops a send like Ctrl-C: closing the terminal (SIGHUP) and a service manager's SIGTERM too
# (tests/test_campaign.py, test_a_stop_signal_stops_after_the_batch_in_flight...).
STOP_SIGNALS = {signal.SIGINT, signal.SIGHUP, signal.SIGTERM}


def start(config: Config) -> None:
    """The pool's initializer: Ctrl-C is the parent's to handle; links are signed with `config`."""
    global _personalizer
    for stop in STOP_SIGNALS:  # Ctrl-C, a hang-up, SIGTERM: they stop the send in the parent only
        signal.signal(stop, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _personalizer = Personalizer(config)
    # What the worker loaded lives as long as it does: the collector need not walk it again on
    # every sweep of a batch's short-lived objects (docs/design/large-sends.md).
    gc.freeze()


def encode(
    encoder: Encoder, campaign_id: int, entries: list[Entry], send_at: int | None = None
) -> EncodedBatch:
    """One claimed batch's request text (`send_at`: a scheduled send's time, Unix seconds)."""
    assert _personalizer is not None, "the pool's initializer runs first"
    return encoder([_personalizer.recipient(campaign_id, *entry, send_at) for entry in entries])
