"""Build benchmark: the sample issue in-process and as a process, beside the official MJML (npm)."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from common import median_process_seconds, median_seconds, ms, table

ROOT = Path(__file__).resolve().parents[1]
ISSUE = ROOT / "issues" / "2026-12-winter"
NPM_DIR = ROOT / "bench" / ".work" / "_npm-mjml"  # kept between runs: npm install is the slow part
SITE_DIR = ROOT / "bench" / ".work" / "_site-premailer"

NODE_INPROCESS = r"""
const fs = require('fs');
const mjml2html = require('mjml');
const src = fs.readFileSync(process.argv[2], 'utf8');
(async () => {
  for (let i = 0; i < 5; i++) await mjml2html(src);
  const times = [];
  for (let i = 0; i < 50; i++) {
    const t = process.hrtime.bigint();
    const out = await mjml2html(src);
    if (!out.html) throw new Error('no html');
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({median_ms: (times[24] + times[25]) / 2}));
})();
"""


def _official_mjml(work: Path, mjml_file: Path) -> tuple[str, str, str]:
    """(in-process median, CLI median, version) of npm's mjml, or reasons it could not run."""
    if not shutil.which("node") or not shutil.which("npm"):
        return "node not installed", "node not installed", "-"
    if not (NPM_DIR / "node_modules" / "mjml").is_dir():
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "--silent", "mjml@5"],
            check=True,
            capture_output=True,
        )
    version = json.loads((NPM_DIR / "node_modules" / "mjml" / "package.json").read_text())["version"]
    script = work / "mjml-inprocess.js"
    script.write_text(NODE_INPROCESS)
    env = {**os.environ, "NODE_PATH": str(NPM_DIR / "node_modules")}
    out = subprocess.run(
        ["node", str(script), str(mjml_file)], check=True, capture_output=True, text=True, env=env
    )
    inprocess = json.loads(out.stdout.strip().splitlines()[-1])["median_ms"] / 1000
    cli = median_process_seconds(
        [str(NPM_DIR / "node_modules" / ".bin" / "mjml"), str(mjml_file), "-o", str(work / "npm-out.html")],
        10,
    )
    return ms(inprocess), ms(cli), version


def _premailer(html: str) -> str:
    """Median premailer time on the same HTML (installed aside, for this comparison only)."""
    try:
        if str(SITE_DIR) not in sys.path:
            sys.path.insert(0, str(SITE_DIR))
        import premailer  # noqa: F401
    except ImportError:
        try:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--target",
                    str(SITE_DIR),
                    "premailer==3.10.0",
                ],
                check=True,
                capture_output=True,
            )
        except subprocess.CalledProcessError:
            return "could not install"
        importlib.invalidate_caches()
    import logging

    import premailer

    logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
    return ms(
        median_seconds(
            lambda: premailer.Premailer(
                html,
                allow_network=False,
                strip_important=False,
                keep_style_tags=True,
                disable_validation=True,
                cssutils_logging_level=logging.CRITICAL,
            ).transform(),
            20,
        )
    )


def run(work: Path) -> str:
    load = os.getloadavg()[0]  # the targets are for a quiet machine (load under 1)
    from mjml import mjml2html

    from pain_news.checks.run import checked_build
    from pain_news.config.settings import load_config
    from pain_news.issue.loader import load_issue
    from pain_news.render.pipeline import inline_css, issue_mjml, render_issue

    config = load_config(ROOT / "pain-news.toml", env={})
    issue = load_issue(ISSUE, config.newsletter.public_url)
    mjml_text = issue_mjml(issue, config.newsletter, config.templates_dir)
    mjml_file = work / "sample.mjml"
    mjml_file.write_text(mjml_text)
    raw_html = mjml2html(mjml_text, disable_comments=True, fonts={})

    # What `pain-news build` does in-process: load, render, the error checks, write.
    whole = median_seconds(lambda: checked_build(config, ISSUE, work / "out"), 50)
    stages = [
        (
            "load issue (TOML, YAML, markdown)",
            median_seconds(lambda: load_issue(ISSUE, config.newsletter.public_url), 50),
        ),
        (
            "render all parts (templates, MJML ×2, inline ×2, text)",
            median_seconds(lambda: render_issue(issue, config.newsletter, config.templates_dir), 50),
        ),
        (
            "mjml-python on the email MJML",
            median_seconds(lambda: mjml2html(mjml_text, disable_comments=True, fonts={}), 50),
        ),
        ("css-inline on the email HTML", median_seconds(lambda: inline_css(raw_html), 50)),
    ]
    pn = shutil.which("pain-news") or str(Path(sys.executable).with_name("pain-news"))
    process = median_process_seconds([pn, "build", str(ISSUE), "--out", str(work / "proc-out")], 10, cwd=ROOT)
    help_time = median_process_seconds([pn, "--help"], 10, cwd=ROOT)
    npm_inprocess, npm_cli, npm_version = _official_mjml(work, mjml_file)
    premailer_time = _premailer(raw_html)

    out = ["## Build\n", f"Load average when this section started: {load:.1f} (2 cores).\n"]
    out.append(
        table(
            ["what", "Pain News", "official MJML (npm mjml " + npm_version + ")", "target"],
            [
                [
                    "sample issue, in-process, checks included (median of 50)",
                    ms(whole),
                    npm_inprocess + " (MJML → HTML only)",
                    "≤ 15 ms",
                ],
                [
                    "`pain-news build` as a process (median of 10)",
                    ms(process),
                    npm_cli + " (`mjml` CLI, MJML → HTML only)",
                    "≤ 150 ms",
                ],
                [
                    "`pain-news --help` as a process (median of 10)",
                    ms(help_time),
                    "",
                    "fast start (lazy imports)",
                ],
            ],
        )
    )
    out.append("\nStages of the in-process build (medians of 50):\n")
    out.append(table(["stage", "time"], [[name, ms(t)] for name, t in stages]))
    out.append(
        "\nCSS inliner on the same MRML output (medians): css-inline "
        + ms(stages[3][1])
        + ", premailer 3.10 (network off, `!important` kept) "
        + premailer_time
        + ".\n"
    )
    return "\n".join(out)
