"""One mailbox, one form: the canonical key an address is known by, and the form put on the wire.

`bob@bücher.de` and `bob@xn--bcher-kva.de` reach the same mailbox, and so do `josé` typed as one
code point (NFC) or as `e` plus a combining accent (NFD). The store keys and hashes every address
by `mailbox_key` (docs/security.md, "One mailbox is one person"), and every provider addresses
mail with `ascii_domain`, so an import of another spelling finds the same person, and an opt-out
or an erasure holds for every spelling (tests/test_mailbox.py).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def a_label(domain: str) -> str:
    """The domain as its IDNA 2008 A-label (UTS 46 mapping, as email-validator does), lower-cased;
    a domain that is not a valid IDN is only lower-cased (the provider refuses it for that one)."""
    if domain.isascii():
        return domain.lower()
    import idna  # lazy: ~25 ms to import, and only an international domain needs it

    try:
        return idna.encode(domain, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return unicodedata.normalize("NFC", domain).lower()


def ascii_domain(address: str) -> str:
    """The address with its domain as an A-label and the local part as given: the one form every
    provider puts on the wire (SMTP's RCPT TO and To, SendGrid's `to.email`, a suppression)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    return f"{local}@{a_label(domain)}"


def mailbox_key(address: str) -> str:
    """The identity of a mailbox: the local part in Unicode NFC, the domain as its A-label, all
    lower-cased (what `email_key` and the erasure hash are made of)."""
    address = address.strip()
    if address.isascii():  # the common case, on every row of a large import: no Unicode work
        return address.lower()
    local, at, domain = address.rpartition("@")
    local = unicodedata.normalize("NFC", local).lower()
    return f"{local}@{a_label(domain)}" if at else local


def spellings(address: str) -> tuple[str, ...]:
    """The keys older versions may have stored for this mailbox (plain `strip().lower()` of an NFC
    or NFD local part, with the domain as A-label or as typed): an erasure hash made before keys were
    canonical is one of these, so it still holds (subscribers/store/core.py, `lookup_hashes`)."""
    key = mailbox_key(address)
    if address.isascii() and "xn--" not in key:  # the common case: one spelling
        return (key,)
    local, _, domain = key.rpartition("@")
    found = dict.fromkeys([key])
    typed = address.strip().rpartition("@")[2]
    unicode_domain = _u_label(domain) or typed
    for form in ("NFC", "NFD"):
        for dom in (domain, unicode_domain, typed):
            found[f"{unicodedata.normalize(form, local)}@{unicodedata.normalize(form, dom)}".lower()] = None
    return tuple(found)


def _u_label(domain: str) -> str | None:
    """The Unicode form of an A-label domain, or None when it has none."""
    if "xn--" not in domain:
        return None
    import idna  # as in a_label

    try:
        return str(idna.decode(domain))
    except (idna.IDNAError, UnicodeError):
        return None
