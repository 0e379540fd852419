"""Whether readers can reach the clinic: reply_to's domain receives mail, public_url resolves and is
HTTPS, and the List-Unsubscribe URL answers as a POST-capable endpoint. The endpoint is asked with
OPTIONS only — no unsubscribe is ever made."""

from __future__ import annotations

import http.client
import ipaddress
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pain_news.doctor.domain import AGAIN
from pain_news.doctor.lookup import Lookup, Unreachable
from pain_news.doctor.outcomes import ERROR, OK, WARNING, Budget, Outcome

PROBE_CAP = 1.5  # seconds the unsubscribe endpoint may take to answer at most
SERVE_FIX = "run pain-news serve behind newsletter.public_url (docs/serve.md)"


def check_reply_to(address: str, setting: str, lookup: Lookup) -> Outcome:
    """The reply address's domain has an MX record (or, failing that, an address: RFC 5321's implicit MX)."""
    domain = address.rpartition("@")[2]
    try:
        exchanges = lookup.ask(domain, "MX").records
        found = exchanges or lookup.ask(domain, "A").records or lookup.ask(domain, "AAAA").records
    except Unreachable as error:
        return Outcome(WARNING, f"{setting}: {domain} not checked: {error}", AGAIN)
    if not found:
        fix = f"correct {setting}, or publish an MX record for {domain}"
        return Outcome(ERROR, f"{setting}: {domain} has no MX or address record, so replies bounce", fix)
    how = "MX " + ", ".join(sorted(e.split()[-1] for e in exchanges)) if exchanges else "its address (no MX)"
    return Outcome(OK, f"{setting}: {domain} receives mail ({how})")


def check_public_url(url: str, lookup: Lookup) -> list[Outcome]:
    """public_url is HTTPS, and its host name resolves."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = (
        Outcome(OK, f"public_url: {url} is HTTPS")
        if parts.scheme == "https"
        else Outcome(
            ERROR,
            f"public_url: {url} is not HTTPS (one-click unsubscribe and readers' browsers need HTTPS)",
            f"serve the site over HTTPS and set newsletter.public_url to https://{host}",
        )
    )
    return [https, _resolves(host, lookup)]


def _resolves(host: str, lookup: Lookup) -> Outcome:
    if _is_address(host):
        return Outcome(OK, f"public_url: {host} is an address")
    try:
        found = _known(lookup, host)
    except Unreachable as error:
        return Outcome(WARNING, f"public_url: {host} not checked: {error}", AGAIN)
    if not found:
        fix = f"publish an address (A or CNAME) record for {host}, or correct newsletter.public_url"
        return Outcome(ERROR, f"public_url: {host} does not resolve, so every link in the email is dead", fix)
    return Outcome(OK, f"public_url: {host} resolves")


def check_unsubscribe(url: str, lookup: Lookup, budget: Budget) -> Outcome:
    """OPTIONS on the List-Unsubscribe URL: its Allow header must name POST (RFC 8058 one-click)."""
    shown = url.rsplit("/", 1)[0] + "/…"
    host = urlsplit(url).hostname or ""
    try:
        if not _is_address(host) and not _known(lookup, host):
            return Outcome(
                WARNING, f"List-Unsubscribe: {shown} not checked: {host} does not resolve", SERVE_FIX
            )
    except Unreachable as error:
        return Outcome(WARNING, f"List-Unsubscribe: {shown} not checked: {error}", AGAIN)
    request = urllib.request.Request(url, method="OPTIONS")
    try:
        with urllib.request.urlopen(request, timeout=budget.bounded(PROBE_CAP)) as response:
            status, allow = response.status, response.headers.get("Allow", "")
    except urllib.error.HTTPError as error:
        status, allow = error.code, error.headers.get("Allow", "")
    except (OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        return Outcome(WARNING, f"List-Unsubscribe: {shown} could not be reached ({reason})", AGAIN)
    methods = {m.strip().upper() for m in allow.split(",")}
    if "POST" in methods:
        return Outcome(OK, f"List-Unsubscribe: {shown} accepts POST (one-click unsubscribe)")
    if status in (404, 410) or (allow and status < 500):
        said = f"answers {status}" + (f" and allows only {allow}" if allow else "")
        return Outcome(
            ERROR, f"List-Unsubscribe: {shown} {said}: one-click unsubscribe would fail", SERVE_FIX
        )
    return Outcome(
        WARNING, f"List-Unsubscribe: {shown} answered {status} without saying it accepts POST", SERVE_FIX
    )


def _known(lookup: Lookup, host: str) -> bool:
    """Whether `host` has an address (A, AAAA, or a CNAME to one)."""
    answer = lookup.ask(host, "A")
    return bool(answer.records or answer.cnames or lookup.ask(host, "AAAA").records)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
