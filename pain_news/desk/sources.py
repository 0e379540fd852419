"""A piece's file as the desk edits it: front matter and body apart, saved atomically, never over a
change made on disk since the page was opened (a text editor, or a second tab)."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from pain_news.desk import frontmatter
from pain_news.errors import IssueError, OutputError

FENCE = "---"
_SAVING = threading.Lock()


@dataclass(frozen=True)
class PieceSource:
    """One piece file: its front matter text (between the fences), its body and the file's version."""

    path: Path
    front: str  # YAML, fences excluded, ending with a newline
    body: str  # everything after the closing fence line
    version: str  # sha256 of the file's bytes when read
    head: str = FENCE  # the opening fence line as written
    close: str = FENCE  # the closing fence line as written

    @property
    def body_first_line(self) -> int:
        """The file line the body's first line is on (for findings: file line → editor line)."""
        return self.front.count("\n") + 3

    def fields(self) -> dict[str, str]:
        return frontmatter.read_fields(self.front)


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_piece(path: Path) -> PieceSource:
    """Split a piece file at its `---` fences (IssueError when it has none)."""
    data = path.read_bytes()
    text = data.decode("utf-8")
    if "\r" in text:
        raise IssueError(
            "the desk edits files with Unix line endings only", path=path, hint="convert it in a text editor"
        )
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != FENCE:
        raise IssueError("no front matter: the file must start with a '---' line", path=path, line=1)
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == FENCE)
    except StopIteration:
        raise IssueError("front matter is not closed with a '---' line", path=path, line=1) from None
    front = "\n".join(lines[1:end]) + "\n"
    body = "\n".join(lines[end + 1 :])
    return PieceSource(path, front, body, version_of(data), lines[0], lines[end])


def compose(source: PieceSource, fields: dict[str, str] | None, body: str) -> bytes:
    """The file with new field values and body; unchanged values keep every byte of the front matter."""
    front = source.front if fields is None else frontmatter.write_fields(source.front, fields)
    return f"{source.head}\n{front}{source.close}\n{body.replace(chr(13) + chr(10), chr(10))}".encode()


class SaveConflict(OutputError):
    """The file changed on disk after the page was opened: nothing was written."""


def save_piece(path: Path, opened_version: str, data: bytes) -> str:
    """Write `data` over `path` atomically unless the file changed since `opened_version`; the new version.

    A save that changes nothing writes nothing, so the file keeps its bytes and its mtime.
    """
    with _SAVING:  # two tabs saving at once: the second sees the first's bytes
        return _save(path, opened_version, data)


def _save(path: Path, opened_version: str, data: bytes) -> str:
    current = path.read_bytes()
    if version_of(current) != opened_version:
        raise SaveConflict(
            "changed on disk since you opened it (in another tab or a text editor); nothing was saved",
            path=path,
            hint="copy your text, reload the page to see the file as it is now, then make your change again",
        )
    if data == current:
        return opened_version
    write_atomically(path, data)
    return version_of(data)


def write_atomically(path: Path, data: bytes) -> None:
    """A temporary file beside `path`, then os.replace: a reader sees the old file or the new, never half."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
