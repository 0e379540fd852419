"""`report --html FILE`: one self-contained page of a campaign's figures, its timeline, and every
campaign's list size and rates against the mailbox providers' limits (docs/sending.md#the-report).

The charts are drawn by pygal as SVG and put inline: the page loads nothing from anywhere (no
script, stylesheet, font or image of its own), so it opens offline and can be mailed as a file.
pygal's chart ids are named after each chart (not random) and its generation comment and
configuration script are left out, so the same figures always write the same page.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from pain_news.campaign.deliverability import PROVIDER_COMPLAINT_LIMIT, percent
from pain_news.errors import OutputError
from pain_news.ledger import TIMELINE_SERIES

if TYPE_CHECKING:
    from pain_news.campaign.report import CampaignReport
    from pain_news.config.settings import DeliverySettings

TEMPLATE = Path(__file__).with_name("report_page.html.j2")
SVG = "http://www.w3.org/2000/svg"
# Dark enough on white for WCAG AA text, told apart by more than hue (each series also has its name).
COLOURS = ("#1f5f99", "#2e7d32", "#b3261e", "#6a1b9a", "#8a5a00", "#37474f")
LEVEL_WORDS = {
    "ok": "under the limit",
    "warning": "over our limit",
    "over": "over the limit",
    "info": "no limit",
}


def write_report_page(path: Path, report: CampaignReport, limits: DeliverySettings) -> Path:
    """Write the page to `path` (replacing it whole) and return it."""
    page = render_report_page(report, limits)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(page, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise OutputError(f"cannot write the report page: {exc.strerror}", path=path) from None
    return path


def render_report_page(report: CampaignReport, limits: DeliverySettings) -> str:
    """The page as text."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    c = report.campaign
    charts = {
        "timeline": _timeline_chart(report.timeline),
        "growth": _growth_chart(report.history),
        "complaints": _rate_chart(
            report.history,
            "complaints",
            "Complaint rate per campaign (%)",
            {"our limit": limits.max_complaint_rate, "providers' limit": PROVIDER_COMPLAINT_LIMIT},
        ),
        "bounces": _rate_chart(
            report.history, "bounces", "Bounce rate per campaign (%)", {"our limit": limits.max_bounce_rate}
        ),
    }
    return env.get_template(TEMPLATE.name).render(
        campaign=c,
        ledger=report.ledger,
        opt_outs=report.opt_outs,
        rates=[
            {"line": r, "rate": percent(r.rate), "limit": percent(r.limit) if r.limit else "none"}
            for r in report.rates
        ],
        level_words=LEVEL_WORDS,
        timeline=report.timeline,
        series=TIMELINE_SERIES,
        history=report.history,
        charts=charts,
    )


def _style() -> Any:
    # lazy: pygal (≈0.5 s to import) loads only when a page is written
    from pygal.style import Style  # type: ignore[import-untyped]

    return Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1a1a1a",
        foreground_strong="#000000",
        foreground_subtle="#4a4a4a",
        colors=COLOURS,
        font_family="system-ui, sans-serif",
        opacity="1",
        opacity_hover="1",
    )


def _chart(kind: str, name: str, title: str, labels: list[str]) -> Any:
    # lazy: pygal (≈0.5 s to import) loads only when a page is written
    import pygal  # type: ignore[import-untyped]

    chart = getattr(pygal, kind)(
        style=_style(),
        title=title,
        js=[],
        disable_xml_declaration=True,
        width=800,
        height=360,
        x_label_rotation=20 if len(labels) > 4 else 0,
        legend_at_bottom=True,
        print_values=False,
        show_minor_x_labels=True,
    )
    chart.uuid = name  # chart-<name>: the page is the same for the same figures
    chart.x_labels = labels
    return chart


def _timeline_chart(timeline: list[dict[str, Any]]) -> Markup:
    chart = _chart("Bar", "timeline", "What happened, hour by hour", [row["hour"] for row in timeline])
    for series in TIMELINE_SERIES:
        chart.add(series, [row[series] for row in timeline])
    return _inline(chart, "What happened, hour by hour: sent, delivered, bounces, complaints, unsubscribes")


def _growth_chart(history: list[dict[str, Any]]) -> Markup:
    chart = _chart("Line", "growth", "The list at each campaign", [_label(p) for p in history])
    chart.add("on the list", [p["on_list"] for p in history])
    chart.add("sent", [p["sent"] for p in history])
    return _inline(chart, "The list at each campaign: addresses on the list and messages sent")


def _rate_chart(history: list[dict[str, Any]], figure: str, title: str, limits: dict[str, float]) -> Markup:
    chart = _chart("Line", figure, title, [_label(p) for p in history])
    chart.add(f"{figure} rate", [round(p["rates"][figure]["rate"] * 100, 3) for p in history])
    for name, limit in limits.items():
        chart.add(
            f"{name} {percent(limit)}",
            [limit * 100] * len(history),
            show_dots=False,
            stroke_style={"width": 2, "dasharray": "6, 4"},
        )
    return _inline(chart, f"{title} against " + ", ".join(f"{n} {percent(v)}" for n, v in limits.items()))


def _label(point: dict[str, Any]) -> str:
    return f"#{point['campaign']} {point['created_at'][:10]}"


def _inline(chart: Any, description: str) -> Markup:
    """The chart's SVG for an HTML page: an image with a name, no script, no comment."""
    ET.register_namespace("", SVG)
    ET.register_namespace("xlink", "http://www.w3.org/1999/xlink")
    root = ET.fromstring(chart.render(is_unicode=True))  # comments are dropped by the parser
    for defs in root.iter(f"{{{SVG}}}defs"):
        for script in defs.findall(f"{{{SVG}}}script"):
            defs.remove(script)
    root.set("role", "img")
    root.set("aria-label", description)
    root.set("width", "100%")
    title = ET.Element(f"{{{SVG}}}title")
    title.text = description
    root.insert(0, title)
    return Markup(ET.tostring(root, encoding="unicode"))
