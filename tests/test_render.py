import re

from pain_news import placeholders
from pain_news.build import render
from pain_news.linewrap import MAX_LINE, longest_line


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
    assert "View in browser" in html
    assert 'href="https://news.tristatepain.example/2026-12-winter/"' in html
    assert config.newsletter.postal_address in rendered.email_text
    assert "Unsubscribe: %%t.unsubscribe_url%%" in rendered.email_text


def test_preheader_is_hidden_text_at_the_top(config, sample_issue):
    issue, rendered = render(config, sample_issue)
    body = rendered.email_html.split("<body", 1)[1]
    assert issue.preheader in body[:2000]


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
    assert "Dear friend," in web
    assert config.newsletter.postal_address in web


def test_spotlight_card_has_sections_learn_more_and_see_all(config, sample_issue):
    _, rendered = render(config, sample_issue)
    html = rendered.email_html
    for heading in ("Causes", "Symptoms", "Treatments"):
        assert f">{heading}</h3>" in html
    assert 'href="https://www.tristatepain.example/conditions/failed-spine-surgery-syndrome/"' in html
    assert "Learn more about failed spine surgery syndrome" in html
    assert "CONDITION SPOTLIGHT" in html
    assert "Medically reviewed by Dr. Anita Rao" in html


def test_text_part_is_readable_with_links_written_out(config, sample_issue, golden):
    _, rendered = render(config, sample_issue)
    text = rendered.email_text
    assert "CAUSES\n- The first diagnosis was not the right one\n" in text
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
