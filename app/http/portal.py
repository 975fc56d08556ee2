"""The reference portal (frontend-contract/web), served at `/` in development.

`litemaas-bff dev` serves the built app (`make run` builds it) so that one command opens a
working portal; production serves it from any static server in front of this service (see
README, "The portal"). Assets have content hashes in their names and are cached for ever; every
other path answers the app's page, which shows the page for that path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from app.settings import Settings

log = logging.getLogger(__name__)

BUILD_DIR = Path(__file__).resolve().parents[2] / "frontend-contract" / "web" / "dist"
# The page loads its own bundles and talks to this service only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
NOT_BUILT = (
    "The portal is not built: run `make web` (needs Node.js and npm), "
    "or `make run`, which builds it.\n"
)


class _Assets(StaticFiles):
    """The bundles: named by their content, so a browser keeps them for ever."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def routes(settings: Settings, build_dir: Path = BUILD_DIR) -> list[BaseRoute]:
    """The portal's routes, last in the router; none in production."""
    if settings.is_production:
        return []
    page = build_dir / "index.html"
    if not page.is_file():
        log.warning("the portal is not built (%s is missing): run `make web`", page)

    async def app_page(_request: Request) -> Response:
        if not page.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        return FileResponse(
            page,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "Cache-Control": "no-cache",
            },
        )

    return [
        Mount("/assets", app=_Assets(directory=build_dir / "assets", check_dir=False)),
        Route("/{path:path}", app_page, methods=["GET", "HEAD"]),
    ]
