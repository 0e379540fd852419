"""The footer's legal checks read the email as a reader sees it: a postal address split across two
lines of the built HTML (pain_news/render/linewrap.py breaks lines at spaces) is still there."""

from __future__ import annotations

import dataclasses

import pytest

from pain_news.checks import CheckInput
from pain_news.checks.output import check_output
from pain_news.checks.run import check_issue
from pain_news.issue.loader import read_issue
from pain_news.render.pipeline import render_issue

CLINIC = "4100 Liberty Avenue, Suite 300, Pittsburgh, PA 15224"

# Real-shaped US addresses of varied lengths (street numbers, suites, PO boxes, ZIP+4, apostrophes,
# ampersands and '#', one written on two lines); none is a real clinic's.
ADDRESSES = [
    CLINIC,
    "1 Main St, Erie, PA 16501",
    "PO Box 77, Ligonier, PA 15658",
    "12 Elm St., Apt 3, Dover, DE 19901",
    "500 Grant Street, Pittsburgh, PA 15219-2502",
    "2200 O'Hara Street, Suite 4, Pittsburgh, PA 15213",
    "77 Penn & Main Plaza, Floor 2, Wheeling, WV 26003",
    "3459 Fifth Avenue, Presbyterian Building, Floor 7, Pittsburgh, PA 15213",
    "18 Market Square #210, Pittsburgh, PA 15222",
    "9 W. Broad St., Columbus, OH 43215",
    "1600 Smallman St, Unit 12B, Pittsburgh, PA 15222",
    "200 Lothrop Street, Suite F-1200, Pittsburgh, PA 15213-2582",
    "45 Route 22 East, Bldg C, Monroeville, PA 15146",
    "8 Chestnut Ridge Rd, Latrobe, PA 15650",
    "1000 Waterdam Plaza Drive, Suite 205, McMurray, PA 15317",
    "3 N. Main Street, Washington, PA 15301",
    "640 Fifth Ave, Coraopolis, PA 15108",
    "7 Station Square Dr, Suite 100, Pittsburgh, PA 15219",
    "4815 Liberty Ave, Suite 439, Pittsburgh, PA 15224",
    "2570 Haymaker Road, Suite 100, Monroeville, PA 15146-3513",
    "301 Halket Street, Pittsburgh, PA 15213",
    "11279 Perry Highway, Suite 310, Wexford, PA 15090",
    "135 Gamma Drive, O'Hara Township, PA 15238",
    "1350 Locust St, Pittsburgh, PA 15219",
    "6001 Stonewood Drive, Suite 2 & 3, Wexford, PA 15090",
    "401 Shady Ave, Pittsburgh, PA 15206",
    "1 Allegheny Square East, Suite 1000, Pittsburgh, PA 15212",
    "94 Dorothy Lane, Youngstown, OH 44512",
    "2001 Route 286 Suite 5, Pittsburgh, PA 15239",
    "5 Parkway Center, 875 Greentree Road, Suite 400, Pittsburgh, PA 15220",
    "100 Technology Drive\nSuite 250\nPittsburgh, PA 15219",
    "PO Box 9, 1 River Road, Morgantown, WV 26505",
]


def postal_findings(data: CheckInput) -> list[str]:
    return [f.one_line() for f in check_output(data) if f.code == "postal-address"]


def split_at_every_space(body: str, needle: str) -> list[str]:
    """`body` once for each space of `needle` in it, that space made a line break (as linewrap does)."""
    start = body.index(needle)
    spaces = [start + i for i, ch in enumerate(needle) if ch == " "]
    return [body[:i] + "\n" + body[i + 1 :] for i in spaces]


@pytest.mark.parametrize("address", ADDRESSES)
def test_postal_address_split_at_any_line_break_is_found(make_config, make_issue, address):
    config = make_config({"PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS": address})
    loaded = read_issue(make_issue(), config.newsletter.public_url, config.topic_keys)
    assert loaded.issue is not None
    rendered = render_issue(loaded.issue, config.newsletter, config.templates_dir)
    assert postal_findings(CheckInput(config, loaded, rendered)) == []

    one_line = address.replace("\n", ", ").replace("&", "&amp;")
    [shown] = {s for s in (one_line, one_line.replace("'", "&#39;")) if s in rendered.email_html}
    html_cases = split_at_every_space(rendered.email_html, shown)
    text_line = address.splitlines()[0]
    text_cases = split_at_every_space(rendered.email_text, text_line)
    assert html_cases, "the address has spaces to break at"
    for email_html in html_cases:
        variant = dataclasses.replace(rendered, email_html=email_html)
        assert postal_findings(CheckInput(config, loaded, variant)) == []
    for email_text in text_cases:
        variant = dataclasses.replace(rendered, email_text=email_text)
        assert postal_findings(CheckInput(config, loaded, variant)) == []


def test_clinic_address_wrapped_by_the_real_build_is_no_error(make_config, make_issue):
    """The walk-through's case: text before the address (a long conditions link, the clinic's name)
    moves a wrapped line's break into the address."""
    issue = make_issue()
    split_seen = 0
    for extra in range(0, 400, 7):
        url = "https://www.tristatepain.example.org/conditions/" + "a" * extra
        name = "TriState Pain Institute" + " of Western Pennsylvania" * (extra % 5)
        config = make_config(
            {
                "PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS": CLINIC,
                "PAIN_NEWS_NEWSLETTER_CONDITIONS_URL": url,
                "PAIN_NEWS_NEWSLETTER_FROM_NAME": name,
            }
        )
        loaded = read_issue(issue, config.newsletter.public_url, config.topic_keys)
        assert loaded.issue is not None
        html = render_issue(loaded.issue, config.newsletter, config.templates_dir).email_html
        split_seen += CLINIC not in html
        if CLINIC not in html:  # the whole check, as check/build/send run it, passes all the same
            assert [f for f in check_issue(config, issue) if f.code == "postal-address"] == []
    assert split_seen, "no conditions URL length moved a line break into the address"


def test_address_really_missing_is_still_an_error(make_config, make_issue):
    config = make_config({"PAIN_NEWS_NEWSLETTER_POSTAL_ADDRESS": CLINIC})
    loaded = read_issue(make_issue(), config.newsletter.public_url, config.topic_keys)
    assert loaded.issue is not None
    rendered = render_issue(loaded.issue, config.newsletter, config.templates_dir)
    broken = dataclasses.replace(rendered, email_html=rendered.email_html.replace("Suite 300", "Suite 301"))
    [message] = postal_findings(CheckInput(config, loaded, broken))
    assert "the postal address is missing from the output" in message
