"""What a list send says about itself: the plan before confirmation and the report after the run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pain_news.ledger import is_finished
from pain_news.vocab import (
    LEDGER_FAILED,
    LEDGER_IN_FLIGHT,
    LEDGER_PENDING,
    LEDGER_SENT,
    LEDGER_SKIPPED,
    LEDGER_UNCERTAIN,
)

if TYPE_CHECKING:
    from pain_news.campaign.editions import EditionCounts


def states_line(counts: Mapping[str, int]) -> str:
    """`sent 3, failed 1` — the non-zero ledger states, in ledger order."""
    return ", ".join(f"{state} {n}" for state, n in counts.items() if n) or "empty"


@dataclass(frozen=True, kw_only=True)
class SendPlan:
    """What a list send is about to do, shown before asking for confirmation."""

    issue: str
    provider: str
    to_send: int
    # From the frozen message and the audience counts (pain_news/campaign/plan.py: _plan).
    subject: str = ""
    sender: str = ""
    opted_out: int = 0
    not_confirmed: int = 0
    campaign_id: int | None  # None: a new campaign will be created
    ledger: dict[str, int] = field(default_factory=dict)  # existing campaign's states
    notes: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # targeted topics; () = the whole list
    per_topic: dict[str, int] = field(default_factory=dict)  # active subscribers per targeted topic
    warnings: tuple[str, ...] = ()  # what the gates let through for this send only (outbox, skipped checks)
    editions: EditionCounts | None = None  # recipients per edition's language (None: not counted)

    def lines(self) -> list[str]:
        """Human-readable description of the send."""
        what = f"resume campaign {self.campaign_id}" if self.campaign_id else "new campaign"
        out = [
            f"Issue:      {self.issue} ({what})",
            f"Subject:    {self.subject}",
            f"From:       {self.sender}",
            f"Provider:   {self.provider}",
            f"Recipients: {self.to_send} to send now" + self._ledger_part(),
            f"Not mailed: {self.opted_out} opted out (unsubscribed, bounced, complained), {self.not_confirmed} not confirmed",
            f"Audience:   {self.audience_line()}",
        ]
        if self.editions is not None and (len(self.editions.per_edition) > 1 or self.editions.fallback):
            out.append(f"Editions:   {self.editions.line()}")
        return out + list(self.notes) + [f"Warning: {w}" for w in self.warnings]

    def _ledger_part(self) -> str:
        """`; already settled: sent 3; pending 2` — pending and in-flight rows are not settled."""
        unsettled = {LEDGER_PENDING, LEDGER_IN_FLIGHT}
        settled = {state: n for state, n in self.ledger.items() if state not in unsettled and n}
        waiting = {state: n for state, n in self.ledger.items() if state in unsettled and n}
        part = f"; already settled: {states_line(settled)}" if settled else ""
        return part + (f"; {states_line(waiting)}" if waiting else "")

    def audience_line(self) -> str:
        """`everyone on the list`, or the topics with how many active subscribers chose each."""
        if not self.topics:
            return "everyone on the list"
        counts = ", ".join(f"{t} {self.per_topic[t]}" if t in self.per_topic else t for t in self.topics)
        return f"subscribers who chose {counts} (someone with two of them is mailed once)"


@dataclass(frozen=True, kw_only=True)
class SendReport:
    """The outcome of one `send` run, and the campaign's ledger after it."""

    campaign_id: int | None
    run: dict[str, int]  # outcomes of this run: sent, failed, uncertain, skipped
    ledger: dict[str, int]
    elapsed: float
    dry_run: bool = False
    interrupted: bool = False
    notes: tuple[str, ...] = ()  # said last: a canary's next step (campaign/canary.py)

    @property
    def finished(self) -> bool:
        return is_finished(self.ledger)

    def lines(self) -> list[str]:
        """The summary printed at the end."""
        if self.dry_run:
            suppressed = self.run.get(LEDGER_SKIPPED, 0)
            return [
                f"dry run: {self.run.get('checked', 0)} messages personalised"
                + (f", {suppressed} suppressed addresses would be skipped" if suppressed else "")
                + "; 0 emails left this machine"
            ]
        rate = self.run.get(LEDGER_SENT, 0) / self.elapsed if self.elapsed > 0 else 0.0
        out = [
            f"Campaign {self.campaign_id}: this run sent {self.run.get(LEDGER_SENT, 0)}, failed {self.run.get(LEDGER_FAILED, 0)}, "
            f"uncertain {self.run.get(LEDGER_UNCERTAIN, 0)}, skipped {self.run.get(LEDGER_SKIPPED, 0)} "
            f"in {self.elapsed:.1f} s ({rate:.0f}/s)",
            f"Ledger: {states_line(self.ledger)} — {'finished' if self.finished else 'not finished (run send again to resume)'}",
        ]
        if self.ledger.get(LEDGER_UNCERTAIN):
            out.append(
                f"{self.ledger[LEDGER_UNCERTAIN]} uncertain: may or may not have been delivered; "
                f"'pain-news report --campaign {self.campaign_id} --recipients' names them, --resend-uncertain resends them"
            )
        if self.ledger.get(LEDGER_FAILED):
            out.append(
                f"{self.ledger[LEDGER_FAILED]} failed: see 'pain-news report --campaign {self.campaign_id}'; --retry-failed retries them"
            )
        return out + list(self.notes)
