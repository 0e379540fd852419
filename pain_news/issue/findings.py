"""Finding: one problem in an issue (where, how bad, which rule, the one-line fix).

The loader (pain_news/issue/loader.py) and the checks (pain_news/checks/) both report Findings, so
`check` can list every problem at once and `build` can raise the first error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem in an issue: where it is, how bad it is, and the one-line fix."""

    severity: str  # "error" blocks build and send; "warning" is reported and kept in meta.json
    code: str
    message: str
    path: Path | None = None
    line: int | None = None
    fix: str = ""

    def shown_path(self, relative_to: Path | None = None) -> str | None:
        """The file, relative to `relative_to` when it is inside it."""
        if self.path is None:
            return None
        if relative_to is not None:
            try:
                return str(self.path.resolve().relative_to(relative_to.resolve()))
            except ValueError:
                pass
        return str(self.path)

    def where(self, relative_to: Path | None = None) -> str:
        """`path:line`, or '' when the finding is not about a file."""
        shown = self.shown_path(relative_to)
        if shown is None:
            return ""
        return f"{shown}:{self.line}" if self.line is not None else shown

    def one_line(self, relative_to: Path | None = None) -> str:
        """`path:line: severity [code] message (fix: ...)` for terminals and meta.json."""
        where = self.where(relative_to)
        head = f"{where}: " if where else ""
        fix = f" (fix: {self.fix})" if self.fix else ""
        return f"{head}{self.severity} [{self.code}] {self.message}{fix}"

    def as_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "path": self.shown_path(relative_to),
            "line": self.line,
            "fix": self.fix,
        }


def error(
    code: str, message: str, path: Path | None = None, line: int | None = None, fix: str = ""
) -> Finding:
    return Finding("error", code, message, path, line, fix)


def warning(
    code: str, message: str, path: Path | None = None, line: int | None = None, fix: str = ""
) -> Finding:
    return Finding("warning", code, message, path, line, fix)


def suggestion(word: str, known: set[str] | frozenset[str] | tuple[str, ...]) -> str:
    """` (did you mean 'title'?)` for a near miss among `known`, else ''."""
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
