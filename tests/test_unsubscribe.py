"""Signed tokens and List-Unsubscribe headers."""

import pytest

from pain_news.errors import ConfigError, InvalidToken
from pain_news.links import (
    list_unsubscribe_headers,
    mail_token,
    make_token,
    read_mail_token,
    read_token,
    token_maker,
    unsubscribe_url,
)

SECRET = "s3cret"


def test_token_round_trips_subscriber_and_campaign():
    assert read_token(SECRET, make_token(SECRET, 42, 7)) == (42, 7)
    assert read_token(SECRET, make_token(SECRET, 42, None)) == (42, None)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # forged signature
        lambda t: "43" + t[2:],  # another subscriber
        lambda t: t.replace(".7.", ".8."),  # another campaign
        lambda t: "042" + t[2:],  # non-canonical number
        lambda t: "",
        lambda t: "a.b.c",
        lambda t: t[:-1] + "é",  # non-ASCII signature (compare_digest would raise TypeError)
        lambda t: "²" + t[1:],  # a Unicode digit that isdigit() accepts and int() does not
        lambda t: t + "\n",
    ],
)
def test_mangled_tokens_are_rejected(mangle):
    with pytest.raises(InvalidToken):
        read_token(SECRET, mangle(make_token(SECRET, 42, 7)))


@pytest.mark.parametrize(
    "secret",
    [
        "thirty-two-bytes-or-more-secret-key",
        "k" * 64,
        "a much longer key than one SHA-256 block, " * 3,
        "clé-à-accents-et-ünïcode-0123456789",
    ],
)
@pytest.mark.parametrize("purpose", ["unsubscribe", "preferences", "confirm"])
def test_token_maker_signs_exactly_as_make_token(secret, purpose):
    # The list send's fast path (keyed SHA-256 states) must agree with hmac.digest for every key
    # length: under, at and over the 64-byte block, which RFC 2104 hashes first.
    make = token_maker(secret, purpose)
    for subscriber, campaign in [(1, 1), (42, None), (987654321, 12345), (0, None)]:
        token = make(subscriber, campaign)
        assert token == make_token(secret, subscriber, campaign, purpose)
        assert read_token(secret, token, purpose) == (subscriber, campaign)


def test_token_for_one_purpose_does_not_work_for_another():
    with pytest.raises(InvalidToken):
        read_token(SECRET, make_token(SECRET, 1, 2, purpose="confirm"))


def test_token_from_another_secret_is_rejected():
    with pytest.raises(InvalidToken):
        read_token(SECRET, make_token("other", 1, 2))


def test_unsubscribe_url_lives_under_public_url(config):
    url = unsubscribe_url(config, 5, 9)
    assert url.startswith("https://news.tristatepain.example/unsubscribe/")
    assert read_token(config.secrets.secret_key, url.rsplit("/", 1)[1]) == (5, 9)


def test_unsubscribe_url_needs_the_secret(make_config):
    config = make_config({"PAIN_NEWS_SECRET_KEY": ""})
    with pytest.raises(ConfigError, match="PAIN_NEWS_SECRET_KEY"):
        unsubscribe_url(config, 1, None)


def test_headers_offer_one_click_and_the_token_mailto_only_with_an_inbound_domain(make_config):
    key = make_config().secrets.secret_key
    token = make_token(key, 1, None)
    url = f"https://x.example/unsubscribe/{token}"
    plain = list_unsubscribe_headers(make_config(), url, token)
    assert plain == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    # The old key is read (with a warning) but adds no mailto: nobody processed that mailbox.
    old = make_config({"PAIN_NEWS_DELIVERY_UNSUBSCRIBE_MAILTO": "out@x.example"})
    assert list_unsubscribe_headers(old, url, token) == plain
    assert "newsletter.inbound_domain" in old.warnings[0]
    inbound = make_config({"PAIN_NEWS_NEWSLETTER_INBOUND_DOMAIN": "in.x.example"})
    value = list_unsubscribe_headers(inbound, url, token)["List-Unsubscribe"]
    assert value == f"<{url}>, <mailto:{mail_token(token)}@in.x.example?subject=unsubscribe>"
    assert read_mail_token(key, mail_token(token).upper()) == (1, None)


OLD_KEY = "old-key-used-before-the-rotation-0123456789"


def test_links_signed_with_a_previous_key_still_verify_after_a_rotation(make_config):
    rotated = make_config({"PAIN_NEWS_PREVIOUS_SECRET_KEYS": f"retired-{'x' * 32},{OLD_KEY}"})
    old_link = make_token(OLD_KEY, 42, 7)
    assert read_token(rotated.secrets.verification_keys, old_link) == (42, 7)
    new_link = unsubscribe_url(rotated, 42, 7).rsplit("/", 1)[1]
    assert new_link == make_token(rotated.secrets.secret_key, 42, 7)  # new links: the current key only
    with pytest.raises(InvalidToken):
        read_token(OLD_KEY, new_link)
    with pytest.raises(InvalidToken):  # without the previous keys the old link is dead
        read_token(make_config().secrets.verification_keys, old_link)


def test_serve_honours_links_signed_with_a_previous_key(serve_app):
    import httpx

    server = serve_app({"PAIN_NEWS_PREVIOUS_SECRET_KEYS": OLD_KEY})
    sid = server.store.add("ana@example.org").id
    assert "ana@example.org" in httpx.get(f"{server.url}/unsubscribe/{make_token(OLD_KEY, sid, 3)}").text
    response = httpx.post(f"{server.url}/unsubscribe/{make_token(OLD_KEY, sid, 3)}")
    assert response.status_code == 200 and "You have been unsubscribed" in response.text
    assert server.store.get(sid).status == "unsubscribed"
    request = server.store.request_signup("nia@example.org")
    confirm = make_token(OLD_KEY, request.subscriber_id, request.request_event_id, purpose="confirm")
    assert httpx.post(f"{server.url}/confirm/{confirm}").status_code == 200
    assert server.store.get("nia@example.org").status == "active"


def test_a_short_previous_key_still_verifies_unsubscribe_but_never_a_confirmation():
    # Rotating away from a pre-rule short key keeps old unsubscribe links working, but a guessable
    # key must not be able to confirm a signup (activate a patient) or change preferences.
    current, old_short = "c" * 40, "short-old-key"
    unsubscribe = make_token(old_short, 7, 3)
    confirm = make_token(old_short, 7, 3, purpose="confirm")
    assert read_token([current, old_short], unsubscribe) == (7, 3)
    with pytest.raises(InvalidToken):
        read_token([current, old_short], confirm, purpose="confirm")
    long_old = "o" * 40
    assert read_token(
        [current, long_old], make_token(long_old, 7, 3, purpose="confirm"), purpose="confirm"
    ) == (
        7,
        3,
    )


# ---- a short previous key never shows an address -------------------------------------------------

SHORT_OLD_KEY = "short-old-key"  # from before the 32-byte rule: guessable offline


def test_verify_token_says_when_only_a_short_key_verified_it():
    from pain_news.links import verify_token

    current, strong_old = "c" * 40, "o" * 40
    keys = [current, strong_old, SHORT_OLD_KEY]
    assert verify_token(keys, make_token(SHORT_OLD_KEY, 7, 3)).weak_key == SHORT_OLD_KEY
    assert verify_token(keys, make_token(strong_old, 7, 3)).weak_key is None
    assert verify_token(keys, make_token(current, 7, 3)).weak_key is None


def test_a_retired_key_is_recorded_once_by_fingerprint_with_the_highest_id_then(any_store):
    from sqlalchemy import text

    from pain_news.subscribers.store import key_fingerprint

    first = any_store.add("ana@example.org").id
    bounds = any_store.retired_key_bounds([SHORT_OLD_KEY, OLD_KEY])
    assert bounds == {key_fingerprint(SHORT_OLD_KEY): first, key_fingerprint(OLD_KEY): first}
    any_store.add("bob@example.org")
    # Seen again later (every command and serve open the store with the same keys): the bound stays.
    assert any_store.retired_key_bounds([SHORT_OLD_KEY])[key_fingerprint(SHORT_OLD_KEY)] == first
    with any_store.engine.connect() as conn:
        rows = [tuple(map(str, r)) for r in conn.execute(text("SELECT * FROM retired_keys"))]
    assert len(rows) == 2 and not any(
        key in value for row in rows for value in row for key in (SHORT_OLD_KEY, OLD_KEY)
    )


def test_serve_records_previous_keys_when_it_opens_the_store(store, serve_app):
    from pain_news.subscribers.store import key_fingerprint

    ana = store.add("ana@example.org").id
    server = serve_app({"PAIN_NEWS_PREVIOUS_SECRET_KEYS": SHORT_OLD_KEY})
    server.store.add("bob@example.org")
    assert server.store.retired_key_bounds([SHORT_OLD_KEY]) == {key_fingerprint(SHORT_OLD_KEY): ana}


def test_a_link_only_a_short_old_key_verifies_names_no_address_and_no_one_who_joined_later(store, serve_app):
    import httpx

    ana = store.add("ana@example.org").id  # on the list when the short key was retired
    server = serve_app({"PAIN_NEWS_PREVIOUS_SECRET_KEYS": SHORT_OLD_KEY})
    bob = server.store.add("bob@example.org").id  # joined after: no link of that key names him
    link = f"{server.url}/unsubscribe/{make_token(SHORT_OLD_KEY, ana, 3)}"
    page = httpx.get(link)
    assert page.status_code == 200 and "ana@example.org" not in page.text
    assert "Press the button to stop emails to the address this link was sent to." in page.text
    done = httpx.post(link)
    assert done.status_code == 200 and "ana@example.org" not in done.text
    assert "The address this link was sent to will not receive Pain News any more." in done.text
    assert server.store.get(ana).status == "unsubscribed"
    later = f"{server.url}/unsubscribe/{make_token(SHORT_OLD_KEY, bob, 3)}"
    assert httpx.get(later).status_code == 400 and httpx.post(later).status_code == 400
    assert server.store.get(bob).status == "active"
    # A link of the current key (or a strong previous one) still names the reader.
    current = httpx.get(f"{server.url}/unsubscribe/{make_token(server.config.secrets.secret_key, bob, 3)}")
    assert "bob@example.org" in current.text
