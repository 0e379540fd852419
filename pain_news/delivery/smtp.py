"""The SMTP provider: smtplib over one reused connection, one fully personalised message per recipient.

The envelope is sent step by step (MAIL, RCPT, DATA) so a dropped connection can be placed: before
the message body was sent nothing was delivered (reconnect and try again); after it, the server may
have taken it, so the recipient is `uncertain` (SENDING.md). A 5xx refuses one recipient (failed,
the send goes on); a 4xx is a temporary refusal, retried later by the caller.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pain_news.delivery.base import FAILED, RETRY, SENT, UNCERTAIN, DeliveryResult, OutgoingMessage, Recipient
from pain_news.delivery.mime import MimeTemplate
from pain_news.errors import DeliveryError

if TYPE_CHECKING:
    from pain_news.config import SmtpSettings

_LEADING_DOT = re.compile(rb"(?m)^\.")
RECONNECTS_PER_MESSAGE = 2


class _NotReached(Exception):
    """The connection failed before the message body was sent: nothing was delivered."""


class SmtpProvider:
    """Delivers over one connection, opened on first use and reopened when the server drops it."""

    name = "smtp"
    max_batch = 50  # recipients per ledger batch; each still gets its own message

    def __init__(self, settings: SmtpSettings, password: str) -> None:
        self.settings = settings
        self._password = password
        self._conn: smtplib.SMTP | None = None
        self._template: MimeTemplate | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        try:
            conn: smtplib.SMTP
            if s.security == "ssl":
                conn = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout, context=ssl.create_default_context()
                )
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            conn.ehlo_or_helo_if_needed()
            if s.username:
                conn.login(s.username, self._password)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"the SMTP server {s.host}:{s.port} refused the login for {s.username!r} ({error.smtp_code})",
                hint="check smtp.username and PAIN_NEWS_SMTP_PASSWORD",
            ) from None
        except (OSError, smtplib.SMTPException) as error:
            raise _NotReached(f"could not connect to {s.host}:{s.port}: {error}") from None
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
        """One message per recipient over the shared connection."""
        if self._template is None or self._template.message is not message:
            self._template = MimeTemplate(message)
        results = []
        for recipient in recipients:
            message_id, data = self._template.render(recipient)
            results.append(self._send_one(message.from_email, recipient.email, message_id, _wire(data)))
        return results

    def _send_one(self, sender: str, to: str, message_id: str, data: bytes) -> DeliveryResult:
        reason = ""
        for _ in range(RECONNECTS_PER_MESSAGE + 1):
            try:
                return self._transaction(sender, to, message_id, data)
            except _NotReached as error:
                self._drop_connection()
                reason = str(error)
        return DeliveryResult(RETRY, reason=reason)

    def _transaction(self, sender: str, to: str, message_id: str, data: bytes) -> DeliveryResult:
        conn = self._connection()
        try:
            code, text = conn.mail(sender)
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
