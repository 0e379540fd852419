from pain_news.issue import placeholders


def test_the_substituter_matches_fill_for_every_placeholder():
    tags = ["%%h.first_name|friend%%", "%%t.first_name|friend%%", "%%h.unsubscribe_url%%", "%%t.email%%"]
    for person in (
        {
            "first_name": '<b>Tom & "Jerry"</b>',
            "email": "a@b.example",
            "unsubscribe_url": "https://x/?a=1&b=2",
        },
        {"first_name": "", "email": "c@d.example"},
    ):
        assert placeholders.Substituter(tags)(person) == {t: placeholders.fill(t, person) for t in tags}


def test_fill_escapes_html_part_and_keeps_text_verbatim():
    person = {"first_name": "<Ana & Bo>"}
    assert placeholders.fill("Hi %%h.first_name|friend%%", person) == "Hi &lt;Ana &amp; Bo&gt;"
    assert placeholders.fill("Hi %%t.first_name|friend%%", person) == "Hi <Ana & Bo>"
    assert placeholders.fill("Hi %%t.first_name|friend%%", {}) == "Hi friend"


def test_placeholders_in_lists_each_once_in_order():
    text = "%%h.first_name|friend%% %%h.unsubscribe_url%% %%h.first_name|friend%%"
    assert placeholders.placeholders_in(text) == ["%%h.first_name|friend%%", "%%h.unsubscribe_url%%"]


def test_the_one_recipient_builder_fills_every_recipient_field():
    """The send, check and preview build their values with recipient_values: none can drop a link
    (the preview once left "Manage preferences" with href="")."""
    from pain_news.checks.output import largest_values
    from pain_news.config.settings import load_config
    from pain_news.publish.preview import sample_values
    from tests.fixtures.core import FIXTURE_CONFIG

    values = placeholders.recipient_values(
        first_name="A", last_name="B", email="a@b.example", unsubscribe_url="u", preferences_url="p"
    )
    assert tuple(values) == placeholders.RECIPIENT_FIELDS
    config = load_config(FIXTURE_CONFIG, env={})
    for built in (largest_values(config), sample_values(config)):
        assert tuple(built) == placeholders.RECIPIENT_FIELDS and all(built.values())
