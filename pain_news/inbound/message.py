"""One inbound message read into plain facts: who sent it, to whom, and the signals the rules need.

Read with the standard library's `email` package (policy.default). Nothing here stores or logs
anything: the body stays in memory only as long as a forward needs it (docs/security.md).
SendGrid's Inbound Parse posts the same message either raw (its "POST the raw, full MIME message"
option: the `email` field) or taken apart into form fields; `raw_from_parse_form` puts the parts
back together so both doors run the same rules (tests/test_inbound.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parseaddr

from pain_news.errors import InboundRejected

MAX_TEXT = 200_000  # characters of a reply's text that are forwarded; the rest is cut (and said so)


@dataclass(frozen=True)
class ReportedRecipient:
    """One recipient of a delivery status notification: hard (5.x.x failed) or soft (4.x.x, delayed)."""

    address: str
    hard: bool


@dataclass(frozen=True)
class Inbound:
    """The facts of one inbound message the rules look at (pain_news/inbound/rules.py)."""

    sender: str  # the From address ("" when there is none)
    sender_name: str
    recipients: tuple[str, ...]  # To, Cc, Delivered-To, X-Original-To and the envelope's
    subject: str
    first_line: str  # the first line of the text that is not quoted, empty or an attribution
    text: str  # the text to forward
    date: str
    message_id: str
    references: tuple[str, ...]  # In-Reply-To and References: the messages this one answers
    auto_submitted: bool  # Auto-Submitted other than "no", X-Autoreply, X-Autorespond, Precedence
    from_list: bool  # List-Id or Precedence: list
    report: bool  # a delivery status notification (multipart/report or message/delivery-status)
    reported: tuple[ReportedRecipient, ...]  # the recipients a report names
    report_campaign: int | None  # the campaign of the message that bounced (its Feedback-ID)
    attachments: int  # parts that are neither the text nor the HTML body (never forwarded)


_PARSER = BytesParser(policy=policy.default)
_AUTO_PRECEDENCE = ("auto_reply", "bulk", "junk")
_FEEDBACK_CAMPAIGN = re.compile(r"^\s*campaign-(\d{1,9}):")
_ATTRIBUTION = re.compile(r"(wrote|escribió|escribio|a écrit|schrieb)\s*:\s*$", re.IGNORECASE)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")


def read_message(raw: bytes, envelope_to: Sequence[str] = ()) -> Inbound:
    """The facts of one raw RFC 5322 message; never raises on a malformed one (its facts are empty)."""
    msg = _PARSER.parsebytes(raw)
    sender_name, sender = _address(msg, "From")
    recipients = [a.lower() for a in envelope_to]
    for name in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients += [addr.lower() for _, addr in getaddresses(_all(msg, name)) if "@" in addr]
    text = _text_body(msg)
    reported, report_campaign, report = _report(msg)
    return Inbound(
        sender=sender,
        sender_name=sender_name,
        recipients=tuple(dict.fromkeys(recipients)),
        subject=_header(msg, "Subject"),
        first_line=first_line(text),
        text=text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n[… the rest of this reply was cut]\n",
        date=_header(msg, "Date"),
        message_id=_header(msg, "Message-ID"),
        references=tuple(_MESSAGE_ID.findall(_header(msg, "In-Reply-To") + " " + _header(msg, "References")))[
            -20:
        ],
        auto_submitted=_auto_submitted(msg),
        from_list=bool(_header(msg, "List-Id")) or _header(msg, "Precedence").lower() == "list",
        report=report,
        reported=reported,
        report_campaign=report_campaign,
        attachments=sum(1 for part in msg.walk() if _is_attachment(part)),
    )


def _header(msg: Message, name: str) -> str:
    """A header's value as text ("" when absent or unreadable), unfolded."""
    try:
        value = msg.get(name)
    except Exception:  # a header the email package cannot decode: treated as absent
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _all(msg: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in msg.get_all(name, [])]
    except Exception:
        return []


def _address(msg: Message, name: str) -> tuple[str, str]:
    """(display name, address) of a one-address header; ("", "") when there is no address in it."""
    found = [(n, a) for n, a in getaddresses(_all(msg, name)) if "@" in a]
    if not found:
        name_, addr = parseaddr(_header(msg, name))
        return (name_, addr) if "@" in addr else ("", "")
    return found[0]


def _auto_submitted(msg: Message) -> bool:
    """RFC 3834's signals, and the ones common autoresponders use instead."""
    auto = _header(msg, "Auto-Submitted").lower().split(";")[0].strip()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    return _header(msg, "Precedence").lower() in _AUTO_PRECEDENCE


def _is_attachment(part: Message) -> bool:
    if part.is_multipart():
        return False
    disposition = part.get_content_disposition()
    return disposition == "attachment" or part.get_content_maintype() not in ("text", "multipart")


def _text_body(msg: Message) -> str:
    """The plain-text body; the HTML one made plain when there is no text part."""
    if not isinstance(msg, EmailMessage):
        return ""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except Exception:  # a broken charset or transfer encoding: nothing to read
        return ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_subtype() == "html" else content


def html_to_text(html: str) -> str:
    """HTML reduced to its text: paragraphs and line breaks kept, tags and scripts dropped."""
    import html as html_module

    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", html)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|li|tr|h[1-6]|blockquote)>", "\n", text)
    text = re.sub(r"<[^>]*>", "", text)
    lines = (" ".join(line.split()) for line in html_module.unescape(text).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def first_line(text: str) -> str:
    """The first line a person wrote: not empty, not quoted (`>`), not an attribution (`… wrote:`)."""
    for line in text.splitlines()[:200]:
        stripped = line.strip()
        if not stripped or stripped.startswith(">") or _ATTRIBUTION.search(stripped):
            continue
        return stripped[:500]
    return ""


def _report(msg: Message) -> tuple[tuple[ReportedRecipient, ...], int | None, bool]:
    """(recipients the report names, the bounced message's campaign, whether it is a report)."""
    parts = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    report = msg.get_content_type() == "multipart/report" or bool(parts)
    if not report:
        return (), None, False
    found: dict[str, ReportedRecipient] = {}
    for part in parts:
        for block in _status_blocks(part):
            recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
            address = recipient.partition(";")[2].strip() if ";" in recipient else recipient.strip()
            action = _header(block, "Action").lower()
            status = _header(block, "Status")
            if "@" not in address or action not in ("failed", "delayed"):
                continue
            found[address.lower()] = ReportedRecipient(address, action == "failed" and status.startswith("5"))
    return tuple(found.values()), _reported_campaign(msg), True


def _status_blocks(part: Message) -> list[Message]:
    """The per-recipient field groups of a message/delivery-status part."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    # Some servers send it as plain text: its groups are separated by blank lines.
    raw = payload if isinstance(payload, str) else ""
    return [HeaderParser(policy=policy.default).parsestr(group) for group in re.split(r"\n\s*\n", raw)]


def _reported_campaign(msg: Message) -> int | None:
    """The campaign of the message a report returns: the Feedback-ID list mail carries (delivery/mime.py)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind not in ("message/rfc822", "text/rfc822-headers"):
            continue
        payload = part.get_payload()
        enclosed = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(enclosed, Message):
            value = _header(enclosed, "Feedback-ID")
        else:
            try:  # decoded: an Inbound Parse attachment comes back base64-encoded
                text = part.get_content() if isinstance(part, EmailMessage) else str(payload)
            except Exception:
                text = ""
            value = _header(HeaderParser(policy=policy.default).parsestr(str(text)), "Feedback-ID")
        match = _FEEDBACK_CAMPAIGN.match(value)
        if match:
            return int(match.group(1))
    return None


# ---- SendGrid Inbound Parse ---------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def raw_from_parse_form(
    fields: Mapping[str, str], files: Sequence[Attachment] = ()
) -> tuple[bytes, list[str]]:
    """(the raw message, the envelope's recipients) from an Inbound Parse post.

    With "POST the raw, full MIME message" the `email` field is the message itself; otherwise it is
    rebuilt from `headers`, `text`/`html` and the attachments, keeping a report's content type so a
    bounce report is read as one. InboundRejected (400) when the post is not an Inbound Parse post.
    """
    envelope_to = _envelope_recipients(fields.get("envelope", ""))
    raw = fields.get("email")
    if raw:
        return raw.encode("utf-8", "surrogateescape"), envelope_to
    headers = fields.get("headers")
    if not headers or "from" not in fields:
        raise InboundRejected("not an Inbound Parse post: no email, or no headers and from fields", 400)
    original = HeaderParser(policy=policy.default).parsestr(headers)
    msg = EmailMessage(policy=policy.default)
    for name, value in original.items():
        if name.lower() in ("content-type", "content-transfer-encoding", "mime-version"):
            continue
        try:
            msg[name] = value
        except Exception:  # a header the email package will not take back: left out
            continue
    text = fields.get("text") or (html_to_text(fields["html"]) if fields.get("html") else "")
    msg.set_content(text)
    for item in files:
        maintype, _, subtype = item.content_type.partition("/")
        if item.content_type == "message/delivery-status":
            # Parsed, so its per-recipient groups become the header blocks the rules read.
            status = _PARSER.parsebytes(b"Content-Type: message/delivery-status\n\n" + item.data)
            msg.make_mixed()
            msg.attach(status)
            continue
        msg.add_attachment(
            item.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    if original.get_content_type() == "multipart/report" and msg.is_multipart():
        msg.replace_header("Content-Type", "multipart/report; report-type=delivery-status")
    return bytes(msg), envelope_to


def _envelope_recipients(envelope: str) -> list[str]:
    """The `to` addresses of Inbound Parse's envelope field (JSON); InboundRejected when it is not JSON."""
    if not envelope:
        return []
    try:
        data = json.loads(envelope)
    except ValueError:
        raise InboundRejected("the envelope field is not JSON", 400) from None
    to = data.get("to") if isinstance(data, dict) else None
    if not isinstance(to, list) or not all(isinstance(a, str) for a in to):
        raise InboundRejected("the envelope field has no list of recipients", 400)
    return [a for a in to if "@" in a]


def attachment_info(value: str) -> dict[str, dict[str, str]]:
    """Inbound Parse's `attachment-info` field: {form field name: {filename, type}}; {} when absent."""
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        raise InboundRejected("the attachment-info field is not JSON", 400) from None
    if not isinstance(data, dict):
        raise InboundRejected("the attachment-info field is not a JSON object", 400)
    return {str(k): v for k, v in data.items() if isinstance(v, dict)}
