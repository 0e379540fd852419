from pain_news.issue import placeholders


def test_values_for_matches_fill_for_every_placeholder():
    tags = ["%%h.first_name|friend%%", "%%t.first_name|friend%%", "%%h.unsubscribe_url%%", "%%t.email%%"]
    for person in (
        {
            "first_name": '<b>Tom & "Jerry"</b>',
            "email": "a@b.example",
            "unsubscribe_url": "https://x/?a=1&b=2",
        },
        {"first_name": "", "email": "c@d.example"},
    ):
        assert placeholders.values_for(tags, person) == {t: placeholders.fill(t, person) for t in tags}


def test_fill_escapes_html_part_and_keeps_text_verbatim():
    person = {"first_name": "<Ana & Bo>"}
    assert placeholders.fill("Hi %%h.first_name|friend%%", person) == "Hi &lt;Ana &amp; Bo&gt;"
    assert placeholders.fill("Hi %%t.first_name|friend%%", person) == "Hi <Ana & Bo>"
    assert placeholders.fill("Hi %%t.first_name|friend%%", {}) == "Hi friend"


def test_placeholders_in_lists_each_once_in_order():
    text = "%%h.first_name|friend%% %%h.unsubscribe_url%% %%h.first_name|friend%%"
    assert placeholders.placeholders_in(text) == ["%%h.first_name|friend%%", "%%h.unsubscribe_url%%"]
