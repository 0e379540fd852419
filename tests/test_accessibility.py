"""`check` on what reaches readers: contrast (light and dark), text size, heading order, link text,
heavy or blurry images, and spotlight superlatives against their source text.

Templates are edited in the test project's own copy (tmp_path), never the repository's.
"""

from __future__ import annotations

import json
import struct
import zlib

import pytest

from pain_news.checks.run import check_issue, run_check
from pain_news.checks.styles import (
    contrast,
    dark_rules,
    declarations,
    painted_text,
    parse_color,
    parse_html,
)
from tests.fixtures.editor import SPOTLIGHT

READER_CODES = {"contrast", "font-size", "heading-order", "link-text", "image-heavy", "image-blurry"}


def found(findings, code):
    return [f for f in findings if f.code == code]


def article(body: str, front: str = "") -> str:
    return f"---\nkind: article\ntitle: Short walks help\n{front}---\n\n{body}\n"


def png(width: int, height: int = 8, padding: int = 0) -> bytes:
    """A real PNG of `width` × `height` grey pixels, `padding` bytes heavier through a text chunk."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    text = chunk(b"tEXt", b"Comment\x00" + b"x" * padding) if padding else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + text
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def templates(project):
    """The test project's templates with every size at 14 px or more, so a test adds one problem at a time."""
    folder = project / "templates"
    for path in folder.glob("*.j2"):
        text = path.read_text()
        for small in ("11px", "12px", "13px"):
            text = text.replace(small, "14px")
        path.write_text(text)
    return folder


def add_to_article_template(templates, mjml: str) -> int:
    """Append MJML to the article template (inside its column); returns the line it is on."""
    path = templates / "article.mjml.j2"
    text = path.read_text().rstrip("\n") + "\n"
    path.write_text(text + mjml + "\n")
    return text.count("\n") + 1


def test_issue_with_readable_templates_has_no_reader_findings(config, templates, make_issue):
    findings = check_issue(config, make_issue())
    assert [f.one_line() for f in findings if f.code in READER_CODES] == []


def test_grey_text_on_white_is_a_contrast_warning_naming_template_line_and_colours(
    config, templates, make_issue
):
    line = add_to_article_template(
        templates, '        <mj-text color="#aaaaaa">A grey note for readers</mj-text>'
    )
    [finding] = found(check_issue(config, make_issue()), "contrast")
    assert finding.severity == "warning"
    assert finding.path == templates / "article.mjml.j2"
    assert finding.line == line
    assert "light palette: text #aaaaaa on #ffffff has contrast 2.32:1, under 4.5:1" in finding.message
    assert "A grey note for readers" in finding.message


def test_check_command_reports_the_grey_template_colour(run_cli, templates, make_issue):
    add_to_article_template(templates, '        <mj-text color="#aaaaaa">A grey note for readers</mj-text>')
    folder = make_issue()
    result = run_cli("check", str(folder), "--format", "json")
    data = json.loads(result.stdout)
    [contrast_finding] = [f for f in data["findings"] if f["code"] == "contrast"]
    assert contrast_finding["path"] == "templates/article.mjml.j2"
    assert "#aaaaaa on #ffffff" in contrast_finding["message"]
    strict = run_cli("check", str(folder), "--strict", ok=False)
    assert strict.exit_code == 1
    assert "error [contrast] light palette: text #aaaaaa on #ffffff" in strict.stdout


def test_large_bold_text_needs_only_3_to_1(config, templates, make_issue):
    # #888888 on white is 3.54:1: enough for 24 px text, not for 16 px.
    add_to_article_template(
        templates,
        '        <mj-text color="#888888" font-size="24px">Big grey words</mj-text>\n'
        '        <mj-text color="#888888" font-size="16px">Small grey words</mj-text>',
    )
    [finding] = found(check_issue(config, make_issue()), "contrast")
    assert "Small grey words" in finding.message and "normal text" in finding.message


DARK_STYLE = """    <mj-style>
      @media (prefers-color-scheme: dark) {
        .pn-dark-test div { color: #555555 !important; }
        .pn-dark-test { background-color: #111111 !important; }
      }
    </mj-style>
"""


def add_dark_palette(templates, style: str = DARK_STYLE) -> None:
    path = templates / "base.mjml.j2"
    text = path.read_text()
    assert "</mj-head>" in text
    path.write_text(text.replace("</mj-head>", style + "  </mj-head>", 1))


def test_dark_palette_from_a_media_block_is_checked_too(config, templates, make_issue):
    add_dark_palette(templates)
    add_to_article_template(templates, '        <mj-text css-class="pn-dark-test">Dark mode words</mj-text>')
    findings = found(check_issue(config, make_issue()), "contrast")
    assert [f.message.split(":")[0] for f in findings] == ["dark palette"]
    assert "#555555 on #111111" in findings[0].message
    assert "Dark mode words" in findings[0].message
    # The colour is named where the template writes it.
    assert findings[0].path == templates / "base.mjml.j2"
    assert "#555555" in (templates / "base.mjml.j2").read_text().splitlines()[findings[0].line - 1]


def test_dark_rules_that_pass_give_no_finding(config, templates, make_issue):
    add_dark_palette(templates, DARK_STYLE.replace("#555555", "#eeeeee"))
    add_to_article_template(templates, '        <mj-text css-class="pn-dark-test">Dark mode words</mj-text>')
    assert found(check_issue(config, make_issue()), "contrast") == []


def test_a_dark_button_edge_under_3_to_1_is_a_contrast_warning(config, templates, make_issue):
    # The shipped dark palette gives buttons a light edge; without it the teal melts into the card.
    dark = templates / "dark.css.j2"
    dark.write_text(dark.read_text().replace(" border-color: #7fdccb !important;", ""))
    findings = found(check_issue(config, make_issue()), "contrast")
    assert [f.message.split(" (")[0] for f in findings] == [
        "dark palette: button edge #0f6b5f on #14302c has contrast 2.21:1, under 3:1"
    ]
    assert "give the button a border" in findings[0].fix


def test_a_light_button_edge_is_checked_against_its_card(config, templates, make_issue):
    add_to_article_template(
        templates,
        '        <mj-text><a href="https://clinic.example/" style="background-color:#eeeeee;'
        'color:#000000;padding:12px">Book a visit</a></mj-text>',
    )
    [finding] = found(check_issue(config, make_issue()), "contrast")
    assert finding.message.startswith("light palette: button edge #eeeeee on #ffffff has contrast 1.16:1")
    assert '"Book a visit"' in finding.message


def test_small_text_is_reported_with_its_template_line(config, templates, make_issue):
    line = add_to_article_template(templates, '        <mj-text font-size="12px">Fine print here</mj-text>')
    [finding] = found(check_issue(config, make_issue()), "font-size")
    assert (finding.path, finding.line) == (templates / "article.mjml.j2", line)
    assert finding.message == 'text is 12 px, under 14 px: "Fine print here"'


def test_a_skipped_heading_level_names_the_piece_and_line(config, templates, make_issue):
    body = "Walk for ten minutes.\n\n#### Where to walk\n\nA park near you."
    folder = make_issue(files={"01-article.md": article(body)})
    [finding] = found(check_issue(config, folder), "heading-order")
    assert finding.path == folder / "01-article.md"
    assert finding.line == 8
    assert finding.message == 'heading "Where to walk" is h4 after h2: a level is skipped'


@pytest.mark.parametrize(
    "body, message",
    [
        ("Our hours changed: [click here](https://example.org/hours).", 'link text "click here"'),
        ("New hours. [Read more](https://example.org/hours)", 'link text "Read more"'),
        (
            "See <https://www.tristatepain.example/hours/> for hours.",
            "link text is a bare web address: https://www.tristatepain.example/hours/",
        ),
    ],
)
def test_vague_or_bare_link_text_is_reported_at_its_line(config, templates, make_issue, body, message):
    folder = make_issue(files={"01-article.md": article(body)})
    [finding] = found(check_issue(config, folder), "link-text")
    assert (finding.path, finding.line) == (folder / "01-article.md", 6)
    assert message in finding.message


def test_descriptive_link_text_is_fine(config, templates, make_issue):
    body = "See [our new opening hours](https://example.org/hours)."
    assert found(check_issue(config, make_issue(files={"01-article.md": article(body)})), "link-text") == []


# Image weight and sharpness are checks/images.py (tests in test_check.py); these add the front-matter
# image and the two-column row.


def test_front_matter_image_narrower_than_twice_its_column_is_blurry(config, templates, make_issue):
    front = "image: walk.png\nimage_alt: A woman walking in a park\n"
    folder = make_issue(files={"01-article.md": article("Walk daily.", front), "walk.png": png(800)})
    [finding] = found(check_issue(config, folder), "image-blurry")
    assert (finding.path, finding.line) == (folder / "01-article.md", 4)
    assert finding.message == (
        "walk.png is 800 px wide; it fills a 552 px column and looks soft on phones below 1104 px"
    )


def test_half_column_needs_only_504_px(config, templates, make_issue):
    half = "layout: half\nimage: walk.png\nimage_alt: A woman walking in a park\n"
    files = {
        "01-article.md": article("Walk daily.", half),
        "01b-other.md": article("Rest too.", "layout: half\n"),
        "walk.png": png(600),
    }
    assert found(check_issue(config, make_issue(files=files)), "image-blurry") == []
    files["01b-other.md"] = article("Rest too.")  # now the image has the full column to itself
    [finding] = found(check_issue(config, make_issue("2027-04-other", files=files)), "image-blurry")
    assert "fills a 552 px column" in finding.message


SOURCE_TEXT = "Failed back surgery syndrome is pain that lasts after spine surgery. Nerve pain is common."


def spotlight_saying(claim: str, front: str = "") -> str:
    return SPOTLIGHT.replace("- Pain down one leg", f"- Pain down one leg, {claim}").replace(
        "reviewed_on: 2027-02-01\n", f"reviewed_on: 2027-02-01\n{front}"
    )


def test_superlative_missing_from_the_source_text_is_a_warning(config, templates, make_issue):
    folder = make_issue(
        files={"02-spotlight.md": spotlight_saying("the most common sign"), "source.txt": SOURCE_TEXT}
    )
    [finding] = found(check_issue(config, folder), "superlative")
    assert finding.path == folder / "02-spotlight.md"
    assert "Pain down one leg" in (folder / "02-spotlight.md").read_text().splitlines()[finding.line - 1]
    assert finding.message == 'says "the most common", which its source (source.txt) does not say'


def test_superlative_the_source_states_is_fine(config, templates, make_issue):
    files = {
        "02-spotlight.md": spotlight_saying("and it never helps to wait"),
        "02-spotlight.source.txt": SOURCE_TEXT + " Waiting never helps.",
    }
    assert found(check_issue(config, make_issue(files=files)), "superlative") == []


def test_without_source_text_superlatives_are_not_judged(config, templates, make_issue):
    folder = make_issue(files={"02-spotlight.md": spotlight_saying("the most common sign")})
    assert found(check_issue(config, folder), "superlative") == []


def test_spotlight_source_url_must_be_https(config, templates, make_issue):
    front = "source: http://www.tristatepain.example/conditions/sciatica/\n"
    folder = make_issue(files={"02-spotlight.md": spotlight_saying("often", front)})
    [finding] = found(check_issue(config, folder), "source-url")
    assert finding.line == 8


def test_check_links_requests_the_spotlight_source(config, templates, make_issue, link_server):
    front = f"source: {link_server.url}/gone\n"
    folder = make_issue(files={"02-spotlight.md": spotlight_saying("often", front)})
    report = run_check(config, folder, links=True, readability=False)
    [broken] = found(report.findings, "broken-link")
    assert broken.message == f"link answers HTTP 404: {link_server.url}/gone"


# The pieces the checks are built from.


def color(value: str):
    parsed = parse_color(value)
    assert parsed is not None, value
    return parsed


def test_wcag_contrast_of_known_pairs():
    white = color("#fff")
    assert contrast(color("#000000"), white) == pytest.approx(21.0)
    assert contrast(color("#777777"), white) == pytest.approx(4.48, abs=0.01)
    assert contrast(color("rgb(118, 118, 118)"), white) == pytest.approx(4.54, abs=0.01)
    assert contrast(color("white"), color("hsl(0, 0%, 46.3%)")) == pytest.approx(4.54, abs=0.01)


def test_important_declaration_wins_over_a_later_normal_one():
    assert declarations("color: #111 !important; background: #fff; color: #222")["color"] == "#111"


def test_hidden_preheader_and_mso_comments_are_not_read_as_text():
    html = (
        '<body style="background:#ffffff"><div style="display:none;color:#ffffff">preheader</div>'
        '<!--[if mso]><p style="color:#fefefe">outlook only</p><![endif]-->'
        '<table bgcolor="#12355b"><tr><td><p style="color:#d6e4f0;font-size:14px">On navy</p></td></tr></table>'
        "</body>"
    )
    [run] = list(painted_text(parse_html(html)))
    assert run.text == "On navy"
    assert contrast(run.color, run.background) > 4.5


def test_dark_rules_are_read_from_every_matching_media_block():
    html = (
        "<style>p{color:red} @media screen and (prefers-color-scheme: dark) { .a { color: #fff } }</style>"
        "<style>@media (prefers-color-scheme: light) { .b { color: #000 } }</style>"
    )
    assert dark_rules(html).replace(" ", "") == ".a{color:#fff}"


def test_style_values_with_semicolons_inside_stay_whole():
    style = "background: url(data:image/png;base64,AAAA) #12355b; font-family: 'A;B', Arial; color: #fff"
    assert declarations(style) == {
        "background": "url(data:image/png;base64,AAAA) #12355b",
        "font-family": "'A;B', Arial",
        "color": "#fff",
    }
    [run] = list(painted_text(parse_html(f'<div style="{style}">On navy</div>')))
    assert (run.color, run.background) == (parse_color("#ffffff"), parse_color("#12355b"))


def test_declared_dark_scheme_without_dark_rules_starts_from_the_dark_canvas(tmp_path):
    # Apple Mail in dark mode paints a page that declares `color-scheme: light dark` on a dark
    # canvas: text with a dark colour of its own and no background of its own becomes unreadable.
    from pain_news.checks.accessibility import Where, check_accessibility

    html = (
        '<html><head><meta name="color-scheme" content="light dark"></head>'
        '<body><p style="color:#1f2933">Dark words on no background</p></body></html>'
    )
    findings = check_accessibility(html, Where(tmp_path, None, tmp_path / "email.html"))
    assert [f.message.split(" (")[0] for f in findings] == [
        "dark palette: text #1f2933 on #121212 has contrast 1.27:1, under 4.5:1"
    ]
    assert findings[0].path == tmp_path / "email.html"
