"""Scheduled sends (send --at / --cancel) against the SendGrid stand-in, and tracking pinned off."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pain_news import campaign
from pain_news.campaign.schedule import cancel_send
from pain_news.config.clock import parse_when
from pain_news.errors import DeliveryError, ScheduleError
from pain_news.ledger import CampaignLedger
from tests.fixtures.core import REAL_NEWSLETTER, error_lines, publish_archive, sign_off
from tests.fixtures.sendgrid_standin import validate_mail

PINNED = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
    "ganalytics": {"enable": False},
}


def add_people(store, n):
    return [store.add(f"p{i:03d}@example.org", f"Name{i}", "Test").id for i in range(n)]


def send(config, store, issue, **options):
    sign_off(config, store, issue)
    opts = campaign.SendOptions(**{"batch_size": 10, "threads": 1, "backoff_base": 0.01, **options})
    return campaign.run_send(config, store, campaign.prepare_send(config, store, issue, opts))


def in_hours(hours: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(microsecond=0)


def sg_env(standin, **extra):
    return {
        "PAIN_NEWS_DELIVERY_PROVIDER": "sendgrid",
        "PAIN_NEWS_SENDGRID_HOST": standin.url,
        "SENDGRID_API_KEY": standin.api_key,
        "PAIN_NEWS_SENDGRID_TIMEOUT": "3",
        **REAL_NEWSLETTER,  # a list send's gates pass (pain_news/campaign/gates.py)
        **extra,
    }


@pytest.fixture
def sg_config(make_config, sendgrid_standin, store, sample_issue):
    config = make_config(sg_env(sendgrid_standin))
    publish_archive(config)
    sign_off(config, store, sample_issue)  # in the project's database, which `send` on the command line opens
    return config


def latest(store, issue="2026-12-winter"):
    found = CampaignLedger.for_store(store).latest(issue)
    assert found is not None
    return found


# ---- --at ----------------------------------------------------------------------------------


def test_at_puts_one_batch_id_and_send_at_on_every_request_and_records_the_schedule(
    sg_config, store, sample_issue, sendgrid_standin
):
    add_people(store, 25)
    at = in_hours(2)
    report = send(sg_config, store, sample_issue, at=at)
    assert report.ledger["sent"] == 25  # accepted by SendGrid with send_at: sent, as the ledger says
    bodies = sendgrid_standin.accepted
    assert len(bodies) == 3
    assert {b["send_at"] for b in bodies} == {int(at.timestamp())}
    [batch] = {b["batch_id"] for b in bodies}
    assert batch in sendgrid_standin.batches
    assert sendgrid_standin.api_calls == [("POST", "/v3/mail/batch")]
    record = latest(store)
    assert (record.scheduled_at, record.batch_id, record.cancelled_at) == (at, batch, None)


def test_a_resumed_scheduled_send_reuses_its_batch_id_and_send_at(
    sg_config, store, sample_issue, sendgrid_standin
):
    add_people(store, 25)
    at = in_hours(5)
    sendgrid_standin.script("202", "500")  # the second batch fails: the send stops part-way
    with pytest.raises(DeliveryError, match="gave up after 1 attempts"):
        send(sg_config, store, sample_issue, at=at, max_attempts=1)
    assert CampaignLedger.for_store(store).counts(latest(store).id)["sent"] == 10
    resumed = send(sg_config, store, sample_issue)  # no --at: the campaign keeps its time
    assert resumed.ledger["sent"] == 25
    assert len(sendgrid_standin.batches) == 1  # no second batch id
    [batch] = sendgrid_standin.batches
    assert {(b["send_at"], b["batch_id"]) for b in sendgrid_standin.accepted} == {
        (int(at.timestamp()), batch)
    }
    assert sorted(sendgrid_standin.recipients()) == [f"p{i:03d}@example.org" for i in range(25)]


def test_a_resumed_scheduled_send_refuses_a_different_time(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 15)
    sendgrid_standin.script("202", "500")
    with pytest.raises(DeliveryError):
        send(sg_config, store, sample_issue, at=in_hours(5), max_attempts=1)
    with pytest.raises(ScheduleError, match="a resumed send keeps its time"):
        send(sg_config, store, sample_issue, at=in_hours(6))


@pytest.mark.parametrize(
    "when, provider, message",
    [
        (in_hours(73), "sendgrid", "more than 72 hours ahead"),
        (in_hours(-1), "sendgrid", "is in the past"),
        (in_hours(2), "smtp", "--at needs the sendgrid provider; smtp delivers at once"),
        (in_hours(2), "outbox", "--at needs the sendgrid provider; outbox delivers at once"),
    ],
)
def test_send_at_is_refused_before_anything_is_sent(
    run_cli, store, sample_issue, project, sendgrid_standin, when, provider, message
):
    add_people(store, 3)
    env = sg_env(sendgrid_standin, PAIN_NEWS_DELIVERY_PROVIDER=provider)
    result = run_cli("send", str(sample_issue), "--at", when.isoformat(), "--yes", env=env, ok=False)
    assert result.exit_code == 1
    [line, *hint] = error_lines(result)
    assert message in line and "Traceback" not in result.stderr
    assert len(hint) == 1 and hint[0].startswith("Hint: ")
    assert CampaignLedger.for_store(store).latest(sample_issue.name) is None
    assert sendgrid_standin.requests == 0 and sendgrid_standin.api_calls == []
    assert not (project / "outbox").exists()


def test_send_at_with_test_is_a_usage_error(run_cli, sample_issue):
    result = run_cli("send", str(sample_issue), "--test", "--at", "2026-12-03T09:00Z", ok=False)
    assert result.exit_code == 2 and "--at schedules a list send" in result.stderr


# ---- reading the time -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-12-03T14:00Z", "2026-12-03T14:00:00+00:00"),
        ("2026-12-03T09:00-05:00", "2026-12-03T14:00:00+00:00"),
        ("2026-12-03T09:00", "2026-12-03T14:00:00+00:00"),  # America/New_York in December: EST
        ("2026-07-03 09:00", "2026-07-03T13:00:00+00:00"),  # and in July: EDT
    ],
)
def test_at_reads_iso_8601_and_local_times_in_the_clinics_zone(make_config, text, expected):
    config = make_config({"PAIN_NEWS_NEWSLETTER_TIMEZONE": "America/New_York"})
    assert parse_when(text, config).isoformat() == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("2026-03-08T02:30", "does not exist in America/New_York"),  # clocks go forward at 02:00
        ("2026-11-01T01:30", "happens twice in America/New_York"),  # and back at 02:00
        ("next tuesday", "is not an ISO 8601 time"),
    ],
)
def test_at_refuses_local_times_it_would_have_to_guess(make_config, text, message):
    config = make_config({"PAIN_NEWS_NEWSLETTER_TIMEZONE": "America/New_York"})
    with pytest.raises(ScheduleError, match=message):
        parse_when(text, config)


def test_a_local_time_without_a_configured_zone_is_refused(make_config):
    with pytest.raises(ScheduleError, match="newsletter.timezone is not set") as caught:
        parse_when("2026-12-03T09:00", make_config())
    assert "add Z" in (caught.value.hint or "")


def test_an_unknown_timezone_is_a_config_error_naming_the_setting(make_config):
    from pain_news.errors import ConfigError

    with pytest.raises(ConfigError, match="newsletter.timezone 'Mars/Olympus' is not an IANA time zone"):
        make_config({"PAIN_NEWS_NEWSLETTER_TIMEZONE": "Mars/Olympus"})


# ---- --cancel ------------------------------------------------------------------------------


def test_cancel_cancels_the_batch_records_it_and_report_and_campaigns_show_it(
    run_cli, store, sample_issue, sendgrid_standin, make_config
):
    add_people(store, 3)
    env = sg_env(sendgrid_standin, PAIN_NEWS_NEWSLETTER_TIMEZONE="America/New_York")
    publish_archive(make_config(env))
    sign_off(make_config(env), store, sample_issue)
    at = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    now = dt.datetime.now(dt.UTC)
    if not (now < at.astimezone(dt.UTC) < now + dt.timedelta(hours=72)):  # the fixed time must be schedulable
        at = in_hours(24).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    planned = run_cli("send", str(sample_issue), "--at", at.isoformat(), "--yes", env=env)
    assert f"Scheduled:  {at:%Y-%m-%d %H:%M} EST" in planned.stdout
    assert f"SendGrid holds what it accepted until {at:%Y-%m-%d %H:%M} EST" in planned.stdout
    listed = run_cli("campaigns", env=env).stdout
    assert f"(scheduled for {at:%Y-%m-%d %H:%M} EST)" in listed

    result = run_cli("send", str(sample_issue), "--cancel", env=env)
    assert "is cancelled: SendGrid discards its 3 messages" in result.stdout
    [batch] = sendgrid_standin.batches
    assert sendgrid_standin.batch_statuses == {batch: "cancel"}
    assert sendgrid_standin.delivered() == []
    assert ("POST", "/v3/user/scheduled_sends") in sendgrid_standin.api_calls

    data = json.loads(run_cli("report", str(sample_issue), "--format", "json", env=env).stdout)
    assert data["ledger"]["cancelled"] == 3 and data["ledger"]["sent"] == 0 and data["finished"]
    assert data["campaign"]["cancelled_at"] is not None
    table = run_cli("report", str(sample_issue), env=env).stdout
    assert f"was scheduled for {at:%Y-%m-%d %H:%M} EST" in table
    assert "cancelled" in run_cli("campaigns", env=env).stdout

    again = run_cli("send", str(sample_issue), "--yes", env=env, ok=False)
    assert again.exit_code == 1 and "was cancelled; nothing to resume" in again.stderr
    fresh = run_cli("send", str(sample_issue), "--yes", "--new-campaign", env=env)
    assert "sent 3" in fresh.stdout and len(sendgrid_standin.delivered()) == 3


def test_cancel_is_refused_once_the_time_is_near_or_past(sg_config, store, sample_issue, sendgrid_standin):
    add_people(store, 2)
    at = in_hours(1)
    send(sg_config, store, sample_issue, at=at)
    with pytest.raises(ScheduleError, match="too late to cancel"):
        cancel_send(sg_config, store, sample_issue.name, at + dt.timedelta(minutes=1))
    with pytest.raises(ScheduleError, match="no cancel in the last 10 minutes"):
        cancel_send(sg_config, store, sample_issue.name, at - dt.timedelta(minutes=5))
    assert sendgrid_standin.batch_statuses == {}
    assert latest(store).cancelled_at is None


def test_cancel_of_a_send_that_was_not_scheduled_is_refused(sg_config, store, sample_issue):
    add_people(store, 2)
    send(sg_config, store, sample_issue)
    with pytest.raises(ScheduleError, match="was not scheduled"):
        cancel_send(sg_config, store, sample_issue.name, dt.datetime.now(dt.UTC))


def test_cancel_after_a_crash_between_sendgrid_and_the_record_is_recorded_without_a_second_request(
    sg_config, store, sample_issue, sendgrid_standin
):
    from pain_news.delivery.sendgrid import SendgridProvider

    add_people(store, 2)
    send(sg_config, store, sample_issue, at=in_hours(3))
    record = latest(store)
    SendgridProvider(sg_config.sendgrid, sg_config.secrets.sendgrid_api_key).cancel_batch(record.batch_id)
    posts = sendgrid_standin.api_calls.count(("POST", "/v3/user/scheduled_sends"))
    result = cancel_send(sg_config, store, sample_issue.name, dt.datetime.now(dt.UTC))
    assert result.ledger["cancelled"] == 2
    assert sendgrid_standin.api_calls.count(("POST", "/v3/user/scheduled_sends")) == posts == 1


# ---- tracking pinned off -------------------------------------------------------------------


def test_every_request_pins_tracking_off_list_and_transactional(
    sg_config, store, sample_issue, sendgrid_standin
):
    from pain_news.delivery import send_transactional

    add_people(store, 15)
    send(sg_config, store, sample_issue)
    send_transactional(sg_config, to="new@example.org", subject="Confirm", text="t", html="<p>h</p>")
    assert len(sendgrid_standin.accepted) == 3
    assert all(body["tracking_settings"] == PINNED for body in sendgrid_standin.accepted)


def test_count_opens_turns_on_the_open_pixel_only(make_config, store, sample_issue, sendgrid_standin):
    config = make_config(sg_env(sendgrid_standin, PAIN_NEWS_SENDGRID_COUNT_OPENS="true"))
    publish_archive(config)
    add_people(store, 2)
    send(config, store, sample_issue)
    [body] = sendgrid_standin.accepted
    assert body["tracking_settings"] == PINNED | {"open_tracking": {"enable": True}}


# ---- the stand-in checks what SendGrid documents -------------------------------------------


def _mail(**extra):
    return {
        "personalizations": [{"to": [{"email": "a@example.org"}]}],
        "from": {"email": "news@example.org"},
        "subject": "s",
        "content": [{"type": "text/plain", "value": "x"}],
        **extra,
    }


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"send_at": "1700000000"}, "send_at parameter must be a Unix timestamp as an integer"),
        ({"send_at": 1_000_000 + 73 * 3600}, "more than 72 hours in advance"),
        ({"batch_id": "made-up"}, "batch id is not valid"),
        ({"tracking_settings": {"click_tracking": {"enable": "no"}}}, "enable parameter is required"),
        ({"tracking_settings": {"open_tracking": {"enable": False, "pixel": 1}}}, "pixel parameter"),
        ({"tracking_settings": {"clicks": {"enable": False}}}, "Unknown tracking setting clicks"),
    ],
)
def test_the_standin_refuses_what_sendgrid_refuses(extra, message):
    errors = validate_mail(_mail(**extra), batches={"known"}, now=1_000_000)
    assert message in " | ".join(e["message"] for e in errors)


def test_the_standin_takes_a_known_batch_and_a_near_send_at():
    assert (
        validate_mail(_mail(send_at=1_000_000 + 3600, batch_id="known"), batches={"known"}, now=1_000_000)
        == []
    )


def test_a_local_time_in_the_past_is_refused_in_the_clinics_own_time(
    run_cli, store, sample_issue, project, sendgrid_standin
):
    add_people(store, 1)
    env = sg_env(sendgrid_standin, PAIN_NEWS_NEWSLETTER_TIMEZONE="America/New_York")
    result = run_cli("send", str(sample_issue), "--at", "2026-01-05 09:00", "--yes", env=env, ok=False)
    [line, *_] = error_lines(result)
    assert "--at 2026-01-05 09:00 EST is in the past" in line
    assert "UTC" not in result.stderr


def test_schedule_errors_show_times_in_the_given_zone():
    import zoneinfo

    from pain_news.campaign.schedule import check_window

    zone = zoneinfo.ZoneInfo("America/Chicago")
    now = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    with pytest.raises(
        ScheduleError, match=r"--at 2026-12-01 09:00 CST is in the past \(now 2026-12-01 12:00 CST\)"
    ):
        check_window(dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC), now, zone)
    with pytest.raises(
        ScheduleError, match=r"--at 2026-12-05 09:00 CST is more than 72 hours ahead"
    ) as raised:
        check_window(dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC), now, zone)
    assert raised.value.hint is not None and "from 2026-12-02 09:00 CST" in raised.value.hint


def test_an_eleventh_cancel_is_not_refused_once_earlier_cancelled_times_have_passed(
    sg_config, store, sample_issue, sendgrid_standin
):
    """SendGrid keeps at most 10 paused or cancelled batches; a cancelled send whose time has
    passed gets its status deleted (DELETE /v3/user/scheduled_sends/{batch_id})."""
    from pain_news.ledger import NewCampaign

    ledger = CampaignLedger.for_store(store)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    old_batches = []
    for i in range(10):  # ten earlier scheduled sends, cancelled, their times passed
        batch = f"old-batch-{i}"
        sendgrid_standin.batches.add(batch)
        sendgrid_standin.batch_statuses[batch] = "cancel"
        new = NewCampaign(
            issue=f"old-{i}",
            subject="s",
            provider="sendgrid",
            html="h",
            text="t",
            seen_campaign_id=None,
            scheduled_at=past,
            batch_id=batch,
        )
        created = ledger.create(new)
        assert created.campaign_id is not None
        ledger.mark_cancelled(created.campaign_id, past - dt.timedelta(hours=1))
        old_batches.append(batch)
    add_people(store, 2)
    send(sg_config, store, sample_issue, at=in_hours(3))
    cancelled = cancel_send(sg_config, store, "2026-12-winter", dt.datetime.now(dt.UTC))
    assert cancelled.ledger["cancelled"] == 2
    deleted = [p for m, p in sendgrid_standin.api_calls if m == "DELETE"]
    assert deleted == [f"/v3/user/scheduled_sends/{b}" for b in old_batches]
    assert list(sendgrid_standin.batch_statuses.values()) == ["cancel"]  # only the new one
