"""One desk per project: a private lock file beside pain-news.toml names where the running desk answers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pain_news.errors import ServerError
from pain_news.private_files import FILE_MODE

LOCK_NAME = ".pain-news-desk.lock"


@dataclass(frozen=True)
class DeskLock:
    """The held lock file; `release` removes it (only ours: the pid written in it is this process)."""

    path: Path

    def release(self) -> None:
        """Remove the lock file if this process wrote it."""
        held = _read(self.path)
        if held is not None and held.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)


def acquire(root: Path, url: str, address: str) -> DeskLock:
    """Write the lock (0600: it holds the URL with its token) or refuse, saying where the first desk runs.

    A lock left by a desk that is no longer running (its process is gone) is taken over.
    """
    path = root / LOCK_NAME
    record = json.dumps({"pid": os.getpid(), "url": url, "address": address}).encode()
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            held = _read(path)
            if held is not None and _alive(held.get("pid")):
                raise ServerError(
                    f"a desk already runs for this project at {held.get('address', '?')} "
                    f"(process {held.get('pid')})",
                    path=path,
                    hint=f"open that one: its link with the token is in {path}; or stop it with Ctrl+C",
                ) from None
            path.unlink(missing_ok=True)  # left behind by a desk that stopped without cleaning up
            continue
        try:
            os.fchmod(fd, FILE_MODE)
            os.write(fd, record)
        finally:
            os.close(fd)
        return DeskLock(path)
    raise ServerError("could not take the desk's lock file", path=path, hint="remove it if no desk runs")


def _read(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
