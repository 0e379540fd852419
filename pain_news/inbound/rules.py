"""What an inbound message is: the words that ask to stop, out-of-office subjects, our own addresses.

Plain functions over `Inbound` facts, no I/O, so each rule is tested on its own
(tests/test_inbound.py) and the handler (pain_news/inbound/handle.py) only acts on the verdict.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.inbound.message import Inbound

# Asks to stop wherever it stands in a short line: "Please unsubscribe me", "Quiero darme de baja".
_STOP_PHRASES = (
    "unsubscribe",
    "remove me",
    "take me off",
    "opt me out",
    "opt out",
    "cancel my subscription",
    "no more emails",
    "stop sending",
    "stop emailing",
    "darme de baja",
    "dame de baja",
    "dar de baja",
    "deme de baja",
    "cancelar suscripcion",
    "cancelar mi suscripcion",
    "cancelar la suscripcion",
    "quitarme de la lista",
    "sacarme de la lista",
    "borrarme de la lista",
    "eliminarme de la lista",
    "no quiero recibir",
    "no mas correos",
    "no mas emails",
    "no mas mensajes",
)
# Asks to stop only when it is (nearly) the whole line: "STOP", "Baja por favor", "No más."
# "I can't stop the pain" or "la baja de mi madre" are not opt-outs.
_STOP_WORDS = ("stop", "baja", "no mas", "remove", "cancel", "cancelar", "alto", "unsubscribe me")
_POLITE = ("please", "por favor", "thanks", "thank you", "gracias", "now", "ya", "me")
_SHORT = 12  # words: a longer line is a message that happens to use the word

# Out-of-office and other automatic replies by their subject (English and Spanish).
_AUTO_SUBJECT = re.compile(
    r"\b(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (the |my )?(office|desk)|on vacation|on holiday|on leave|i am away|i'm away|"
    r"respuesta automatica|fuera de (la )?oficina|ausente|ausencia|de vacaciones|"
    r"respuesta de ausencia|no estoy en la oficina)\b",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|rv|fw|fwd|tr|r)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
# Senders RFC 3834 says never to answer automatically: bounces, list robots, no-reply addresses.
_NEVER_ANSWER = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|listserv|majordomo|owner-.*|.*-request)$",
    re.IGNORECASE,
)


def plain(text: str) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: "¡No más!" → "no mas"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    letters = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w@.-]+|[._-]+(?=\s|$)", " ", letters).split())


def asks_to_stop(text: str) -> bool:
    """True when a subject or a first line asks to stop the newsletter (English or Spanish)."""
    words = plain(_REPLY_PREFIX.sub("", text))
    if not words or len(words.split()) > _SHORT:
        return False
    padded = f" {words} "
    if any(f" {phrase} " in padded for phrase in _STOP_PHRASES):
        return True
    rest = padded
    for polite in _POLITE:
        rest = rest.replace(f" {polite} ", " ")
    return rest.strip() in _STOP_WORDS


def stop_requested(message: Inbound) -> bool:
    """The subject or the first line the sender wrote asks to stop."""
    return asks_to_stop(message.subject) or asks_to_stop(message.first_line)


def is_auto_reply(message: Inbound) -> bool:
    """An automatic reply (RFC 3834 headers, or an out-of-office subject): recorded, never forwarded."""
    return message.auto_submitted or bool(_AUTO_SUBJECT.search(plain(message.subject)))


def own_addresses(config: Config) -> set[str]:
    """The clinic's own addresses: mail from them is our own coming back (a loop)."""
    news = config.newsletter
    return {a.strip().lower() for a in (news.from_email, news.reply_to, news.replies_forward_to) if a.strip()}


def is_own(config: Config, address: str) -> bool:
    """From one of our own addresses, or from anywhere at the inbound domain."""
    address = address.strip().lower()
    domain = config.newsletter.inbound_domain.strip().lower()
    return address in own_addresses(config) or bool(domain and address.endswith("@" + domain))


def may_answer(message: Inbound) -> bool:
    """An automatic answer may go to this sender: a person, not a list, robot or automatic reply."""
    local = message.sender.rpartition("@")[0]
    return bool(local) and not (message.from_list or message.auto_submitted or _NEVER_ANSWER.match(local))
