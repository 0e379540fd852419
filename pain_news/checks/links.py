"""`check --links`: request every external link of the email and report the broken ones.

Only an HTTP answer of 400 or more makes a link "broken". When no answer comes at all (no
network, DNS failure, timeout) the link is "not checked": an offline editor's machine must not
turn every link red.
"""

from __future__ import annotations

import http.client
import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

TIMEOUT = 5.0
WORKERS = 8
HREF = re.compile(r"""(?:href|src)\s*=\s*["'](?P<url>https?://[^"'\s]+)["']""", re.I)
USER_AGENT = "pain-news-link-check/1"


@dataclass(frozen=True)
class LinkResult:
    url: str
    status: str  # "ok", "broken" or "not checked"
    detail: str  # HTTP status code, or why it was not checked


def external_links(email_html: str, skip_prefix: str = "") -> list[str]:
    """Every http(s) link and image in the email, once each, sorted; per-recipient links are left out."""
    urls = {m["url"].replace("&amp;", "&") for m in HREF.finditer(email_html)}
    return sorted(u for u in urls if "%%" not in u and not (skip_prefix and u.startswith(skip_prefix)))


def _request(url: str, method: str, timeout: float) -> int:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def check_link(url: str, timeout: float = TIMEOUT) -> LinkResult:
    """HEAD the URL, then GET when the server does not allow HEAD."""
    try:
        status = _request(url, "HEAD", timeout)
        if status in (405, 501):
            status = _request(url, "GET", timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return LinkResult(url, "not checked", str(reason) or type(reason).__name__)
    except http.client.HTTPException as exc:
        # An answer that is not HTTP (BadStatusLine from an SSH port, a broken proxy) is no verdict on the link.
        return LinkResult(url, "not checked", f"not an HTTP answer ({type(exc).__name__})")
    return LinkResult(url, "broken" if status >= 400 else "ok", str(status))


def check_links(urls: list[str], timeout: float = TIMEOUT, workers: int = WORKERS) -> list[LinkResult]:
    """Check links concurrently (at most `workers` at a time); results in the order of `urls`."""
    if not urls:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(urls))) as pool:
        return list(pool.map(lambda u: check_link(u, timeout), urls))
