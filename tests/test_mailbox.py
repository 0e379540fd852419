"""One mailbox is one key: every spelling of an address is one person, in the store and on the wire."""

from __future__ import annotations

import hashlib
import unicodedata

import pytest
from sqlalchemy import insert

from pain_news.db.models import Suppression, utcnow
from pain_news.delivery.smtp import envelope_address
from pain_news.mailbox import ascii_domain, mailbox_key
from pain_news.subscribers.importer import import_file
from pain_news.subscribers.store import email_hash

NFC = unicodedata.normalize("NFC", "josé@example.org")
NFD = unicodedata.normalize("NFD", "josé@example.org")


@pytest.mark.parametrize(
    "one, other",
    [
        ("bob@bücher.de", "bob@xn--bcher-kva.de"),
        ("Bob@BÜCHER.de", "bob@XN--BCHER-KVA.DE"),
        (NFC, NFD),
        (" Ana@Example.org ", "ana@example.org"),
    ],
)
def test_every_spelling_of_a_mailbox_has_one_key_and_one_hash(one, other):
    assert one != other
    assert mailbox_key(one) == mailbox_key(other)
    assert email_hash(one) == email_hash(other)


def test_the_key_is_nfc_local_part_and_a_label_domain():
    assert mailbox_key(unicodedata.normalize("NFD", "JOSÉ@Bücher.DE")) == "josé@xn--bcher-kva.de"
    assert mailbox_key("a@faß.de") == "a@xn--fa-hia.de"  # IDNA 2008, as email-validator: not fass.de


def test_smtp_and_sendgrid_put_the_same_a_label_on_the_wire():
    assert ascii_domain("José@Bücher.de") == "José@xn--bcher-kva.de"  # the local part as given
    assert envelope_address("José@Bücher.de") == ("José@xn--bcher-kva.de", True)


def write(tmp_path, text):
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("first, second", [("bob@bücher.de", "bob@xn--bcher-kva.de"), (NFD, NFC)])
def test_an_import_of_another_spelling_never_brings_back_an_opt_out(any_store, tmp_path, first, second):
    any_store.add(first, "Bob")
    any_store.unsubscribe(first, method="manual")
    summary = import_file(any_store, write(tmp_path, f"email,first_name\n{second},Bob\n"))
    assert (summary.added, summary.kept_opted_out) == (0, 1)
    [record] = list(any_store.iter_subscribers())
    assert record.status == "unsubscribed"


@pytest.mark.parametrize("first, second", [("bob@xn--bcher-kva.de", "bob@bücher.de"), (NFC, NFD)])
def test_an_import_of_another_spelling_never_brings_back_an_erased_address(
    any_store, tmp_path, first, second
):
    any_store.add(first, "Bob")
    any_store.delete(first)
    summary = import_file(any_store, write(tmp_path, f"email,first_name\n{second},Bob\n"))
    assert summary.added == 0
    assert list(any_store.iter_subscribers()) == []


@pytest.mark.parametrize(
    "erased_as, imported",
    [
        ("bob@bücher.de", "bob@xn--bcher-kva.de"),
        (unicodedata.normalize("NFD", "josé@bücher.de"), "JOSÉ@xn--bcher-kva.de"),
        ("bob@xn--bcher-kva.de", "Bob@Bücher.de"),
    ],
)
def test_an_erasure_hashed_before_keys_were_canonical_still_holds(any_store, tmp_path, erased_as, imported):
    # What the old code stored for a deleted address: sha256 of strip().lower() as it was typed.
    old_hash = hashlib.sha256(erased_as.strip().lower().encode()).hexdigest()
    with any_store.session() as s:
        s.execute(
            insert(Suppression), [{"email_hash": old_hash, "reason": "deleted", "created_at": utcnow()}]
        )
    summary = import_file(any_store, write(tmp_path, f"email\n{imported}\n"))
    assert summary.added == 0
    assert list(any_store.iter_subscribers()) == []
