"""Times a person reads or types: the clinic's zone (newsletter.timezone), parsing and showing them.

Everything stored is UTC; a zone is applied only at the edges (`send --at`, `report`, `campaigns`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pain_news.errors import ConfigError, ScheduleError

if TYPE_CHECKING:
    from pain_news.config.settings import Config

UTC = dt.UTC


def zone(name: str, path: Path | None = None) -> ZoneInfo:
    """The IANA zone `name`; ConfigError naming newsletter.timezone when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"newsletter.timezone {name!r} is not an IANA time zone",
            path=path,
            hint="use a name such as America/New_York or Europe/Berlin",
        ) from None


def clinic_zone(config: Config) -> dt.tzinfo:
    """The clinic's zone, UTC when newsletter.timezone is not set."""
    name = config.newsletter.timezone
    return zone(name, config.path) if name else UTC


@overload
def as_utc(moment: dt.datetime) -> dt.datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """An aware UTC time (None stays None): the one normaliser for times read back or given.

    Everything we store is UTC; SQLite hands DateTime(timezone=True) values back naive, and
    PostgreSQL hands them back in the session's zone.
    """
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def shown(moment: dt.datetime, where: dt.tzinfo) -> str:
    """`2026-12-03 09:00 EST` — a stored time as the clinic reads it."""
    return as_utc(moment).astimezone(where).strftime("%Y-%m-%d %H:%M %Z")


def parse_when(text: str, config: Config) -> dt.datetime:
    """`send --at`: ISO 8601 with Z or an offset, or a local time read in newsletter.timezone → UTC.

    A local time that does not exist (the hour skipped when clocks go forward) or exists twice
    (when they go back) is refused instead of guessed.
    """
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ScheduleError(
            f"--at {text!r} is not an ISO 8601 time",
            hint="write it like 2026-12-03T09:00 (newsletter.timezone) or 2026-12-03T14:00Z",
        ) from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    name = config.newsletter.timezone
    if not name:
        raise ScheduleError(
            f"--at {text!r} has no Z or offset, and newsletter.timezone is not set",
            hint="add Z (UTC) or an offset such as -05:00, or set newsletter.timezone",
        )
    local = zone(name, config.path)
    first, second = moment.replace(tzinfo=local, fold=0), moment.replace(tzinfo=local, fold=1)
    if first.utcoffset() != second.utcoffset():
        exists = first.astimezone(UTC).astimezone(local).replace(tzinfo=None) == moment
        what = "happens twice" if exists else "does not exist"
        raise ScheduleError(
            f"--at {text!r} {what} in {name} (the clocks change then)",
            hint="give the time with its offset, such as 2026-11-01T01:30-04:00",
        )
    return first.astimezone(UTC)
