"""The site's front: the static archive that `pain-news archive` wrote, or the signup form.

One address for everything under public_url: the archive (index, /<issue>/, /latest/, feed.xml,
images) is served beside the endpoints, after them in the route table so it never hides one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pain_news.config.settings import Config


def front(config: Config) -> BaseRoute:
    """The archive's folder mounted at "/", or "/" redirecting to the signup form when none is built."""
    archive = config.resolve(config.build.archive_out)
    if (archive / "index.html").is_file():
        return Mount("/", app=StaticFiles(directory=archive, html=True), name="archive")
    return Route("/", home)


async def home(request: Request) -> Response:
    """With no archive built, the site's front page is the signup form."""
    return RedirectResponse(request.url_for("subscribe").path, status_code=303)
