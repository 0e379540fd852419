"""One daemon thread working through a FIFO, started on the first item: the shape `serve` uses to
mail signups and welcomes after answering, so a page never waits on (or reveals) a mail server."""

from __future__ import annotations

import queue
import threading
from typing import Generic, TypeVar

from pain_news.errors import PainNewsError

Item = TypeVar("Item")


class BackgroundWorker(Generic[Item]):
    """Subclasses define `handle(item)` and `failed(item, detail)`; one failure never stops the thread."""

    thread_name = "pain-news-worker"

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Item] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, item: Item) -> None:
        """Queue one item; returns at once."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
                self._thread.start()
        self._queue.put((item,))

    def join(self) -> None:
        """Wait until every queued item was handled (done, skipped or given up)."""
        self._queue.join()

    def close(self) -> None:
        """Stop the thread after the item in hand."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(30)

    def handle(self, item: Item) -> None:
        raise NotImplementedError

    def failed(self, item: Item, detail: str) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            if entry is None:
                self._queue.task_done()
                return
            try:
                self.handle(entry[0])
            except Exception as exc:  # one bad item never stops the worker
                detail = exc.message if isinstance(exc, PainNewsError) else type(exc).__name__
                self.failed(entry[0], detail)
            finally:
                self._queue.task_done()
