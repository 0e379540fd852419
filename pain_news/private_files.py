"""Files that hold personal data or secrets (databases, outbox .eml files, .env): 0600, folders 0700.

The mode is set when the file or folder is created and before a byte is written, whatever the
umask: under the usual 022 a plain open() would leave names, addresses and tokens world-readable.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(folder: Path) -> None:
    """Create `folder` and any missing parents 0700; folders that already exist are left as they are."""
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for new in reversed(missing):
        try:
            new.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by another process: not ours to change
            continue
        os.chmod(new, DIR_MODE)  # the umask may have taken bits away; empty still, nothing leaked


def create_private_file(path: Path) -> bool:
    """Create `path` empty, 0600 (its missing folders 0700); False when it already existed."""
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Write `path` atomically (a temporary name, then rename), 0600 from its first byte."""
    with private_output(path) as out:
        out.write(data)


@contextmanager
def private_output(path: Path) -> Iterator[BinaryIO]:
    """A file to stream into that becomes `path` when the block ends: 0600 from its first byte,
    written under a temporary name and renamed, so a failure never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an older leftover .tmp keeps its mode through O_TRUNC
        with os.fdopen(fd, "wb") as out:
            fd = -1
            yield out
        os.replace(tmp, path)
    except BaseException:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def private_text_output(path: Path) -> Iterator[TextIO]:
    """private_output for UTF-8 text (newlines written as given: CSV writes its own)."""
    with private_output(path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # private_output closes (or removes) the file itself
