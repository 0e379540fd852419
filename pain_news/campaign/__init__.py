"""List sends: freeze the issue and its recipients in a campaign, deliver in batches, keep a per-recipient ledger.

- `gates`   — what must hold before a list send (settings, then the checked build).
- `plan`    — `SendOptions`, `prepare_send` → `PreparedSend` (create or resume, and the plan shown).
- `runner`  — `run_send`: worker threads claim, deliver and record batches; pacing and backoff.
- `locks`   — the run lock: one process runs a campaign at a time.
- `summary` — `SendPlan` and `SendReport` and their lines.
- `test_send` — `send_test`: a "[TEST]" copy to editors.

All reads and writes go through `pain_news.ledger.CampaignLedger`; this package writes no SQL.
"""

from pain_news.campaign.plan import PreparedSend, SendOptions, prepare_send
from pain_news.campaign.runner import run_send
from pain_news.campaign.summary import SendPlan, SendReport
from pain_news.campaign.test_send import SentTest, send_test

__all__ = [
    "PreparedSend",
    "SendOptions",
    "SendPlan",
    "SendReport",
    "SentTest",
    "prepare_send",
    "run_send",
    "send_test",
]
