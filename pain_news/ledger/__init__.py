"""The send ledger: campaigns and one row per recipient per campaign — the only SQL about them.

A recipient moves pending → in_flight → sent | failed | uncertain (docs/design/send-ledger.md). A batch
is claimed (written `in_flight`) in one transaction before the provider is called and its
outcome written in one transaction after; "finished" is derived from the counts (`is_finished`),
never stored. `campaign/` decides what to do; this package only reads and writes.

- `records`   — the plain values in and out, and `is_finished`.
- `campaigns` — `CampaignLedger`: create, look up, count, report figures, reset for a run, locks.
- `batches`   — `BatchWriter`: claim a batch and record its outcome, for one run's workers.
- `health`    — `CampaignHealth`: what came back (bounces, complaints, unsubscribes), per campaign.
- `queries`   — the audience (who a campaign is for) and SQL shared by the parts.
"""

from pain_news.ledger.batches import BatchWriter
from pain_news.ledger.campaigns import CampaignLedger
from pain_news.ledger.health import TIMELINE_SERIES, CampaignHealth, CampaignPoint, Outcomes
from pain_news.ledger.queries import audience
from pain_news.ledger.records import (
    CampaignFigures,
    CampaignRecord,
    Claim,
    ClaimedEntry,
    Created,
    FrozenEdition,
    NewCampaign,
    Outcome,
    is_finished,
)

__all__ = [
    "BatchWriter",
    "CampaignFigures",
    "CampaignHealth",
    "CampaignLedger",
    "CampaignPoint",
    "CampaignRecord",
    "Claim",
    "ClaimedEntry",
    "Created",
    "FrozenEdition",
    "NewCampaign",
    "Outcome",
    "Outcomes",
    "TIMELINE_SERIES",
    "audience",
    "is_finished",
]
