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


def boxes(page, selector):
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return {x: r.x, w: r.width, h: r.height, lines: e.getClientRects().length}; })",
    )


@pytest.mark.parametrize("width", [320, 375, 600])
def test_footer_opt_out_links_sit_on_their_own_line_whole_and_44px_tall(
    page_at, email_file, artifacts, width
):
    page = page_at(width)
    page.goto(email_file.as_uri())
    for name in ("Manage preferences", "Unsubscribe"):
        link = page.get_by_role("link", name=name, exact=True)
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44, (name, box)
        assert link.evaluate("e => e.getClientRects().length") == 1  # never broken across lines
        # Their own line: the sentence before them ends above the link.
        sentence_bottom = link.evaluate(
            "e => e.parentElement.previousElementSibling.getBoundingClientRect().bottom"
        )
        assert box["y"] >= sentence_bottom - 0.5
    page.locator(".pn-footer").last.screenshot(path=str(artifacts / f"email-footer-{width}.png"))


@pytest.mark.parametrize("width", [375, 600])
def test_spotlight_text_is_nearly_as_wide_as_the_rest_and_its_card_lines_up(page_at, email_file, width):
    page = page_at(width)
    page.goto(email_file.as_uri())
    spot = boxes(page, "td.pn-spot-text.pn-body > div")[0]
    intro = boxes(page, "td.pn-body:not(.pn-spot-text) > div")[0]
    card = page.eval_on_selector(".pn-spot", "e => e.getBoundingClientRect().x")
    if width == 375:
        # Before: 16 + 6 + 20 px on each side left 297 px of text against 327 px for the rest.
        assert spot["w"] >= 315 and intro["w"] == pytest.approx(327, abs=1)
    else:
        assert card == pytest.approx(intro["x"], abs=1)  # the card's edge is the body text's edge
