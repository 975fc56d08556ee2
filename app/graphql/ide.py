"""GraphiQL for development, served with its own assets: the IDE works with no network at all."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from app.settings import Settings

_GRAPHIQL_DIR = Path(__file__).with_name("graphiql")
# The page refers to its assets relative to /graphql, so this prefix is fixed by index.html.
ASSETS_PATH = "/graphiql"
# Whatever the page or a vendored script tries, the browser loads nothing from anywhere else.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # GraphiQL's editors set inline styles.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ]
)
_PAGE = (_GRAPHIQL_DIR / "index.html").read_text(encoding="utf-8")


def graphiql_page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})


def asset_routes(settings: Settings) -> list[BaseRoute]:
    """The IDE's JavaScript and CSS; none when the IDE is off (production answers 404)."""
    if not settings.ide_enabled:
        return []
    return [Mount(ASSETS_PATH, app=StaticFiles(directory=_GRAPHIQL_DIR / "assets"))]
