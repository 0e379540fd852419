"""The SendGrid provider through the official client, pointed at the loopback stand-in."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest

from pain_news.config.settings import SendgridSettings
from pain_news.delivery import OutgoingMessage, Recipient
from pain_news.delivery.sendgrid import SendgridProvider, _encode
from pain_news.errors import ConfigError, DeliveryError
from tests.fixtures.sendgrid_standin import validate_mail

TOM = '<b>Tom & "Jerry"</b>'
MESSAGE = OutgoingMessage(
    subject="Winter issue",
    html='<p>Dear %%h.first_name|friend%%</p><a href="%%h.unsubscribe_url%%">Unsubscribe</a>',
    text="Dear %%t.first_name|friend%%\nUnsubscribe: %%t.unsubscribe_url%%",
    from_email="news@clinic.example",
    from_name="TriState Pain Institute",
    reply_to="info@clinic.example",
    list_id="Pain News <news.clinic.example>",
    campaign_id=12,
    category="pain-news-2026-12-winter-12",
)


def people(n, first="Ana"):
    return [
        Recipient(
            f"p{i}@example.org",
            {"first_name": first, "unsubscribe_url": f"https://news.example/unsubscribe/{i}"},
            {
                "List-Unsubscribe": f"<https://news.example/unsubscribe/{i}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            subscriber_id=i,
        )
        for i in range(n)
    ]


@pytest.fixture
def provider(sendgrid_standin):
    return SendgridProvider(SendgridSettings(host=sendgrid_standin.url, timeout=2), sendgrid_standin.api_key)


def test_a_batch_goes_in_one_request_in_ledger_order_with_per_recipient_data(provider, sendgrid_standin):
    results = provider.deliver(MESSAGE, people(1000))
    assert {r.status for r in results} == {"sent"} and results[0].message_id
    [body] = sendgrid_standin.accepted
    persons = body["personalizations"]
    assert [p["to"][0]["email"] for p in persons] == [f"p{i}@example.org" for i in range(1000)]
    assert persons[3]["headers"]["List-Unsubscribe"] == "<https://news.example/unsubscribe/3>"
    assert persons[3]["custom_args"] == {"campaign_id": "12", "subscriber_id": "3"}  # opaque ids only
    assert persons[3]["substitutions"]["%%t.unsubscribe_url%%"] == "https://news.example/unsubscribe/3"
    assert body["tracking_settings"] == {  # pinned on every request (docs/design/dependency-traps.md)
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }
    assert "send_at" not in body and "batch_id" not in body  # only a scheduled send has them
    assert body["categories"] == ["pain-news-2026-12-winter-12"]
    assert body["headers"] == {
        "List-Id": "Pain News <news.clinic.example>",
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
        "Feedback-ID": "campaign-12:newsletter:news.clinic.example",
    }
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "bypass" not in str(body.get("mail_settings", {}))
    assert "asm" not in body


def test_to_carries_the_subscribers_name_and_none_when_there_is_none(provider, sendgrid_standin):
    named = Recipient("ana@example.org", {"first_name": "Zoë", "last_name": "Ölund"}, subscriber_id=1)
    provider.deliver(MESSAGE, [named, Recipient("bo@example.org", {"first_name": ""}, subscriber_id=2)])
    first, second = sendgrid_standin.accepted[0]["personalizations"]
    assert first["to"] == [{"email": "ana@example.org", "name": "Zoë Ölund"}]  # SendGrid encodes it
    assert second["to"] == [{"email": "bo@example.org"}]


def test_personalizations_encode_to_the_same_json_whichever_encoder_takes_them():
    # orjson writes UTF-8 where the standard library writes \\u escapes: the same JSON values. A lone
    # surrogate (text decoded with errors="surrogateescape") is not UTF-8: orjson refuses it, and
    # the standard library encodes it instead of the batch failing.
    batch = [{"to": [{"email": "ana@example.org", "name": "Zoë Ölund"}], "substitutions": {"%%t.x%%": TOM}}]
    assert json.loads(_encode(batch)) == batch
    odd = [{"substitutions": {"%%t.first_name%%": "Ana\udcff"}}]
    assert json.loads(_encode(odd)) == odd


def test_one_off_mail_gets_no_list_headers(provider, sendgrid_standin):
    provider.deliver(replace(MESSAGE, list_id="", campaign_id=None), people(1))
    assert "headers" not in sendgrid_standin.accepted[0]


def test_asm_group_is_sent_when_configured(sendgrid_standin):
    p = SendgridProvider(
        SendgridSettings(host=sendgrid_standin.url, asm_group_id=77, timeout=2), sendgrid_standin.api_key
    )
    p.deliver(replace(MESSAGE, unsubscribe_group=True), people(1))  # an issue to the list
    assert sendgrid_standin.accepted[0]["asm"] == {"group_id": 77}
    p.deliver(MESSAGE, people(1))  # anything else: a test send, a confirmation, a welcome
    assert "asm" not in sendgrid_standin.accepted[1]


def test_names_are_escaped_for_html_and_verbatim_for_text(provider, sendgrid_standin):
    provider.deliver(MESSAGE, people(1, first=TOM))
    subs = sendgrid_standin.accepted[0]["personalizations"][0]["substitutions"]
    assert subs["%%h.first_name|friend%%"] == "&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;"
    assert subs["%%t.first_name|friend%%"] == TOM


def test_oversized_personal_values_fail_that_recipient_only(provider, sendgrid_standin):
    recipients = people(3)
    recipients[1] = Recipient("big@example.org", {"first_name": "x" * 6000})
    results = provider.deliver(MESSAGE, recipients)
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert len(sendgrid_standin.accepted[0]["personalizations"]) == 2


def test_the_standin_rejects_what_sendgrid_documents_as_invalid():
    body = {
        "personalizations": [{"to": [{"email": f"p{i}@example.org"}]} for i in range(1001)],
        "from": {"email": "a@example.org"},
        "content": [{"type": "text/html", "value": "x"}, {"type": "text/plain", "value": ""}],
    }
    messages = " | ".join(e["message"] for e in validate_mail(body))
    assert "limited to 1000 personalizations" in messages
    assert "The subject is required" in messages
    assert "at least one character" in messages
    assert "text/plain must come first" in messages


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("500", "SendGrid answered 500"),
        (("429", {"Retry-After": "7"}), "rate limited by SendGrid (429)"),
    ],
)
def test_429_and_5xx_are_retried_later(provider, sendgrid_standin, answer, reason):
    sendgrid_standin.script(answer)
    [result] = provider.deliver(MESSAGE, people(1))
    assert (result.status, result.reason) == ("retry", reason)
    if reason.startswith("rate"):
        assert result.retry_after == 7


def test_429_without_retry_after_waits_until_the_rate_limit_reset(provider, sendgrid_standin):
    sendgrid_standin.script("429")  # the stand-in sends X-RateLimit-Reset one second ahead
    [result] = provider.deliver(MESSAGE, people(1))
    assert result.status == "retry" and 0 <= result.retry_after <= 1.5


def test_a_dropped_connection_after_the_request_is_uncertain(provider, sendgrid_standin):
    sendgrid_standin.script("drop")
    [result] = provider.deliver(MESSAGE, people(1))
    assert result.status == "uncertain"


def test_a_stalled_server_times_out_as_uncertain(sendgrid_standin):
    p = SendgridProvider(SendgridSettings(host=sendgrid_standin.url, timeout=0.3), sendgrid_standin.api_key)
    sendgrid_standin.script("hold")
    [result] = p.deliver(MESSAGE, people(1))
    assert result.status == "uncertain"
    sendgrid_standin.release()


def test_a_refused_connection_is_retried_not_uncertain():
    from tests.fixtures.core import free_port

    p = SendgridProvider(SendgridSettings(host=f"http://127.0.0.1:{free_port()}", timeout=1), "SG.key")
    assert [r.status for r in p.deliver(MESSAGE, people(1))] == ["retry"]


def test_400_stops_with_sendgrid_s_own_messages(provider, sendgrid_standin):
    bad = OutgoingMessage(subject="", html="<p>x</p>", text="x", from_email="news@clinic.example")
    with pytest.raises(DeliveryError, match=r"\(400\): The subject is required.*\(field subject\)"):
        provider.deliver(bad, people(1))


@pytest.mark.parametrize("answer", ["401", "403"])
def test_401_and_403_say_the_api_key_is_wrong_without_showing_it(provider, sendgrid_standin, answer, caplog):
    caplog.set_level(logging.DEBUG)
    sendgrid_standin.script(answer)
    with pytest.raises(DeliveryError, match="the API key is wrong") as info:
        provider.deliver(MESSAGE, people(1))
    assert sendgrid_standin.api_key not in str(info.value) + str(info.value.hint) + caplog.text


def test_a_wrong_key_is_refused_by_the_standin(sendgrid_standin):
    p = SendgridProvider(SendgridSettings(host=sendgrid_standin.url, timeout=2), "SG.wrong")
    with pytest.raises(DeliveryError, match="401"):
        p.deliver(MESSAGE, people(1))
    assert sendgrid_standin.accepted == []


def test_missing_api_key_is_a_config_error():
    with pytest.raises(ConfigError, match="SENDGRID_API_KEY is not set"):
        SendgridProvider(SendgridSettings(), "")


def test_a_suppression_sync_at_debug_level_never_logs_the_api_key(
    store, make_config, sendgrid_standin, caplog
):
    from pain_news.sendgrid.sync import sync_suppressions

    for name in ("python_http_client", "sendgrid"):  # as in a process where only the sync used the client
        logging.getLogger(name).setLevel(logging.NOTSET)
    caplog.set_level(logging.DEBUG)
    config = make_config(
        {"PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url, "SENDGRID_API_KEY": sendgrid_standin.api_key}
    )
    sync_suppressions(config, store)
    assert sendgrid_standin.auth_headers  # the client really talked to the stand-in
    assert sendgrid_standin.api_key not in caplog.text


def test_a_sync_refused_for_the_key_says_it_may_lack_the_suppressions_permission(
    store, make_config, sendgrid_standin
):
    from pain_news.sendgrid.sync import sync_suppressions

    config = make_config({"PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url, "SENDGRID_API_KEY": "SG.wrong"})
    with pytest.raises(DeliveryError) as info:
        sync_suppressions(config, store)
    assert info.value.hint and '"Suppressions: read" permission' in info.value.hint


def test_a_recipient_over_the_substitution_limit_fails_alone(provider, sendgrid_standin):
    # 2,600 two-byte characters in the HTML and text values: 10,400 bytes with the URL, over 10,000.
    big = people(1, first="é" * 2600)[0]
    fits = people(2, first="a" * 2400)[1]  # 4,800 ASCII bytes plus keys and URL: within the limit
    results = provider.deliver(MESSAGE, [big, fits])
    assert results[0].status == "failed" and "10,000-byte" in results[0].reason
    assert results[1].status == "sent"
    [body] = sendgrid_standin.accepted
    assert [p["to"][0]["email"] for p in body["personalizations"]] == ["p1@example.org"]


# ---- what SendGrid documents (twilio/sendgrid-oai) ------------------------------------------


def sg_config(make_config, standin, **extra):
    return make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": standin.url,
            "SENDGRID_API_KEY": standin.api_key,
            "PAIN_NEWS_SENDGRID_ASM_GROUP_ID": "77",
            **extra,
        }
    )


def test_a_confirmation_goes_without_the_unsubscribe_group(make_config, sendgrid_standin):
    """Else SendGrid drops it for anyone who once unsubscribed and now asks back in."""
    from pain_news.delivery import send_transactional

    config = sg_config(make_config, sendgrid_standin)
    send_transactional(
        config, to="back@example.org", subject="Confirm", text="Confirm", html="<p>Confirm</p>"
    )
    [body] = sendgrid_standin.accepted
    assert "asm" not in body


def test_a_test_send_goes_without_the_group_and_once_per_mailbox(make_config, sendgrid_standin, sample_issue):
    from pain_news.campaign.proofs import send_test

    config = sg_config(make_config, sendgrid_standin)
    sent = send_test(config, None, sample_issue, ["Ed@Example.org", "ed@example.org", "kim@example.org"])
    assert sent.sent == ["Ed@Example.org", "kim@example.org"]
    [body] = sendgrid_standin.accepted
    assert "asm" not in body
    assert [p["to"][0]["email"] for p in body["personalizations"]] == ["Ed@Example.org", "kim@example.org"]


def test_more_than_1000_one_off_recipients_are_split_per_request(provider, sendgrid_standin):
    from pain_news.delivery.retry import deliver_now

    results = deliver_now(provider, MESSAGE, people(1001))
    assert len(results) == 1001 and {r.status for r in results} == {"sent"}
    assert [len(b["personalizations"]) for b in sendgrid_standin.accepted] == [1000, 1]


@pytest.mark.parametrize(
    "first, last, expected",
    [
        ("Lopez, Maria", "", "Lopez Maria"),
        ("Ana;", "Ruiz", "Ana Ruiz"),
        ("Bo\r\nBcc: x@y.z", "", "Bo Bcc: x@y.z"),
    ],
)
def test_to_name_never_holds_a_comma_a_semicolon_or_a_line_break(
    provider, sendgrid_standin, first, last, expected
):
    [person] = people(1)
    provider.deliver(
        MESSAGE, [person._replace(values={**person.values, "first_name": first, "last_name": last})]
    )
    assert sendgrid_standin.accepted[0]["personalizations"][0]["to"][0]["name"] == expected


def test_an_international_domain_goes_to_sendgrid_as_its_a_label_as_over_smtp(provider, sendgrid_standin):
    from pain_news.delivery.smtp import envelope_address

    [person] = people(1)
    provider.deliver(MESSAGE, [person._replace(email="bob@bücher.de")])
    [body] = sendgrid_standin.accepted
    assert body["personalizations"][0]["to"][0]["email"] == "bob@xn--bcher-kva.de"
    assert envelope_address("bob@bücher.de")[0] == "bob@xn--bcher-kva.de"  # the same form both ways


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Winter\r\nBcc: all@evil.example"),
        ("from_name", "Clinic\n"),
        ("reply_to", "a@b.example\x00"),
    ],
)
def test_a_header_value_with_a_control_character_is_refused_before_posting(
    provider, sendgrid_standin, field, value
):
    with pytest.raises(DeliveryError, match="contains a control character"):
        provider.deliver(replace(MESSAGE, **{field: value}), people(1))
    assert sendgrid_standin.requests == 0


def test_categories_are_ascii_and_within_255_characters_keeping_the_campaign_id(provider, sendgrid_standin):
    from pain_news.campaign.runner import campaign_category

    category = campaign_category("2026-12-hiver-santé-" + "é" * 300, 123456)
    assert category.isascii() and len(category) <= 255 and category.endswith("-123456")
    assert category.startswith("pain-news-2026-12-hiver-sante-")
    provider.deliver(replace(MESSAGE, category=category), people(1))
    assert sendgrid_standin.accepted[0]["categories"] == [category]


def test_a_send_to_a_sensitive_topic_is_categorised_by_the_campaign_id_alone(provider, sendgrid_standin):
    from pain_news.campaign.runner import campaign_category

    category = campaign_category("2027-01-life-after-back-surgery", 42, private=True)
    assert category == "pain-news-42"  # the folder name may name the condition (docs/security.md)
    provider.deliver(replace(MESSAGE, category=category), people(1))
    assert sendgrid_standin.accepted[0]["categories"] == ["pain-news-42"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"to": [{"email": "a@example.org", "name": "Lopez, Maria"}]}, "personalizations.0.to.0.name"),
        ({"to": [{"email": "bob@bücher.de"}]}, "personalizations.0.to.0.email"),
    ],
)
def test_the_standin_refuses_names_and_addresses_sendgrid_refuses(change, field):
    body = {
        "personalizations": [change],
        "from": {"email": "news@clinic.example"},
        "subject": "s",
        "content": [{"type": "text/plain", "value": "x"}],
    }
    assert [e["field"] for e in validate_mail(body)] == [field]
    body["personalizations"] = [{"to": [{"email": "a@example.org"}]}]
    body["categories"] = ["santé"]
    body["subject"] = "a\r\nBcc: b@example.org"
    assert sorted(e["field"] for e in validate_mail(body)) == ["categories", "subject"]
