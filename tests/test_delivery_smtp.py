"""The SMTP provider against a real SMTP server (aiosmtpd) on a loopback port."""

from __future__ import annotations

import pytest

from pain_news.config.settings import SmtpSettings
from pain_news.delivery import OutgoingMessage, Recipient
from pain_news.delivery.smtp import SmtpProvider
from pain_news.errors import DeliveryError

MESSAGE = OutgoingMessage(
    subject="Winter issue",
    html='<p>Dear %%h.first_name|friend%%</p><a href="%%h.unsubscribe_url%%">Unsubscribe</a>',
    text="Dear %%t.first_name|friend%%\nUnsubscribe: %%t.unsubscribe_url%%",
    from_email="news@clinic.example",
    from_name="TriState Pain Institute",
    reply_to="info@clinic.example",
    list_id="Pain News <news.clinic.example>",
)


def people(*names):
    return [
        Recipient(
            f"{n}@example.org",
            {"first_name": n.title(), "unsubscribe_url": f"https://news.example/unsubscribe/{n}"},
            {
                "List-Unsubscribe": f"<https://news.example/unsubscribe/{n}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
        )
        for n in names
    ]


def provider(server, **settings):
    return SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=server.port, security="none", timeout=5, **settings), ""
    )


def test_each_recipient_gets_a_personalised_message_over_one_connection(smtp_server):
    p = provider(smtp_server)
    results = p.deliver(MESSAGE, people("ana", "bo", "cy"))
    p.close()
    assert [r.status for r in results] == ["sent"] * 3
    assert smtp_server.connections == 1
    ana = smtp_server.messages[0]
    assert ana["To"].addresses[0].addr_spec == "ana@example.org"
    assert "Dear Ana" in ana.get_body(("plain",)).get_content()
    assert "https://news.example/unsubscribe/ana" in ana.get_body(("html",)).get_content()
    assert ana["List-Unsubscribe"] == "<https://news.example/unsubscribe/ana>"
    assert ana["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ana["List-Id"] == "Pain News <news.clinic.example>"
    assert ana["Message-ID"] == results[0].message_id
    assert len({m["Message-ID"] for m in smtp_server.messages}) == 3


def test_a_550_fails_that_recipient_and_the_send_goes_on(smtp_server):
    smtp_server.refuse["bo@example.org"] = "550 5.1.1 No such user"
    results = provider(smtp_server).deliver(MESSAGE, people("ana", "bo", "cy"))
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert results[1].reason == "550 5.1.1 No such user"
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == [
        "ana@example.org",
        "cy@example.org",
    ]


def test_a_451_is_reported_for_retry_and_the_retry_delivers(smtp_server):
    from pain_news.delivery.retry import deliver_now

    smtp_server.defer_once.add("bo@example.org")
    results = deliver_now(provider(smtp_server), MESSAGE, people("ana", "bo"), base=0.01)
    assert [r.status for r in results] == ["sent", "sent"]
    assert sorted(m["To"].addresses[0].addr_spec for m in smtp_server.messages) == [
        "ana@example.org",
        "bo@example.org",
    ]


def test_a_connection_dropped_before_the_message_is_reopened_and_nothing_is_lost(smtp_server):
    smtp_server.drop_at_rcpt.add("bo@example.org")
    results = provider(smtp_server).deliver(MESSAGE, people("ana", "bo", "cy"))
    assert [r.status for r in results] == ["sent", "sent", "sent"]
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages] == [
        "ana@example.org",
        "bo@example.org",
        "cy@example.org",
    ]
    assert smtp_server.connections == 2


def test_a_connection_dropped_after_the_message_left_is_uncertain_not_resent(smtp_server):
    smtp_server.drop_after_data.add("bo@example.org")
    results = provider(smtp_server).deliver(MESSAGE, people("ana", "bo", "cy"))
    assert [r.status for r in results] == ["sent", "uncertain", "sent"]
    assert [m["To"].addresses[0].addr_spec for m in smtp_server.messages].count("bo@example.org") == 1


def test_no_server_means_retry_later_not_failed():
    from tests.fixtures.core import free_port

    p = SmtpProvider(SmtpSettings(host="127.0.0.1", port=free_port(), security="none", timeout=2), "")
    assert [r.status for r in p.deliver(MESSAGE, people("ana"))] == ["retry"]


def test_login_uses_the_password_from_the_environment(smtp_server_auth):
    ok = SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=smtp_server_auth.port, security="none", username="news"), "s3cret"
    )
    assert [r.status for r in ok.deliver(MESSAGE, people("ana"))] == ["sent"]
    wrong = SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=smtp_server_auth.port, security="none", username="news"), "nope"
    )
    with pytest.raises(DeliveryError, match="refused the login for 'news'"):
        wrong.deliver(MESSAGE, people("bo"))


# ---- stopping part-way, addresses, unreachable servers, refused senders ------------------------

from pain_news.delivery.base import PartialDelivery  # noqa: E402
from tests.fixtures.smtp import RecordingHandler, SmtpServer  # noqa: E402


@pytest.fixture
def server_factory():
    started = []

    def start(**kwargs):
        server = SmtpServer(RecordingHandler(), **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_a_refused_relogin_mid_batch_stops_and_carries_the_results_already_had(server_factory):
    server = server_factory(username="news", password="s3cret", max_logins=1)
    server.handler.messages_per_connection = 1  # 421 after one message: the provider must log in again
    p = SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=server.port, security="none", username="news", timeout=5),
        "s3cret",
    )
    with pytest.raises(PartialDelivery, match="refused the login for 'news'") as info:
        p.deliver(MESSAGE, people("ana", "bo", "cy"))
    assert [r.status for r in info.value.partial] == ["sent"]
    assert [m["To"].addresses[0].addr_spec for m in server.messages] == ["ana@example.org"]


def test_an_idn_domain_is_idna_encoded(smtp_server):
    [result] = provider(smtp_server).deliver(MESSAGE, [Recipient("ana@bücher.example")])
    assert result.status == "sent"
    assert smtp_server.messages[0]["To"].addresses[0].addr_spec == "ana@xn--bcher-kva.example"


def test_a_non_ascii_local_part_fails_alone_when_the_server_lacks_smtputf8(server_factory):
    server = server_factory(enable_SMTPUTF8=False)
    results = provider(server).deliver(MESSAGE, [Recipient("josé@example.org"), Recipient("ana@example.org")])
    assert [r.status for r in results] == ["failed", "sent"]
    assert "lacks SMTPUTF8" in results[0].reason
    assert [m["To"].addresses[0].addr_spec for m in server.messages] == ["ana@example.org"]


def test_a_non_ascii_local_part_is_delivered_with_smtputf8(server_factory):
    server = server_factory()  # aiosmtpd's Controller offers SMTPUTF8 by default
    [result] = provider(server).deliver(MESSAGE, [Recipient("josé@example.org")])
    assert result.status == "sent"
    assert server.messages[0]["To"] == "josé@example.org"


def test_an_unreachable_server_is_tried_once_per_batch_not_once_per_recipient():
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never greets: every connect times out
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        p = SmtpProvider(
            SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], security="none", timeout=0.5), ""
        )
        results = p.deliver(MESSAGE, people("ana", "bo", "cy", "di"))
        assert [r.status for r in results] == ["retry"] * 4
        assert "could not connect" in (results[3].reason or "")
        assert len(accepted) == 1
    finally:
        listener.close()
        for conn in accepted:
            conn.close()


def test_a_refused_sender_stops_the_send_instead_of_failing_everyone(smtp_server):
    p = provider(smtp_server)
    assert [r.status for r in p.deliver(MESSAGE, people("ana"))] == ["sent"]
    smtp_server.handler.refuse_sender = "553 5.7.1 Sender address rejected"
    with pytest.raises(PartialDelivery, match="refused the sender news@clinic.example: 553") as info:
        p.deliver(MESSAGE, people("bo", "cy"))
    assert info.value.partial == []


def test_starttls_required_but_not_offered_is_a_clear_error(smtp_server):
    p = SmtpProvider(
        SmtpSettings(host="127.0.0.1", port=smtp_server.port, security="starttls", timeout=5), ""
    )
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        p.deliver(MESSAGE, people("ana"))


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_delivers_when_smtp_ca_file_trusts_the_server_and_not_otherwise(tls_server, mode):
    server, ca_file = tls_server(mode)
    settings = dict(host="127.0.0.1", port=server.port, security=mode, timeout=5)
    trusted = SmtpProvider(SmtpSettings(**settings, ca_file=str(ca_file)), "")
    assert [r.status for r in trusted.deliver(MESSAGE, people("ana"))] == ["sent"]
    trusted.close()
    assert [m["To"].addresses[0].addr_spec for m in server.messages] == ["ana@example.org"]
    untrusted = SmtpProvider(SmtpSettings(**settings), "")  # the system CAs do not know this certificate
    [result] = untrusted.deliver(MESSAGE, people("bo"))
    assert result.status == "retry" and "CERTIFICATE_VERIFY_FAILED" in (result.reason or "")
    assert len(server.messages) == 1


def test_smtp_ca_file_is_relative_to_the_project(make_config, project):
    from pain_news.delivery import get_provider

    config = make_config({"PAIN_NEWS_DELIVERY_PROVIDER": "smtp", "PAIN_NEWS_SMTP_CA_FILE": "certs/ca.pem"})
    provider = get_provider(config)
    assert isinstance(provider, SmtpProvider)
    assert provider.settings.ca_file == str(project / "certs" / "ca.pem")
