"""The shared message builder, the outbox provider and send_transactional."""

from __future__ import annotations

import email
from email import policy

import pytest

from pain_news.delivery import OutgoingMessage, Recipient, get_provider, send_transactional
from pain_news.delivery.mime import MimeTemplate
from pain_news.delivery.outbox import OutboxProvider

TOM = '<b>Tom & "Jerry"</b>'


def message(**extra) -> OutgoingMessage:
    fields = dict(
        subject="Pain after surgery — options",
        html="<p>Hi %%h.first_name|friend%%</p>\n.line starting with a dot",
        text="Hi %%t.first_name|friend%%,\n.line starting with a dot",
        from_email="news@clinic.example",
        from_name="TriState Pain Institute",
        reply_to="info@clinic.example",
        list_id="Pain News <news.clinic.example>",
    )
    return OutgoingMessage(**{**fields, **extra})


def parse(data: bytes):
    return email.message_from_bytes(data, policy=policy.default)


def test_message_is_multipart_alternative_text_then_html_with_list_headers():
    _, data = MimeTemplate(message()).render(
        Recipient(
            "ana@example.org",
            {"first_name": "Ana"},
            {"List-Unsubscribe": "<https://x.example/u/1>"},
            subscriber_id=1,
        )
    )
    msg = parse(data)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["From"] == "TriState Pain Institute <news@clinic.example>"
    assert msg["Reply-To"] == "info@clinic.example"
    assert msg["Subject"] == "Pain after surgery — options"
    assert msg["List-Id"] == "Pain News <news.clinic.example>"
    assert msg["List-Unsubscribe"] == "<https://x.example/u/1>"
    assert msg["To"] == "Ana <ana@example.org>"  # the subscriber's name beside the address


def test_every_message_gets_its_own_message_id():
    template = MimeTemplate(message())
    ids = {parse(template.render(Recipient(f"p{i}@example.org"))[1])["Message-ID"] for i in range(50)}
    assert len(ids) == 50


def test_name_is_escaped_in_html_and_verbatim_in_text():
    _, data = MimeTemplate(message()).render(Recipient("tom@example.org", {"first_name": TOM}))
    msg = parse(data)
    assert "Hi &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;" in msg.get_body(("html",)).get_content()
    assert f"Hi {TOM}," in msg.get_body(("plain",)).get_content()


def test_header_values_cannot_inject_headers():
    _, data = MimeTemplate(message()).render(
        Recipient("a@example.org", headers={"List-Unsubscribe": "<x>\r\nBcc: evil@example.org"})
    )
    assert "Bcc" not in parse(data)


def test_outbox_writes_one_eml_per_recipient(tmp_path):
    provider = OutboxProvider(tmp_path)
    m = message(label="campaign-7", campaign_id=7)
    results = provider.deliver(
        m, [Recipient("a@example.org", {"first_name": "A"}), Recipient("b@example.org")]
    )
    files = sorted(p.name for p in (tmp_path / "campaign-7").iterdir())
    assert files == ["a@example.org.eml", "b@example.org.eml"]
    assert [r.status for r in results] == ["sent", "sent"]
    assert (
        parse((tmp_path / "campaign-7" / "a@example.org.eml").read_bytes())["Message-ID"]
        == results[0].message_id
    )


def test_outbox_is_the_default_provider(config):
    assert get_provider(config).name == "outbox"


def test_send_transactional_writes_to_the_outbox_without_list_headers(config, project):
    send_transactional(
        config,
        to="new@example.org",
        subject="Please confirm",
        text="Confirm: https://x",
        html="<p>Confirm</p>",
    )
    [path] = (project / "outbox" / "transactional").iterdir()
    msg = parse(path.read_bytes())
    assert msg["To"] == "new@example.org" and msg["Subject"] == "Please confirm"
    assert "List-Unsubscribe" not in msg and "List-Id" not in msg


def test_send_transactional_over_smtp_raises_when_refused(make_config, smtp_server):
    from pain_news.errors import DeliveryError

    smtp_server.refuse["gone@example.org"] = "550 5.1.1 No such user"
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(smtp_server.port),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
    )
    with pytest.raises(DeliveryError, match="gone@example.org was refused: 550 5.1.1 No such user"):
        send_transactional(config, to="gone@example.org", subject="s", text="t", html="<p>h</p>")
    send_transactional(config, to="ok@example.org", subject="s", text="t", html="<p>h</p>")
    assert [m["To"] for m in smtp_server.messages] == ["ok@example.org"]


def test_send_transactional_gives_up_after_two_quick_attempts(make_config):
    # The signup page waits for this: a dead SMTP server must not hold it for ~15 s of retries.
    import socket
    import threading

    from pain_news.errors import DeliveryError

    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def hang_up():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()  # no greeting: the client sees a dropped connection before anything was sent

    threading.Thread(target=hang_up, daemon=True).start()
    config = make_config(
        {
            "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
            "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
            "PAIN_NEWS_SMTP_PORT": str(listener.getsockname()[1]),
            "PAIN_NEWS_SMTP_SECURITY": "none",
        }
    )
    try:
        with pytest.raises(DeliveryError, match="new@example.org could not be delivered: could not connect"):
            send_transactional(
                config, to="new@example.org", subject="Please confirm", text="Confirm", html="<p>Confirm</p>"
            )
        assert len(accepted) == 2
    finally:
        listener.close()


def test_list_messages_always_carry_a_list_id(make_config):
    from pain_news.delivery import message_from_config

    derived = make_config(
        {"PAIN_NEWS_NEWSLETTER_LIST_ID": "", "PAIN_NEWS_NEWSLETTER_FROM_EMAIL": "news@Clinic.example"}
    )
    message = message_from_config(derived, "Subject", "<p>x</p>", "x", list_message=True)
    assert message.list_id == "Pain News <pain-news.clinic.example>"
    assert (
        message_from_config(derived, "Subject", "<p>x</p>", "x").list_id == ""
    )  # one-off mail is not list mail
    configured = make_config({"PAIN_NEWS_NEWSLETTER_LIST_ID": "News <news.example.org>"})
    assert (
        message_from_config(configured, "S", "h", "t", list_message=True).list_id == "News <news.example.org>"
    )


def test_list_mail_asks_auto_responders_to_stay_quiet_and_carries_a_feedback_id():
    _, data = MimeTemplate(message(campaign_id=7)).render(Recipient("ana@example.org"))
    msg = parse(data)
    assert msg["Precedence"] == "bulk"
    assert msg["Auto-Submitted"] == "auto-generated"
    # Gmail's format: fields separated by colons, the sender id last and the same on every message.
    assert msg["Feedback-ID"] == "campaign-7:newsletter:news.clinic.example"


def test_a_test_send_is_told_apart_in_the_feedback_id_and_one_off_mail_has_no_list_headers():
    test_send = parse(MimeTemplate(message(label="test")).render(Recipient("ana@example.org"))[1])
    assert test_send["Feedback-ID"] == "test:newsletter:news.clinic.example"
    one_off = parse(MimeTemplate(message(list_id="")).render(Recipient("ana@example.org"))[1])
    for name in ("List-Id", "Precedence", "Auto-Submitted", "Feedback-ID"):
        assert name not in one_off


@pytest.mark.parametrize(
    "first, last, raw",
    [
        ("Ana", "Lima", "To: Ana Lima <ana@example.org>"),
        ("Zoë", "Ölund", "To: =?utf-8?b?Wm/DqyDDlmx1bmQ=?= <ana@example.org>"),
        ('Tom "T"', "O'Neil, Jr.", 'To: "Tom \\"T\\" O\'Neil, Jr." <ana@example.org>'),
        ("", "", "To: ana@example.org"),
    ],
)
def test_to_names_the_subscriber_encoded_as_the_rfcs_ask(first, last, raw):
    _, data = MimeTemplate(message()).render(
        Recipient("ana@example.org", {"first_name": first, "last_name": last}, subscriber_id=1)
    )
    [to] = parse(data)["To"].addresses
    assert (to.display_name, to.addr_spec) == (f"{first} {last}".strip(), "ana@example.org")
    # Quoted when it holds specials, RFC 2047-encoded when it is not ASCII: the raw line is ASCII.
    assert raw in data.decode().splitlines()


def test_a_test_send_to_an_editor_does_not_carry_the_sample_subscribers_name(make_config):
    from pain_news.campaign.personalize import sample_recipient

    recipient = sample_recipient(make_config(), "editor@clinic.example")
    assert recipient.values["first_name"] == "Maria"  # the sample fills the placeholders...
    _, data = MimeTemplate(message(label="test")).render(recipient)
    assert parse(data)["To"] == "editor@clinic.example"  # ...but the editor is not Maria


def test_a_name_cannot_inject_a_header():
    _, data = MimeTemplate(message()).render(
        Recipient(
            "ana@example.org",
            {"first_name": "Ana\r\nBcc: evil@example.org", "last_name": ""},
            subscriber_id=1,
        )
    )
    assert parse(data)["Bcc"] is None


def test_the_token_mailto_sits_beside_the_https_link_only_with_an_inbound_domain(make_config):
    from pain_news.campaign.personalize import recipient_for
    from pain_news.links import read_mail_token, read_token

    # The old delivery.unsubscribe_mailto no longer adds a mailto: that mailbox was never read.
    plain = recipient_for(
        make_config({"PAIN_NEWS_DELIVERY_UNSUBSCRIBE_MAILTO": "unsubscribe@tristatepain.example"}),
        3,
        9,
        "a@x.org",
        "A",
        "B",
    )
    assert plain.headers["List-Unsubscribe"].startswith("<https://")
    assert "mailto:" not in plain.headers["List-Unsubscribe"]
    config = make_config({"PAIN_NEWS_NEWSLETTER_INBOUND_DOMAIN": "inbound.tristatepain.example"})
    both = recipient_for(config, 3, 9, "a@x.org", "A", "B")
    https, mailto = both.headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://news.tristatepain.example/unsubscribe/")
    local = mailto.removeprefix("<mailto:").split("@")[0]
    assert mailto.endswith("@inbound.tristatepain.example?subject=unsubscribe>")
    key = config.secrets.secret_key
    assert read_mail_token(key, local) == read_token(key, https.strip("<>").rsplit("/", 1)[1]) == (9, 3)
    assert both.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
