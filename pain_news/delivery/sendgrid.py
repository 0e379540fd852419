"""The SendGrid provider: the official client, v3 Mail Send, up to 1,000 personalizations a request.

Traps handled here (docs/design/dependency-traps.md): the client has no timeout by default,
`str(error)` hides SendGrid's message (read `error.body`), `Mail` helper objects are slow and
`add_personalization` reverses the order (so the payload is a plain dict built in ledger order),
and the client's DEBUG logging prints the API key (pain_news.sendgrid.client holds its loggers at
WARNING).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import urllib.error
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from pain_news.delivery.base import (
    FAILED,
    RETRY,
    SENT,
    UNCERTAIN,
    DeliveryResult,
    EncodedBatch,
    OutgoingMessage,
    Recipient,
    ascii_category,
    ascii_domain,
    control_characters,
)
from pain_news.delivery.mime import list_headers, recipient_name
from pain_news.delivery.retry import retry_after_seconds
from pain_news.errors import ConfigError, DeliveryError
from pain_news.issue import placeholders

if TYPE_CHECKING:
    from pain_news.config.settings import SendgridSettings

MAX_PERSONALIZATIONS = 1000
MAX_SUBSTITUTION_BYTES = 10_000  # per personalization, keys and values (SendGrid's documented limit)
WRONG_KEY_HINT = "check SENDGRID_API_KEY (it needs the Mail Send permission); nothing was marked as sent"


class SendgridProvider:
    """Posts one request per batch; one result per recipient (the whole batch shares the outcome)."""

    name = "sendgrid"
    max_batch = MAX_PERSONALIZATIONS

    def __init__(self, settings: SendgridSettings, api_key: str) -> None:
        if not api_key:
            raise ConfigError(
                "SENDGRID_API_KEY is not set",
                hint="add it to .env or the environment, or send with --provider outbox",
            )
        from pain_news.sendgrid.client import make_client

        self.settings = settings
        self._client = make_client(api_key, settings.host, settings.timeout)
        self._shared: _SharedParts | None = None

    def _shared_parts(self, message: OutgoingMessage) -> _SharedParts:
        """The payload without personalizations, and the placeholders to substitute (built once)."""
        if self._shared is None or self._shared.message_id != id(message):
            shared = build_shared(message, self.settings.asm_group_id, count_opens=self.settings.count_opens)
            self._shared = _SharedParts(message, shared)
        return self._shared

    def encoder(self, message: OutgoingMessage) -> PeopleEncoder:
        """What turns recipients into this message's personalizations (picklable: worker processes)."""
        return self._shared_parts(message).encoder

    def deliver(self, message: OutgoingMessage, recipients: Sequence[Recipient]) -> list[DeliveryResult]:
        """One request for the batch; recipients whose substitutions are too big fail on their own."""
        return self.deliver_encoded(message, self._shared_parts(message).encoder(recipients))

    def deliver_encoded(self, message: OutgoingMessage, batch: EncodedBatch) -> list[DeliveryResult]:
        """Post a batch `encoder(message)` made; one result per recipient of the batch, in order."""
        shared = self._shared_parts(message)
        results: list[DeliveryResult | None] = [None] * batch.size
        for i, reason in batch.refused.items():
            results[i] = DeliveryResult(FAILED, reason=reason)
        posted, people_json = list(batch.posted), batch.people_json
        while posted:
            try:
                outcome = self._post(shared, people_json, len(posted))
            except _BadPersonalizations as bad:
                # A 400 naming recipients: those fail with SendGrid's reason, the rest are posted again.
                for k, reason in bad.named.items():
                    results[posted[k]] = DeliveryResult(FAILED, reason=f"SendGrid: {reason}")
                people = json.loads(people_json)  # rare: decoded only to leave the named ones out
                kept = [k for k in range(len(posted)) if k not in bad.named]
                posted, people_json = [posted[k] for k in kept], _encode([people[k] for k in kept])
                continue
            for i in posted:
                results[i] = outcome
            break
        return [r for r in results if r is not None]

    def _post(self, shared: _SharedParts, people_json: str, count: int) -> DeliveryResult:
        from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped]

        body = _JsonText(f'{{"personalizations":{people_json},{shared.json}}}')
        try:
            # The client's own v3 call, given JSON it need not encode again (see _JsonText).
            response = self._client.client.mail.send.post(request_body=body, request_headers=_JSON_HEADERS)
        except HTTPError as error:
            named = _named_personalizations(error.body, count)
            if int(error.status_code) == 400 and named:
                raise _BadPersonalizations(named) from None
            return _from_http_error(error)
        except urllib.error.URLError as error:
            # urllib wraps failures to connect: those provably never reached SendGrid.
            reason = error.reason
            if isinstance(reason, ConnectionRefusedError | socket.gaierror | ssl.SSLError):
                return DeliveryResult(RETRY, reason=f"could not connect to SendGrid: {reason}")
            return DeliveryResult(UNCERTAIN, reason=f"no answer from SendGrid: {reason}")
        except (TimeoutError, http.client.HTTPException, ConnectionError, OSError) as error:
            # The request left and no answer came back: SendGrid may have queued it
            # (docs/design/send-ledger.md).
            return DeliveryResult(
                UNCERTAIN, reason=f"no answer from SendGrid: {type(error).__name__} {error}".strip()
            )
        headers = response.headers
        message_id = headers.get("X-Message-Id") if headers is not None else None
        return DeliveryResult(SENT, message_id=message_id)

    def close(self) -> None:
        """The client opens a connection per request: nothing to release."""

    # ---- scheduled sends: SendGrid's Cancel Scheduled Sends API ---------------------------------

    def create_batch(self) -> str:
        """A new mail batch id (POST /v3/mail/batch → 201 {"batch_id": ...}); sends no mail."""
        response = self._api("create a batch id", lambda c: c.mail.batch.post())
        try:
            batch_id = json.loads(response.body or b"{}").get("batch_id")
        except (ValueError, AttributeError):
            batch_id = None
        if not isinstance(batch_id, str) or not batch_id:
            raise DeliveryError("SendGrid answered the batch request without a batch id; nothing was sent")
        return batch_id

    def batch_status(self, batch_id: str) -> str | None:
        """ "cancel" or "pause" when the batch has one (GET /v3/user/scheduled_sends/{batch_id}), else None."""
        response = self._api(
            "read the scheduled send", lambda c: c.user.scheduled_sends._(batch_id).get(), missing_ok=True
        )
        try:
            found = json.loads(response.body or b"[]") if response is not None else []
        except ValueError:
            found = []
        rows = found if isinstance(found, list) else [found]
        return next((str(r["status"]) for r in rows if isinstance(r, dict) and r.get("status")), None)

    def cancel_batch(self, batch_id: str) -> None:
        """Cancel every message of the batch (POST /v3/user/scheduled_sends, status "cancel").

        Asks first, so a cancel that reached SendGrid before a crash is not requested twice.
        """
        if self.batch_status(batch_id) == "cancel":
            return
        self._api(
            "cancel the scheduled send",
            lambda c: c.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "cancel"}),
        )

    def release_batch(self, batch_id: str) -> None:
        """Delete a cancelled batch's status once its time has passed
        (DELETE /v3/user/scheduled_sends/{batch_id}): SendGrid keeps at most 10 paused or
        cancelled batches at once and refuses the next cancel. A 404 means it is gone already."""
        self._api(
            "delete the cancelled batch's status",
            lambda c: c.user.scheduled_sends._(batch_id).delete(),
            missing_ok=True,
        )

    def _api(self, what: str, call: Callable[[Any], Any], *, missing_ok: bool = False) -> Any:
        """One call to SendGrid's API outside Mail Send; DeliveryError (one line) when it fails.

        With `missing_ok`, a 404 answers None (nothing recorded for that id)."""
        from python_http_client.exceptions import HTTPError

        try:
            return call(self._client.client)
        except HTTPError as error:
            status = int(error.status_code)
            if status == 404 and missing_ok:
                return None
            if status in (401, 403):
                raise DeliveryError(
                    f"SendGrid refused to {what} ({status}): the API key is wrong", hint=WRONG_KEY_HINT
                ) from None
            raise DeliveryError(
                f"SendGrid refused to {what} ({status}): {sendgrid_messages(error.body)}"
            ) from None
        except (urllib.error.URLError, TimeoutError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", error)
            raise DeliveryError(
                f"could not {what}: no answer from SendGrid ({reason})",
                hint="check the connection and run the same command again",
            ) from None


def tracking_settings(*, count_opens: bool = False) -> dict[str, Any]:
    """Tracking pinned on every request, whatever the account's settings say (issue 13).

    Click tracking would rewrite every link (our unsubscribe links too) through SendGrid; opens,
    Google Analytics parameters and SendGrid's own unsubscribe footer stay off. `count_opens`
    (sendgrid.count_opens) allows the open pixel for aggregate counts only (webhook.py keeps no
    per-address open or click).
    """
    return {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": count_opens},
        # SendGrid's own subscription tracking would add a second unsubscribe link and headers.
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }


def build_shared(message: OutgoingMessage, asm_group_id: int, *, count_opens: bool = False) -> dict[str, Any]:
    """Everything in the request but the personalizations.

    A header value holding a control character is refused (DeliveryError: nothing is posted);
    `check` reports it first as `header-control-character` (checks/headers.py).
    """
    _refuse_control_characters(message)
    sender: dict[str, str] = {"email": ascii_domain(message.from_email)}
    if message.from_name:
        sender["name"] = message.from_name
    body: dict[str, Any] = {
        "from": sender,
        "subject": message.subject,
        # text/plain must come first, then text/html (SendGrid's content rule).
        "content": [
            {"type": "text/plain", "value": message.text},
            {"type": "text/html", "value": message.html},
        ],
        "tracking_settings": tracking_settings(count_opens=count_opens),
    }
    if message.send_at is not None:  # a scheduled send: the same time and batch on every request
        body["send_at"] = int(message.send_at)
        body["batch_id"] = message.batch_id
    if message.reply_to:
        body["reply_to"] = {"email": ascii_domain(message.reply_to)}
    if message.list_id:
        body["headers"] = list_headers(message)  # the same list headers SMTP messages carry
    if message.category:
        body["categories"] = [ascii_category(message.category)[:255]]  # campaign/runner.py keeps the id
    if asm_group_id and message.unsubscribe_group:  # never on transactional mail (delivery/base.py)
        body["asm"] = {"group_id": asm_group_id}
    return body


def _refuse_control_characters(message: OutgoingMessage) -> None:
    values = {"subject": message.subject, "sender name": message.from_name, "reply_to": message.reply_to}
    values |= {f"header {k}": v for k, v in list_headers(message).items()}
    for name, value in values.items():
        bad = control_characters(value)
        if bad:
            raise DeliveryError(
                f"the {name} contains a control character ({bad}); nothing was sent",
                hint="run 'pain-news check' on the issue: it names the value to fix",
            )


def to_name(name: str) -> str:
    """A recipient's name as SendGrid takes it in `to.name`: SendGrid documents that it may not
    contain `,` or `;` (they become spaces) and a control character could reach the To header."""
    cleaned = "".join(" " if ch in ",;" or not ch.isprintable() else ch for ch in name)
    return " ".join(cleaned.split())


def substitution_tags(message: OutgoingMessage) -> list[str]:
    """Every placeholder in the HTML and text parts (HTML ones get escaped values, text ones verbatim)."""
    return placeholders.placeholders_in(message.html) + placeholders.placeholders_in(message.text)


def personalization(
    message: OutgoingMessage, recipient: Recipient, tags: list[str] | placeholders.Substituter
) -> dict[str, Any]:
    """One recipient's personalization: to, substitutions, per-recipient headers, opaque ids."""
    substitute = tags if isinstance(tags, placeholders.Substituter) else placeholders.Substituter(tags)
    to = {"email": ascii_domain(recipient.email)}  # an IDN domain as its A-label, as SMTP sends it
    name = to_name(recipient_name(recipient))
    if name:
        to["name"] = name  # SendGrid encodes it for the To header
    person: dict[str, Any] = {
        "to": [to],
        "substitutions": substitute(recipient.values),
    }
    if recipient.headers:
        # Substitutions do not apply to headers, so per-recipient headers go here (issue 4).
        person["headers"] = dict(recipient.headers)
    args = {}
    if message.campaign_id is not None:
        args["campaign_id"] = str(message.campaign_id)
    if recipient.subscriber_id is not None:
        args["subscriber_id"] = str(recipient.subscriber_id)
    if args:
        person["custom_args"] = args  # opaque ids only: SendGrid treats these as non-personal data
    return person


def _exceeds_substitution_limit(subs: Mapping[str, str], key_chars: int | None = None) -> bool:
    """Over SendGrid's 10,000 bytes of keys and values? Runs for every recipient, so count
    characters first and encode only when 4 bytes a character (UTF-8's longest) could pass it.
    `key_chars`: the keys' length, the same for every recipient of a message."""
    chars = (sum(map(len, subs)) if key_chars is None else key_chars) + sum(map(len, subs.values()))
    if chars * 4 <= MAX_SUBSTITUTION_BYTES:
        return False
    return sum(len(k.encode()) + len(v.encode()) for k, v in subs.items()) > MAX_SUBSTITUTION_BYTES


class PeopleEncoder:
    """Recipients → the personalizations of one message's request, as JSON text (an EncodedBatch).

    Picklable, so a large send can run it in worker processes (campaign/personalizing.py); each
    placeholder is parsed once, not once per recipient.
    """

    def __init__(self, message: OutgoingMessage) -> None:
        self.message = message
        tags = substitution_tags(message)
        self.substitute = placeholders.Substituter(tags)
        self.key_chars = sum(map(len, tags))  # the same for every recipient

    def __call__(self, recipients: Sequence[Recipient]) -> EncodedBatch:
        people, posted, refused = [], [], {}
        for i, recipient in enumerate(recipients):
            person = personalization(self.message, recipient, self.substitute)
            if _exceeds_substitution_limit(person["substitutions"], self.key_chars):
                refused[i] = "personal values exceed SendGrid's 10,000-byte limit"
            else:
                people.append(person)
                posted.append(i)
        return EncodedBatch(_encode(people), tuple(posted), refused, len(recipients))


class _SharedParts:
    """What every request of one message shares, prepared once: the JSON of everything but the
    personalizations (the HTML and text parts are encoded once, not once a request), and the
    encoder of its personalizations."""

    def __init__(self, message: OutgoingMessage, shared: dict[str, Any]) -> None:
        self.message_id = id(message)
        self.json = json.dumps(shared, separators=_COMPACT)[1:-1]  # spliced after "personalizations"
        self.encoder = PeopleEncoder(message)


# The client JSON-encodes a dict body itself, then formats the whole encoded payload into a DEBUG
# log line on every request, logging enabled or not (python_http_client.client, http_request). A
# body of 1,000 personalizations made that a measurable share of a list send, and it put
# patients' addresses into a string. Given text with a Content-Type other than exactly
# "application/json", the client sends `body.encode()` as is: our encoded bytes say only their
# size when formatted.
_COMPACT = (",", ":")


def _encode(people: list[dict[str, Any]]) -> str:
    """Compact JSON of a batch's personalizations. orjson is twenty times quicker than the standard
    library here, which made encoding the largest single cost of a list send (bench/RESULTS.md);
    text it cannot encode (a lone surrogate) goes through the standard library instead."""
    try:
        return orjson.dumps(people).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(
            people, separators=_COMPACT
        )  # no spaces: a thousand personalizations are smaller to send and to parse


_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class _Payload(bytes):
    def __str__(self) -> str:
        return f"<{len(self)} bytes of JSON>"

    __repr__ = __str__


class _JsonText(str):
    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return _Payload(str.encode(self, encoding, errors))


class _BadPersonalizations(Exception):
    """SendGrid refused a request because of some recipients only: {index in the request: reason}."""

    def __init__(self, named: dict[int, str]) -> None:
        super().__init__(named)
        self.named = named


_PERSONALIZATION_FIELD = re.compile(r"^personalizations\.(\d+)\.")


def _named_personalizations(body: bytes | str | None, count: int) -> dict[int, str]:
    """{index: message} when every error in a 400 body names one personalization, else {}."""
    try:
        errors = json.loads(body or b"{}").get("errors") or []
    except (ValueError, AttributeError):
        return {}
    named: dict[int, str] = {}
    for e in errors:
        found = _PERSONALIZATION_FIELD.match(str(e.get("field") or "")) if isinstance(e, dict) else None
        if found is None or int(found[1]) >= count:
            return {}  # an error about the request itself: the whole send stops
        named.setdefault(int(found[1]), str(e.get("message") or "refused"))
    return named


def _from_http_error(error: Any) -> DeliveryResult:
    status = int(error.status_code)
    if status == 429:
        return DeliveryResult(
            RETRY, reason="rate limited by SendGrid (429)", retry_after=retry_after_seconds(error.headers)
        )
    if status >= 500:
        return DeliveryResult(RETRY, reason=f"SendGrid answered {status}")
    if status in (401, 403):
        raise DeliveryError(
            f"SendGrid refused the request ({status}): the API key is wrong", hint=WRONG_KEY_HINT
        )
    raise DeliveryError(f"SendGrid refused the request ({status}): {sendgrid_messages(error.body)}")


def sendgrid_messages(body: bytes | str | None) -> str:
    """SendGrid's own error messages from a response body, joined for one line."""
    try:
        errors = json.loads(body or b"{}").get("errors", [])
        parts = [f"{e.get('message')}" + (f" (field {e['field']})" if e.get("field") else "") for e in errors]
    except (ValueError, AttributeError):
        parts = []
    return "; ".join(parts) or "no details given"
