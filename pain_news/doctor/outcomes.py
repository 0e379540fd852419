"""What the doctor reports: one outcome per check (ok, warning or error, with its fix), and the
time budget every probe shares so the whole examination stays near two seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass

OK = "ok"
WARNING = "warning"
ERROR = "error"
BUDGET_SECONDS = 2.0  # every probe together: the send gate must not slow a send noticeably


@dataclass(frozen=True)
class Outcome:
    """One check's outcome: `level` is ok, warning or error; `fix` says what to do (empty when ok)."""

    level: str
    text: str
    fix: str = ""

    def line(self) -> str:
        """`error   SPF: ...; fix: ...`: the level first, so a reader (or grep) sees it at once."""
        return f"{self.level:<7} {self.text}" + (f"; fix: {self.fix}" if self.fix else "")


@dataclass(frozen=True)
class DoctorReport:
    """Every outcome, in the order the checks run."""

    outcomes: tuple[Outcome, ...]

    @property
    def errors(self) -> tuple[Outcome, ...]:
        return tuple(f for f in self.outcomes if f.level == ERROR)

    @property
    def warnings(self) -> tuple[Outcome, ...]:
        return tuple(f for f in self.outcomes if f.level == WARNING)

    def lines(self) -> list[str]:
        return [f.line() for f in self.outcomes]


class Budget:
    """A deadline shared by the probes: each waits at most for what is left of it."""

    def __init__(self, seconds: float = BUDGET_SECONDS) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def bounded(self, cap: float) -> float:
        """The time one probe may wait: what is left, at most `cap`, and never quite zero."""
        return max(0.05, min(cap, self.left()))
