"""Is the issue published where the email points? Its web version and every image under public_url.

The email's "View in browser" link and its images point at `<public_url>/<issue-folder>/...`
(pain_news/publish/archive.py writes that layout). Two ways to know they are there: the local archive folder
(build.archive_out) holds the same bytes as this build, or — with `--check-published` — each URL
answers a HEAD request.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from pain_news.config.settings import Config
    from pain_news.publish.build import BuildResult

HEAD_TIMEOUT = 5.0  # seconds per URL: a published file answers fast; a dead host must not stall the send


def expected_files(result: BuildResult) -> dict[str, bytes]:
    """Archive-relative path → the bytes it must hold: `<issue>/index.html` and each image or file used."""
    issue = result.issue
    files = {f"{issue.slug}/index.html": result.rendered.web_html.encode("utf-8")}
    for asset in issue.assets:
        files[f"{issue.slug}/{asset}"] = (issue.folder / asset).read_bytes()
    return files


def unpublished_in_archive(config: Config, result: BuildResult) -> tuple[Path, list[str]]:
    """The archive folder, and each expected file it lacks ("missing") or holds other bytes of ("stale")."""
    archive = config.resolve(config.build.archive_out)
    problems = []
    for relative, content in expected_files(result).items():
        path = archive / relative
        if not path.is_file():
            problems.append(f"{relative} missing")
        elif path.read_bytes() != content:
            problems.append(f"{relative} stale (differs from this build)")
    return archive, problems


def unpublished_online(config: Config, result: BuildResult, timeout: float = HEAD_TIMEOUT) -> list[str]:
    """Each expected URL that does not answer HEAD with 2xx, or answers with another length (stale)."""
    base = config.newsletter.public_url.rstrip("/")
    problems = []
    for relative, content in expected_files(result).items():
        shown = relative.removesuffix("index.html")  # the email links to the folder, not index.html
        url = f"{base}/{quote(shown)}"
        why = _head(url, len(content), timeout)
        if why:
            problems.append(f"{url} {why}")
    return problems


def _head(url: str, size: int, timeout: float) -> str | None:
    """Why `url` is not the published file (None: it is); a Content-Length other than `size` is stale."""
    request = urllib.request.Request(url, method="HEAD", headers={"User-Agent": "pain-news"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http(s) only: config checks public_url)
            length = response.headers.get("Content-Length")
    except urllib.error.HTTPError as error:
        return f"answers HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return f"does not answer ({reason})"
    if length is not None and length.isdigit() and int(length) != size:
        return f"stale ({length} bytes online, {size} in this build)"
    return None
