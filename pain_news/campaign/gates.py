"""What must hold before a list send may go ahead; each gate raises a PainNewsError naming the fix.

`prepare_send` runs `BEFORE_BUILD` (settings only, cheap), then builds and checks the issue, then
runs `AFTER_BUILD` on the result — all before any plan is shown or campaign created. A new gate is
one function added to one of the tuples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pain_news.errors import CheckFailed

if TYPE_CHECKING:
    from pain_news.build import BuildResult
    from pain_news.config import Config


@dataclass(frozen=True, kw_only=True)
class SendRequest:
    """What a gate looks at: the settings, the issue folder and the provider chosen for this send."""

    config: Config
    issue_dir: Path
    provider: str


SettingsGate = Callable[[SendRequest], None]
IssueGate = Callable[[SendRequest, "BuildResult"], None]


def unsubscribe_links_can_be_signed(request: SendRequest) -> None:
    """Every list email carries a signed unsubscribe link: no secret key or public_url, no send."""
    from pain_news.unsubscribe import unsubscribe_url

    unsubscribe_url(request.config, 0, None)


BEFORE_BUILD: tuple[SettingsGate, ...] = (unsubscribe_links_can_be_signed,)
AFTER_BUILD: tuple[IssueGate, ...] = ()


def checked_build(config: Config, issue_dir: Path) -> BuildResult:
    """build with check errors refused; `send` has no --force, so the hint says how to fix instead."""
    from pain_news import check

    try:
        return check.checked_build(config, issue_dir)[0]
    except CheckFailed as error:
        error.hint = f"run pain-news check {issue_dir} and fix the errors, then send again"
        raise


def gated_build(request: SendRequest) -> BuildResult:
    """Run every gate around the checked build; returns the build a list send may use."""
    for settings_gate in BEFORE_BUILD:
        settings_gate(request)
    result = checked_build(request.config, request.issue_dir)
    for issue_gate in AFTER_BUILD:
        issue_gate(request, result)
    return result
