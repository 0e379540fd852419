"""Drain the withdrawal queue: opt-outs and erasures made before a scheduled send's time reach the
suppression SendGrid checks at delivery, and confirmed re-subscriptions lift ours.

A scheduled send hands SendGrid every message up to 72 hours before `send_at`
(campaign/schedule.py). Whoever opts out or is erased in that window is queued by the store in the
same transaction (subscribers/store/withdrawal_queue.py); here each queued address is added,
through the official client, to the unsubscribe group the send carried
(POST /v3/asm/groups/{group_id}/suppressions), or to the global unsubscribe list when it carried
none (POST /v3/asm/suppressions/global), and the ledger row becomes `withdrawn`. A confirmed
re-subscription deletes the group's suppression (DELETE /v3/asm/groups/{id}/suppressions/{email})
and the global one if we put it there, or SendGrid would drop every later issue to them.

Drained by `serve` (a background thread) and by the `send`, `report` and `subscribers` commands —
never by `check`, `build` or `--help`, which stay offline — so nothing depends on one process
staying up. Each call follows the list send's retry policy (sendgrid/calls.py); what still fails
stays queued for the next drain, and `report` says so; a row whose send_at passed is kept, without
its address, as "could not be withdrawn before delivery".
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pain_news.delivery.base import ascii_domain
from pain_news.errors import DeliveryError
from pain_news.sendgrid import calls
from pain_news.sendgrid.calls import SEND_POLICY, RetryPolicy
from pain_news.sendgrid.sync import client_for
from pain_news.vocab import RESTORE, WITHDRAW

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.subscribers.store import QueuedWithdrawal, SubscriberStore

PER_REQUEST = 1000  # addresses per suppression request
PERMISSION = "Suppressions: write"


@dataclass
class Drained:
    """What one drain did: withdrawn (or restored) at SendGrid, found too late, still failing."""

    withdrawn: int = 0
    restored: int = 0
    late: int = 0
    failing: int = 0
    errors: list[str] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """Lines for stderr: only what an editor must know (nothing when all went well)."""
        lines = []
        if self.failing:
            lines.append(
                f"warning: {self.failing} opt-outs could not yet be passed to SendGrid "
                f"({self.errors[-1]}); they are retried by the next send, report, subscribers command "
                "or by serve — 'pain-news report ISSUE' shows what is still waiting"
            )
        if self.late:
            lines.append(
                f"WARNING: {self.late} opt-outs reached SendGrid too late: their scheduled send's time "
                "had passed, so they may have been mailed ('pain-news report ISSUE' names the campaign)"
            )
        return lines


def drain_withdrawals(
    config: Config,
    store: SubscriberStore,
    *,
    now: dt.datetime | None = None,
    policy: RetryPolicy = SEND_POLICY,
) -> Drained:
    """Make every queued suppression (and lift every queued one) at SendGrid; see the module doc."""
    drained = Drained()
    if not store.count_queued_withdrawals():  # the usual case: one cheap read, no client made
        return drained
    now = now or dt.datetime.now(dt.UTC)
    rows = store.queued_withdrawals()
    cancelled = [r for r in rows if r.cancelled]
    if cancelled:  # SendGrid discards the whole batch: nothing to suppress
        store.settle_withdrawals(cancelled, now=now)
        rows = [r for r in rows if not r.cancelled]
    late = [r for r in rows if r.action == WITHDRAW and (r.send_at is None or r.send_at <= now)]
    if late:
        store.mark_withdrawals_late([r.id for r in late], now)
        drained.late = len(late)
    too_late = {r.id for r in late}
    withdraws = [r for r in rows if r.action == WITHDRAW and r.id not in too_late]
    restores = [r for r in rows if r.action == RESTORE]
    if not config.secrets.sendgrid_api_key:
        if config.delivery.provider != "sendgrid":
            store.settle_withdrawals(restores, now=now)  # nothing of ours at SendGrid to lift
            restores = []
        waiting = [r.id for r in withdraws + restores]
        if waiting:
            store.note_withdrawal_failure(waiting, "SENDGRID_API_KEY is not set")
            drained.failing, drained.errors = len(waiting), ["SENDGRID_API_KEY is not set"]
        return drained
    sg = client_for(config)
    _withdraw(sg, store, withdraws, policy, drained, now)
    _restore(sg, config, store, restores, policy, drained, now)
    return drained


def _withdraw(
    sg: Any,
    store: SubscriberStore,
    rows: list[QueuedWithdrawal],
    policy: RetryPolicy,
    drained: Drained,
    now: dt.datetime,
) -> None:
    """One request per unsubscribe group (or the global list) and 1,000 addresses."""
    by_group = sorted(rows, key=lambda r: r.group_id or 0)
    for group, grouped in itertools.groupby(by_group, key=lambda r: r.group_id or 0):
        members = list(grouped)
        for start in range(0, len(members), PER_REQUEST):
            chunk = members[start : start + PER_REQUEST]
            emails = sorted({ascii_domain(r.email) for r in chunk})  # as the send addressed them
            path = f"asm/groups/{group}/suppressions" if group else "asm/suppressions/global"
            try:
                calls.call(
                    sg, "post", path, body={"recipient_emails": emails}, policy=policy, permission=PERMISSION
                )
            except DeliveryError as error:
                _still_waiting(store, drained, chunk, error)
                continue
            store.settle_withdrawals(chunk, on_global_list=() if group else emails, now=now)
            drained.withdrawn += len(chunk)


def _restore(
    sg: Any,
    config: Config,
    store: SubscriberStore,
    rows: list[QueuedWithdrawal],
    policy: RetryPolicy,
    drained: Drained,
    now: dt.datetime,
) -> None:
    """Lift the group's suppression, and the global one where we put it, per re-subscribed address."""
    if not rows:
        return
    group = config.sendgrid.asm_group_id
    ours = store.on_global_list([ascii_domain(r.email) for r in rows])
    for row in rows:
        email = ascii_domain(row.email)
        paths = [f"asm/groups/{group}/suppressions/{email}"] if group else []
        if email in ours:
            paths.append(f"asm/suppressions/global/{email}")
        try:
            for path in paths:
                calls.call(sg, "delete", path, policy=policy, missing_ok=True, permission=PERMISSION)
        except DeliveryError as error:
            _still_waiting(store, drained, [row], error)
            continue
        store.settle_withdrawals([row], off_global_list=[email] if email in ours else [], now=now)
        drained.restored += 1


def _still_waiting(
    store: SubscriberStore, drained: Drained, rows: list[QueuedWithdrawal], error: DeliveryError
) -> None:
    """SendGrid did not take these after the whole retry policy: kept for the next drain."""
    store.note_withdrawal_failure([r.id for r in rows], error.message)
    drained.failing += len(rows)
    drained.errors.append(error.message)
