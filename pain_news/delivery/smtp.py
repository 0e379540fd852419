"""The SMTP provider: smtplib over one reused connection, one fully personalised message per recipient.

The envelope is sent step by step (MAIL, RCPT, DATA) so a dropped connection can be placed: before
the message body was sent nothing was delivered (reconnect and try again); after it, the server may
have taken it, so the recipient is `uncertain` (docs/design/send-ledger.md). A 5xx to RCPT
refuses one recipient (failed, the send goes on); a 4xx is a temporary refusal, retried later by
the caller. A 5xx to MAIL FROM, a refused login or a missing STARTTLS concerns every recipient:
the send stops (DeliveryError) — carrying the results of the recipients already handled, so none
is mailed twice.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pain_news.delivery.base import (
    FAILED,
    RETRY,
    SENT,
    UNCERTAIN,
    DeliveryResult,
    OutgoingMessage,
    PartialDelivery,
    Recipient,
    ascii_domain,
)
from pain_news.delivery.mime import MimeTemplate
from pain_news.errors import DeliveryError

if TYPE_CHECKING:
    from pain_news.config.settings import SmtpSettings

_LEADING_DOT = re.compile(rb"(?m)^\.")
RECONNECTS_PER_MESSAGE = 2
NO_SMTPUTF8 = "the SMTP server lacks SMTPUTF8, needed for an address with non-ASCII characters before the @"


class _NotReached(Exception):
    """The connection failed before the message body was sent: nothing was delivered."""


class _CannotConnect(_NotReached):
    """No connection could be opened: the rest of the batch is not tried (one timeout, not one each)."""


class SmtpProvider:
    """Delivers over one connection, opened on first use and reopened when the server drops it."""

    name = "smtp"
    max_batch = 50  # recipients per ledger batch; each still gets its own message

    def __init__(self, settings: SmtpSettings, password: str) -> None:
        self.settings = settings
        self._password = password
        self._conn: smtplib.SMTP | None = None
        self._template: MimeTemplate | None = None

    def _tls(self) -> ssl.SSLContext:
        # smtp.ca_file: trust a private CA (or a self-signed server) in addition to nothing else.
        return ssl.create_default_context(cafile=self.settings.ca_file or None)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._tls())
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    conn.starttls(context=self._tls())
            conn.ehlo_or_helo_if_needed()
            if s.username:
                conn.login(s.username, self._password)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"the SMTP server {s.host}:{s.port} refused the login for {s.username!r} ({error.smtp_code})",
                hint="check smtp.username and PAIN_NEWS_SMTP_PASSWORD",
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(
                f"the SMTP server {s.host}:{s.port} does not offer STARTTLS (smtp.security = starttls)",
                hint="use smtp.security = ssl with the server's implicit-TLS port (usually 465); "
                "none only for a server on this machine",
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise _CannotConnect(f"could not connect to {s.host}:{s.port}: {error}") from None
        return conn

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def deliver(self, message: OutgoingMessage, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """One message per recipient over the shared connection.

        Raises PartialDelivery (a DeliveryError) when the send must stop; its `partial` holds the
        results of the recipients before the one that stopped it.
        """
        if self._template is None or self._template.message is not message:
            self._template = MimeTemplate(message)
        results: list[DeliveryResult] = []
        for recipient in recipients:
            try:
                results.append(self._one(message, recipient))
            except _CannotConnect as error:
                results += [DeliveryResult(RETRY, reason=str(error))] * (len(recipients) - len(results))
                break
            except DeliveryError as error:
                raise PartialDelivery(error.message, hint=error.hint, partial=results) from None
        return results

    def _one(self, message: OutgoingMessage, recipient: Recipient) -> DeliveryResult:
        assert self._template is not None
        try:
            to, utf8 = envelope_address(recipient.email)
            message_id, data = self._template.render(recipient)
        except (UnicodeError, ValueError) as error:
            return DeliveryResult(FAILED, reason=f"address cannot be used in SMTP: {error}")
        reason = ""
        for _ in range(RECONNECTS_PER_MESSAGE + 1):
            try:
                return self._transaction(message.from_email, to, utf8, message_id, _wire(data))
            except _CannotConnect:
                raise
            except _NotReached as error:
                self._drop_connection()
                reason = str(error)
        return DeliveryResult(RETRY, reason=reason)

    def _transaction(self, sender: str, to: str, utf8: bool, message_id: str, data: bytes) -> DeliveryResult:
        conn = self._connection()
        if utf8 and not conn.has_extn("smtputf8"):
            return DeliveryResult(FAILED, reason=NO_SMTPUTF8)
        try:
            code, text = conn.mail(sender, ["SMTPUTF8"] if utf8 else [])
            if code >= 500:
                raise DeliveryError(
                    f"the SMTP server refused the sender {sender}: {code} {text.decode('utf-8', 'replace')}",
                    hint="check newsletter.from_email and that smtp.username may send as it; "
                    "the campaign is resumable",
                )
            if code == 250:
                code, text = conn.rcpt(to)
            if code in (250, 251):
                code, text = conn.docmd("DATA")
            if code != 354:
                return _refused(conn, code, text)
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            raise _NotReached(f"connection lost before the message was sent: {error}") from None
        try:
            conn.send(data)
            code, text = conn.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as error:
            self._drop_connection()
            return DeliveryResult(UNCERTAIN, reason=f"connection lost after the message was sent: {error}")
        if code != 250:
            reason = f"{code} {text.decode('utf-8', 'replace')}"
            return DeliveryResult(RETRY if 400 <= code < 500 else FAILED, reason=reason)
        return DeliveryResult(SENT, message_id=message_id)

    def close(self) -> None:
        """QUIT politely; a server that already went away is fine."""
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None


def envelope_address(address: str) -> tuple[str, bool]:
    """(address for RCPT TO, whether it needs SMTPUTF8): the domain IDNA-encoded, the local part as is."""
    return ascii_domain(address), not address.rpartition("@")[0].isascii()


def _wire(data: bytes) -> bytes:
    """CRLF line ends, dot-stuffing and the end-of-data marker (RFC 5321 §4.5.2)."""
    return _LEADING_DOT.sub(b"..", data.replace(b"\n", b"\r\n")) + b"\r\n.\r\n"


def _refused(conn: smtplib.SMTP, code: int, text: bytes) -> DeliveryResult:
    """A refusal before the body was sent: 4xx is temporary (retry), 5xx is final for this recipient."""
    if code == 421:  # the server is closing the connection: reconnect and try again
        raise _NotReached(f"server closing the connection: {code} {text.decode('utf-8', 'replace')}")
    conn.rset()
    reason = f"{code} {text.decode('utf-8', 'replace')}"
    return DeliveryResult(RETRY if 400 <= code < 500 else FAILED, reason=reason)
