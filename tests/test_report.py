"""`report`: rates against the mailbox providers' limits (table, coloured; JSON) and the
self-contained HTML page with its charts, after sends to the SendGrid stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import time

from click.testing import CliRunner

from pain_news.campaign.report import campaign_report, find_campaign
from pain_news.campaign.report_page import render_report_page
from pain_news.config.settings import DeliverySettings
from pain_news.sendgrid.webhook import apply_events
from tests import test_campaign
from tests.test_campaign import add_people, send

sg_config = test_campaign.sg_config  # every gate passes (tests/test_campaign.py)


def events(kind, addresses, campaign_id, **extra):
    return [
        {
            "email": a,
            "event": kind,
            "sg_event_id": f"{kind}-{campaign_id}-{a}",
            "timestamp": int(time.time()),
            "campaign_id": str(campaign_id),
            **extra,
        }
        for a in addresses
    ]


def two_campaigns(config, store, issue):
    """A first campaign to 40 with one complaint and one bounce, then a second one to 50."""
    add_people(store, 40)
    first = send(config, store, issue, no_canary=True)
    sent = [f"p{i:03d}@example.org" for i in range(40)]
    apply_events(store, events("spamreport", sent[:1], first.campaign_id))
    apply_events(store, events("bounce", sent[1:2], first.campaign_id, type="bounce"))
    apply_events(store, events("delivered", sent[2:30], first.campaign_id))
    add_people(store, 10, start=40)
    second = send(config, store, issue, new_campaign=True, no_canary=True)
    return first.campaign_id, second.campaign_id


def test_rates_stand_beside_the_limits_with_a_level_each(sg_config, any_store, sample_issue):
    first, _ = two_campaigns(sg_config, any_store, sample_issue)
    report = campaign_report(any_store, find_campaign(any_store, campaign_id=first))
    by_name = {r.name: r for r in report.rates}
    assert (by_name["complaints"].count, by_name["complaints"].sent) == (1, 40)
    assert by_name["complaints"].level == "over"  # 2.5%: past the providers' 0.3%
    assert by_name["bounces"].level == "warning" or by_name["bounces"].level == "over"
    assert by_name["unsubscribes"].level == "info"
    lines = list(report.lines(paint=lambda text, level: f"<{level}>{text}"))
    assert "<over>  OVER     complaints 1 of 39 sent" not in lines  # the sent count is the ledger's
    assert (
        "<over>  OVER     complaints 1 of 40 sent = 2.50% (limit 0.10%; mailbox providers throttle above 0.30%)"
        in lines
    )
    assert "<over>  OVER     bounces 1 of 40 sent = 2.50% (limit 2.00%)" in lines


def test_a_clean_campaign_is_ok_and_a_complaint_between_the_limits_is_a_warning(store):
    from pain_news.campaign.deliverability import Rate

    ok = Rate(name="complaints", count=0, sent=500, limit=0.001, hard_limit=0.003)
    warn = Rate(name="complaints", count=1, sent=500, limit=0.001, hard_limit=0.003)  # 0.2%
    assert (ok.level, warn.level, warn.crossed) == ("ok", "warning", True)


def test_report_colours_the_rates_on_a_terminal(sg_config, store, sample_issue, project, monkeypatch):
    from pain_news.cli import cli

    first, _ = two_campaigns(sg_config, store, sample_issue)
    monkeypatch.chdir(project)
    result = CliRunner().invoke(cli, ["report", "--campaign", str(first)], color=True, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "\x1b[31m\x1b[1m  OVER     complaints 1 of 40 sent" in result.stdout  # red, bold
    plain = CliRunner().invoke(cli, ["report", "--campaign", str(first)], catch_exceptions=False)
    assert "\x1b[" not in plain.stdout and "  OVER     complaints 1 of 40 sent" in plain.stdout


def test_json_has_the_rates_the_timeline_and_the_history(sg_config, any_store, sample_issue):
    first, second = two_campaigns(sg_config, any_store, sample_issue)
    report = campaign_report(any_store, find_campaign(any_store, campaign_id=first))
    data = json.loads(report.to_json())
    assert data["rates"]["complaints"] == {
        "count": 1,
        "sent": 40,
        "rate": 0.025,
        "limit": 0.001,
        "provider_limit": 0.003,
        "level": "over",
    }
    assert sum(row["sent"] for row in data["timeline"]) == 40
    assert sum(row["delivered"] for row in data["timeline"]) == 28
    assert sum(row["complaints"] for row in data["timeline"]) == 1
    assert [(p["campaign"], p["on_list"], p["sent"]) for p in data["history"]] == [
        (first, 40, 40),
        (second, 50, 48),  # the complainer and the bounced address are not mailed again
    ]


def test_the_html_page_is_self_contained_and_the_same_for_the_same_figures(
    sg_config, store, sample_issue, run_cli, tmp_path
):
    first, _ = two_campaigns(sg_config, store, sample_issue)
    out = tmp_path / "reports" / "winter.html"
    result = run_cli("report", "--campaign", str(first), "--html", str(out))
    assert f"Report page: {out}" in result.stdout
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 4 and page.count('role="img"') == 4
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)  # nothing from elsewhere
    assert "pygal.js" not in page and "Generated with pygal" not in page
    report = campaign_report(store, find_campaign(store, campaign_id=first))
    assert render_report_page(report, DeliverySettings()) == render_report_page(report, DeliverySettings())


def test_report_html_to_a_folder_that_cannot_be_written_is_one_clear_line(
    sg_config, store, sample_issue, run_cli, tmp_path
):
    first, _ = two_campaigns(sg_config, store, sample_issue)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run_cli("report", "--campaign", str(first), "--html", str(blocker / "r.html"), ok=False)
    assert result.exit_code == 1 and "cannot write the report page" in result.stderr
    assert "Traceback" not in result.stderr
