"""ApprovalBook: the approvals table (append-only) and the emailed approval requests — the only SQL about them.

The store layer for pain_news/signoff/ (what an approval covers and how it is given lives there).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from pain_news.db import store_errors
from pain_news.db.models import Approval, ApprovalRequest
from pain_news.ledger.records import _utc

if TYPE_CHECKING:
    from pain_news.subscribers.store import SubscriberStore


@dataclass(frozen=True, kw_only=True)
class ApprovalRecord:
    """One recorded approval, as `report` and the send's gate show it."""

    id: int
    kind: str
    content: str
    hash: str
    reviewer: str
    reviewer_name: str
    clinical: bool
    approved_at: dt.datetime
    note: str
    given: str
    sources: str  # JSON (pain_news/signoff/content.py)


@dataclass(frozen=True, kw_only=True)
class RequestRecord:
    """One emailed "Approve this version" request."""

    id: int
    kind: str
    content: str
    hash: str
    reviewer: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None
    sources: str


@dataclass(frozen=True, kw_only=True)
class NewApproval:
    kind: str
    content: str
    hash: str
    reviewer: str
    reviewer_name: str
    clinical: bool
    note: str
    given: str
    sources: str


R = TypeVar("R", "ApprovalRecord", "RequestRecord")


class ApprovalBook:
    """Approvals are only ever added; each method is one short transaction."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.engine = engine
        self.reader = reader

    @classmethod
    def for_store(cls, store: SubscriberStore) -> ApprovalBook:
        return cls(store.engine, store.reader)

    def add(self, new: NewApproval, now: dt.datetime, request_id: int | None = None) -> ApprovalRecord | None:
        """Record an approval; one given by an emailed link also spends its request, in the same
        transaction. None when that request was already spent (nothing is written)."""
        with store_errors(), Session(self.engine) as s, s.begin():
            if request_id is not None:
                spent = cast(  # an UPDATE's result is a CursorResult, which counts the rows it changed
                    CursorResult[Any],
                    s.execute(
                        update(ApprovalRequest)
                        .where(ApprovalRequest.id == request_id, ApprovalRequest.used_at.is_(None))
                        .values(used_at=now)
                    ),
                )
                if spent.rowcount != 1:
                    return None
            row = Approval(**vars(new), approved_at=now, request_id=request_id)
            s.add(row)
            s.flush()
            return _record(ApprovalRecord, row)

    def get(self, approval_id: int) -> ApprovalRecord | None:
        with store_errors(), Session(self.reader) as s:
            row = s.get(Approval, approval_id)
            return _record(ApprovalRecord, row) if row else None

    def of_content(self, kind: str, content: str) -> list[ApprovalRecord]:
        """Every approval of one issue (or the welcome email), newest first."""
        with store_errors(), Session(self.reader) as s:
            rows = s.scalars(
                select(Approval)
                .where(Approval.kind == kind, Approval.content == content)
                .order_by(Approval.id.desc())
            )
            return [_record(ApprovalRecord, row) for row in rows]

    def add_request(
        self, *, kind: str, content: str, hash: str, reviewer: str, sources: str, now: dt.datetime, days: int
    ) -> RequestRecord:
        """A new emailed request, valid for `days` days."""
        with store_errors(), Session(self.engine) as s, s.begin():
            row = ApprovalRequest(
                kind=kind,
                content=content,
                hash=hash,
                reviewer=reviewer,
                created_at=now,
                expires_at=now + dt.timedelta(days=days),
                sources=sources,
            )
            s.add(row)
            s.flush()
            return _record(RequestRecord, row)

    def request(self, request_id: int) -> RequestRecord | None:
        with store_errors(), Session(self.reader) as s:
            row = s.get(ApprovalRequest, request_id)
            return _record(RequestRecord, row) if row else None


def _record(cls: type[R], row: Approval | ApprovalRequest) -> R:
    """The frozen record of a row: its fields by name, times as aware UTC."""
    values: dict[str, Any] = {f.name: getattr(row, f.name) for f in fields(cls)}
    converted: dict[str, Any] = {k: _utc(v) if isinstance(v, dt.datetime) else v for k, v in values.items()}
    return cls(**converted)
