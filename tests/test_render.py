import re

import pytest

from pain_news.issue import placeholders
from pain_news.publish.build import render
from pain_news.render.linewrap import MAX_LINE, longest_line


def test_email_is_table_based_600px_with_stacking_media_query(config, sample_issue):
    _, rendered = render(config, sample_issue)
    html = rendered.email_html
    assert html.lower().startswith("<!doctype html>")
    assert 'role="presentation"' in html
    assert "max-width:600px" in html.replace(" ", "")
    # The two half-width articles share one row with 50% columns that stack below 480px.
    assert "mj-column-per-50" in html
    assert re.search(r"@media only screen and \(min-width:480px\)", html)


def test_markdown_styles_are_inlined_and_important_kept(config, sample_issue):
    _, rendered = render(config, sample_issue)
    # A link inside markdown body text carries its inlined colour.
    assert re.search(
        r'<a href="https://www\.tristatepain\.example/appointments/"|<li style="[^"]*margin: 0 0 6px 0',
        rendered.email_html,
    )
    assert "!important" in rendered.email_html
    assert "<!--[if mso | IE]>" in rendered.email_html


def test_footer_has_address_unsubscribe_and_conditions_link(config, sample_issue):
    _, rendered = render(config, sample_issue)
    html = rendered.email_html
    assert config.newsletter.postal_address in html
    assert f'href="{placeholders.placeholder("h", "unsubscribe_url")}"' in html
    assert f'href="{config.newsletter.conditions_url}"' in html
    assert "View in browser" in " ".join(html.split())  # the line wrapper may break between the words
    assert 'href="https://news.tristatepain.example/2026-12-winter/"' in html
    assert config.newsletter.postal_address in rendered.email_text
    assert "Unsubscribe: %%t.unsubscribe_url%%" in rendered.email_text


def test_preheader_is_hidden_text_at_the_top_followed_by_filler(config, sample_issue):
    issue, rendered = render(config, sample_issue)
    body = " ".join(rendered.email_html.split("<body", 1)[1].split())
    assert issue.preheader in body[:2000]
    # Zero-width filler after it, so the inbox line does not run on into "View in browser".
    after = body.split(issue.preheader, 1)[1]
    assert after.startswith("\u200c&nbsp;" * 90 + "</div>")


def test_html_and_text_placeholders_are_distinct(config, sample_issue):
    _, rendered = render(config, sample_issue)
    assert "%%t." not in rendered.email_html
    assert "%%h." not in rendered.email_text
    assert "%%h.first_name|friend%%" in rendered.email_html
    assert "%%t.first_name|friend%%" in rendered.email_text


def test_no_line_reaches_the_smtp_limit(config, sample_issue):
    _, rendered = render(config, sample_issue)
    for part in (rendered.email_html, rendered.email_text, rendered.web_html):
        assert longest_line(part) < MAX_LINE


def test_web_version_has_no_placeholders_or_unsubscribe(config, sample_issue):
    _, rendered = render(config, sample_issue)
    web = rendered.web_html
    assert "%%" not in web
    assert "Unsubscribe" not in web
    assert "View in browser" not in web
    assert "Dear " not in web  # a public page greets no one by name
    assert "Welcome to the winter edition of <em>Pain News</em>" in web
    assert config.newsletter.postal_address in web


def test_web_version_is_a_page_of_its_own_without_email_markup(config, sample_issue):
    issue, rendered = render(config, sample_issue)
    web = rendered.web_html
    url = "https://news.tristatepain.example/2026-12-winter/"
    assert web.startswith('<!doctype html>\n<html lang="en">')
    assert web.count("<main>") == 1 and "</main>" in web
    assert f"<title>{issue.subject} · Pain News Winter 2026</title>" in web
    assert f'<meta name="description" content="{issue.preheader}">' in web
    assert f'<link rel="canonical" href="{url}">' in web
    for prop, value in (("og:url", url), ("og:type", "article"), ("og:title", issue.subject)):
        assert f'<meta property="{prop}" content="{value}">' in web
    for email_only in ("mso", 'role="presentation"', "mj-column", "<table", "x-apple", "[data-og"):
        assert email_only not in web
    # The same content: every piece's heading and the spotlight's sections.
    for text in ("Failed spine surgery syndrome", "Keep moving when it is cold", ">Causes</h3>"):
        assert text in web


def test_web_version_without_public_url_has_no_canonical_link(make_config, sample_issue):
    _, rendered = render(make_config({"PAIN_NEWS_NEWSLETTER_PUBLIC_URL": ""}), sample_issue)
    assert "canonical" not in rendered.web_html and "og:url" not in rendered.web_html
    assert "<main>" in rendered.web_html


def test_spotlight_card_has_sections_learn_more_and_see_all(config, sample_issue):
    _, rendered = render(config, sample_issue)
    html = rendered.email_html
    for heading in ("Causes", "Symptoms", "Treatments"):
        assert f">{heading}</h3>" in html
    assert 'href="https://www.tristatepain.example/conditions/failed-spine-surgery-syndrome/"' in html
    assert "Learn more about failed spine surgery syndrome" in html
    assert "CONDITION SPOTLIGHT" in html
    # The eyebrow says what it is; the heading does not say it again.
    assert ">Failed spine surgery syndrome</h2>" in html
    assert "Condition spotlight:" not in html
    review = (
        # reviewed_by: clinic-reviewer, shown with the name and credentials from [reviewers]
        "Medically reviewed by Clinic Reviewer, MD · reviewed November 2, 2026 · next review by November 2027"
    )
    assert review in " ".join(html.split())
    assert review in " ".join(rendered.email_text.split())
    assert review in rendered.web_html


def test_spotlight_offers_an_appointment_only_when_configured(make_config, sample_issue):
    appointments = "https://www.tristatepain.example/appointments/"
    _, with_url = render(make_config(), sample_issue)
    # Whitespace collapsed: the line wrapper may break "See all conditions" across lines.
    spotlight = (
        " ".join(with_url.email_html.split())
        .split("CONDITION SPOTLIGHT", 1)[1]
        .split("See all conditions")[0]
    )
    assert f'href="{appointments}"' in spotlight and "Request an appointment" in spotlight
    assert f"Request an appointment:\n{appointments}" in with_url.email_text.split("See all conditions")[0]
    _, without = render(make_config({"PAIN_NEWS_NEWSLETTER_APPOINTMENT_URL": ""}), sample_issue)
    spotlight = (
        " ".join(without.email_html.split()).split("CONDITION SPOTLIGHT", 1)[1].split("See all conditions")[0]
    )
    assert "Request an appointment" not in spotlight


def test_phone_is_a_tel_link_in_masthead_and_footer_and_in_the_text(make_config, sample_issue):
    _, rendered = render(make_config({"PAIN_NEWS_NEWSLETTER_PHONE": "+1 (555) 010-0199"}), sample_issue)
    html = " ".join(rendered.email_html.split())  # as a reader's client sees it: line breaks are spaces
    masthead, footer = html.split('class="pn-mast"', 1)[1], html.split(">Past issues<")[-1]
    assert '<a href="tel:+15550100199"' in masthead.split("</table>")[0]
    assert '<a href="tel:+15550100199"' in footer
    assert "Questions? Call +1 (555) 010-0199" in rendered.email_text
    assert "Phone: +1 (555) 010-0199" in rendered.email_text
    _, none = render(make_config({"PAIN_NEWS_NEWSLETTER_PHONE": ""}), sample_issue)
    assert "tel:" not in none.email_html and "Phone:" not in none.email_text


def test_text_part_is_readable_with_links_written_out(config, sample_issue, golden):
    _, rendered = render(config, sample_issue)
    text = rendered.email_text
    assert (
        "CAUSES\nSpine surgery can fail for many reasons. Possible causes may include:\n\n- The first diagnosis was not correct\n"
        in text
    )
    assert "Request an appointment:\nhttps://www.tristatepain.example/appointments/" in text
    assert "<" not in text.replace("<b>", "")
    golden("sample/email.txt", text)


def test_filled_name_is_escaped_in_html_and_verbatim_in_text(config, sample_issue):
    _, rendered = render(config, sample_issue)
    values = {"first_name": '<b>Tom & "Jerry"</b>', "unsubscribe_url": "https://x.example/u/a?b=1&c=2"}
    html = placeholders.fill(rendered.email_html, values)
    text = placeholders.fill(rendered.email_text, values)
    assert "Dear &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;," in html
    assert 'href="https://x.example/u/a?b=1&amp;c=2"' in html
    assert 'Dear <b>Tom & "Jerry"</b>,' in text
    assert "Unsubscribe: https://x.example/u/a?b=1&c=2" in text


def test_missing_first_name_falls_back_to_default(config, sample_issue):
    _, rendered = render(config, sample_issue)
    assert "Dear friend," in placeholders.fill(rendered.email_text, {"first_name": ""})


def test_golden_html_outputs(config, sample_issue, golden):
    _, rendered = render(config, sample_issue)
    golden("sample/email.html", rendered.email_html)
    golden("sample/web.html", rendered.web_html)


def png(width: int, height: int = 10) -> bytes:
    """A real (tiny, grey) PNG of the given size."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def img_widths(html: str) -> dict[str, str]:
    return dict(re.findall(r'<img [^>]*?src="[^"]*/([^"/]+)"[^>]*?width="(\d+)"', html))


def test_images_get_their_pixel_width_capped_at_their_column(config, make_issue):
    half = "---\nkind: article\ntitle: {t}\nlayout: half\n---\n\n![{t}]({img})\n"
    folder = make_issue(
        files={
            "01-article.md": "---\nkind: article\ntitle: Wide\n---\n\n![A wide photo](wide.png) ![Small](small.png)\n",
            "03-left.md": half.format(t="Left", img="left.png"),
            "04-right.md": half.format(t="Right", img="right.png"),
            "wide.png": png(1200),
            "small.png": png(120),
            "left.png": png(800),
            "right.png": png(200),
        }
    )
    _, rendered = render(config, folder)
    # Outlook for Windows shows an image at its width attribute: never wider than the column.
    assert img_widths(rendered.email_html) == {
        "wide.png": "552",
        "small.png": "120",
        "left.png": "252",
        "right.png": "200",
    }
    body_images = re.findall(r"<img [^>]*wide\.png[^>]*>", rendered.email_html)
    assert all("height:auto" in img.replace(" ", "") for img in body_images)
    assert img_widths(rendered.web_html) == img_widths(rendered.email_html)


def test_a_front_matter_image_is_capped_too(config, make_issue):
    folder = make_issue(
        files={
            "01-article.md": "---\nkind: article\ntitle: Photo\nimage: photo.png\nimage_alt: A photo\n---\n\nText.\n",
            "photo.png": png(1600),
        }
    )
    _, rendered = render(config, folder)
    assert img_widths(rendered.email_html) == {"photo.png": "552"}
    [img] = re.findall(r"<img [^>]*photo\.png[^>]*>", rendered.email_html)
    assert "font-size:14px" in img.replace(
        " ", ""
    )  # its alt text, shown while images are off, is not under 14 px


def test_apple_mail_and_dark_mode_declarations_are_in_the_head(config, sample_issue):
    _, rendered = render(config, sample_issue)
    head = rendered.email_html.split("</head>", 1)[0]
    assert '<meta name="x-apple-disable-message-reformatting">' in head
    assert (
        '<meta name="format-detection" content="telephone=no, date=no, address=no, email=no, url=no">' in head
    )
    assert '<meta name="color-scheme" content="light dark">' in head
    assert '<meta name="supported-color-schemes" content="light dark">' in head
    assert ":root { color-scheme: light dark; supported-color-schemes: light dark; }" in head
    # Auto-detected dates and numbers keep our colours (the white date on the navy masthead).
    assert re.search(r"a\[x-apple-data-detectors\] \{ color: inherit !important;", head)
    assert "@media (prefers-color-scheme: dark)" in head
    assert "[data-ogsc] .pn-body a { color: #6cd4c2 !important; }" in head
    assert "[data-ogsb] .pn-mast, [data-ogsb] .pn-mast table { background: #0b2545" in head


def contrast(foreground: str, background: str) -> float:
    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    "where, text, background",
    [  # light palette (inline styles), then the dark one (templates/dark.css.j2)
        ("body text", "#1f2933", "#ffffff"),
        ("links", "#0f6b5f", "#ffffff"),
        ("muted and footer", "#44515e", "#f4f6f8"),
        ("spotlight eyebrow", "#0f6b5f", "#e8f3f1"),
        ("spotlight review line", "#44515e", "#e8f3f1"),
        ("masthead date", "#d6e4f0", "#12355b"),
        ("buttons", "#ffffff", "#0f6b5f"),
        ("dark body text", "#e3e8ee", "#18222d"),
        ("dark headings", "#a8c7ea", "#18222d"),
        ("dark links", "#6cd4c2", "#18222d"),
        ("dark footer", "#b4c0cc", "#0e1620"),
        ("dark spotlight text", "#e3e8ee", "#14302c"),
        ("dark spotlight links", "#6cd4c2", "#14302c"),
        ("dark eyebrow", "#7fdccb", "#14302c"),
        ("dark review line", "#b4c0cc", "#14302c"),
        ("dark masthead date", "#d6e4f0", "#0b2545"),
    ],
)
def test_every_palette_pair_reads_at_4_5_to_1(config, sample_issue, where, text, background):
    _, rendered = render(config, sample_issue)
    assert text in rendered.email_html and background in rendered.email_html, where
    assert contrast(text, background) >= 4.5, where


def test_outlook_gets_list_indents_heading_colours_and_valid_attributes(config, sample_issue):
    _, rendered = render(config, sample_issue)
    html = rendered.email_html
    # Outlook ignores padding on lists: the indent is a margin.
    assert all("margin: 0 0 12px 24px" in ul for ul in re.findall(r"<ul [^>]*>", html))
    [h1] = re.findall(r"<h1 [^>]*>", html)
    assert "color:#ffffff" in h1 and "font-family:Helvetica" in h1
    assert 'vertical-align="middle"' not in html and 'class=""' not in html
    # Buttons: a padded link (clickable all over) with Outlook's spacers around the label.
    buttons = re.findall(r'<a [^>]*class="pn-button"[^>]*>.*?</a>', html, re.S)
    assert len(buttons) == 3
    assert all(
        "padding:10px 20px;border:2px solid #0f6b5f" in b and "mso-text-raise" in b and "<!--[if mso]>" in b
        for b in buttons
    )


def test_nothing_a_reader_needs_is_under_14px(config, sample_issue):
    _, rendered = render(config, sample_issue)
    body = rendered.email_html.split("<body", 1)[1]
    preheader_end = body.index("</div>")  # the hidden preheader is 1px by design
    sizes = {int(s) for s in re.findall(r"font-size: ?(\d+)px", body[preheader_end:])}
    assert min(sizes - {0}) >= 14  # 0px: MJML's layout cells, which hold no text of their own


def test_sample_email_stays_under_60_kb(config, sample_issue):
    _, rendered = render(config, sample_issue)
    assert len(rendered.email_html.encode()) < 60 * 1024


@pytest.mark.parametrize(
    "phone, region, tel",
    [
        ("(555) 010-0199", "US", "tel:+15550100199"),
        ("555.010.0199", "us", "tel:+15550100199"),
        ("1-555-010-0199", "US", "tel:+15550100199"),
        ("+1 555 010 0199", "US", "tel:+15550100199"),
        ("(416) 555-0123", "CA", "tel:+14165550123"),
        ("020 7946 0000", "GB", "tel:+442079460000"),  # the national 0 goes, the country code comes
        ("030 123456", "DE", "tel:+4930123456"),
        ("+44 20 7946 0000", "US", "tel:+442079460000"),  # a written country code wins
        ("010-0199", "US", "tel:0100199"),  # not a full number: its digits, as written
        ("", "US", ""),
    ],
)
def test_a_phone_number_becomes_an_e164_tel_url(phone, region, tel):
    from pain_news.render.presentation import tel_url

    assert tel_url(phone, region) == tel


def test_the_next_review_is_a_year_on_even_from_a_leap_day():
    import datetime as dt

    from pain_news.render.presentation import next_review

    assert next_review(dt.date(2026, 11, 2)) == dt.date(2027, 11, 2)
    assert next_review(dt.date(2028, 2, 29)) == dt.date(2029, 2, 28)


@pytest.mark.parametrize(
    "intro, kept",
    [
        ("<p>Dear %%h.first_name|friend%%,</p>\n<p>Welcome.</p>", "<p>Welcome.</p>"),
        ("<p>Hello friends,</p><p>Welcome.</p>", "<p>Welcome.</p>"),
        # Not a greeting: a long first paragraph, or one that does not end with a comma.
        ("<p>Winter is here and many of you asked us about stiffness, so,</p>", None),
        ("<p>Welcome to winter.</p><p>More.</p>", None),
    ],
)
def test_the_web_page_leaves_out_only_a_salutation(intro, kept):
    from pain_news.render.presentation import without_salutation

    assert str(without_salutation(intro)) == (kept if kept is not None else intro)


def test_a_title_naming_the_month_is_not_followed_by_the_same_date_again(config, make_issue):
    from pain_news.issue.loader import load_issue
    from pain_news.render.pipeline import render_issue, web_page
    from tests.fixtures.editor import ISSUE_TOML

    toml = ISSUE_TOML.replace('title = "Spring 2027"', 'title = "January 2027"').replace(
        "date = 2027-03-01", "date = 2027-01-01"
    )
    issue = load_issue(make_issue(name="2027-01-january", toml=toml))
    rendered = render_issue(issue, config.newsletter, config.templates_dir)
    web = web_page(issue, config.newsletter, config.templates_dir)
    for output in (rendered.email_html, rendered.email_text, web):
        assert "January 1, 2027" not in output
    assert "(Issue 2)" in rendered.email_text.splitlines()[0]
    spring = load_issue(make_issue(name="2027-03-spring"))
    assert "March 1, 2027" in render_issue(spring, config.newsletter, config.templates_dir).email_html


@pytest.mark.parametrize(
    "author, shown",
    [
        ("Dr. Jane Doe, MD", "By Dr. Jane Doe, MD"),
        ("Front desk team", "From the front desk team"),
        ("The care team at TriState Pain Institute", "From the care team at TriState Pain Institute"),
        ("The TriState Pain Institute care team", "From the TriState Pain Institute care team"),
        ("TriState nursing staff", "From the TriState nursing staff"),
        ("our physical therapy team", "From our physical therapy team"),
        ("From the billing office", "From the billing office"),
    ],
)
def test_bylines_read_as_a_person_would_write_them(author, shown):
    from pain_news.render.presentation import byline

    assert byline(author) == shown


def test_the_sample_bylines_say_from_not_by_a_team(config, sample_issue):
    _, rendered = render(config, sample_issue)
    text = " ".join(rendered.email_text.split())
    assert "From the care team at TriState Pain Institute" in text and "From the front desk team" in text
    assert "By Front desk team" not in text and "By The" not in " ".join(rendered.email_html.split())
