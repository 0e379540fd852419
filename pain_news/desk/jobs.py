"""A list send started from the desk runs in a thread of the desk's process, through the same
`prepare_send` and `run_send` as `pain-news send`; the page polls its progress."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pain_news.errors import PainNewsError

if TYPE_CHECKING:
    from pain_news.campaign import PreparedSend
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import SubscriberStore


@dataclass
class SendJob:
    """One list send's progress: recipients settled of the total, then the report's lines."""

    issue: str
    total: int | None = None
    done: int = 0
    lines: list[str] = field(default_factory=list)
    error: str = ""
    finished: bool = False
    campaign_id: int | None = None
    uncertain: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def as_dict(self) -> dict[str, object]:
        return {
            "issue": self.issue,
            "total": self.total,
            "done": self.done,
            "lines": self.lines,
            "error": self.error,
            "finished": self.finished,
            "campaign_id": self.campaign_id,
            "uncertain": self.uncertain,
        }


class SendJobs:
    """The desk's sends in flight and done (one desk per project: lock.py), by issue folder name."""

    def __init__(self) -> None:
        self._jobs: dict[str, SendJob] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def get(self, issue: str) -> SendJob | None:
        with self._lock:
            return self._jobs.get(issue)

    def start(self, config: Config, store: SubscriberStore, prepared: PreparedSend) -> SendJob:
        """Run the prepared send in a thread; a second start while one runs returns the running one."""
        with self._lock:
            running = self._jobs.get(prepared.issue)
            if running is not None and not running.finished:
                return running
            job = SendJob(prepared.issue)
            self._jobs[prepared.issue] = job
        thread = threading.Thread(
            target=_run, args=(config, store, prepared, job), name=f"desk-send-{prepared.issue}", daemon=True
        )
        self._threads.append(thread)
        thread.start()
        return job

    def close(self) -> None:
        """Stop every send after its batch in flight (as Ctrl-C does) and wait for it to record."""
        for job in list(self._jobs.values()):
            job.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


def _run(config: Config, store: SubscriberStore, prepared: PreparedSend, job: SendJob) -> None:
    # lazy: the runner loads only when a send starts
    from pain_news.campaign import run_send
    from pain_news.vocab import LEDGER_UNCERTAIN

    def advance(n: int) -> None:
        job.done += n

    def total(n: int) -> None:
        job.total = n

    try:
        report = run_send(config, store, prepared, progress=advance, on_total=total, stop=job.stop)
        job.lines = report.lines()
        job.campaign_id = report.campaign_id
        job.uncertain = report.ledger.get(LEDGER_UNCERTAIN, 0)
    except PainNewsError as exc:
        job.error = str(exc) + (f" ({exc.hint})" if exc.hint else "")
    finally:
        job.finished = True
