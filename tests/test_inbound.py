"""Inbound mail through both doors (`pain-news inbound` and serve's Inbound Parse route), SQLite and PostgreSQL.

Every case runs through each door (the `door` fixture), so both apply the same rules: a token
mailto, an "unsubscribe" reply, an out-of-office, a bounce report, a symptom question (forwarded
once, answered once per period), a loop, and what only one door can get wrong.
"""

from __future__ import annotations

import email
import email.utils
import json
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from pain_news.cli import cli
from pain_news.db.models import ReplyEvent
from pain_news.inbound import rules
from pain_news.inbound.message import read_message
from pain_news.links import mail_token, make_token, read_mail_token
from tests.fixtures.core import SECRET, free_port, start_uvicorn

INBOUND_DOMAIN = "inbound.tristatepain.example"
FORWARD_TO = "frontdesk@tristatepain.example"
INBOUND_ENV = {
    "PAIN_NEWS_NEWSLETTER_INBOUND_DOMAIN": INBOUND_DOMAIN,
    "PAIN_NEWS_NEWSLETTER_REPLIES_FORWARD_TO": FORWARD_TO,
    "PAIN_NEWS_NEWSLETTER_REPLY_TO": f"replies@{INBOUND_DOMAIN}",
}
PATIENT = "ana.patient@example.org"


# ---- messages -------------------------------------------------------------------------------------


def reply(
    sender: str = PATIENT,
    subject: str = "Re: Pain News — Winter",
    body: str = "Hello",
    to: str = f"replies@{INBOUND_DOMAIN}",
    **headers: str,
) -> bytes:
    msg = EmailMessage(policy=policy.default)
    msg["From"] = f"Ana Patient <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = "<reply-1@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return bytes(msg)


def bounce_report(address: str = PATIENT, status: str = "5.1.1", campaign: int = 7) -> bytes:
    action = "failed" if status.startswith("5") else "delayed"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
        f"To: bounces@{INBOUND_DOMAIN}\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        "--b1\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
        "--b1\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.org\n\n"
        f"Final-Recipient: rfc822; {address}\nAction: {action}\nStatus: {status}\n\n"
        "--b1\nContent-Type: text/rfc822-headers\n\n"
        f"From: news@tristatepain.example\nTo: {address}\nSubject: Pain News\n"
        f"Feedback-ID: campaign-{campaign}:newsletter:pain-news.tristatepain.example\n\n"
        "--b1--\n"
    ).encode()


# ---- the doors ------------------------------------------------------------------------------------


class CliDoor:
    """`pain-news inbound -` with the message on standard input."""

    name = "cli"

    def __init__(self, project: Path, url: str, env: dict[str, str]):
        self.env = {"PAIN_NEWS_CONFIG": str(project / "pain-news.toml"), "PAIN_NEWS_DATABASE_URL": url, **env}

    def deliver(self, raw: bytes, *, envelope_to: tuple[str, ...] = ()) -> int:
        result = CliRunner().invoke(cli, ["inbound", "-"], input=raw, env=self.env, catch_exceptions=False)
        return result.exit_code


INBOUND_SECRET = "inbound-secret-for-the-tests-0123456789abcdef"


class WebhookDoor:
    """serve's `/webhooks/inbound/<secret>`, posted as SendGrid's Inbound Parse posts: the parsed
    form (headers, text, html, attachments, envelope …) or, with `raw`, the whole message in `email`."""

    def __init__(self, url: str, raw: bool):
        self.url, self.raw = url, raw
        self.name = "webhook-raw" if raw else "webhook"

    def deliver(self, raw: bytes, *, secret: str = INBOUND_SECRET) -> int:
        data, files = parse_form(raw, full=self.raw)
        # multipart/form-data always, as SendGrid posts it: fields are parts without a file name.
        parts = [(k, (None, v.encode("utf-8"), None)) for k, v in data.items()] + files
        response = httpx.post(f"{self.url}/webhooks/inbound/{secret}", files=parts, timeout=30)
        return 0 if response.status_code == 200 else response.status_code


def parse_form(raw: bytes, *, full: bool) -> tuple[dict[str, str], list[Any]]:
    """What SendGrid's Inbound Parse posts for `raw` (docs: "Setting up the Inbound Parse Webhook")."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    head = raw.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    recipients = [a for _, a in email.utils.getaddresses([str(msg.get("To", ""))])]
    data = {
        "from": str(msg.get("From", "")),
        "to": str(msg.get("To", "")),
        "subject": str(msg.get("Subject", "")),
        "envelope": json.dumps({"to": recipients, "from": "bounce@example.org"}),
        "spam_score": "0.1",
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "utf-8"}),
        "SPF": "pass",
        "dkim": "{@example.org : pass}",
        "sender_ip": "192.0.2.1",
    }
    if full:
        data["email"] = raw.decode("utf-8", "replace")
        return data, []
    data["headers"] = head
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    info: dict[str, dict[str, str]] = {}
    text_part = None
    if msg.is_multipart():
        for part in msg.iter_parts():
            kind = part.get_content_type()
            if kind == "text/plain" and text_part is None:
                text_part = part
                continue
            name = f"attachment{len(files) + 1}"
            decoded = part.get_payload(decode=True)
            # message/* parts: their text as sent
            payload = decoded if isinstance(decoded, bytes) else part.as_bytes().split(b"\n\n", 1)[-1]
            files.append((name, (f"{name}.txt", payload, kind)))
            info[name] = {"filename": f"{name}.txt", "type": kind}
    else:
        text_part = msg
    if text_part is not None:
        data["text"] = str(text_part.get_content())
    data["attachments"] = str(len(files))
    if info:
        data["attachment-info"] = json.dumps(info)
    return data, files


@pytest.fixture(params=["cli", "webhook", "webhook-raw"])
def inbound(request, any_store, project, make_config):
    """(store, door): `door.deliver(raw)` hands one message to `pain-news inbound` or to serve's
    Inbound Parse route (parsed form or raw), on the same database; 0 means handled."""
    url = any_store.engine.url.render_as_string(hide_password=False)
    if request.param == "cli":
        yield any_store, CliDoor(project, url, INBOUND_ENV)
        return
    import uvicorn

    from pain_news.web.app import create_app

    config = make_config(
        {**INBOUND_ENV, "PAIN_NEWS_DATABASE_URL": url, "PAIN_NEWS_INBOUND_SECRET": INBOUND_SECRET}
    )
    app = create_app(config, any_store)
    port = free_port()
    server, thread = start_uvicorn(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    try:
        yield any_store, WebhookDoor(f"http://127.0.0.1:{port}", raw=request.param == "webhook-raw")
    finally:
        server.should_exit = True
        thread.join(10)
        app.state.welcomes.close()


def events(store) -> list[tuple[str, int | None, int | None, bool]]:
    from sqlalchemy.orm import Session

    with Session(store.engine) as s:
        rows = s.execute(
            select(
                ReplyEvent.action, ReplyEvent.subscriber_id, ReplyEvent.campaign_id, ReplyEvent.answered
            ).order_by(ReplyEvent.id)
        )
        return [(a, sid, cid, bool(answered)) for a, sid, cid, answered in rows]


def body_text(msg) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def outbox(project: Path, label: str) -> list[EmailMessage]:
    folder = project / "outbox" / label
    files = sorted(folder.glob("*.eml")) if folder.is_dir() else []
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


# ---- the cases ------------------------------------------------------------------------------------


def test_token_mailto_unsubscribes_whatever_the_case_and_body(inbound, project):
    store, door = inbound
    sub = store.add(PATIENT)
    local = mail_token(make_token(SECRET, sub.id, 3))
    assert (
        door.deliver(
            reply(subject="", body="anything at all", to=f"{local.upper()}@{INBOUND_DOMAIN.upper()}")
        )
        == 0
    )
    record = store.get(sub.id)
    assert record is not None and record.status == "unsubscribed" and record.opt_out_method == "email"
    assert events(store) == [("unsubscribed", sub.id, 3, False)]
    _, history = store.history(sub.id)
    assert history[-1].method == "email"
    assert outbox(project, "transactional") == [] and outbox(project, "replies") == []


def test_forged_token_mailto_unsubscribes_nobody(inbound, project):
    store, door = inbound
    sub = store.add(PATIENT)
    forged = mail_token(make_token("another-secret-that-is-long-enough-0123456789", sub.id, None))
    assert door.deliver(reply(sender="stranger@example.net", to=f"{forged}@{INBOUND_DOMAIN}")) == 0
    assert store.get(sub.id).status == "active"
    assert [e[0] for e in events(store)] == ["forwarded"]


def test_a_short_old_keys_token_mailto_reaches_only_subscribers_from_before_it_was_retired(
    any_store, project
):
    short = "short-old-key"  # from before the 32-byte rule: guessable, so forgeable for any id
    url = any_store.engine.url.render_as_string(hide_password=False)
    door = CliDoor(project, url, {**INBOUND_ENV, "PAIN_NEWS_PREVIOUS_SECRET_KEYS": short})
    ana = any_store.add(PATIENT)
    assert door.deliver(reply(to=f"{mail_token(make_token(short, ana.id, 3))}@{INBOUND_DOMAIN}")) == 0
    assert any_store.get(ana.id).status == "unsubscribed"  # on the list when the key was first seen
    bob = any_store.add("bob.patient@example.org")
    forged = mail_token(make_token(short, bob.id, 3))
    assert door.deliver(reply(sender="stranger@example.net", to=f"{forged}@{INBOUND_DOMAIN}")) == 0
    assert any_store.get(bob.id).status == "active"


@pytest.mark.parametrize(
    "subject, body",
    [
        ("unsubscribe", "sent from my phone"),
        ("Re: Pain News — Winter", "Please take me off this list.\n\n> On Monday Pain News wrote:\n> ..."),
        ("RE: Pain News", "STOP"),
        ("Re: Pain News", "Quiero darme de baja, gracias"),
        ("Baja", ""),
        ("Re: Pain News", "¡No más!"),
        ("Re: Pain News", "Cancelar suscripción"),
    ],
)
def test_a_reply_asking_to_stop_unsubscribes_and_confirms_once(inbound, project, subject, body):
    store, door = inbound
    sub = store.add(PATIENT)
    assert door.deliver(reply(subject=subject, body=body)) == 0
    assert store.get(sub.id).status == "unsubscribed"
    assert door.deliver(reply(subject=subject, body=body)) == 0  # asked twice: one confirmation
    [confirmation] = outbox(project, "transactional")
    assert confirmation["To"] == PATIENT
    assert confirmation["Auto-Submitted"] == "auto-replied"
    assert "https://news.tristatepain.example/subscribe" in body_text(confirmation)
    assert outbox(project, "replies") == []  # an opt-out is not forwarded
    assert [e[0] for e in events(store)] == ["unsubscribed", "unsubscribed"]


def test_an_unsubscribe_reply_never_revives_a_bounced_subscriber(inbound):
    store, door = inbound
    sub = store.add(PATIENT)
    store.opt_out(sub.id, "bounced", "webhook")
    assert door.deliver(reply(subject="unsubscribe")) == 0
    assert store.get(sub.id).status == "bounced"


@pytest.mark.parametrize(
    "headers, subject",
    [
        ({"Auto_Submitted": "auto-replied"}, "Re: Pain News"),
        ({"X_Autoreply": "yes"}, "Re: Pain News"),
        ({"X_Autorespond": "yes"}, "Re: Pain News"),
        ({"Precedence": "auto_reply"}, "Re: Pain News"),
        ({}, "Out of Office: Pain News — Winter"),
        ({}, "Automatic reply: Pain News"),
        ({}, "Respuesta automática: Pain News"),
        ({}, "Fuera de la oficina"),
    ],
)
def test_auto_replies_are_recorded_and_dropped(inbound, project, headers, subject):
    store, door = inbound
    sub = store.add(PATIENT)
    assert door.deliver(reply(subject=subject, body="I am away until Monday. Unsubscribe", **headers)) == 0
    assert events(store) == [("auto-reply-dropped", sub.id, None, False)]
    assert store.get(sub.id).status == "active"
    assert outbox(project, "replies") == [] and outbox(project, "transactional") == []


def test_a_hard_bounce_report_bounces_the_subscriber_and_a_soft_one_is_counted(inbound, project):
    store, door = inbound
    ana = store.add(PATIENT)
    ben = store.add("ben@example.org")
    assert door.deliver(bounce_report(PATIENT, "5.1.1", campaign=7)) == 0
    assert door.deliver(bounce_report("ben@example.org", "4.4.1", campaign=7)) == 0
    assert store.get(ana.id).status == "bounced"
    assert store.get(ana.id).opt_out_method == "bounce-report"
    assert store.get(ben.id).status == "active"
    assert events(store) == [("bounce", ana.id, 7, False), ("soft-bounce", ben.id, 7, False)]
    assert store.reply_figures([7])[7]["bounces by email"] == 2
    assert outbox(project, "replies") == [] and outbox(project, "transactional") == []


SYMPTOMS = (
    "My back pain got much worse after the injection last week and my left leg is numb. What should I do?"
)


def test_a_symptom_question_is_forwarded_and_answered_once_in_the_period(inbound, project):
    store, door = inbound
    sub = store.add(PATIENT)
    assert door.deliver(reply(subject="Question about my injection", body=SYMPTOMS)) == 0
    assert door.deliver(reply(subject="Question about my injection", body=SYMPTOMS + " Please answer.")) == 0
    forwards = outbox(project, "replies")
    assert len(forwards) == 2  # every reply reaches the clinic
    first = forwards[0]
    assert first["To"] == FORWARD_TO and first["Reply-To"] == PATIENT
    # A condition never goes into a header: the subject is fixed, the patient's is in the body.
    assert "injection" not in str(first["Subject"]) and "injection" not in "".join(
        f"{k}: {v}" for k, v in first.items() if k != "Subject"
    )
    forwarded_text = body_text(first)
    assert SYMPTOMS in forwarded_text and "Question about my injection" in forwarded_text
    [answer] = outbox(project, "transactional")  # one answer in the period
    assert answer["To"] == PATIENT and answer["Auto-Submitted"] == "auto-replied"
    text = body_text(answer)
    assert "(555) 010-0199" in text and "911" in text and "988" in text and "not read by" in text
    assert events(store) == [("forwarded", sub.id, None, True), ("forwarded", sub.id, None, False)]


def test_a_spanish_reader_is_answered_in_spanish_and_a_stranger_in_the_default_language(inbound, project):
    store, door = inbound
    store.add(PATIENT, language="es")
    assert door.deliver(reply(subject="Pregunta", body=SYMPTOMS)) == 0
    assert door.deliver(reply(sender="someone.else@example.org", subject="Question", body=SYMPTOMS)) == 0
    answers = {a["To"]: a for a in outbox(project, "transactional")}
    spanish = answers[PATIENT]
    assert str(spanish["Subject"]).startswith("Recibimos su mensaje")
    text = body_text(spanish)
    assert "(555) 010-0199" in text and "911" in text and "988" in text and "No la leen médicos" in text
    html = spanish.get_body(("html",))
    assert html is not None and '<html lang="es">' in html.get_content()
    assert str(answers["someone.else@example.org"]["Subject"]).startswith("We received your message")


def test_a_spanish_reader_who_asks_to_stop_is_confirmed_in_spanish(inbound, project):
    store, door = inbound
    store.add(PATIENT, language="es")
    assert door.deliver(reply(subject="Baja", body="")) == 0
    [confirmation] = outbox(project, "transactional")
    assert str(confirmation["Subject"]).startswith("Canceló su suscripción")
    assert "https://news.tristatepain.example/subscribe" in body_text(confirmation)


def test_nothing_of_a_reply_is_stored(inbound):
    store, door = inbound
    store.add(PATIENT)
    door.deliver(reply(subject="Question about my injection", body=SYMPTOMS))
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM reply_events")).all()
        history = conn.execute(text("SELECT detail FROM subscriber_events")).all()
    dumped = repr(rows) + repr(history)
    assert "injection" not in dumped and "numb" not in dumped and PATIENT not in dumped


def test_a_reply_to_the_automatic_answer_makes_no_loop(inbound, project):
    store, door = inbound
    store.add(PATIENT)
    assert door.deliver(reply(subject="Question", body=SYMPTOMS)) == 0
    [answer_file] = sorted((project / "outbox" / "transactional").glob("*.eml"))
    # The answer itself comes back (a misrouted copy): from our own address, auto-submitted.
    assert door.deliver(answer_file.read_bytes()) == 0
    # The patient's autoresponder answers it: auto-submitted.
    assert (
        door.deliver(
            reply(subject="Re: We received your message", body="Away", Auto_Submitted="auto-replied")
        )
        == 0
    )
    # The patient answers it by hand: forwarded, but not answered again within the period.
    assert door.deliver(reply(subject="Re: We received your message", body="Thanks!")) == 0
    assert len(outbox(project, "transactional")) == 1
    assert len(outbox(project, "replies")) == 2
    assert [e[0] for e in events(store)] == ["forwarded", "loop-dropped", "auto-reply-dropped", "forwarded"]


@pytest.mark.parametrize(
    "headers, sender",
    [
        ({"List_Id": "Patients <patients.example.org>"}, PATIENT),
        ({"Precedence": "list"}, PATIENT),
        ({}, "no-reply@example.org"),
    ],
)
def test_lists_and_robots_are_forwarded_but_never_answered(inbound, project, headers, sender):
    store, door = inbound
    assert door.deliver(reply(sender=sender, subject="Hello", body="A message", **headers)) == 0
    assert len(outbox(project, "replies")) == 1
    assert outbox(project, "transactional") == []


def test_an_unreadable_message_is_recorded_and_accepted(inbound, project):
    store, door = inbound
    assert door.deliver(b"\x00\xff not an email at all") == 0
    assert events(store) == [("unreadable", None, None, False)]


# ---- the inbound command only ---------------------------------------------------------------------


def test_inbound_exits_75_when_the_database_is_unavailable(project, run_cli, tmp_path):
    raw = reply(body=SYMPTOMS)
    (tmp_path / "m.eml").write_bytes(raw)
    env = {
        **INBOUND_ENV,
        "PAIN_NEWS_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    result = run_cli("inbound", str(tmp_path / "m.eml"), ok=False, env=env)
    assert result.exit_code == 75
    assert "Error: inbound message not handled now" in result.stderr
    assert "injection" not in result.output


def test_inbound_exits_75_when_the_provider_is_unavailable(project, run_cli, store, tmp_path):
    store.add(PATIENT)
    (tmp_path / "m.eml").write_bytes(reply(body=SYMPTOMS))
    env = {
        **INBOUND_ENV,
        "PAIN_NEWS_DELIVERY_PROVIDER": "smtp",
        "PAIN_NEWS_SMTP_PORT": "1",
        "PAIN_NEWS_SMTP_HOST": "127.0.0.1",
    }
    result = run_cli("inbound", str(tmp_path / "m.eml"), ok=False, env=env)
    assert result.exit_code == 75, result.output
    assert events(store) == []  # nothing recorded: the retry handles it once


def test_inbound_defers_a_reply_when_no_forward_address_is_set(project, run_cli, store, tmp_path):
    (tmp_path / "m.eml").write_bytes(reply(body=SYMPTOMS))
    env = {k: v for k, v in INBOUND_ENV.items() if "FORWARD" not in k}
    result = run_cli("inbound", str(tmp_path / "m.eml"), ok=False, env=env)
    assert result.exit_code == 75
    assert "replies_forward_to" in result.stderr


# ---- rules ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, stop",
    [
        ("unsubscribe", True),
        ("Please remove me from this list", True),
        ("STOP!", True),
        ("stop please", True),
        ("Dame de baja por favor", True),
        ("no más", True),
        ("I can't stop the pain in my lower back since the fall", False),
        ("La baja de mi madre fue ayer", False),
        ("Re: Pain News — Winter", False),
        ("", False),
    ],
)
def test_asks_to_stop(text, stop):
    assert rules.asks_to_stop(text) is stop


def test_mail_token_round_trips_in_any_case():
    token = make_token(SECRET, 42, None)
    local = mail_token(token)
    assert local == local.lower() and len(local) <= 64
    assert read_mail_token(SECRET, local.upper()) == (42, None)


def test_first_line_skips_quotes_and_attributions():
    raw = reply(body="\nOn Mon, Pain News wrote:\n> unsubscribe\nThanks for the tips\n")
    assert read_message(raw).first_line == "Thanks for the tips"


def test_envelope_field_must_be_json():
    from pain_news.errors import InboundRejected
    from pain_news.inbound.message import raw_from_parse_form

    with pytest.raises(InboundRejected):
        raw_from_parse_form({"from": PATIENT, "headers": "From: x@example.org\n", "envelope": "{not json"})


# ---- end to end: a list send, then mail back --------------------------------------------------------


def test_list_unsubscribe_mailto_from_a_sent_issue_unsubscribes_and_report_counts_it(
    run_cli, store, sample_issue, project
):
    ana = store.add(PATIENT)
    ben = store.add("ben@example.org")
    cara = store.add("cara@example.org")
    run_cli("send", str(sample_issue), "--yes", env=INBOUND_ENV)
    [sent] = [m for m in outbox(project, f"campaign-{latest_id(run_cli)}") if m["To"] == PATIENT]
    header = str(sent["List-Unsubscribe"])
    https, mailto = [part.strip(" <>") for part in header.split(",")]
    assert https.startswith("https://news.tristatepain.example/unsubscribe/")
    assert mailto.startswith("mailto:unsubscribe-") and mailto.endswith(
        f"@{INBOUND_DOMAIN}?subject=unsubscribe"
    )
    address = mailto.removeprefix("mailto:").split("?")[0]

    def inbound(raw: bytes) -> None:
        path = project / "in.eml"
        path.write_bytes(raw)
        run_cli("inbound", str(path), env=INBOUND_ENV)

    inbound(reply(subject="unsubscribe", body="", to=address))  # what a mailbox provider sends
    inbound(reply(sender="ben@example.org", subject="Re: Pain News", body=SYMPTOMS))
    inbound(reply(sender="cara@example.org", subject="Out of office", body="Back Monday"))
    inbound(bounce_report("cara@example.org", "5.1.1", campaign=latest_id(run_cli)))
    assert store.get(ana.id).status == "unsubscribed"
    data = json.loads(run_cli("report", str(sample_issue), "--format", "json").stdout)
    assert data["replies"] == {
        "replies": 1,
        "opt-outs by email": 1,
        "auto-replies dropped": 1,
        "bounces by email": 1,
    }
    assert "opt-outs by email" in run_cli("report", str(sample_issue)).stdout
    listed = run_cli("campaigns").stdout
    assert "replies 1, opt-outs by email 1, auto-replies dropped 1, bounces by email 1" in listed
    shown = run_cli("subscribers", "show", "ben@example.org").stdout
    assert "forwarded, answered (campaign" in shown
    assert "injection" not in shown
    assert store.get(cara.id).status == "bounced" and store.get(ben.id).status == "active"


def latest_id(run_cli) -> int:
    return int(json.loads(run_cli("campaigns", "--format", "json").stdout)[0]["id"])


def test_without_an_inbound_domain_list_unsubscribe_has_no_mailto(run_cli, store, sample_issue, project):
    store.add(PATIENT)
    run_cli(
        "send",
        str(sample_issue),
        "--yes",
        env={"PAIN_NEWS_DELIVERY_UNSUBSCRIBE_MAILTO": "old@clinic.example"},
    )
    [sent] = outbox(project, f"campaign-{latest_id(run_cli)}")
    assert "mailto:" not in str(sent["List-Unsubscribe"])


def test_the_old_unsubscribe_mailto_key_is_read_with_a_warning(run_cli, store):
    result = run_cli("campaigns", env={"PAIN_NEWS_DELIVERY_UNSUBSCRIBE_MAILTO": "old@clinic.example"})
    assert "Warning: delivery.unsubscribe_mailto" in result.stderr
    assert "newsletter.inbound_domain" in result.stderr


# ---- the Inbound Parse route only -----------------------------------------------------------------


@pytest.fixture
def parse_server(make_config, store):
    """serve on a free port with the inbound settings; yields (url, store, config_env)."""
    import uvicorn

    from pain_news.web.app import create_app

    started = []

    def start(**env: str) -> str:
        config = make_config({**INBOUND_ENV, "PAIN_NEWS_INBOUND_SECRET": INBOUND_SECRET, **env})
        app = create_app(config, store)
        port = free_port()
        server, thread = start_uvicorn(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        started.append((server, thread, app))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, app in started:
        server.should_exit = True
        thread.join(10)
        app.state.welcomes.close()


def test_a_wrong_or_missing_secret_is_404_and_applies_nothing(parse_server, store, project):
    sub = store.add(PATIENT)
    url = parse_server()
    door = WebhookDoor(url, raw=True)
    assert door.deliver(reply(subject="unsubscribe"), secret="wrong") == 404
    assert door.deliver(reply(subject="unsubscribe"), secret=INBOUND_SECRET[:-1]) == 404
    unset = WebhookDoor(parse_server(PAIN_NEWS_INBOUND_SECRET=""), raw=True)
    assert unset.deliver(reply(subject="unsubscribe"), secret="") == 404
    assert unset.deliver(reply(subject="unsubscribe"), secret=INBOUND_SECRET) == 404
    assert store.get(sub.id).status == "active" and events(store) == []


def test_an_oversized_post_is_413_while_it_is_read(parse_server, store):
    sub = store.add(PATIENT)
    url = parse_server(PAIN_NEWS_SERVE_INBOUND_MAX_BYTES="4096")
    big = reply(subject="unsubscribe", body="x" * 10_000)
    assert WebhookDoor(url, raw=True).deliver(big) == 413

    data, _ = parse_form(big, full=True)
    request = httpx.Request(
        "POST", "http://x/", files=[(k, (None, v.encode(), None)) for k, v in data.items()]
    )
    body = request.read()

    def chunks():  # a valid multipart body without Content-Length: the limit holds while it streams in
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    response = httpx.post(
        f"{url}/webhooks/inbound/{INBOUND_SECRET}",
        content=chunks(),
        headers={"Content-Type": request.headers["Content-Type"]},
        timeout=30,
    )
    assert response.status_code == 413
    assert store.get(sub.id).status == "active" and events(store) == []


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"from=a%40b.c", "application/x-www-form-urlencoded"),
        (
            b'--x\r\nContent-Disposition: form-data; name="from"\r\n\r\nbroken',
            "multipart/form-data; boundary=x",
        ),
        (None, None),  # a form with no headers and no email field
        ("envelope", None),  # an envelope that is not JSON
    ],
)
def test_a_malformed_post_is_400_with_nothing_applied(parse_server, store, body, content_type):
    sub = store.add(PATIENT)
    url = f"{parse_server()}/webhooks/inbound/{INBOUND_SECRET}"
    if body is None:
        response = httpx.post(url, files=[("subject", (None, b"unsubscribe", None))], timeout=30)
    elif body == "envelope":
        data, _ = parse_form(reply(subject="unsubscribe"), full=False)
        data["envelope"] = "{not json"
        response = httpx.post(url, files=[(k, (None, v.encode(), None)) for k, v in data.items()], timeout=30)
    else:
        response = httpx.post(url, content=body, headers={"Content-Type": content_type}, timeout=30)
    assert response.status_code == 400
    assert store.get(sub.id).status == "active" and events(store) == []


def test_the_route_answers_503_when_the_provider_is_unavailable(parse_server, store, project):
    store.add(PATIENT)
    url = parse_server(
        PAIN_NEWS_DELIVERY_PROVIDER="smtp", PAIN_NEWS_SMTP_HOST="127.0.0.1", PAIN_NEWS_SMTP_PORT="1"
    )
    assert WebhookDoor(url, raw=False).deliver(reply(body=SYMPTOMS)) == 503
    assert events(store) == []


@pytest.mark.parametrize(
    "env, promised, not_promised",
    [
        (INBOUND_ENV, ['reply "unsubscribe"', "(555) 010-0199"], []),
        ({}, ["call us at (555) 010-0199"], ["reply"]),
        ({"PAIN_NEWS_NEWSLETTER_PHONE": ""}, ["contact the clinic"], ["reply"]),
    ],
)
def test_the_error_page_promises_only_ways_off_the_list_that_work(web_server, env, promised, not_promised):
    server = web_server(env)
    page = httpx.get(f"{server.url}/unsubscribe/1.-.forged", timeout=30).text.replace("&#34;", '"')
    start = page.index("Copy the whole link")
    hint = page[start : page.index("off the list.", start)]
    for text in promised:
        assert text in hint
    for text in not_promised:
        assert text not in hint


def note_of(response):
    """The error page's hint (its `note` paragraph), quotes unescaped."""
    return response.text.split('<p class="note">')[1].split("</p>")[0].replace("&#34;", '"')


@pytest.mark.parametrize(
    "env, promised, not_promised",
    [
        (INBOUND_ENV, ["reply to any of our emails", "call us at (555) 010-0199"], []),
        # replies are not handled (no inbound mail) or not forwarded to anyone: no reply is promised
        ({}, ["call us at (555) 010-0199"], ["reply"]),
        ({**INBOUND_ENV, "PAIN_NEWS_NEWSLETTER_REPLIES_FORWARD_TO": ""}, ["call us"], ["reply"]),
        ({"PAIN_NEWS_NEWSLETTER_PHONE": ""}, ["contact the clinic"], ["reply"]),
    ],
)
def test_error_pages_promise_help_by_reply_only_when_replies_reach_the_clinic(
    web_server, env, promised, not_promised
):
    server = web_server({**env, "PAIN_NEWS_SERVE_SIGNUPS_PER_CLIENT_PER_HOUR": "1"})
    unavailable = web_server({**env, "PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""})  # signup cannot make links

    def signup(at, address):
        return httpx.post(f"{at.url}/subscribe", data={"email": address}, headers={"Origin": at.url})

    responses = [
        httpx.get(f"{server.url}/no/such/page", timeout=30),
        signup(server, "a@example.org") and signup(server, "b@example.org"),
        signup(unavailable, "c@example.org"),
    ]
    assert [r.status_code for r in responses] == [404, 429, 503]
    for hint in map(note_of, responses):
        assert hint.endswith("and we will help.")
        for text in promised:
            assert text in hint
        for text in not_promised:
            assert text not in hint
