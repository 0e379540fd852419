"""One error family: every error a user can cause is a PainNewsError with a path, line and hint."""

from __future__ import annotations

from pathlib import Path


class PainNewsError(Exception):
    """An error the user can fix; the CLI shows it as one line, never as a traceback."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line
        self.hint = hint

    def location(self) -> str:
        """`path:line: ` (or the part of it that is known)."""
        if self.path is None:
            return ""
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
        return where + ": "

    def __str__(self) -> str:
        return self.location() + self.message


class ConfigError(PainNewsError):
    """pain-news.toml, .env or a PAIN_NEWS_* variable is wrong."""


class IssueError(PainNewsError):
    """An issue folder (issue.toml, front matter, markdown, images) is wrong."""


class TemplateError(PainNewsError):
    """An MJML/Jinja2 template is broken."""


class CheckFailed(PainNewsError):
    """`check` found errors that block building or sending."""


class StoreError(PainNewsError):
    """The subscriber store refused an operation (bad address, unknown subscriber, ...)."""


class DeliveryError(PainNewsError):
    """A delivery provider failed in a way that stops the send."""


class InvalidToken(PainNewsError):
    """An unsubscribe/confirm token was forged, truncated or names nobody."""
