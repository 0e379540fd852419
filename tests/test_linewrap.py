import re

from pain_news.render.linewrap import MAX_LINE, longest_line, wrap_html


def test_long_html_is_wrapped_under_the_smtp_limit():
    html = (
        "<table>"
        + "".join(f'<tr><td style="padding:0 {i}px;color:#000">cell {i} text</td></tr>' for i in range(400))
        + "</table>"
    )
    wrapped = wrap_html(html)
    assert longest_line(html) > MAX_LINE
    assert longest_line(wrapped) <= 900
    # Only whitespace changed: the same document once newlines are folded back to the original.
    assert re.sub(r"\s+", " ", wrapped).replace(" >", ">") == re.sub(r"\s+", " ", html).replace(" >", ">")


def test_quoted_attributes_and_conditional_comments_are_never_split():
    attr = "x " * 300
    html = (
        "<p>"
        + "word " * 300
        + f'<span title="{attr}">t</span>'
        + "<!--[if mso | IE]><table><![endif]-->" * 30
        + "</p>"
    )
    wrapped = wrap_html(html, limit=200)
    assert f'title="{attr}"' in wrapped
    assert wrapped.count("<!--[if mso | IE]>") == 30


def test_pre_blocks_keep_their_spaces():
    html = "<p>" + "a " * 600 + "</p><pre>" + "b " * 600 + "</pre>"
    wrapped = wrap_html(html, limit=200)
    assert "<pre>" + "b " * 600 + "</pre>" in wrapped.replace("\n>", ">")


def test_a_long_line_that_ends_in_its_own_newline_is_wrapped_too():
    html = "<p>" + "word " * 300 + "end</p>\n<p>short</p>\n" + "<p>" + "more " * 100 + "</p>"
    wrapped = wrap_html(html, limit=200)
    assert longest_line(wrapped) <= 200
    assert wrapped.split() == html.split()


def test_sample_email_lines_stay_under_the_target(config, sample_issue):
    from pain_news.publish.build import render
    from pain_news.render.linewrap import TARGET

    _, rendered = render(config, sample_issue)
    assert longest_line(rendered.email_html) <= TARGET
