"""Templates compile once and are kept in the cache folder: a second process compiles none, builds
the same bytes, and an edited template is compiled afresh."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.fixtures.core import ROOT, SAMPLE_ISSUE

SCRIPT = """
import hashlib, sys
from pathlib import Path
import jinja2
compiled = []
real = jinja2.Environment.compile
def counting(self, *args, **kwargs):
    compiled.append(1)
    return real(self, *args, **kwargs)
jinja2.Environment.compile = counting
from pain_news.config.settings import NewsletterSettings
from pain_news.issue.loader import load_issue
from pain_news.render.pipeline import render_issue
news = NewsletterSettings(postal_address="1 Main St, Town, ST 00000", public_url="https://news.example.org")
rendered = render_issue(load_issue(Path(sys.argv[1]), news.public_url), news, Path(sys.argv[2]))
digest = hashlib.sha256((rendered.email_html + rendered.email_text + rendered.web_html).encode()).hexdigest()
print(len(compiled), digest)
"""


def render_in_a_new_process(cache: Path, templates: Path) -> tuple[int, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SAMPLE_ISSUE), str(templates)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(out[0]), out[1]


def test_a_second_process_compiles_no_template_and_builds_the_same_bytes(tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    first_compiled, first = render_in_a_new_process(tmp_path / "cache", templates)
    assert first_compiled >= 5
    assert list((tmp_path / "cache" / "pain-news" / "jinja").glob("*.cache"))
    second_compiled, second = render_in_a_new_process(tmp_path / "cache", templates)
    assert (second_compiled, second) == (0, first)
    # An edited template is compiled afresh, never served stale.
    footer = templates / "footer.mjml.j2"
    footer.write_text(footer.read_text().replace("See all conditions", "All our conditions"))
    edited_compiled, edited = render_in_a_new_process(tmp_path / "cache", templates)
    assert edited_compiled == 1 and edited != first
