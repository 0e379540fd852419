"""ApprovalBook: the approvals table (append-only) and the emailed approval requests — the only SQL about them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from pain_news.db import store_errors
from pain_news.db.models import Approval, ApprovalRequest

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

    @classmethod
    def of(cls, row: Approval) -> ApprovalRecord:
        return cls(
            id=row.id,
            kind=row.kind,
            content=row.content,
            hash=row.hash,
            reviewer=row.reviewer,
            reviewer_name=row.reviewer_name,
            clinical=row.clinical,
            approved_at=_utc(row.approved_at),
            note=row.note,
            given=row.given,
            sources=row.sources,
        )


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

    @classmethod
    def of(cls, row: ApprovalRequest) -> RequestRecord:
        return cls(
            id=row.id,
            kind=row.kind,
            content=row.content,
            hash=row.hash,
            reviewer=row.reviewer,
            created_at=_utc(row.created_at),
            expires_at=_utc(row.expires_at),
            used_at=_utc(row.used_at) if row.used_at else None,
            sources=row.sources,
        )


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


class ApprovalBook:
    """Approvals are only ever added; each method is one short transaction."""

    def __init__(self, engine: Engine, reader: Engine) -> None:
        self.engine = engine
        self.reader = reader

    @classmethod
    def for_store(cls, store: SubscriberStore) -> ApprovalBook:
        return cls(store.engine, store.reader)

    def add(self, new: NewApproval, now: dt.datetime) -> ApprovalRecord:
        """Record an approval given in the terminal."""
        with store_errors(), Session(self.engine) as s, s.begin():
            row = Approval(**vars(new), approved_at=now)
            s.add(row)
            s.flush()
            return ApprovalRecord.of(row)

    def add_by_link(self, request_id: int, new: NewApproval, now: dt.datetime) -> ApprovalRecord | None:
        """Spend request `request_id` and record its approval in one transaction; None when already spent."""
        with store_errors(), Session(self.engine) as s, s.begin():
            spent = s.execute(
                update(ApprovalRequest)
                .where(ApprovalRequest.id == request_id, ApprovalRequest.used_at.is_(None))
                .values(used_at=now)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]  # CursorResult of an UPDATE
                return None
            row = Approval(**vars(new), approved_at=now, request_id=request_id)
            s.add(row)
            s.flush()
            return ApprovalRecord.of(row)

    def get(self, approval_id: int) -> ApprovalRecord | None:
        with store_errors(), Session(self.reader) as s:
            row = s.get(Approval, approval_id)
            return ApprovalRecord.of(row) if row else None

    def of_content(self, kind: str, content: str) -> list[ApprovalRecord]:
        """Every approval of one issue (or the welcome email), newest first."""
        with store_errors(), Session(self.reader) as s:
            rows = s.scalars(
                select(Approval)
                .where(Approval.kind == kind, Approval.content == content)
                .order_by(Approval.id.desc())
            )
            return [ApprovalRecord.of(row) for row in rows]

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
            return RequestRecord.of(row)

    def request(self, request_id: int) -> RequestRecord | None:
        with store_errors(), Session(self.reader) as s:
            row = s.get(ApprovalRequest, request_id)
            return RequestRecord.of(row) if row else None


def _utc(moment: dt.datetime) -> dt.datetime:
    """Aware UTC: SQLite hands DateTime(timezone=True) values back naive."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
