"""Signed tokens for unsubscribe, preference-page and signup-confirmation links, and the List-Unsubscribe headers.

A token is `<subscriber>.<extra>.<signature>`: `extra` is the campaign id for unsubscribe links
(`-` when none) and the signup-request event id for confirmation links. The signature is an
HMAC-SHA256 over the purpose and the two numbers, keyed by PAIN_NEWS_SECRET_KEY, so a token for
one purpose or one subscriber can never be turned into another. Unsubscribe tokens never expire:
a link in a years-old email must keep working (RFC 8058, docs/security.md). A preference link's
token also signs when its message was delivered, `<subscriber>.<campaign>.<delivered>.<signature>`,
and expires serve.preference_link_days later; one without that time (made before links expired)
counts as expired. After a key rotation the previous keys (PAIN_NEWS_PREVIOUS_SECRET_KEYS) still
verify; new links are always signed with the current key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pain_news.config.settings import MIN_SECRET_BYTES, require
from pain_news.errors import ConfigError, InvalidToken
from pain_news.i18n import N_

if TYPE_CHECKING:
    from pain_news.config.settings import Config

PURPOSES = ("unsubscribe", "confirm", "preferences", "approve")
_TOKEN = re.compile(r"([0-9]+)\.(-|[0-9]+)\.([A-Za-z0-9_-]+)")
_DATED_TOKEN = re.compile(r"([0-9]+)\.(-|[0-9]+)\.([0-9]{1,12})\.([A-Za-z0-9_-]+)")
DAY_SECONDS = 86_400
_SIGNATURE_BYTES = 16  # 128 bits: unforgeable, and keeps the URL short enough for any mail client


def _signature(secret: str, purpose: str, body: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    mac = hmac.digest(
        secret.encode("utf-8"), f"pain-news/{purpose}:{body}".encode(), "sha256"
    )  # one-shot: fast
    return base64.urlsafe_b64encode(mac[:_SIGNATURE_BYTES]).rstrip(b"=").decode("ascii")


def make_token(secret: str, subscriber_id: int, campaign_id: int | None, purpose: str = "unsubscribe") -> str:
    """A URL-safe signed token naming a subscriber and a campaign (or signup request)."""
    if not secret:
        raise ConfigError("PAIN_NEWS_SECRET_KEY is not set", hint="run 'pain-news init' or add it to .env")
    body = f"{int(subscriber_id)}.{'-' if campaign_id is None else int(campaign_id)}"
    return f"{body}.{_signature(secret, purpose, body)}"


def token_maker(secret: str, purpose: str = "unsubscribe") -> Callable[[int, int | None], str]:
    """`make_token` for many tokens of one secret and purpose (a list send makes two per recipient).

    Makes exactly the tokens `make_token` makes (tests/test_unsubscribe.py).
    """
    make_token(secret, 0, None, purpose)  # the same refusals: no secret, unknown purpose
    sign = _signer(secret, purpose)

    def token(subscriber_id: int, campaign_id: int | None) -> str:
        body = f"{int(subscriber_id)}.{'-' if campaign_id is None else int(campaign_id)}"
        return f"{body}.{sign(body)}"

    return token


def preferences_token_maker(secret: str) -> Callable[[int, int | None, int], str]:
    """Preference-link tokens `(subscriber, campaign, delivered)`, `delivered` in Unix seconds:
    when the message carrying the link is delivered (a scheduled send's send_at), which starts
    the link's serve.preference_link_days."""
    make_token(secret, 0, None, "preferences")  # the same refusals as every token
    sign = _signer(secret, "preferences")

    def token(subscriber_id: int, campaign_id: int | None, delivered: int) -> str:
        campaign = "-" if campaign_id is None else int(campaign_id)
        body = f"{int(subscriber_id)}.{campaign}.{int(delivered)}"
        return f"{body}.{sign(body)}"

    return token


def _signer(secret: str, purpose: str) -> Callable[[str], str]:
    """The signature `_signature(secret, purpose, body)` makes, for many bodies.

    The HMAC is computed from SHA-256 states keyed once (RFC 2104's inner and outer pads, the
    purpose prefix already hashed in), then copied per token: `hmac.digest` sets the key up on
    every call, which made signing links the largest cost of personalising a copy.
    """
    key = secret.encode("utf-8")
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(key.translate(_INNER_PAD) + f"pain-news/{purpose}:".encode())
    outer = hashlib.sha256(key.translate(_OUTER_PAD))
    b64, urlsafe = binascii.b2a_base64, _URLSAFE

    def sign(body: str) -> str:
        h = inner.copy()
        h.update(body.encode())
        mac = outer.copy()
        mac.update(h.digest())
        signature = b64(mac.digest()[:_SIGNATURE_BYTES], newline=False).translate(urlsafe).rstrip(b"=")
        return signature.decode("ascii")

    return sign


_SHA256_BLOCK = 64
_INNER_PAD = bytes(x ^ 0x36 for x in range(256))
_OUTER_PAD = bytes(x ^ 0x5C for x in range(256))
_URLSAFE = bytes.maketrans(b"+/", b"-_")


@dataclass(frozen=True)
class Verified:
    """What a verified token names, and the short previous key that alone verified it (None: a
    key of 32+ bytes did). Links verified only by a short key must not show an address."""

    subscriber_id: int
    campaign_id: int | None
    weak_key: str | None = None


def read_token(
    secret: str | Sequence[str], token: str, purpose: str = "unsubscribe"
) -> tuple[int, int | None]:
    """(subscriber_id, campaign_id) from a token signed with `secret` (or any of a list of keys).

    InvalidToken when forged, truncated or malformed.
    """
    verified = verify_token(secret, token, purpose)
    return verified.subscriber_id, verified.campaign_id


def verify_token(secret: str | Sequence[str], token: str, purpose: str = "unsubscribe") -> Verified:
    """`read_token`, also saying whether only a short previous key verified the token."""
    keys = _usable_keys(secret, purpose)
    # ASCII digits and base64url only: str.isdigit() accepts '²' and hmac.compare_digest refuses
    # non-ASCII text with TypeError, so anything else is refused here, as a damaged link.
    match = _TOKEN.fullmatch(token) if len(token) <= 200 else None
    if match is None:
        raise InvalidToken(N_("this link is incomplete or damaged"))
    sid, extra, signature = match.groups()
    subscriber_id, campaign_id = int(sid), None if extra == "-" else int(extra)
    # Only the canonical spelling verifies, so '007' and '7' are not two valid tokens.
    canonical = f"{subscriber_id}.{'-' if campaign_id is None else campaign_id}"
    if canonical != f"{sid}.{extra}":
        raise InvalidToken(N_("this link is not valid"))
    key = _verifying_key(keys, purpose, canonical, signature)
    return Verified(subscriber_id, campaign_id, None if is_strong(key) else key)


def _usable_keys(secret: str | Sequence[str], purpose: str) -> list[str]:
    keys = [secret] if isinstance(secret, str) else [k for k in secret if k]
    if not keys or not keys[0]:
        raise ConfigError("PAIN_NEWS_SECRET_KEY is not set", hint="run 'pain-news init' or add it to .env")
    if purpose != "unsubscribe":
        # A short old key (kept only so links made before the 32-byte rule still work) could be
        # guessed offline: it may stop mail, never confirm a signup or change preferences.
        keys = [k for k in keys if is_strong(k)]
    return keys


def _verifying_key(keys: Sequence[str], purpose: str, body: str, signature: str) -> str:
    """The first key whose signature over `body` is `signature`, strong keys first."""
    for key in sorted(keys, key=lambda k: not is_strong(k)):  # stable: the current key first
        if hmac.compare_digest(_signature(key, purpose, body), signature):
            return key
    raise InvalidToken(N_("this link is not valid"))


def is_strong(key: str) -> bool:
    """A key of 32 bytes or more: one nobody can guess offline from the links it signed."""
    return len(key.encode("utf-8")) >= MIN_SECRET_BYTES


@dataclass(frozen=True)
class PreferenceLink:
    """A verified preference link: whom it names, the campaign that carried it, and when that
    message was delivered (Unix seconds; None for a link made before links expired)."""

    subscriber_id: int
    campaign_id: int | None
    delivered: int | None

    def expired(self, days: int, now: float) -> bool:
        """Past `days` after delivery (serve.preference_link_days); a link without a time always is."""
        return self.delivered is None or now >= self.delivered + days * DAY_SECONDS


def read_preferences_token(keys: str | Sequence[str], token: str) -> PreferenceLink:
    """The preference link a token is; InvalidToken when forged, damaged or of another purpose.

    A token in the older `<subscriber>.<campaign>.<signature>` shape still verifies (so its page
    can offer a fresh link), with no delivery time: it counts as expired."""
    match = _DATED_TOKEN.fullmatch(token) if len(token) <= 200 else None
    if match is None:
        subscriber_id, campaign_id = read_token(keys, token, purpose="preferences")
        return PreferenceLink(subscriber_id, campaign_id, None)
    usable = _usable_keys(keys, "preferences")
    sid, extra, delivered, signature = match.groups()
    link = PreferenceLink(int(sid), None if extra == "-" else int(extra), int(delivered))
    shown = "-" if link.campaign_id is None else str(link.campaign_id)
    canonical = f"{link.subscriber_id}.{shown}.{link.delivered}"
    if canonical != f"{sid}.{extra}.{delivered}":
        raise InvalidToken(N_("this link is not valid"))
    _verifying_key(usable, "preferences", canonical, signature)
    return link


def link_base(config: Config) -> str:
    """public_url without a trailing slash; ConfigError when links cannot be made (no URL or secret)."""

    require(config, "newsletter.public_url")
    if not config.secrets.secret_key:
        raise ConfigError(
            "PAIN_NEWS_SECRET_KEY is not set",
            hint="run 'pain-news init' (it writes .env with a fresh secret) or set the variable",
        )
    return config.newsletter.public_url.rstrip("/")


def unsubscribe_url(config: Config, subscriber_id: int, campaign_id: int | None) -> str:
    """The per-recipient unsubscribe link under newsletter.public_url."""
    base = link_base(config)
    return f"{base}/unsubscribe/{make_token(config.secrets.secret_key, subscriber_id, campaign_id)}"


def preferences_url(
    config: Config, subscriber_id: int, campaign_id: int | None, delivered: int | None = None
) -> str:
    """The per-recipient "Manage preferences" link (its own token purpose: it cannot unsubscribe),
    valid serve.preference_link_days from `delivered` (Unix seconds; default: now)."""
    base = link_base(config)
    when = int(time.time()) if delivered is None else delivered
    token = preferences_token_maker(config.secrets.secret_key)(subscriber_id, campaign_id, when)
    return f"{base}/preferences/{token}"


def confirm_url(config: Config, subscriber_id: int, request_event_id: int) -> str:
    """The signup confirmation link under newsletter.public_url."""
    base = link_base(config)
    token = make_token(config.secrets.secret_key, subscriber_id, request_event_id, purpose="confirm")
    return f"{base}/confirm/{token}"


def approval_token(secret: str, request_id: int, expires: int, bound: str) -> str:
    """`<request>.<expiry>.<signature>`: an "Approve this version" link's token (pain_news/signoff/approve.py).

    The signature also covers `bound` (the version's hash and the reviewer's key, kept with the
    request), so a token can approve only that version, as that reviewer, until it expires."""
    if not secret:
        raise ConfigError("PAIN_NEWS_SECRET_KEY is not set", hint="run 'pain-news init' or add it to .env")
    body = f"{int(request_id)}.{int(expires)}"
    return f"{body}.{_signature(secret, 'approve', f'{body}.{bound}')}"


def approval_token_request(token: str) -> tuple[int, int]:
    """(request id, expiry) as a token states them, before its signature is checked against the request."""
    match = _TOKEN.fullmatch(token) if len(token) <= 200 else None
    if match is None or match.group(2) == "-":
        raise InvalidToken(N_("this link is incomplete or damaged"))
    return int(match.group(1)), int(match.group(2))


def approval_token_valid(keys: Sequence[str], token: str, bound: str) -> bool:
    """Whether `token` was signed (with a current or previous key of 32+ bytes) for `bound`."""
    request_id, expires = approval_token_request(token)
    strong = [k for k in keys if is_strong(k)]
    return any(hmac.compare_digest(approval_token(key, request_id, expires, bound), token) for key in strong)


def approval_url(config: Config, token: str) -> str:
    """The reviewer's "Approve this version" page under newsletter.public_url (`serve`)."""
    return f"{link_base(config)}/approve/{token}"


def list_unsubscribe_headers(config: Config, url: str, token: str = "") -> dict[str, str]:
    """List-Unsubscribe (+ the token mailto when newsletter.inbound_domain is set) and RFC 8058's
    List-Unsubscribe-Post. `token` is the unsubscribe link's token (the mailto carries the same one)."""
    return {
        "List-Unsubscribe": list_unsubscribe_value(url, token, config.newsletter.inbound_domain),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def list_unsubscribe_value(url: str, token: str, inbound_domain: str) -> str:
    """`<https://…/unsubscribe/TOKEN>`, plus `<mailto:unsubscribe-TOKEN@domain?subject=unsubscribe>`
    when an inbound domain receives mail (pain_news/inbound/): without one nobody would read it."""
    if not inbound_domain or not token:
        return f"<{url}>"
    return f"<{url}>, <mailto:{unsubscribe_mailbox(token, inbound_domain)}?subject=unsubscribe>"


# The mailto's local part: `unsubscribe-<subscriber>-<campaign or x>-<signature in base32>`, all lower
# case, because relays may change the case of a local part (base64url's signature would not survive).
# 12 + 10 + 1 + 10 + 1 + 26 characters at most: under RFC 5321's 64.
_MAIL_TOKEN = re.compile(r"unsubscribe-([0-9]+)-([0-9]+|x)-([a-z2-7]{26})")


def mail_token(token: str) -> str:
    """The unsubscribe link's token spelled for a mailbox name (same subscriber, campaign and signature)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise InvalidToken(N_("this link is incomplete or damaged"))
    sid, extra, signature = match.groups()
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    sig32 = base64.b32encode(raw).decode("ascii").rstrip("=").lower()
    return f"unsubscribe-{sid}-{'x' if extra == '-' else extra}-{sig32}"


def unsubscribe_mailbox(token: str, inbound_domain: str) -> str:
    """`unsubscribe-TOKEN@<inbound_domain>` for an unsubscribe link's token."""
    return f"{mail_token(token)}@{inbound_domain}"


def read_mail_token(secret: str | Sequence[str], local_part: str) -> tuple[int, int | None]:
    """(subscriber_id, campaign_id) from a mailbox name made by `mail_token`, in any letter case.

    InvalidToken when it is not one or its signature does not verify (same keys as the link).
    """
    verified = verify_mail_token(secret, local_part)
    return verified.subscriber_id, verified.campaign_id


def verify_mail_token(secret: str | Sequence[str], local_part: str) -> Verified:
    """`read_mail_token`, also saying whether only a short previous key verified it."""
    match = _MAIL_TOKEN.fullmatch(local_part.strip().lower()) if len(local_part) <= 80 else None
    if match is None:
        raise InvalidToken("not an unsubscribe address")
    sid, extra, sig32 = match.groups()
    raw = base64.b32decode(sig32.upper() + "=" * (-len(sig32) % 8))
    signature = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return verify_token(secret, f"{sid}.{'-' if extra == 'x' else extra}.{signature}")


def is_unsubscribe_mailbox(local_part: str) -> bool:
    """True when a local part has the shape of a token mailto (signed or not)."""
    return local_part.strip().lower().startswith("unsubscribe-")
