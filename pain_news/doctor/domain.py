"""The From domain's authentication, as Gmail and Yahoo check it for bulk mail: SPF authorising the
provider, DKIM for the selectors, a DMARC record with a policy, and the From domain aligned with
DKIM or SPF. DNS that cannot be reached gives warnings, never errors (docs/sending.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pain_news.config.hosts import is_loopback
from pain_news.doctor import spf
from pain_news.doctor.lookup import Lookup, Unreachable
from pain_news.doctor.outcomes import ERROR, OK, WARNING, Outcome

AGAIN = "run pain-news doctor again when this machine is online (dns.nameserver names the DNS server asked)"
SENDGRID_AUTH = "SendGrid → Settings → Sender Authentication"
DKIM_KEY = re.compile(r"(?:^|;)\s*p=[^;\s]")  # a public key; an empty p= means the key was revoked


@dataclass(frozen=True)
class Facts:
    """What alignment needs from the other checks (None: not known, DNS did not answer)."""

    spf_authorises: bool | None = None
    dkim_domain: str | None = None  # where a selector was found: the From domain or its parent
    dkim_known: bool = False
    dmarc_tags: dict[str, str] | None = None


def org_domain(domain: str) -> str:
    """The domain's last two labels (news.clinic.org → clinic.org): where DMARC and DKIM may also sit."""
    return ".".join(domain.split(".")[-2:])


def check_domain(
    domain: str, provider: str, smtp_host: str, selectors: Sequence[str], lookup: Lookup
) -> list[Outcome]:
    """One outcome each for SPF, DKIM, DMARC and alignment of the From domain `domain`."""
    facts = Facts()
    try:
        spf_outcome, authorises = _spf(lookup, domain, provider, smtp_host)
        facts = Facts(spf_authorises=authorises)
    except Unreachable as error:
        spf_outcome = Outcome(WARNING, f"SPF of {domain} not checked: {error}", AGAIN)
    try:
        dkim_outcome, where = _dkim(lookup, domain, selectors, provider)
        facts = Facts(facts.spf_authorises, where, True)
    except Unreachable as error:
        dkim_outcome = Outcome(WARNING, f"DKIM of {domain} not checked: {error}", AGAIN)
    try:
        dmarc_outcome, tags = _dmarc(lookup, domain)
        facts = Facts(facts.spf_authorises, facts.dkim_domain, facts.dkim_known, tags)
    except Unreachable as error:
        dmarc_outcome = Outcome(WARNING, f"DMARC of {domain} not checked: {error}", AGAIN)
    return [spf_outcome, dkim_outcome, dmarc_outcome, _alignment(domain, provider, facts)]


def _spf(lookup: Lookup, domain: str, provider: str, host: str) -> tuple[Outcome, bool | None]:
    if provider == "sendgrid":
        who, term = "SendGrid", f"include:{spf.SENDGRID_INCLUDE}"
    else:
        who, term = (
            f"the SMTP relay {host}",
            f"ip4:{host}" if host.replace(".", "").isdigit() else f"a:{host}",
        )
    records = spf.spf_records(lookup, domain)
    if not records:
        fix = f'publish one TXT record at {domain}: "v=spf1 {term} ~all"'
        return Outcome(ERROR, f"SPF: {domain} has no SPF record", fix), False
    if len(records) > 1:
        fix = f"merge them into one TXT record at {domain} (receivers ignore SPF when there are several)"
        return Outcome(ERROR, f"SPF: {domain} has {len(records)} SPF records", fix), False
    policy = spf.read_policy(lookup, domain, records[0])
    if provider not in ("sendgrid", "smtp"):
        fix = "run pain-news doctor --provider sendgrid (or smtp) to check the sender it must authorise"
        return Outcome(
            WARNING, f"SPF: {domain} has an SPF record; delivery.provider is {provider}", fix
        ), None
    if provider == "smtp" and is_loopback(host):
        text = f"SPF: smtp.host {host} is this machine, so the address its mail leaves from is not known here"
        return Outcome(
            WARNING, text, f"make sure the SPF record of {domain} authorises the relay's public address"
        ), None
    if (
        policy.names_domain(spf.SENDGRID_INCLUDE)
        if provider == "sendgrid"
        else spf.authorises_host(lookup, policy, host)
    ):
        return Outcome(OK, f"SPF: {domain} authorises {who}"), True
    fix = f"add {term} to the SPF record at {domain}, before its all term"
    if policy.unfollowed:
        text = (
            f"SPF: not confirmed that {domain} authorises {who} (not followed: {' '.join(policy.unfollowed)})"
        )
        return Outcome(WARNING, text, fix), None
    return Outcome(ERROR, f"SPF: the SPF record of {domain} does not authorise {who}", fix), False


def _selectors(lookup: Lookup, domain: str, selectors: Sequence[str]) -> list[str]:
    """The selectors with a DKIM key (a TXT record with p=...) or a CNAME to one under `domain`."""
    found = []
    for selector in selectors:
        answer = lookup.ask(f"{selector}._domainkey.{domain}", "TXT")
        if answer.cnames or any(DKIM_KEY.search(record) for record in answer.records):
            found.append(selector)
    return found


def _dkim(lookup: Lookup, domain: str, selectors: Sequence[str], provider: str) -> tuple[Outcome, str | None]:
    where = domain
    found = _selectors(lookup, domain, selectors)
    if not found and org_domain(domain) != domain:
        where = org_domain(domain)
        found = _selectors(lookup, where, selectors)
    names = ", ".join(f"{s}._domainkey.{domain}" for s in selectors)
    if not found:
        fix = (
            f"authenticate {domain} in {SENDGRID_AUTH} and publish the CNAME records it shows"
            if provider == "sendgrid"
            else "publish the DKIM key your mail relay gives you (and list its selector in dns.dkim_selectors)"
        )
        return Outcome(ERROR, f"DKIM: no DKIM record at {names}", fix), None
    missing = [s for s in selectors if s not in found]
    shown = ", ".join(f"{s}._domainkey.{where}" for s in found)
    if missing:
        text = f"DKIM: {shown} found, but nothing for {', '.join(missing)} under {where}"
        return Outcome(
            WARNING, text, "publish those records too, or remove them from dns.dkim_selectors"
        ), where
    return Outcome(OK, f"DKIM: {shown} published"), where


def _dmarc(lookup: Lookup, domain: str) -> tuple[Outcome, dict[str, str] | None]:
    records: list[str] = []
    where = domain
    for where in dict.fromkeys((domain, org_domain(domain))):
        records = [
            r for r in lookup.ask(f"_dmarc.{where}", "TXT").records if r.lower().startswith("v=dmarc1")
        ]
        if records:
            break
    if not records:
        fix = f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=none; rua=mailto:dmarc@{domain}"'
        return Outcome(ERROR, f"DMARC: no DMARC record at _dmarc.{domain}", fix), None
    tags = dict(
        (key.strip().lower(), value.strip().lower())
        for key, _, value in (part.partition("=") for part in records[0].split(";"))
    )
    policy = tags.get("p", "")
    if policy not in ("none", "quarantine", "reject"):
        fix = (
            f'add "p=none" to the record at _dmarc.{where} (quarantine or reject once its reports look clean)'
        )
        return Outcome(ERROR, f"DMARC: the record at _dmarc.{where} has no policy (p=)", fix), None
    return Outcome(OK, f"DMARC: _dmarc.{where} publishes the policy p={policy}"), tags


def _alignment(domain: str, provider: str, facts: Facts) -> Outcome:
    """Gmail accepts DMARC alignment through either DKIM or SPF; strict (s) means the exact domain."""
    tags = facts.dmarc_tags or {}
    dkim = facts.dkim_domain == domain or (facts.dkim_domain is not None and tags.get("adkim", "r") != "s")
    # SMTP relays send with the From address as the envelope sender; SendGrid's return path sits
    # under the authenticated domain, so strict SPF alignment (aspf=s) never holds for it.
    spf_aligned = facts.spf_authorises is True and (provider == "smtp" or tags.get("aspf", "r") != "s")
    if dkim or spf_aligned:
        return Outcome(
            OK, f"DMARC alignment: the From domain {domain} aligns with {'DKIM' if dkim else 'SPF'}"
        )
    if not facts.dkim_known or facts.spf_authorises is None:
        text = f"DMARC alignment: not confirmed that the From domain {domain} aligns with DKIM or SPF"
        return Outcome(WARNING, text, "see the SPF and DKIM lines: once both are ok, this is checked too")
    fix = f"publish DKIM for {domain} itself ({SENDGRID_AUTH} for SendGrid), or relax the DMARC record to adkim=r"
    text = f"DMARC alignment: the From domain {domain} aligns with neither DKIM nor SPF (Gmail and Yahoo reject or junk such mail)"
    return Outcome(ERROR, text, fix)
