"""Dark mode in headless Chromium: the email and the web page in both palettes, at 375 and 600 px.

Screenshots of each go to tests/artifacts/ (email-light-600.png, email-dark-375.png, ...).
"""

from __future__ import annotations

import pytest

from pain_news.web.preview import running

pytestmark = pytest.mark.browser

#: The palettes as the templates write them (templates/base.mjml.j2, templates/dark.css.j2).
LIGHT = {
    "page": "rgb(244, 246, 248)",
    "masthead": "rgb(18, 53, 91)",
    "text": "rgb(31, 41, 51)",
    "link": "rgb(15, 107, 95)",
    "heading": "rgb(18, 53, 91)",
    "footer": "rgb(68, 81, 94)",
}
DARK = {
    "page": "rgb(14, 22, 32)",
    "masthead": "rgb(11, 37, 69)",
    "text": "rgb(227, 232, 238)",
    "link": "rgb(108, 212, 194)",
    "heading": "rgb(168, 199, 234)",
    "footer": "rgb(180, 192, 204)",
}
WHITE = "rgb(255, 255, 255)"

# For every element with its own text: its colour, the first opaque background behind it, and the
# WCAG contrast ratio between the two (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio).
LOW_CONTRAST_JS = """
() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(c => c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const style = getComputedStyle(el);
    if (!own || style.display === 'none' || el.closest('[style*="display:none"]')) continue;
    const [a, b] = [lum(rgb(style.color)), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return low;
}
"""


def open_page(chromium, url: str, width: int, scheme: str):
    context = chromium.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(url)
    return context, page


def style_of(page, selector: str, prop: str) -> str:
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


@pytest.mark.parametrize("width", [375, 600])
@pytest.mark.parametrize("scheme, palette", [("light", LIGHT), ("dark", DARK)])
def test_email_shows_the_designed_palette(chromium, built_sample, artifacts, width, scheme, palette):
    context, page = open_page(chromium, (built_sample / "filled.html").as_uri(), width, scheme)
    try:
        assert style_of(page, "body", "backgroundColor") == palette["page"]
        assert style_of(page, ".pn-page", "backgroundColor") == palette["page"]
        assert style_of(page, ".pn-mast > table", "backgroundColor") == palette["masthead"]
        # The masthead stays navy with white text: dark mode never turns it pale.
        assert style_of(page, ".pn-mast h1", "color") == WHITE
        assert style_of(page, ".pn-card .pn-body p", "color") == palette["text"]
        assert style_of(page, ".pn-card .pn-body h2", "color") == palette["heading"]
        assert style_of(page, '.pn-body a[href$="/conditions/"]', "color") == palette["link"]
        assert style_of(page, ".pn-footer p", "color") == palette["footer"]
        assert style_of(page, ".pn-button", "color") == WHITE
        assert page.evaluate(LOW_CONTRAST_JS) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(artifacts / f"email-{scheme}-{width}.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.parametrize("scheme, palette", [("light", LIGHT), ("dark", DARK)])
def test_web_page_follows_the_readers_palette(chromium, built_sample, artifacts, scheme, palette):
    context, page = open_page(chromium, (built_sample / "web.html").as_uri(), 600, scheme)
    try:
        assert style_of(page, "body", "backgroundColor") == palette["page"]
        assert style_of(page, ".masthead", "backgroundColor") == palette["masthead"]
        assert style_of(page, "main p", "color") == palette["text"]
        assert page.evaluate(LOW_CONTRAST_JS) == []
        page.screenshot(path=str(artifacts / f"web-{scheme}-600.png"), full_page=True)
    finally:
        context.close()


def test_preview_shows_dark_beside_light_whatever_the_system_prefers(config, sample_issue, chromium):
    # The viewer's own system is dark: the light frames must still show the light palette.
    with running(config, sample_issue) as url:
        context, page = open_page(chromium, f"{url}/", 1400, "dark")
        try:
            for name in ("desktop", "phone"):
                light = page.frame_locator(f"#frame-{name}").locator("body")
                dark = page.frame_locator(f"#frame-{name}-dark").locator("body")
                light.locator("h1").wait_for()
                dark.locator("h1").wait_for()
                assert light.evaluate("b => getComputedStyle(b).backgroundColor") == LIGHT["page"]
                assert dark.evaluate("b => getComputedStyle(b).backgroundColor") == DARK["page"]
            assert page.locator("#frame-desktop-dark").is_visible()
            page.locator("#toggle-dark").uncheck()
            assert not page.locator("#frame-desktop-dark").is_visible()
            assert page.locator("#frame-desktop").is_visible()
        finally:
            context.close()


def test_screenshot_writes_both_palettes(run_cli, sample_issue, chromium, artifacts):
    out = artifacts / "preview-palettes"
    result = run_cli("preview", str(sample_issue), "--screenshot", str(out))
    for name in ("desktop.png", "phone.png", "desktop-dark.png", "phone-dark.png"):
        assert name in result.stdout
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "desktop-dark.png").read_bytes() != (out / "desktop.png").read_bytes()
