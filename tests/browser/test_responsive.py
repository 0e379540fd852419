"""The built email in headless Chromium at phone (375 px) and desktop (600 px) widths."""

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def email_file(built_sample):
    return built_sample / "filled.html"


def columns(page):
    return page.eval_on_selector_all(
        ".mj-column-per-50",
        "els => els.map(e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height}; })",
    )


def test_desktop_shows_two_articles_side_by_side(page_at, email_file, artifacts):
    page = page_at(600)
    page.goto(email_file.as_uri())
    left, right = columns(page)
    assert left["y"] == right["y"]
    assert right["x"] >= left["x"] + left["w"] - 1
    assert left["w"] == pytest.approx(300, abs=2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 600
    assert page.get_by_role("heading", name="Failed spine surgery syndrome").is_visible()
    page.screenshot(path=str(artifacts / "email-desktop-600.png"), full_page=True)


def test_phone_stacks_columns_without_horizontal_overflow(page_at, email_file, artifacts):
    page = page_at(375)
    page.goto(email_file.as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    first, second = columns(page)
    assert second["y"] >= first["y"] + first["h"] - 1  # stacked, not side by side
    assert first["w"] == pytest.approx(375, abs=2)
    # Every element fits the viewport (nothing wider than the phone screen).
    widest = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"
    )
    assert widest <= 375.5
    assert (
        page.get_by_role("link", name="Unsubscribe").get_attribute("href")
        == "https://news.example.org/unsubscribe/x"
    )
    page.screenshot(path=str(artifacts / "email-phone-375.png"), full_page=True)
