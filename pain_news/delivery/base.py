"""What every delivery provider shares: the message and result types and the Provider protocol.

A provider takes one message and a batch of recipients — SendGrid carries up to 1,000 in one
request, SMTP loops over one open connection, the outbox writes files — and returns one
DeliveryResult per recipient, in the same order. Conditions that stop the whole send (a wrong
API key, a request SendGrid rejects as malformed) raise DeliveryError instead.

The providers import this module; it imports none of them (the registry that picks one by name is
`pain_news/delivery/registry.py`), so the imports run one way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from pain_news.errors import PartialDelivery as PartialDelivery  # kept importable from here

if TYPE_CHECKING:
    from pain_news.config.settings import Config, NewsletterSettings

# Outcome of one recipient (docs/design/send-ledger.md): RETRY means "provably never reached the provider".
SENT = "sent"
FAILED = "failed"
RETRY = "retry"
UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class OutgoingMessage:
    """The parts every recipient of one send shares; `html`/`text` still hold placeholders."""

    subject: str
    html: str
    text: str
    from_email: str
    from_name: str = ""
    reply_to: str = ""
    list_id: str = ""
    label: str = "transactional"  # outbox sub-folder: campaign-<id>, test, transactional
    campaign_id: int | None = None
    category: str = ""
    # A scheduled send (SendGrid only, campaign/schedule.py): deliver at send_at (Unix seconds),
    # grouped under batch_id so `send --cancel` can cancel it.
    send_at: int | None = None
    batch_id: str | None = None
    # An issue sent to the list: SendGrid requests carry the newsletter's unsubscribe group
    # (sendgrid.asm_group_id). Confirmations, welcomes and test sends do not, or SendGrid would drop
    # them for anyone who once unsubscribed (tests/test_delivery_sendgrid.py).
    unsubscribe_group: bool = False


class Recipient(NamedTuple):
    """One addressee: placeholder values (raw, unescaped) and per-recipient headers.

    A tuple, not a dataclass: a list send makes one per recipient, and a frozen dataclass costs
    several times as much to make.
    """

    email: str
    values: Mapping[str, str] = MappingProxyType({})
    headers: Mapping[str, str] = MappingProxyType({})
    subscriber_id: int | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one recipient; `retry_after` is the provider's requested wait in seconds."""

    status: str
    message_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None


class Provider(Protocol):
    """A way to deliver a batch of personalised copies of one message."""

    name: str
    max_batch: int

    def deliver(self, message: OutgoingMessage, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Deliver to every recipient; one result per recipient, in order."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class EncodedBatch(NamedTuple):
    """A batch's recipients already turned into the provider's request text (EncodingProvider)."""

    people_json: str  # the JSON array of what the request carries per recipient, in batch order
    posted: tuple[int, ...]  # the batch positions it holds, in order
    refused: dict[int, str]  # batch positions left out, and why (they fail on their own)
    size: int  # recipients in the batch


@runtime_checkable
class EncodingProvider(Provider, Protocol):
    """A provider whose batches can be encoded away from it: in worker processes (campaign/personalizing.py).

    `encoder(message)` must return a picklable callable; `deliver_encoded` posts what it made.
    """

    def encoder(self, message: OutgoingMessage) -> Callable[[Sequence[Recipient]], EncodedBatch]: ...

    def deliver_encoded(self, message: OutgoingMessage, batch: EncodedBatch) -> list[DeliveryResult]: ...


def message_from_config(
    config: Config,
    subject: str,
    html: str,
    text: str,
    *,
    label: str = "transactional",
    campaign_id: int | None = None,
    category: str = "",
    list_message: bool = False,
    unsubscribe_group: bool = False,
) -> OutgoingMessage:
    """An OutgoingMessage with From and Reply-To from [newsletter]; List-Id only for list mail."""
    from pain_news.config.settings import require

    require(config, "newsletter.from_email")
    news = config.newsletter
    return OutgoingMessage(
        subject=subject,
        html=html,
        text=text,
        from_email=news.from_email,
        from_name=news.from_name or news.name,
        reply_to=news.reply_to,
        list_id=list_id(news) if list_message else "",
        label=label,
        campaign_id=campaign_id,
        category=category,
        unsubscribe_group=unsubscribe_group,
    )


def list_id(news: NewsletterSettings) -> str:
    """The List-Id header: `newsletter.list_id`, or one made from the name and the sender's domain
    (RFC 2919: `Pain News <pain-news.example.org>`), so every list message carries one."""
    if news.list_id:
        return news.list_id
    label = re.sub(r"[^a-z0-9]+", "-", news.name.lower()).strip("-") or "newsletter"
    domain = news.from_email.rpartition("@")[2].lower() or "localhost"
    return f"{news.name} <{label}.{domain}>"


def control_characters(value: str) -> str:
    """The control characters in `value` as `U+000D, U+000A` ('' when none; tab included): what
    must never reach a header (checks/headers.py refuses them in `check`, providers at send)."""
    if value.isprintable():
        return ""
    found = dict.fromkeys(f"U+{ord(ch):04X}" for ch in value if unicodedata.category(ch) == "Cc")
    return ", ".join(found)


def ascii_category(text: str) -> str:
    """`text` folded to the ASCII SendGrid's categories take: accents dropped (é → e), anything else
    outside letters, digits, `.`, `_` and `-` becomes `-`."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", folded).strip("-")


def ascii_domain(address: str) -> str:
    """The address with its domain as an IDNA A-label (`bob@xn--bcher-kva.de`), the local part as is:
    the one form every provider puts on the wire (SMTP's RCPT TO and To, SendGrid's `to.email`, a
    suppression at SendGrid), so an international domain is one mailbox everywhere."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:  # not a valid IDN: left as given, the provider refuses it for this recipient
        return address


def sanitize_header(value: str) -> str:
    """A header value with CR/LF removed, so no value can inject a header."""
    return value.replace("\r", " ").replace("\n", " ")
