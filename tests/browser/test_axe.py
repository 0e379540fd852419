"""axe-core in Chromium on every page a reader can meet, in the light and the dark colour scheme.

axe-core comes inside the `axe-playwright-python` wheel (the `test` extra): nothing is fetched at
run time and no copy of it lives in this repository. Any violation fails the test, printed with
its rule, impact, help link and the offending elements. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import email
import email.policy
import re
from typing import Any

import pytest

from pain_news.links import make_token, preferences_url, unsubscribe_url
from pain_news.publish.archive import build_archive
from pain_news.web.archive_pages import index_page
from tests.fixtures.core import SECRET
from tests.test_topics import TOPICS_TOML

pytestmark = pytest.mark.browser

#: WCAG 2.0, 2.1 and 2.2 at levels A and AA: what the clinic's pages promise.
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
#: Web pages also get axe's best practices (landmarks, one h1); an email has no landmarks to give.
WEB = [*WCAG, "best-practice"]
SCHEMES = ["light", "dark"]


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    return Axe()


@pytest.fixture
def open_page(chromium):
    """open_page(url, scheme, width=600) -> a page in a fresh context with that colour scheme."""
    contexts = []

    def make(url: str, scheme: str, width: int = 600):
        context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        return page

    yield make
    for context in contexts:
        context.close()


class Audit:
    """Collects axe violations over several pages; `check()` fails once with all of them."""

    def __init__(self, axe, artifacts, scheme: str) -> None:
        self.axe, self.artifacts, self.scheme = axe, artifacts, scheme
        self.reports: list[str] = []
        self.pages: list[str] = []

    def run(self, name: str, page, tags: list[str]) -> None:
        results = self.axe.run(page, options={"runOnly": {"type": "tag", "values": tags}})
        self.pages.append(name)
        page.screenshot(path=str(self.artifacts / f"axe-{name}-{self.scheme}.png"), full_page=True)
        if results.violations_count:
            self.reports.append(f"== {name} ({self.scheme} scheme, {page.url})\n{readable(results.response)}")

    def check(self) -> None:
        assert self.pages, "no page was audited"
        if self.reports:
            pytest.fail("axe-core found violations:\n\n" + "\n\n".join(self.reports), pytrace=False)


def readable(response: dict[str, Any]) -> str:
    lines = []
    for violation in response["violations"]:
        lines.append(
            f"[{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            lines.append(f"    at {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            for check in node["any"] + node["all"] + node["none"]:
                lines.append(f"      - {check['message']}")
    return "\n".join(lines)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_built_email_web_version_and_archive_pass_axe(
    scheme, config, built_sample, tmp_path, open_page, axe, artifacts
):
    out = built_sample
    email = out / "filled.html"  # the email as a subscriber receives it
    archive = build_archive(config, tmp_path / "archive", index_page=index_page)
    audit = Audit(axe, artifacts, scheme)
    for width in (375, 600):
        audit.run(f"email-{width}", open_page(email.as_uri(), scheme, width), WCAG)
    audit.run("web", open_page((out / "web.html").as_uri(), scheme), WCAG)
    audit.run("archive-index", open_page((archive.out / "index.html").as_uri(), scheme), WEB)
    audit.check()


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def confirmation_path(project) -> str:
    [eml] = sorted(project.glob("outbox/**/*.eml"), key=lambda p: p.stat().st_mtime)[-1:]
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    body = message.get_body(("plain",))
    assert body is not None, "the confirmation email has no plain-text part"
    link = re.search(r"https://\S+/confirm/\S+", body.get_content())
    assert link is not None, "no confirmation link in the email"
    return path_of(link.group(0))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_page_serve_renders_passes_axe(scheme, web_server, project, open_page, axe, artifacts):
    with (project / "pain-news.toml").open("a", encoding="utf-8") as config:
        config.write(TOPICS_TOML)  # topics on: the signup checkboxes and the preference page's
    server = web_server()
    audit = Audit(axe, artifacts, scheme)

    page = open_page(f"{server.url}/subscribe", scheme)
    audit.run("subscribe-form", page, WEB)
    page.fill("#email", "nia@example.org")
    page.click("#subscribe")
    page.wait_for_selector("#result")
    audit.run("subscribe-sent", page, WEB)

    page = open_page(f"{server.url}/subscribe", scheme)
    page.evaluate("document.querySelector('form').noValidate = true")  # let the server answer
    page.fill("#email", "nope")
    page.click("#subscribe")
    page.wait_for_selector("#error")
    audit.run("subscribe-error", page, WEB)

    page = open_page(server.url + confirmation_path(project), scheme)
    audit.run("confirm", page, WEB)
    if page.locator("#confirm").count():  # the confirm page asks first; its answer is a page too
        page.click("#confirm")
        page.wait_for_selector("#result")
        audit.run("confirm-done", page, WEB)

    sid = server.store.add("ana@example.org").id
    page = open_page(server.url + path_of(unsubscribe_url(server.config, sid, 2)), scheme)
    audit.run("unsubscribe", page, WEB)
    page.click("#unsubscribe")
    page.wait_for_selector("#result")
    audit.run("unsubscribe-done", page, WEB)

    reader = server.store.add("ben@example.org", "Ben", topics=["news"]).id
    page = open_page(server.url + path_of(preferences_url(server.config, reader, 2)), scheme)
    audit.run("preferences", page, WEB)
    page.get_by_label("Classes and events").check()
    page.click("#save")
    page.wait_for_selector("#result")
    audit.run("preferences-saved", page, WEB)
    expired = preferences_url(server.config, reader, 2, delivered=1)  # delivered in 1970: long expired
    page = open_page(server.url + path_of(expired), scheme)
    audit.run("preferences-expired", page, WEB)
    page.click("#fresh")
    page.wait_for_selector("#result")
    audit.run("preferences-fresh-sent", page, WEB)

    audit.run("error-bad-token", open_page(f"{server.url}/unsubscribe/not-a-token", scheme), WEB)
    gone = server.store.add("gone@example.org").id
    server.store.delete(gone)
    audit.run(
        "error-404", open_page(f"{server.url}/unsubscribe/{make_token(SECRET, gone, None)}", scheme), WEB
    )
    audit.run("error-no-such-page", open_page(f"{server.url}/no-such-page", scheme), WEB)
    audit.check()


def test_the_audit_fails_on_grey_text_in_dark_mode_and_names_the_rule(tmp_path, open_page, axe, artifacts):
    # Proves the harness can fail: a page whose dark palette has low contrast, and dark mode really on.
    page_file = tmp_path / "grey.html"
    page_file.write_text(
        '<!doctype html><html lang="en"><head><title>Grey</title><style>'
        "@media (prefers-color-scheme: dark) { body { background: #111111; color: #444444; } }"
        "</style></head><body><main><h1>Grey</h1><p>Hard to read at night.</p></main></body></html>"
    )
    light, dark = Audit(axe, artifacts, "light"), Audit(axe, artifacts, "dark")
    light.run("harness-grey", open_page(page_file.as_uri(), "light"), WEB)
    dark.run("harness-grey", open_page(page_file.as_uri(), "dark"), WEB)
    light.check()
    with pytest.raises(pytest.fail.Exception) as failed:
        dark.check()
    assert "[serious] color-contrast: Elements must meet minimum color contrast ratio thresholds" in str(
        failed.value
    )
    assert "Hard to read at night." in str(failed.value)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_spanish_edition_and_the_pages_a_spanish_reader_meets_pass_axe(
    scheme, config, built_sample, sample_issue, tmp_path, chromium, web_server, project, axe, artifacts
):
    from pain_news.issue.placeholders import fill

    spanish = built_sample / "es"
    html = fill(
        (spanish / "email.html").read_text(),
        {"first_name": "María", "unsubscribe_url": "https://news.example.org/unsubscribe/x"},
    )
    (spanish / "filled.html").write_text(html)
    assert '<html lang="es"' in html
    archive = build_archive(config, tmp_path / "archive", index_page=index_page)
    contexts = []

    def open_spanish(url: str, width: int = 600):
        context = chromium.new_context(
            viewport={"width": width, "height": 900}, color_scheme=scheme, locale="es-US"
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        return page

    audit = Audit(axe, artifacts, scheme)
    try:
        for width in (375, 600):
            audit.run(f"es-email-{width}", open_spanish((spanish / "filled.html").as_uri(), width), WCAG)
        audit.run("es-web", open_spanish((spanish / "web.html").as_uri()), WCAG)
        edition = archive.out / sample_issue.name / "es" / "index.html"
        audit.run("es-archive-edition", open_spanish(edition.as_uri()), WEB)
        server = web_server()
        page = open_spanish(f"{server.url}/subscribe")
        assert page.locator("html").get_attribute("lang") == "es"
        audit.run("es-subscribe-form", page, WEB)
        reader = server.store.add("lucia@example.org", "Lucía", language="es").id
        page = open_spanish(server.url + path_of(unsubscribe_url(server.config, reader, 2)))
        assert page.locator("html").get_attribute("lang") == "es"
        audit.run("es-unsubscribe", page, WEB)
        page = open_spanish(server.url + path_of(preferences_url(server.config, reader, 2)))
        audit.run("es-preferences", page, WEB)
    finally:
        for context in contexts:
            context.close()
    audit.check()
