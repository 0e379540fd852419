"""The plain vocabulary every layer shares: subscriber statuses, opt-out methods, send-ledger states and
campaign kinds. Plain constants, no ORM, so cli/, web/, campaign/ and the store agree on one spelling."""

from __future__ import annotations

# Subscriber statuses. Only `active` is ever mailed by a list send.
PENDING = "pending"
ACTIVE = "active"
UNSUBSCRIBED = "unsubscribed"
BOUNCED = "bounced"
COMPLAINED = "complained"
STATUSES = (PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED)
OPTED_OUT = (UNSUBSCRIBED, BOUNCED, COMPLAINED)

# How an opt-out arrived.
OPT_OUT_METHODS = ("link", "one-click", "webhook", "sendgrid-sync", "manual")

# Send-ledger states of one recipient in one campaign (docs/design/send-ledger.md).
LEDGER_PENDING = "pending"
LEDGER_IN_FLIGHT = "in_flight"
LEDGER_SENT = "sent"
LEDGER_FAILED = "failed"
LEDGER_UNCERTAIN = "uncertain"
LEDGER_SKIPPED = "skipped"  # opted out between the start of the send and its batch
# A scheduled send cancelled before its time: SendGrid discards what it had accepted (campaign/schedule.py).
LEDGER_CANCELLED = "cancelled"
LEDGER_STATES = (
    LEDGER_PENDING,
    LEDGER_IN_FLIGHT,
    LEDGER_SENT,
    LEDGER_FAILED,
    LEDGER_UNCERTAIN,
    LEDGER_SKIPPED,
    LEDGER_CANCELLED,
)


# Campaign kinds: an issue to the list, or the one welcome email a new subscriber gets.
CAMPAIGN_ISSUE = "issue"
CAMPAIGN_WELCOME = "welcome"
