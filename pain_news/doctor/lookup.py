"""DNS questions asked of one nameserver through dnspython, within the doctor's time budget.

Each question is one UDP query on a connected socket (TCP when the answer is truncated): a
connected socket hears "port unreachable" at once, so an offline machine or a nameserver that
is not there is known in milliseconds, and a server that never answers costs what is left of
the budget once — after the first failure every later question fails at once with the same reason.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from pain_news.config.hosts import split_nameserver
from pain_news.doctor.outcomes import Budget

QUERY_CAP = 1.5  # seconds one question may wait at most (the budget may leave less)


class Unreachable(Exception):
    """The nameserver could not be reached or did not answer in time: the doctor warns, never refuses."""


def nameserver_address(setting: str) -> tuple[str, int]:
    """`dns.nameserver` as (address, port): "127.0.0.1:5353", "[::1]:53", "9.9.9.9", or "" for the
    system's resolver (the first nameserver of /etc/resolv.conf or its equivalent)."""
    text = setting.strip()
    if not text:
        try:
            servers = dns.resolver.Resolver(configure=True).nameservers
        except dns.exception.DNSException as error:
            raise Unreachable(f"the system has no DNS resolver configured ({error})") from None
        if not servers:
            raise Unreachable("the system has no DNS resolver configured")
        return str(servers[0]), 53
    return split_nameserver(text)


@dataclass
class Answer:
    """What one question found: the records of the asked type, and any CNAME met on the way."""

    records: list[str] = field(default_factory=list)
    cnames: list[str] = field(default_factory=list)


class Lookup:
    """Questions to one nameserver; the first failure is remembered and repeated (no second wait)."""

    def __init__(self, nameserver: str, budget: Budget) -> None:
        self.budget = budget
        self.failure = ""
        try:
            self.host, self.port = nameserver_address(nameserver)
        except (Unreachable, ValueError) as error:
            self.host, self.port = "", 0
            self.failure = str(error) or f"dns.nameserver {nameserver!r} is not address[:port]"
        self.where = f"{self.host}:{self.port}" if ":" not in self.host else f"[{self.host}]:{self.port}"

    def ask(self, name: str, rdtype: str) -> Answer:
        """The `rdtype` records of `name` (none for a name that does not exist); Unreachable when
        the nameserver cannot say."""
        if self.failure:
            raise Unreachable(self.failure)
        try:
            return self._ask(name, rdtype)
        except Unreachable as error:
            self.failure = str(error)
            raise

    def _ask(self, name: str, rdtype: str) -> Answer:
        query = dns.message.make_query(name, rdtype)
        timeout = self.budget.bounded(QUERY_CAP)
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((self.host, self.port))
                sock.setblocking(False)  # dnspython waits on a socket it is given with select, not in recv
                response = dns.query.udp(
                    query, self.host, timeout, self.port, sock=sock, ignore_unexpected=True
                )
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, self.host, self.budget.bounded(QUERY_CAP), self.port)
        except dns.exception.Timeout:
            raise Unreachable(f"no answer from the nameserver {self.where} within {timeout:.1f} s") from None
        except (OSError, dns.exception.DNSException) as error:
            raise Unreachable(f"the nameserver {self.where} cannot be reached ({error})") from None
        code = response.rcode()
        if code == dns.rcode.NXDOMAIN:
            return Answer()
        if code != dns.rcode.NOERROR:
            raise Unreachable(f"the nameserver {self.where} answered {dns.rcode.to_text(code)} for {name}")
        return _answer(response, dns.rdatatype.from_text(rdtype))


def _answer(response: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> Answer:
    found = Answer()
    for rrset in response.answer:
        for rdata in rrset:
            if rrset.rdtype == dns.rdatatype.CNAME:
                found.cnames.append(str(rdata).rstrip("."))
            elif rrset.rdtype == rdtype:
                found.records.append(_text(rdata))
    return found


def _text(rdata: object) -> str:
    """A TXT record as its strings joined (how SPF, DKIM and DMARC read it); others as written."""
    strings = getattr(rdata, "strings", None)
    if strings is not None:
        return "".join(s.decode("utf-8", "replace") for s in strings)
    return str(rdata).rstrip(".")
