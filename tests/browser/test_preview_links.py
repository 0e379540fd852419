"""The preview tells the truth: every link in the previewed email goes somewhere real.

In the preview, the sample subscriber's links ("Manage preferences", "Unsubscribe"), "View in
browser" and "Past issues" open pages the preview server answers (pain_news/web/preview.py,
under pain_news/publish/preview.py's SITE), marked as a preview and changing nothing. Links to
the clinic's own site (conditions, appointments) are the configured absolute URLs, as in a send.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

import httpx
import pytest

from pain_news.web.preview import running

pytestmark = pytest.mark.browser

EMAIL = "/issue/email.html"


def _links(page):
    return page.locator("a[href]").evaluate_all(
        "as => as.map(a => [a.innerText.trim(), a.getAttribute('href')])"
    )


def _follow(page, url, index):
    """Open `url`, click its link number `index` as a reader would; the response and page text."""
    page.goto(url)
    with page.expect_navigation() as navigation:
        page.locator("a[href]").nth(index).click()
    return navigation.value, page.locator("body").inner_text()


def _external(config):
    newsletter = config.newsletter
    return (newsletter.conditions_url, newsletter.appointment_url)


def test_every_link_in_the_previewed_email_opens_a_real_page(config, sample_issue, page_at):
    with running(config, sample_issue) as url:
        page = page_at(600)
        page.goto(url + EMAIL)
        links = _links(page)
        labels = [label for label, _ in links]
        for wanted in ("View in browser", "Past issues", "Manage preferences", "Unsubscribe"):
            assert wanted in labels
        expected = {
            "View in browser": config.newsletter.name,  # the web version of this issue
            "Past issues": "The archive has no issues yet",
            "Manage preferences": "Your preferences",
            "Unsubscribe": f"Unsubscribe from {config.newsletter.name}?",
        }
        followed = set()
        for index, (label, href) in enumerate(links):
            assert href and not href.startswith("#"), f"{label!r} goes nowhere: href={href!r}"
            if href.startswith(("https://", "http://")) and not href.startswith(url):
                # The clinic's own site: the same absolute URL a sent email carries.
                assert any(href.startswith(site) for site in _external(config) if site), (label, href)
                continue
            if href.startswith("tel:"):
                assert re.fullmatch(r"tel:\+?\d+", href), href
                continue
            response, text = _follow(page, url + EMAIL, index)
            assert response.status == 200, (label, href, response.status)
            assert expected.get(label, "") in text, (label, text[:300])
            if label in ("Manage preferences", "Unsubscribe", "Past issues"):
                assert "Preview." in text and "changes anything" in text
            if label == "Manage preferences":
                assert config.sample.email in text and page.locator("fieldset[disabled]").count() == 1
            followed.add(label)
        assert followed >= set(expected)

        # The web version's own links lead somewhere real too (archive, subscribe).
        web = urljoin(url + EMAIL, dict(links)["View in browser"])
        page.goto(web)
        for index, (label, href) in enumerate(_links(page)):
            if href.startswith("/") or not re.match(r"[a-z]+:", href):
                response, _ = _follow(page, web, index)
                assert response.status == 200, (label, href)

        # The text part: no "Label: " with nothing after it, and each preview path answers 200.
        text = httpx.get(url + "/issue/email.txt").text
        lines = text.splitlines()
        for at, line in enumerate(lines):
            if re.fullmatch(r"[A-Z][\w ]+: *", line):  # "Label:" with its link on the next line
                assert re.match(r"(https?://|/)\S", lines[at + 1]), (line, lines[at + 1])
        paths = re.findall(r"(?<=: )(/site/\S*)", text)
        assert len(paths) == 4  # browser version, past issues, preferences, unsubscribe
        for path in paths:
            assert httpx.get(url + path).status_code == 200, path


def test_past_issues_opens_the_built_archive_when_there_is_one(config, sample_issue, page_at, project):
    archive = config.resolve(config.build.archive_out)
    archive.mkdir(parents=True)
    (archive / "index.html").write_text("<!doctype html><title>Archive</title><h1>All our past issues</h1>")
    with running(config, sample_issue) as url:
        page = page_at(600)
        page.goto(url + EMAIL)
        index = [label for label, _ in _links(page)].index("Past issues")
        response, text = _follow(page, url + EMAIL, index)
        assert response.status == 200 and "All our past issues" in text
