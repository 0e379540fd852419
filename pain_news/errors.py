"""One error family: every error a user can cause is a PainNewsError with a path, line and hint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: errors.py imports nothing of the package at run time
    from pain_news.delivery.base import DeliveryResult


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


class TopicError(PainNewsError):
    """A topic key that config [topics] does not declare (pain_news/config/topics.py: normalize_topics)."""


class TemplateError(PainNewsError):
    """An MJML/Jinja2 template is broken."""


class CheckFailed(PainNewsError):
    """`check` found errors that block building or sending."""


class SendRefused(PainNewsError):
    """More than one gate refuses a list send; `refusals` holds each gate's error (pain_news/campaign/gates.py)."""

    def __init__(self, refusals: Sequence[PainNewsError]) -> None:
        lines = "\n".join(f"  - {r}" + (f" (hint: {r.hint})" if r.hint else "") for r in refusals)
        super().__init__(
            f"the list send is refused ({len(refusals)} problems):\n{lines}",
            hint="fix each one, then run 'pain-news send ISSUE_DIR --dry-run' to see what is left",
        )
        self.refusals = list(refusals)


class DomainNotReady(PainNewsError):
    """`pain-news doctor` found the sending domain or account not ready for a list send (pain_news/doctor/)."""


class StoreError(PainNewsError):
    """The subscriber store refused an operation (bad address, unknown subscriber, ...)."""


class StoreUnavailable(StoreError):
    """The database could not be reached or was locked: nothing was saved; trying later may work."""


class StoreConflict(StoreError):
    """The database refused a change that conflicts with its rules or with a concurrent change."""


class NoSchema(StoreError):
    """The database has no tables yet; only commands that add data create them."""


class NotFound(StoreError):
    """A campaign or subscriber named on the command line does not exist."""


class DeliveryError(PainNewsError):
    """A delivery provider failed in a way that stops the send."""


class CampaignBusy(DeliveryError):
    """Another process is running this campaign (its run lock is held): try again when it is done."""


class PartialDelivery(DeliveryError):
    """The send must stop part-way through a batch; `partial` holds the results of the recipients before."""

    def __init__(
        self, message: str, *, hint: str | None = None, partial: Sequence[DeliveryResult] = ()
    ) -> None:
        super().__init__(message, hint=hint)
        self.partial = list(partial)


class ProviderBusy(DeliveryError):
    """A provider call worth repeating: rate limited, a server error, or no answer (delivery/retry.py
    repeats it with the send's backoff); `retry_after` is the provider's requested wait in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CanaryRefused(DeliveryError):
    """The rest of a campaign may not go yet: its canary is still being awaited, or its bounces or
    complaints are over the limits (pain_news/campaign/canary.py)."""


class SendPaused(DeliveryError):
    """The circuit breaker paused a running send: its bounces or complaints crossed the limits."""


class ScheduleError(DeliveryError):
    """A scheduled send cannot be made or cancelled as asked (time, provider, state)."""


class ApprovalError(PainNewsError):
    """An approval cannot be given (unknown or email-only reviewer, spent or expired link), or a list
    send has none for the version it would send (pain_news/signoff/)."""


class InvalidToken(PainNewsError):
    """An unsubscribe/confirm token was forged, truncated or names nobody."""


class WebhookRejected(PainNewsError):
    """The request is not provably from SendGrid (403) or is not an event batch (400)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class OutputError(PainNewsError):
    """A build, archive or project folder cannot be written where it was asked to go."""


class ServerError(PainNewsError):
    """A local server (serve, preview) or the browser behind --screenshot could not start."""


class InboundRejected(PainNewsError):
    """An Inbound Parse post that is not one (400), or too large (413): nothing was applied."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class InboundDeferred(PainNewsError):
    """An inbound message could not be handled now (database or provider unavailable, settings
    missing): nothing was recorded. Exit 75 (EX_TEMPFAIL) so a mail server keeps it and retries."""

    exit_code = 75
