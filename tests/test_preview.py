"""pain-news preview: a real server on a free port, fetched over HTTP and opened in headless Chromium."""

from __future__ import annotations

import http.client
import struct
import time
from urllib.parse import urlsplit

import httpx
import pytest

from pain_news.publish.preview import PreviewState
from pain_news.web.preview import running, running_state


def test_preview_serves_page_email_text_and_version(config, sample_issue):
    with running(config, sample_issue) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200
        assert "Pain after back surgery? You have options" in page.text  # subject, as an inbox shows it
        assert "staying active in the cold" in page.text  # preheader
        assert "2026-12-winter: 0 errors, 0 warnings" in page.text
        assert 'width="600"' in page.text and 'width="375"' in page.text
        email = httpx.get(f"{url}/issue/email.html")
        assert email.status_code == 200
        assert "Dear Maria," in email.text  # the sample subscriber from config fills the placeholders
        assert "%%" not in email.text
        assert "Dear Maria," in httpx.get(f"{url}/issue/email.txt").text
        assert httpx.get(f"{url}/version").json() == {"version": 1}


NOT_SERVED = b"not found: the preview serves only the files the issue uses"


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET `path` exactly as written: httpx (like browsers) would resolve '..' before sending it."""
    parts = urlsplit(url)
    assert parts.hostname is not None
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_preview_serves_only_the_issues_own_files(config, make_issue):
    folder = make_issue(
        files={
            "01-article.md": "---\nkind: article\ntitle: Walk\n---\n\n![A short walk](walk.png)\n",
            "walk.png": b"\x89PNG-test",
            "notes.txt": "private",
        }
    )
    with running(config, folder) as url:
        assert httpx.get(f"{url}/issue/walk.png").content == b"\x89PNG-test"
        assert raw_get(url, "/issue/notes.txt") == (404, NOT_SERVED)
        # These reach the asset route itself (its own 404 body, not the router's "Not Found").
        for path in ("/issue/../../pain-news.toml", "/issue/..%2F..%2Fpain-news.toml", "/issue//etc/passwd"):
            assert raw_get(url, path) == (404, NOT_SERVED), path


@pytest.mark.parametrize("how", ["dot-dot link", "symlink out"])
def test_preview_never_serves_a_file_outside_the_issue_even_when_linked(config, make_issue, project, how):
    if how == "dot-dot link":
        folder = make_issue(
            files={
                "01-article.md": "---\nkind: article\ntitle: Walk\n---\n\n[Settings](../../pain-news.toml)\n"
            }
        )
        path = "/issue/../../pain-news.toml"
    else:
        folder = make_issue(
            files={"01-article.md": "---\nkind: article\ntitle: Walk\n---\n\n![A walk](walk.png)\n"}
        )
        (folder / "walk.png").symlink_to(project / "pain-news.toml")
        path = "/issue/walk.png"
    with running(config, folder) as url:
        assert raw_get(url, path) == (404, NOT_SERVED)
        assert "outside the issue folder" in httpx.get(f"{url}/").text  # the editor is told why


def test_preview_of_a_broken_issue_shows_the_findings(config, make_issue):
    folder = make_issue(files={"02-spotlight.md": "---\nkind: spotlight\n---\n\n## Causes\n\n- x\n"})
    with running(config, folder) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200
        assert "The issue does not build" in page.text
        assert "spotlight needs &#39;condition&#39;" in page.text
        assert httpx.get(f"{url}/issue/email.html").status_code == 500


def test_preview_rebuilds_when_a_source_changes(config, sample_issue):
    state = PreviewState(config, sample_issue)
    first = state.current()
    assert state.current().version == first.version  # nothing changed, nothing rebuilt
    piece = sample_issue / "02-winter-activity.md"
    piece.write_text(piece.read_text().replace("Gentle movement helps", "Gentle stretching helps"))
    second = state.current()
    assert second.version == first.version + 1
    assert second.email_html is not None and "Gentle stretching helps" in second.email_html


@pytest.mark.browser
def test_preview_in_chromium_shows_both_widths_and_reloads_after_an_edit(
    config, sample_issue, page_at, artifacts
):
    with running(config, sample_issue) as url:
        page = page_at(1280)
        page.goto(f"{url}/")
        for name, width in (("desktop", 600), ("phone", 375)):
            frame = page.frame_locator(f"#frame-{name}")
            frame.locator("h1").wait_for()
            assert frame.locator("h1").inner_text() == "Pain News"
            assert "Dear Maria" in frame.locator("body").inner_text()
            assert page.locator(f"#frame-{name}").evaluate(
                "f => f.getBoundingClientRect().width"
            ) == pytest.approx(width, abs=2)
        # The phone frame really lays out at 375 px: the two half-width articles stack.
        phone_width = page.frame_locator("#frame-phone").locator("body").evaluate("b => b.clientWidth")
        assert phone_width <= 375
        page.screenshot(path=str(artifacts / "preview-page.png"), full_page=True)

        piece = sample_issue / "02-winter-activity.md"
        piece.write_text(
            piece.read_text().replace("Keep moving when it is cold", "Stay warm and keep moving")
        )
        deadline = time.monotonic() + 15
        while (
            "Stay warm and keep moving"
            not in page.frame_locator("#frame-desktop").locator("body").inner_text()
        ):
            assert time.monotonic() < deadline, "the page did not reload after the edit"
            page.wait_for_timeout(200)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.browser
def test_screenshot_saves_desktop_and_phone_pngs(run_cli, sample_issue, chromium, artifacts):
    out = artifacts / "preview"
    result = run_cli("preview", str(sample_issue), "--screenshot", str(out))
    assert "desktop.png" in result.stdout and "phone.png" in result.stdout
    desktop_width, desktop_height = _png_size((out / "desktop.png").read_bytes())
    phone_width, phone_height = _png_size((out / "phone.png").read_bytes())
    assert (desktop_width, phone_width) == (600, 375)
    assert phone_height > desktop_height > 900  # full page; the narrow column is taller
    for name, width in (("desktop", 600), ("phone", 375)):
        assert f"{name}-forced-dark.png" in result.stdout
        assert _png_size((out / f"{name}-forced-dark.png").read_bytes())[0] == width


#: Mean lightness (0–255) of a PNG, read in Chromium itself: a canvas decodes it.
MEAN_LIGHTNESS = """async (src) => {
  const img = new Image(); img.src = src; await img.decode();
  const canvas = Object.assign(document.createElement("canvas"), {width: img.width, height: img.height});
  const ctx = canvas.getContext("2d"); ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  let sum = 0; for (let i = 0; i < data.length; i += 4) sum += (data[i] + data[i + 1] + data[i + 2]) / 3;
  return sum / (data.length / 4);
}"""


@pytest.mark.browser
def test_preview_shows_the_email_as_gmail_inverts_it(config, sample_issue, page_at, artifacts):
    # Gmail and Yahoo ignore the email's own dark palette and invert the light one: the preview's
    # forced-dark frames are Chromium's own force-dark over the light email, mostly dark pixels.
    with running(config, sample_issue) as url:
        page = page_at(1400)
        page.goto(f"{url}/")
        for name, width in (("desktop", 600), ("phone", 375)):
            frame = page.locator(f"#frame-{name}-forced-dark")
            frame.scroll_into_view_if_needed()
            page.wait_for_function(
                "id => document.getElementById(id).complete && document.getElementById(id).naturalWidth > 0",
                arg=f"frame-{name}-forced-dark",
                timeout=60_000,
            )
            assert frame.evaluate("img => img.naturalWidth") == width
            assert "Gmail" in (frame.get_attribute("alt") or "")
            forced = page.evaluate(MEAN_LIGHTNESS, f"/issue/forced-dark-{width}.png")
            light_png = artifacts / f"preview-light-{width}.png"
            page.frame_locator(f"#frame-{name}").locator("body").screenshot(path=str(light_png))
            assert forced < 110, f"the forced-dark frame at {width} px is not dark (mean {forced:.0f})"
        page.screenshot(path=str(artifacts / "preview-forced-dark.png"), full_page=True)
        # A width the preview does not show is not photographed.
        assert httpx.get(f"{url}/issue/forced-dark-999.png").status_code == 404


def test_preview_help_has_an_example(run_cli):
    assert "Example" in run_cli("preview", "--help").stdout


def test_preview_command_serves_on_the_given_port(sample_issue, project):
    import subprocess
    import sys

    from tests.fixtures.core import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pain_news", "preview", str(sample_issue), "--port", str(port)],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr and proc.stderr.read()
                assert time.monotonic() < deadline, "preview did not start"
                time.sleep(0.1)
        assert page.status_code == 200 and 'id="frame-phone"' in page.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/" in out


# --- a broken issue: findings on the page, reload keeps working, no screenshot ------------------


def test_preview_of_an_impossible_date_shows_the_finding_and_reloads_after_the_fix(config, make_issue):
    from tests.fixtures.editor import SPOTLIGHT

    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2026-13-20")})
    state = PreviewState(config, folder)
    with running_state(state) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200
        assert "02-spotlight.md:7" in page.text
        assert "reviewed_on must be a real date (YYYY-MM-DD), got &#39;2026-13-20&#39;" in page.text
        assert 'fetch("/version"' in page.text  # the page keeps polling while the issue is broken
        broken = httpx.get(f"{url}/version").json()["version"]
        (folder / "02-spotlight.md").write_text(SPOTLIGHT)
        assert httpx.get(f"{url}/version").json()["version"] == broken + 1
        fixed = httpx.get(f"{url}/")
        assert "The issue does not build" not in fixed.text and 'id="frame-phone"' in fixed.text


def test_screenshot_of_an_issue_that_does_not_build_exits_1_and_saves_nothing(run_cli, make_issue, tmp_path):
    from tests.fixtures.editor import SPOTLIGHT

    folder = make_issue(files={"02-spotlight.md": SPOTLIGHT.replace("2027-02-01", "2026-11-31")})
    out = tmp_path / "shots"
    result = run_cli("preview", str(folder), "--screenshot", str(out), ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: the issue does not build, so there is nothing to photograph: ")
    assert (
        "02-spotlight.md:7: reviewed_on must be a real date (YYYY-MM-DD), got '2026-11-31'" in result.stderr
    )
    assert "Traceback" not in result.stderr and not out.exists()


def test_preview_moves_to_the_next_free_port_when_its_default_is_taken():
    import socket

    from pain_news.cli.editor import PREVIEW_PORT
    from pain_news.web.server import first_free_port

    assert PREVIEW_PORT != 8025  # the usual local SMTP test port
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        chosen = first_free_port("127.0.0.1", taken)
        assert taken < chosen < taken + 20


def test_no_free_port_in_the_range_is_one_clear_error():
    import socket

    from pain_news.errors import ServerError
    from pain_news.web.server import first_free_port

    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        with pytest.raises(ServerError, match="no free port on 127.0.0.1"):
            first_free_port("127.0.0.1", holder.getsockname()[1], tries=1)
