"""`examine`: every doctor check at once, within one time budget, as one DoctorReport.

The DNS checks, the unsubscribe endpoint and the SendGrid account are asked side by side in
daemon threads; a part still waiting when the budget is spent is reported as a warning and left
behind (it can hold nothing up: its answer is never read), so the doctor takes about two seconds
at most — also as a send gate (pain_news/campaign/gates.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pain_news.config.settings import Config
from pain_news.doctor.account import check_account
from pain_news.doctor.domain import AGAIN, check_domain
from pain_news.doctor.lookup import Lookup
from pain_news.doctor.outcomes import ERROR, WARNING, Budget, DoctorReport, Outcome
from pain_news.doctor.reach import check_public_url, check_reply_to, check_unsubscribe
from pain_news.errors import ConfigError, DomainNotReady, PainNewsError, SendRefused
from pain_news.links import unsubscribe_url

GRACE = 0.2  # seconds past the budget a part may take to hand over what it found


def examine(config: Config, provider: str | None = None, budget: Budget | None = None) -> DoctorReport:
    """Check the sending domain, the addresses and URLs, and (for SendGrid) the account."""
    provider = provider or config.delivery.provider
    budget = budget or Budget()
    parts: list[tuple[str, Callable[[], list[Outcome]]]] = [
        ("SPF, DKIM, DMARC and addresses", lambda: _dns_part(config, provider, budget)),
        ("List-Unsubscribe", lambda: [_unsubscribe_part(config, budget)]),
    ]
    if provider == "sendgrid":
        parts.append(("SendGrid", lambda: check_account(config, budget)))
    results: list[list[Outcome] | BaseException | None] = [None] * len(parts)
    threads = [
        threading.Thread(target=_keep, args=(results, i, work), name=f"doctor-{i}", daemon=True)
        for i, (_, work) in enumerate(parts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(budget.left() + GRACE)
    outcomes: list[Outcome] = []
    for (name, _), found in zip(parts, results, strict=True):
        if isinstance(found, BaseException):
            raise found  # a bug in a check shows in this thread, as anywhere else
        late = Outcome(WARNING, f"{name}: not checked: no answer within {budget.seconds:.0f} s", AGAIN)
        outcomes += found if found is not None else [late]
    return DoctorReport(tuple(outcomes))


def _keep(
    results: list[list[Outcome] | BaseException | None], index: int, work: Callable[[], list[Outcome]]
) -> None:
    try:
        results[index] = work()
    except BaseException as error:  # handed to examine's thread, which raises it
        results[index] = error


def _dns_part(config: Config, provider: str, budget: Budget) -> list[Outcome]:
    lookup = Lookup(config.dns.nameserver, budget)
    letter = config.newsletter
    domain = letter.from_email.rpartition("@")[2].lower()
    if not domain:
        fix = "set from_email under [newsletter] in pain-news.toml"
        return [Outcome(ERROR, "SPF, DKIM, DMARC: newsletter.from_email is not set", fix)]
    outcomes = check_domain(domain, provider, config.smtp.host, config.dns.dkim_selectors, lookup)
    setting = "newsletter.reply_to" if letter.reply_to else "newsletter.from_email (no reply_to)"
    outcomes.append(check_reply_to(letter.reply_to or letter.from_email, setting, lookup))
    if letter.public_url:
        outcomes += check_public_url(letter.public_url, lookup)
    return outcomes


def _unsubscribe_part(config: Config, budget: Budget) -> Outcome:
    try:
        url = unsubscribe_url(config, 0, None)  # subscriber 0 does not exist; OPTIONS changes nothing
    except ConfigError as error:
        return Outcome(ERROR, f"List-Unsubscribe: no link can be made ({error.message})", error.hint or "")
    return check_unsubscribe(url, Lookup(config.dns.nameserver, budget), budget)


def refusal(report: DoctorReport) -> PainNewsError:
    """The send gate's error: one DomainNotReady per error outcome (several: SendRefused listing each)."""
    errors: list[PainNewsError] = [
        DomainNotReady(f"doctor: {f.text}", hint=f.fix or None) for f in report.errors
    ]
    return errors[0] if len(errors) == 1 else SendRefused(errors)
