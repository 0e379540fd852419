"""Pages and emails around the newsletter in the reader's language, over real HTTP (SQLite here;
the store calls they make are the same on PostgreSQL: tests/test_signup.py runs them on both)."""

from __future__ import annotations

import email
from email import policy

import httpx
import pytest

from pain_news.links import preferences_url, unsubscribe_url
from tests.fixtures.web import ORIGIN
from tests.test_web_app import confirmation_link, path_of

SPANISH = {"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}

TOPICS = """
[topics]
news = { label = "Every issue of Pain News", label_es = "Cada número de Pain News" }
back-pain = { label = "Back pain", label_es = "Dolor de espalda", sensitive = true }
"""


@pytest.fixture(autouse=True)
def with_topics(project):
    with (project / "pain-news.toml").open("a", encoding="utf-8") as f:
        f.write(TOPICS)


def last_email(project):
    emls = sorted(project.glob("outbox/**/*.eml"), key=lambda p: p.stat().st_mtime)
    return email.message_from_bytes(emls[-1].read_bytes(), policy=policy.default)


def test_signup_form_follows_accept_language(server):
    spanish = httpx.get(f"{server.url}/subscribe", headers=SPANISH)
    assert spanish.status_code == 200
    assert '<html lang="es">' in spanish.text and spanish.headers["content-language"] == "es"
    assert "<legend>¿Sobre qué le gustaría recibir noticias?</legend>" in spanish.text
    assert '<label for="topic-back-pain">Dolor de espalda</label>' in spanish.text
    assert "Subscribe" not in spanish.text.replace("Subscribe to", "")  # nothing left in English
    english = httpx.get(f"{server.url}/subscribe", headers={"Accept-Language": "fr, en;q=0.5"})
    assert '<html lang="en">' in english.text and "What would you like to hear about?" in english.text
    assert '<label for="topic-back-pain">Back pain</label>' in english.text


def test_a_spanish_signup_gets_a_spanish_confirmation_and_pages(server, project):
    headers = {"Origin": server.url, **SPANISH}
    response = server.signup(headers=headers, email="nia@example.org", first_name="Nia", topic="news")
    assert response.status_code == 200 and "Revise su bandeja de entrada" in response.text
    server.settle()
    message = last_email(project)
    assert message["Subject"] == "Por favor, confirme su suscripción a Pain News"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hola:\n") and "abriendo este enlace y pulsando el botón" in text
    link = confirmation_link(project)
    page = httpx.get(server.url + path_of(link), headers=SPANISH)
    assert "Sí, suscribirme" in page.text
    done = httpx.post(server.url + path_of(link), headers=SPANISH)
    assert "Suscripción confirmada" in done.text and "nia@example.org recibirá Pain News" in done.text


def test_unsubscribe_and_preference_pages_in_spanish(server):
    sid = server.store.add("ana@example.org", "Ana", topics=["news"], language="es").id
    page = httpx.get(server.url + path_of(unsubscribe_url(server.config, sid, 4)), headers=SPANISH)
    assert "¿Darse de baja de Pain News?" in page.text and "<strong>ana@example.org</strong>" in page.text
    prefs = httpx.get(server.url + path_of(preferences_url(server.config, sid, 4)), headers=SPANISH)
    assert "<h2>Sus preferencias</h2>" in prefs.text and "Cada número de Pain News" in prefs.text
    saved = httpx.post(
        server.url + path_of(preferences_url(server.config, sid, 4)),
        data={"action": "save", "first_name": "Ana", "topic": "back-pain"},
        headers={**SPANISH, **ORIGIN},
    )
    assert "Sus preferencias están guardadas." in saved.text
    expired = httpx.get(
        server.url + path_of(preferences_url(server.config, sid, 4, delivered=1)), headers=SPANISH
    )
    assert "Este enlace ha caducado" in expired.text and "Envíenme un enlace nuevo" in expired.text
    done = httpx.post(server.url + path_of(unsubscribe_url(server.config, sid, 4)), headers=SPANISH)
    assert "Se ha dado de baja" in done.text and server.store.get(sid).status == "unsubscribed"


def test_error_pages_in_spanish(server):
    bad = httpx.get(f"{server.url}/unsubscribe/not-a-token", headers=SPANISH)
    assert bad.status_code == 400 and "Este enlace no funciona" in bad.text
    assert "este enlace está incompleto o dañado" in bad.text
    missing = httpx.get(f"{server.url}/no/such/page", headers=SPANISH)
    assert missing.status_code == 404 and "Página no encontrada" in missing.text
