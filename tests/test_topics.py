"""Topics readers choose: config, the store (SQLite and PostgreSQL), import, the CLI, signup and targeted sends."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from pain_news import campaign
from pain_news.campaign.report import campaign_report, find_campaign
from pain_news.campaign.runner import create_campaign
from pain_news.errors import ConfigError, IssueError, StoreError
from pain_news.ledger import CampaignLedger
from pain_news.subscribers import signup
from pain_news.subscribers.importer import import_file
from tests.test_campaign import ledger_of

TOPICS_TOML = """
[topics]
news = "Every issue of Pain News"
events = "Classes and events"
back-pain = "Back pain"

[serve]
signup_topics = ["news"]
"""
KEYS = ("news", "events", "back-pain")


@pytest.fixture(autouse=True)
def with_topics(project):
    """The throwaway project declares three topics (before any store or config is made)."""
    with (project / "pain-news.toml").open("a", encoding="utf-8") as f:
        f.write(TOPICS_TOML)


def topic_history(store, who):
    return [(e.method, e.detail) for e in store.history(who)[1] if e.method == "topics"]


# ---- config ------------------------------------------------------------------------------------


def test_topics_are_read_in_order_with_their_labels(config):
    assert [(t.key, t.label) for t in config.topics] == [
        ("news", "Every issue of Pain News"),
        ("events", "Classes and events"),
        ("back-pain", "Back pain"),
    ]
    assert config.serve.signup_topics == ("news",)


@pytest.mark.parametrize(
    "table, message",
    [
        ('[topics]\nBack_Pain = "Back pain"\n', "topics.Back_Pain: a topic key must be a lowercase slug"),
        ('[topics]\nnews = ""\n', "topics.news must be a label in quotes"),
        ("[topics]\nnews = 3\n", "topics.news must be a label in quotes"),
        (
            '[topics]\nnews = "News"\n[serve]\nsignup_topics = ["newz"]\n',
            "serve.signup_topics: unknown topic 'newz' \\(known: news\\)",
        ),
    ],
)
def test_bad_topics_config_names_the_key(tmp_path, table, message):
    from pain_news.config.settings import load_config

    path = tmp_path / "pain-news.toml"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


# ---- the store -------------------------------------------------------------------------------


def test_topics_are_kept_beside_tags_and_every_change_is_in_the_history(any_store):
    any_store.add("ana@example.org", "Ana", tags=["knee"], topics=["news"])
    record = any_store.get("ana@example.org")
    assert (record.tags, record.topics) == (("knee",), ("news",))
    change = any_store.update_preferences("ana@example.org", topics=["events", "back-pain"], via="staff")
    assert change.changed and change.subscriber.topics == ("back-pain", "events")
    assert not any_store.update_preferences("ana@example.org", topics=["events", "back-pain"]).changed
    assert any_store.get("ana@example.org").tags == ("knee",)  # staff tags untouched
    assert topic_history(any_store, "ana@example.org") == [
        ("topics", "+news (added)"),
        ("topics", "+back-pain +events -news (staff)"),
    ]


def test_listing_streams_topics_and_filters_by_one(any_store):
    for i in range(5):
        any_store.add(f"p{i}@example.org", topics=["events"] if i % 2 else ["news", "back-pain"])
    listed = {r.email: r.topics for r in any_store.iter_subscribers()}
    assert listed["p0@example.org"] == ("back-pain", "news") and listed["p1@example.org"] == ("events",)
    assert [r.email for r in any_store.iter_subscribers(topic="events")] == [
        "p1@example.org",
        "p3@example.org",
    ]
    assert [r.email for r in any_store.iter_subscribers(status="active", topic="back-pain")] == [
        "p0@example.org",
        "p2@example.org",
        "p4@example.org",
    ]


# ---- import ------------------------------------------------------------------------------------


def test_import_reads_the_topics_column_and_unknown_keys_are_line_errors(any_store, config, tmp_path):
    any_store.add("old@example.org", topics=["news"])
    any_store.add("gone@example.org", topics=["news"])
    any_store.unsubscribe("gone@example.org")
    path = tmp_path / "list.csv"
    path.write_text(
        "email,first_name,tags,topics\n"
        "ana@example.org,Ana,knee,News;events\n"
        "ben@example.org,Ben,,newz\n"
        "old@example.org,,,events\n"
        "gone@example.org,,,events\n"
        "cai@example.org,Cai,,\n",
        encoding="utf-8",
    )
    summary = import_file(any_store, path, known_topics=config.topic_keys)
    assert [(b.line, b.reason) for b in summary.bad_rows] == [
        (3, "unknown topic 'newz' (known: news, events, back-pain)")
    ]
    assert summary.summary_line() == "added 2, updated 1, unchanged 0, skipped 1, kept opted-out 1"
    assert any_store.get("ana@example.org").topics == ("events", "news")
    assert any_store.get("ana@example.org").tags == ("knee",)
    assert any_store.get("old@example.org").topics == ("events", "news")  # added, never taken away
    assert any_store.get("gone@example.org").topics == ("news",)  # opted out: not touched
    assert any_store.get("cai@example.org").topics == ()
    assert topic_history(any_store, "ana@example.org") == [("topics", "+events +news (import:list.csv)")]
    assert topic_history(any_store, "old@example.org")[-1] == ("topics", "+events (import:list.csv)")


def test_an_import_dry_run_saves_no_topics(any_store, config, tmp_path):
    any_store.add("old@example.org")
    path = tmp_path / "list.csv"
    path.write_text("email,topics\nold@example.org,events\nnew@example.org,news\n", encoding="utf-8")
    summary = import_file(any_store, path, known_topics=config.topic_keys, dry_run=True)
    assert (summary.added, summary.updated) == (1, 1)
    assert any_store.get("old@example.org").topics == () and any_store.get("new@example.org") is None


def test_an_import_with_topics_before_any_are_declared_says_so_once_and_writes_nothing(any_store, tmp_path):
    any_store.add("old@example.org")
    path = tmp_path / "list.csv"
    rows = "".join(f"p{i}@example.org,Pat,news\n" for i in range(28))
    path.write_text("email,first_name,topics\nnew@example.org,Ana,\n" + rows, encoding="utf-8")
    with pytest.raises(StoreError) as err:
        import_file(any_store, path, known_topics=())
    assert (str(err.value), err.value.line) == (
        f"{path}:3: the file has topics, but pain-news.toml declares none",
        3,
    )
    assert "declare them under [topics] first" in (err.value.hint or "")
    assert any_store.get("new@example.org") is None and any_store.get("p0@example.org") is None
    # An empty topics column is no problem before topics exist.
    path.write_text("email,topics\nnew@example.org,\n", encoding="utf-8")
    assert import_file(any_store, path, known_topics=()).added == 1


# ---- the CLI -----------------------------------------------------------------------------------


def test_cli_add_list_show_and_export_carry_topics(run_cli, project):
    run_cli("subscribers", "add", "ana@example.org", "--topic", "news", "--topic", "Events")
    run_cli("subscribers", "add", "ben@example.org", "--topic", "back-pain")
    run_cli("subscribers", "add", "cai@example.org")
    listed = run_cli("subscribers", "list", "--topic", "events", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(listed)))
    assert [(r["email"], r["topics"]) for r in rows] == [("ana@example.org", "events;news")]
    table = run_cli("subscribers", "list").stdout.splitlines()
    assert table[0].split() == ["email", "first", "name", "last", "name", "status", "lang", "topics", "tags"]
    assert table[1].split() == ["ana@example.org", "active", "en", "events,", "news"]
    assert "topics:   back-pain" in run_cli("subscribers", "show", "ben@example.org").stdout
    run_cli("subscribers", "export", "all.csv")
    exported = list(csv.DictReader((project / "all.csv").open(encoding="utf-8")))
    assert [(r["email"], r["topics"]) for r in exported] == [
        ("ana@example.org", "events;news"),
        ("ben@example.org", "back-pain"),
        ("cai@example.org", ""),
    ]
    # An export imports back to the same topics.
    run_cli("subscribers", "delete", "cai@example.org", "--yes")
    out = run_cli("subscribers", "import", "all.csv").stdout
    assert "added 0, updated 0, unchanged 2" in out


def test_cli_refuses_an_unknown_topic_before_anything_is_written(run_cli, project):
    result = run_cli("subscribers", "add", "ana@example.org", "--topic", "newz", ok=False)
    assert result.exit_code == 2
    assert "unknown topic 'newz' (known: news, events, back-pain)" in result.stderr
    assert not (project / "subscribers" / "pain-news.db").exists()
    run_cli("subscribers", "add", "ben@example.org")
    result = run_cli("subscribers", "list", "--topic", "newz", ok=False)
    assert result.exit_code == 2 and "unknown topic 'newz'" in result.stderr


# ---- signup ----------------------------------------------------------------------------------


def test_signup_topics_apply_on_confirm_and_not_before(any_store, config):
    any_store.add("ana@example.org", "Ana", topics=["news"])
    any_store.unsubscribe("ana@example.org")
    request = any_store.request_signup("ana@example.org", topics=["events"])
    assert any_store.get("ana@example.org").topics == ("news",)  # a stranger's signup changes nothing
    new = any_store.request_signup("nia@example.org", "Nia", topics=["back-pain", "news"])
    assert any_store.get("nia@example.org").topics == ()
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    any_store.confirm_signup(new.subscriber_id, new.request_event_id)
    assert any_store.get("ana@example.org").topics == ("events",)
    assert any_store.get("nia@example.org").topics == ("back-pain", "news")
    assert topic_history(any_store, "ana@example.org")[-1] == ("topics", "+events -news (signup)")


def test_a_signup_that_ticked_no_topic_confirms_with_none_and_one_without_topics_keeps_them(any_store):
    any_store.add("ana@example.org", topics=["news"])
    any_store.unsubscribe("ana@example.org")
    request = any_store.request_signup("ana@example.org", topics=None)  # a form offering no topics
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    assert any_store.get("ana@example.org").topics == ("news",)
    any_store.unsubscribe("ana@example.org")
    request = any_store.request_signup("ana@example.org", topics=[])  # offered, none ticked
    any_store.confirm_signup(request.subscriber_id, request.request_event_id)
    assert any_store.get("ana@example.org").topics == ()


def test_form_topics_are_checked_against_the_config(config):
    assert signup.validate_topics(config, ["events", " News"]) == ("events", "news")  # as stored
    with pytest.raises(StoreError, match=r"^unknown topic 'admin' \(known: news, events, back-pain\)$"):
        signup.validate_topics(config, ["admin"])


def test_every_place_words_an_unknown_topic_the_same(config, store, sample_issue, tmp_path):
    """One rule (config/topics.py: normalize_topics), one message: the issue's topics, a send's
    --topic, a form, a CSV cell and serve.signup_topics all say the same words."""
    from pain_news.config.settings import load_config
    from pain_news.issue.loader import read_issue

    words = "unknown topic 'newz' (known: news, events, back-pain)"
    with pytest.raises(ConfigError) as from_send:
        campaign.prepare_send(config, store, sample_issue, campaign.SendOptions(topics=("NEWZ",)))
    toml = sample_issue / "issue.toml"
    # At the top: the sample's issue.toml ends with its [es] edition's table.
    toml.write_text('topics = ["newz"]\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    said = [
        f.message for f in read_issue(sample_issue, "", config.topic_keys).findings if "topic" in f.message
    ]
    with pytest.raises(StoreError) as from_form:
        signup.validate_topics(config, ["newz"])
    path = tmp_path / "list.csv"
    path.write_text("email,topics\nana@example.org,newz\n", encoding="utf-8")
    [bad] = import_file(store, path, known_topics=config.topic_keys).bad_rows
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text(TOPICS_TOML.replace('["news"]', '["newz"]'), encoding="utf-8")
    with pytest.raises(ConfigError) as from_config:
        load_config(bad_config, env={})
    assert said == [words]
    assert [from_send.value.message, from_form.value.message, bad.reason] == [words] * 3
    assert from_config.value.message == f"serve.signup_topics: {words}"


# ---- targeted sends ----------------------------------------------------------------------------


def people(store):
    """Two readers of events (one also news), one of news only, none, and an opted-out events reader."""
    store.add("ev1@example.org", topics=["events"])
    store.add("ev2@example.org", topics=["events", "news"])
    store.add("news@example.org", topics=["news"])
    store.add("none@example.org")
    store.add("out@example.org", topics=["events"])
    store.unsubscribe("out@example.org")


def run(config, store, issue, **options):
    opts = campaign.SendOptions(**{"batch_size": 10, "threads": 1, **options})
    prepared = campaign.prepare_send(config, store, issue, opts)
    return prepared, campaign.run_send(config, store, prepared)


def test_send_topic_mails_only_active_readers_of_those_topics(config, any_store, sample_issue):
    people(any_store)
    prepared, report = run(config, any_store, sample_issue, topics=("events",))
    assert "Audience:   subscribers who chose events 2 (someone with two of them is mailed once)" in (
        prepared.plan.lines()
    )
    assert prepared.plan.to_send == 2 and prepared.plan.opted_out == 1
    assert ledger_of(any_store, report.campaign_id) == {
        "ev1@example.org": ("sent", None),
        "ev2@example.org": ("sent", None),
        "out@example.org": ("skipped", "unsubscribed at the start of the send"),
    }
    record = CampaignLedger.for_store(any_store).get(report.campaign_id)
    assert record is not None and record.topics == ("events",)
    shown = campaign_report(any_store, find_campaign(any_store, campaign_id=report.campaign_id))
    assert "  audience: topics events" in list(shown.lines())
    assert shown.as_dict()["campaign"]["topics"] == ["events"]


def test_two_topics_mail_each_reader_once_and_count_per_topic(config, any_store, sample_issue):
    people(any_store)
    prepared, report = run(config, any_store, sample_issue, topics=("news", "events"))
    assert prepared.plan.per_topic == {"events": 2, "news": 2}
    assert "Audience:   subscribers who chose events 2, news 2" in "\n".join(prepared.plan.lines())
    sent = sorted(e for e, (state, _) in ledger_of(any_store, report.campaign_id).items() if state == "sent")
    assert sent == ["ev1@example.org", "ev2@example.org", "news@example.org"]
    record = CampaignLedger.for_store(any_store).get(report.campaign_id)
    assert record is not None and record.topics == ("events", "news")


def test_without_topics_the_send_goes_to_everyone_and_report_says_so(config, any_store, sample_issue):
    people(any_store)
    prepared, report = run(config, any_store, sample_issue)
    assert "Audience:   everyone on the list" in prepared.plan.lines()
    assert report.run["sent"] == 4
    assert "  audience: everyone on the list" in list(
        campaign_report(any_store, find_campaign(any_store, campaign_id=report.campaign_id)).lines()
    )


def test_issue_toml_topics_target_the_send_and_the_command_line_replaces_them(
    config, any_store, sample_issue
):
    people(any_store)
    toml = sample_issue / "issue.toml"
    toml.write_text('topics = ["news"]\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    prepared, report = run(config, any_store, sample_issue)
    assert prepared.plan.per_topic == {"news": 2}
    sent = sorted(e for e, (state, _) in ledger_of(any_store, report.campaign_id).items() if state == "sent")
    assert sent == ["ev2@example.org", "news@example.org"]
    prepared, report = run(config, any_store, sample_issue, topics=("events",), new_campaign=True)
    record = CampaignLedger.for_store(any_store).get(report.campaign_id)
    assert record is not None and record.topics == ("events",)


def test_an_unknown_topic_in_issue_toml_is_a_finding_on_its_line(config, store, sample_issue):
    from pain_news.checks.run import run_check

    toml = sample_issue / "issue.toml"
    toml.write_text('topics = ["events", "newz"]\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    line = toml.read_text(encoding="utf-8").splitlines().index('topics = ["events", "newz"]') + 1
    [finding] = [
        f for f in run_check(config, sample_issue, readability=False).findings if "topic" in f.message
    ]
    assert (finding.code, finding.line) == ("invalid-value", line)
    assert finding.message == "unknown topic 'newz' (known: news, events, back-pain)"
    with pytest.raises(IssueError, match="unknown topic 'newz'"):
        campaign.prepare_send(config, store, sample_issue, campaign.SendOptions())
    assert CampaignLedger.for_store(store).latest(sample_issue.name) is None


def test_send_refuses_an_unknown_topic_before_any_campaign(config, store, sample_issue):
    people(store)
    with pytest.raises(ConfigError, match="unknown topic 'newz' \\(known: news, events, back-pain\\)"):
        campaign.prepare_send(config, store, sample_issue, campaign.SendOptions(topics=("newz",)))
    assert CampaignLedger.for_store(store).latest(sample_issue.name) is None


def test_an_unsubscribe_during_a_targeted_send_is_honoured(config, any_store, sample_issue):
    people(any_store)
    opts = campaign.SendOptions(batch_size=1, threads=1, topics=("events",))
    prepared = campaign.prepare_send(config, any_store, sample_issue, opts)
    any_store.unsubscribe("ev2@example.org")  # after the plan, before its batch
    report = campaign.run_send(config, any_store, prepared)
    assert ledger_of(any_store, report.campaign_id)["ev2@example.org"][0] == "skipped"
    assert report.run["sent"] == 1


def test_cli_send_topic_shows_the_count_per_topic(run_cli, project, sample_issue):
    run_cli("subscribers", "add", "ev@example.org", "--topic", "events")
    run_cli("subscribers", "add", "all@example.org")
    out = run_cli("send", str(sample_issue), "--topic", "events", "--yes").stdout
    assert "Audience:   subscribers who chose events 1" in out
    assert "Recipients: 1 to send now" in out
    report = run_cli("report", str(sample_issue)).stdout
    assert "audience: topics events" in report
    emls = list(project.glob("outbox/**/*.eml"))
    assert len(emls) == 1 and "ev@example.org" in emls[0].read_text(encoding="utf-8")


def test_resuming_a_targeted_campaign_keeps_its_topics(config, any_store, sample_issue):
    people(any_store)
    ledger = CampaignLedger.for_store(any_store)
    prepared = campaign.prepare_send(
        config, any_store, sample_issue, campaign.SendOptions(topics=("events",))
    )
    campaign_id = create_campaign(ledger, prepared)
    resumed = campaign.prepare_send(config, any_store, sample_issue, campaign.SendOptions())
    assert (resumed.campaign_id, resumed.topics) == (campaign_id, ("events",))
    assert "Audience:   subscribers who chose events" in "\n".join(resumed.plan.lines())
    with pytest.raises(Exception, match="--topic cannot change an unfinished campaign"):
        campaign.prepare_send(config, any_store, sample_issue, campaign.SendOptions(topics=("news",)))


def test_cli_send_refuses_an_unknown_topic_and_a_topic_on_a_test_send(run_cli, project, sample_issue):
    run_cli("subscribers", "add", "ev@example.org", "--topic", "events")
    result = run_cli("send", str(sample_issue), "--topic", "newz", "--yes", ok=False)
    assert result.exit_code == 2 and "unknown topic 'newz' (known: news, events, back-pain)" in result.stderr
    result = run_cli("send", str(sample_issue), "--test", "--topic", "events", ok=False)
    assert result.exit_code == 2 and "--topic is for list sends" in result.stderr
    assert not (project / "outbox").exists()


def test_a_re_import_keeps_what_the_subscriber_chose_themselves(any_store, config, tmp_path):
    # The clinic's monthly spreadsheet, imported once, then again after Ana used the preference page.
    path = tmp_path / "patients.csv"
    path.write_text(
        "email,first_name,last_name,topics\n"
        "ana@example.org,Ana,Diaz,news;events\n"
        "bo@example.org,Bo,,news\n"
        "cy@example.org,,,news\n",
        encoding="utf-8",
    )
    import_file(any_store, path, known_topics=config.topic_keys)
    any_store.add("dee@example.org", "Dee")  # added by staff: nobody chose for her
    any_store.update_preferences(
        "ana@example.org", topics=["events"], first_name="Annie", via="preference page", by_subscriber=True
    )
    any_store.update_preferences("cy@example.org", first_name="", via="preference page", by_subscriber=True)
    path.write_text(
        "email,first_name,last_name,topics\n"
        "ana@example.org,Ana,Diaz,news;events\n"
        "bo@example.org,Robert,Baker,news;back-pain\n"
        "cy@example.org,Cy,,news\n"
        "dee@example.org,Deirdre,Doe,events\n",
        encoding="utf-8",
    )
    summary = import_file(any_store, path, known_topics=config.topic_keys)
    ana, bo, cy, dee = (any_store.get(f"{p}@example.org") for p in ("ana", "bo", "cy", "dee"))
    assert ana is not None and bo is not None and cy is not None and dee is not None
    assert (ana.first_name, ana.topics) == ("Annie", ("events",))  # her name and her unticked topic stay
    assert cy.first_name == ""  # she cleared it herself: not filled in again
    assert (bo.first_name, bo.last_name, bo.topics) == ("Bo", "Baker", ("back-pain", "news"))  # empty filled
    assert (dee.first_name, dee.last_name, dee.topics) == ("Dee", "Doe", ("events",))
    assert summary.kept_own_choice == 2
    assert summary.summary_line().endswith(", kept the subscriber's own choice: 2")
    _, history = any_store.history("ana@example.org")
    assert not any(e.method == "topics" and "import" in e.detail for e in history[-1:])


# ---- sensitive topics: what never leaves the clinic --------------------------------------------

SENSITIVE = 'back-pain = { label = "Back pain", sensitive = true, terms = ["spine surgery", "sciatica"] }'
WORDS = ("back-pain", "back pain", "back_pain", "spine surgery", "spine-surgery", "sciatica")


@pytest.fixture
def sensitive(project):
    """back-pain becomes sensitive, with two terms that name it."""
    toml = project / "pain-news.toml"
    toml.write_text(toml.read_text().replace('back-pain = "Back pain"', SENSITIVE))


def neutral_issue(project, sample_issue, name="2027-01-spine-recovery"):
    """The sample under another folder name, its subject and preheader naming no topic word."""
    import shutil

    folder = project / "issues" / name
    shutil.copytree(sample_issue, folder)
    toml = folder / "issue.toml"
    text = toml.read_text()
    text = text.replace(
        'subject = "Pain after back surgery? You have options"', 'subject = "Winter news from the clinic"'
    )
    text = text.replace(
        "This month: failed spine surgery syndrome explained,", "This month: a condition explained,"
    )
    toml.write_text(text)
    return folder


def leaks(value) -> list[str]:
    """The sensitive topic's words anywhere in `value` (any letter case)."""
    text = json.dumps(value).lower() if not isinstance(value, str) else value.lower()
    return [w for w in WORDS if w in text]


def test_a_sensitive_topic_is_refused_on_the_lock_screen_lines_naming_the_line_and_the_words(
    sensitive, make_config, any_store, sample_issue, smtp_server
):
    from tests.fixtures.core import publish_archive, sign_off
    from tests.test_gates import smtp_settings

    config = make_config(smtp_settings(smtp_server))
    publish_archive(config)
    sign_off(config, any_store, sample_issue)
    any_store.add("bp@example.org", topics=["back-pain"])
    with pytest.raises(IssueError) as refused:
        run(config, any_store, sample_issue, topics=("back-pain",))
    message = refused.value.message
    assert "sensitive topic" in message
    assert "the preheader 'This month: failed spine surgery syndrome explained" in message
    assert "shows 'spine surgery'" in message
    assert smtp_server.messages == []
    assert CampaignLedger.for_store(any_store).latest(sample_issue.name) is None

    named = make_config(
        {**smtp_settings(smtp_server), "PAIN_NEWS_NEWSLETTER_FROM_NAME": "Sciatica Help Desk"}
    )
    toml = sample_issue / "issue.toml"  # topics in issue.toml target the send as --topic does
    toml.write_text(toml.read_text().replace("sections = [", 'topics = ["back-pain"]\nsections = [', 1))
    publish_archive(named)
    sign_off(named, any_store, sample_issue)
    with pytest.raises(IssueError) as by_issue:
        run(named, any_store, sample_issue)
    assert "the sender name 'Sciatica Help Desk' shows 'sciatica'" in by_issue.value.message
    outbox = campaign.prepare_send(config, any_store, sample_issue, campaign.SendOptions(provider="outbox"))
    assert any("sensitive topic" in w for w in outbox.plan.warnings)


def test_a_folder_named_after_a_sensitive_topic_is_refused_for_it_but_not_for_another(
    sensitive, make_config, any_store, project, sample_issue, smtp_server
):
    from tests.fixtures.core import publish_archive, sign_off
    from tests.test_gates import smtp_settings

    folder = neutral_issue(project, sample_issue, "2027-01-sciatica")
    config = make_config(smtp_settings(smtp_server))
    publish_archive(config)
    sign_off(config, any_store, folder)
    any_store.add("bp@example.org", topics=["back-pain", "news"])
    with pytest.raises(
        IssueError,
        match=r"the folder name '2027-01-sciatica' \(in every link of the email\) shows 'sciatica'",
    ):
        run(config, any_store, folder, topics=("back-pain",))
    _, report = run(config, any_store, folder, topics=("news",))
    assert report.ledger["sent"] == 1


def test_a_sensitive_topic_never_reaches_a_sendgrid_request(
    sensitive, make_config, any_store, project, sample_issue, sendgrid_standin
):
    from tests.fixtures.core import REAL_NEWSLETTER, publish_archive, sign_off

    folder = neutral_issue(project, sample_issue)
    config = make_config(
        {
            **REAL_NEWSLETTER,
            "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
            "PAIN_NEWS_SENDGRID_HOST": sendgrid_standin.url,
            "SENDGRID_API_KEY": sendgrid_standin.api_key,
            "PAIN_NEWS_SENDGRID_ASM_GROUP_ID": "77",
        }
    )
    publish_archive(config)
    sign_off(config, any_store, folder)
    for i in range(3):
        any_store.add(f"bp{i}@example.org", f"Bo{i}", topics=["back-pain"])
    _, report = run(config, any_store, folder, topics=("back-pain",))
    assert report.ledger["sent"] == 3
    assert sendgrid_standin.received
    for body in sendgrid_standin.received:
        assert body["categories"] == [f"pain-news-{report.campaign_id}"]  # the campaign id alone
        outside_content = {k: v for k, v in body.items() if k != "content"}
        assert leaks(outside_content) == [], outside_content
        assert "spine-recovery" not in json.dumps(outside_content)  # nor the folder name
        for person in body["personalizations"]:
            assert leaks(person.get("custom_args", {})) == [] and leaks(person.get("headers", {})) == []
        for part in body["content"]:
            # The links Pain News makes (web version, images, unsubscribe, preferences) and every
            # query string; a link the editor wrote to the clinic's own condition page is content.
            urls = re.findall(r"""https?://[^\s"'<>)]+""", part["value"])
            ours = [u for u in urls if u.startswith(config.newsletter.public_url)]
            queries = [u.partition("?")[2] for u in urls]
            assert ours and leaks(ours) == [] and leaks(queries) == [], [u for u in urls if leaks(u)]


def test_a_sensitive_topic_is_in_no_header_of_an_smtp_message(
    sensitive, make_config, any_store, project, sample_issue, smtp_server
):
    from tests.fixtures.core import publish_archive, sign_off
    from tests.test_gates import smtp_settings

    folder = neutral_issue(project, sample_issue)
    config = make_config(smtp_settings(smtp_server))
    publish_archive(config)
    sign_off(config, any_store, folder)
    any_store.add("bp@example.org", "Bo", topics=["back-pain"])
    _, report = run(config, any_store, folder, topics=("back-pain",))
    assert report.ledger["sent"] == 1
    [message] = smtp_server.messages
    assert len(message.items()) >= 10  # From, To, Subject, List-Id, List-Unsubscribe, Feedback-ID, ...
    for name, value in message.items():
        assert leaks(f"{name}: {value}") == [], (name, value)
