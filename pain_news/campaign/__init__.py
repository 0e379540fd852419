"""List sends: freeze the issue and its recipients in a campaign, deliver in batches, keep a per-recipient ledger.

- `gates`    — what must hold before a list send (settings, then the checked build).
- `plan`     — `SendOptions`, `prepare_send` → `PreparedSend` (create or resume, and the plan shown).
- `runner`   — `run_send`: worker threads claim, deliver and record batches; pacing and backoff.
- `personalize`, `personalizing`, `personalize_worker` — one recipient's values; the worker processes.
- `locks`    — the run lock: one process runs a campaign at a time.
- `schedule` — `send --at` and `--cancel` through SendGrid's mail batches.
- `summary`  — `SendPlan` and `SendReport` and their lines.
- `proofs`   — `send_test`: a "[TEST]" copy to editors (a proof, not a test of the code).
- `welcome`  — the welcome email to each confirmed subscriber.
- `report`   — `report` and `campaigns`: what a campaign did.

All reads and writes go through `pain_news.ledger.CampaignLedger`; this package writes no SQL.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pain_news.campaign.options import SendOptions
    from pain_news.campaign.plan import PreparedSend, prepare_send
    from pain_news.campaign.proofs import SentTest, send_test
    from pain_news.campaign.runner import run_send
    from pain_news.campaign.summary import SendPlan, SendReport

# Loaded on first use: a large send's worker processes import pain_news.campaign.personalize_worker,
# and this package must not load the runner (and SQLAlchemy with it) for them (tests/test_send_processes.py).
_HOME = {
    "PreparedSend": "plan",
    "SendOptions": "options",
    "prepare_send": "plan",
    "run_send": "runner",
    "SendPlan": "summary",
    "SendReport": "summary",
    "SentTest": "proofs",
    "send_test": "proofs",
}

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


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"pain_news.campaign.{_HOME[name]}"), name)
    raise AttributeError(f"module 'pain_news.campaign' has no attribute {name!r}")
