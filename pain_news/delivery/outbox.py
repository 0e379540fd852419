"""The outbox provider: one .eml file per recipient, so the whole flow can be tried with nothing set up."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from pain_news.delivery.base import SENT, DeliveryResult, OutgoingMessage, Recipient
from pain_news.delivery.mime import MimeTemplate
from pain_news.private_files import make_private_dir, write_private

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]")


class OutboxProvider:
    """Writes `<outbox>/<label>/<address>.eml` (list sends) or timestamped files (tests, transactional)."""

    name = "outbox"
    max_batch = 200

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._templates: dict[int, MimeTemplate] = {}

    def _template(self, message: OutgoingMessage) -> MimeTemplate:
        key = id(message)
        if key not in self._templates:
            self._templates = {key: MimeTemplate(message)}  # one send at a time: keep only the latest
        return self._templates[key]

    def deliver(self, message: OutgoingMessage, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """Write one file per recipient; each write is atomic (temporary name, then rename).

        The files hold names, addresses and unsubscribe tokens: 0600, in folders made 0700.
        """
        template = self._template(message)
        folder = self.folder / message.label
        make_private_dir(folder)
        stamp = "" if message.campaign_id is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ-")
        results = []
        for recipient in recipients:
            message_id, data = template.render(recipient)
            path = folder / f"{stamp}{_UNSAFE.sub('_', recipient.email)}.eml"
            write_private(path, data)
            results.append(DeliveryResult(SENT, message_id=message_id))
        return results

    def delivered(self, message: OutgoingMessage, addresses: Sequence[str]) -> dict[str, str]:
        """Which of a list message's recipients have their file, with the file's Message-ID: each
        file is written whole or not at all (write_private renames a finished temporary file), so
        one that exists was delivered, and one that does not, was not."""
        folder = self.folder / message.label
        found: dict[str, str] = {}
        for address in addresses:
            path = folder / f"{_UNSAFE.sub('_', address)}.eml"
            try:
                with path.open("rb") as eml:
                    headers = BytesHeaderParser(policy=policy.compat32).parse(eml)
            except FileNotFoundError:
                continue
            found[address] = str(headers.get("Message-ID", "")).strip()  # as deliver() recorded it
        return found

    def close(self) -> None:
        """Nothing to release."""
