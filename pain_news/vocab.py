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
OPT_OUT_METHODS = ("link", "one-click", "webhook", "sendgrid-sync", "manual", "email", "bounce-report")
# "email": a message to the unsubscribe mailto, or a reply asking to stop; "bounce-report": a delivery
# status notification that came back as mail (pain_news/inbound/).

# What was done with one inbound message (a reply, an auto-reply, a bounce report): the only thing
# the reply_events table keeps about it besides when, who and which campaign (docs/serve.md).
REPLY_UNSUBSCRIBED = "unsubscribed"  # the token mailto or a "stop" reply: opted out
REPLY_AUTO_DROPPED = "auto-reply-dropped"  # out-of-office and other automatic replies (RFC 3834)
REPLY_BOUNCE = "bounce"  # a hard bounce report: the address is bounced
REPLY_SOFT_BOUNCE = "soft-bounce"  # a temporary failure report: counted only
REPLY_FORWARDED = "forwarded"  # passed on to newsletter.replies_forward_to
REPLY_LOOP_DROPPED = "loop-dropped"  # from the clinic's own addresses or a mailing list: never answered
REPLY_UNREADABLE = "unreadable"  # no sender or not a message at all: recorded and dropped
REPLY_ACTIONS = (
    REPLY_UNSUBSCRIBED,
    REPLY_AUTO_DROPPED,
    REPLY_BOUNCE,
    REPLY_SOFT_BOUNCE,
    REPLY_FORWARDED,
    REPLY_LOOP_DROPPED,
    REPLY_UNREADABLE,
)

# Send-ledger states of one recipient in one campaign (docs/design/send-ledger.md).
LEDGER_PENDING = "pending"
LEDGER_IN_FLIGHT = "in_flight"
LEDGER_SENT = "sent"
LEDGER_FAILED = "failed"
LEDGER_UNCERTAIN = "uncertain"
LEDGER_SKIPPED = "skipped"  # opted out between the start of the send and its batch
# A scheduled send cancelled before its time: SendGrid discards what it had accepted (campaign/schedule.py).
LEDGER_CANCELLED = "cancelled"
# Accepted for a scheduled send, then opted out or erased before send_at: the address was put on
# SendGrid's suppression for that send, which SendGrid checks at delivery (sendgrid/withdraw.py).
LEDGER_WITHDRAWN = "withdrawn"
# Waiting for the canary's outcome (send --canary, the first send to a list): released to pending
# by the next run once the canary's bounces and complaints are under the limits (campaign/canary.py).
LEDGER_HELD = "held"
# Stopped by the circuit breaker: the campaign's bounces or complaints crossed the limits during the
# send; released by a run with --ignore-canary (campaign/canary.py).
LEDGER_PAUSED = "paused"
LEDGER_STATES = (
    LEDGER_PENDING,
    LEDGER_IN_FLIGHT,
    LEDGER_SENT,
    LEDGER_FAILED,
    LEDGER_UNCERTAIN,
    LEDGER_SKIPPED,
    LEDGER_CANCELLED,
    LEDGER_WITHDRAWN,
    LEDGER_HELD,
    LEDGER_PAUSED,
)
LEDGER_WAITING = (LEDGER_HELD, LEDGER_PAUSED)  # not sent yet, and not pending: a check lets them go

# What the withdrawal queue asks of SendGrid (sendgrid/withdraw.py): suppress an address for a
# scheduled send, or lift our suppression after a confirmed re-subscription.
WITHDRAW = "withdraw"
RESTORE = "restore"


# Campaign kinds: an issue to the list, or the one welcome email a new subscriber gets.
CAMPAIGN_ISSUE = "issue"
CAMPAIGN_WELCOME = "welcome"
