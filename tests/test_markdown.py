from pain_news.issue.markdown import render_markdown


def test_links_are_written_out_in_text():
    fragment = render_markdown("Read [our guide](https://example.org/guide) today.")
    assert fragment.text == "Read our guide (https://example.org/guide) today."
    assert '<a href="https://example.org/guide">our guide</a>' in fragment.html


def test_lists_become_bullets_and_numbers():
    fragment = render_markdown("- one\n- two\n\n1. first\n2. second\n")
    assert fragment.text == "- one\n- two\n\n1. first\n2. second"


def test_raw_html_is_escaped_not_passed_through():
    fragment = render_markdown("<script>alert(1)</script> hi")
    assert "<script>" not in fragment.html
    assert "&lt;script&gt;" in fragment.html


def test_long_paragraphs_wrap_without_breaking_urls():
    url = "https://example.org/" + "a" * 100
    fragment = render_markdown(("word " * 40) + url)
    lines = fragment.text.splitlines()
    assert all(len(line) <= 76 for line in lines if url not in line)
    assert url in lines[-1]


def test_tags_survive_markdown_emphasis_rules():
    fragment = render_markdown("Hello *{{ first_name | default('friend') }}*!")
    assert fragment.html == "<p>Hello <em>%%h.first_name|friend%%</em>!</p>"
    assert fragment.text == "Hello %%t.first_name|friend%%!"
