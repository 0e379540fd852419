"""SPF: the From domain's record, its includes followed a level or two (bounded), and whether it
authorises the provider — SendGrid's `include:sendgrid.net`, or the SMTP relay by name or address."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pain_news.doctor.lookup import Lookup, Unreachable

SENDGRID_INCLUDE = "sendgrid.net"
MAX_DEPTH = 2  # includes followed below the domain's own record ("a level or two")
MAX_LOOKUPS = 10  # RFC 7208's limit on DNS-querying terms: a receiver stops there too
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class SpfPolicy:
    """What an SPF record (with its includes) names: domains, address ranges, and what was not followed."""

    record: str
    names: set[str] = field(default_factory=set)  # include:, redirect=, a:, mx:, exists: domains
    networks: list[Network] = field(default_factory=list)  # ip4: and ip6: ranges
    hosts: set[str] = field(default_factory=set)  # a: domains, whose addresses are authorised
    unfollowed: list[str] = field(default_factory=list)  # terms this check cannot evaluate
    lookups: int = 0

    def names_domain(self, domain: str) -> bool:
        """Whether a term names `domain` or a domain under it (include:sendgrid.net names sendgrid.net)."""
        domain = domain.lower()
        return any(name == domain or name.endswith("." + domain) for name in self.names)


def spf_records(lookup: Lookup, domain: str) -> list[str]:
    """The TXT records of `domain` that are SPF records (`v=spf1 ...`)."""
    texts = lookup.ask(domain, "TXT").records
    return [t for t in texts if t.lower() == "v=spf1" or t.lower().startswith("v=spf1 ")]


def read_policy(lookup: Lookup, domain: str, record: str) -> SpfPolicy:
    """The record's terms with include: and redirect= followed to MAX_DEPTH, at most MAX_LOOKUPS."""
    policy = SpfPolicy(record)
    _read_terms(lookup, domain, record, policy, depth=0)
    return policy


def _read_terms(lookup: Lookup, domain: str, record: str, policy: SpfPolicy, depth: int) -> None:
    for term in record.split()[1:]:
        mechanism = term.lstrip("+-~?")
        if term.startswith("-"):
            continue  # a "fail" term authorises nothing
        kind, _, value = mechanism.replace("=", ":", 1).partition(":")
        kind, value = kind.split("/")[0].lower(), value.split("/")[0].lower().rstrip(".")  # a/24, a:x/24
        if "%" in value or kind in ("ptr", "exp"):
            policy.unfollowed.append(term)
        elif kind in ("ip4", "ip6"):
            try:
                policy.networks.append(ipaddress.ip_network(mechanism.split(":", 1)[1], strict=False))
            except ValueError:
                policy.unfollowed.append(term)
        elif kind in ("a", "mx", "exists"):
            policy.names.add(value or domain)
            if kind == "a":
                policy.hosts.add(value or domain)
            else:
                policy.unfollowed.append(term)
        elif kind in ("include", "redirect") and value:
            policy.names.add(value)
            _follow(lookup, value, term, policy, depth)


def _follow(lookup: Lookup, target: str, term: str, policy: SpfPolicy, depth: int) -> None:
    if depth >= MAX_DEPTH or policy.lookups >= MAX_LOOKUPS:
        policy.unfollowed.append(term)
        return
    policy.lookups += 1
    try:
        records = spf_records(lookup, target)
    except Unreachable:
        policy.unfollowed.append(term)
        return
    if len(records) == 1:
        _read_terms(lookup, target, records[0], policy, depth + 1)


def authorises_host(lookup: Lookup, policy: SpfPolicy, host: str) -> bool:
    """Whether the policy names the SMTP host's domain, or covers one of its addresses (ip4:, ip6:, a:)."""
    if policy.names_domain(_base(host)) or any(_base(name) == _base(host) for name in policy.names):
        return True
    addresses = _addresses(lookup, host)
    networks = list(policy.networks)
    for name in sorted(policy.hosts):
        if policy.lookups >= MAX_LOOKUPS or not addresses:
            break
        policy.lookups += 1
        networks += [ipaddress.ip_network(a) for a in _addresses(lookup, name)]
    return any(address in network for address in addresses for network in networks)


def _addresses(lookup: Lookup, host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found = [*lookup.ask(host, "A").records, *lookup.ask(host, "AAAA").records]
    return [ipaddress.ip_address(a) for a in found]


def _base(name: str) -> str:
    """A name's last two labels: smtp.office365.com → office365.com (no public-suffix list; enough to
    tell a relay's own domain)."""
    return ".".join(name.lower().rstrip(".").split(".")[-2:])
