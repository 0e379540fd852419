"""`report --html`: the page passes axe-core in Chromium, opened from the file with the network off,
and is screenshotted to tests/artifacts/report-page.png."""

from __future__ import annotations

import pytest

from pain_news.campaign.report import campaign_report, find_campaign
from pain_news.campaign.report_page import write_report_page
from pain_news.config.settings import DeliverySettings
from tests import test_campaign
from tests.browser import test_axe
from tests.browser.test_axe import WEB, Audit
from tests.test_report import two_campaigns

pytestmark = pytest.mark.browser
sg_config = test_campaign.sg_config  # every gate passes (tests/test_campaign.py)
axe, open_page = test_axe.axe, test_axe.open_page  # axe-core and a page per colour scheme


def test_the_report_page_passes_axe_offline_and_draws_its_charts(
    sg_config, store, sample_issue, tmp_path, open_page, axe, artifacts
):
    first, _ = two_campaigns(sg_config, store, sample_issue)
    report = campaign_report(store, find_campaign(store, campaign_id=first))
    page_file = write_report_page(tmp_path / "report.html", report, DeliverySettings())
    requests = []
    page = open_page(page_file.as_uri(), "light", width=1000)
    page.on("request", lambda r: requests.append(r.url))
    page.reload()
    assert requests == [page_file.as_uri()]  # the page asks for nothing but itself
    charts = page.locator("svg[role=img]")
    assert charts.count() == 4
    assert page.locator("svg[role=img] rect, svg[role=img] path").count() > 20  # drawn, not empty
    audit = Audit(axe, artifacts, "light")
    audit.run("report-page", page, WEB)
    page.screenshot(path=str(artifacts / "report-page.png"), full_page=True)
    audit.check()
