"""GraphiQL is served with its own assets in development, and not at all in production."""

from __future__ import annotations

import re

import httpx

from app.graphql.ide import ASSETS_PATH
from app.main import create_app
from tests.conftest import make_settings, serve
from tests.test_auth_dev_login import PRODUCTION_SECRETS

ASSETS = {
    "react.production.min.js": "javascript",
    "react-dom.production.min.js": "javascript",
    "graphiql.min.js": "javascript",
    "graphiql.min.css": "text/css",
    "start.js": "javascript",
}
_REFERENCES = re.compile(r'(?:src|href)="([^"]+)"')


async def _ide_page(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/graphql", headers={"Accept": "text/html"})


async def test_the_page_loads_every_asset_from_the_service(client: httpx.AsyncClient) -> None:
    page = await _ide_page(client)

    assert page.status_code == 200
    references = _REFERENCES.findall(page.text)
    assert sorted(references) == sorted(["data:,", *(f"graphiql/{name}" for name in ASSETS)])
    assert "//" not in page.text, "the page must not name another host"
    for name, content_type in ASSETS.items():
        # Relative to /graphql, the page's own URL.
        asset = await client.get(f"{ASSETS_PATH}/{name}")
        assert asset.status_code == 200, name
        assert content_type in asset.headers["content-type"], name
        assert len(asset.content) > 100, name


async def test_the_page_forbids_loading_from_anywhere_else(client: httpx.AsyncClient) -> None:
    policy = (await _ide_page(client)).headers["content-security-policy"]

    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"


async def test_the_vendored_assets_keep_their_licences(client: httpx.AsyncClient) -> None:
    for package in ("react", "react-dom", "graphiql"):
        licence = await client.get(f"{ASSETS_PATH}/{package}.LICENSE.txt")
        assert licence.status_code == 200
        assert "MIT License" in licence.text


async def test_no_ide_and_no_assets_in_production(database_url: str) -> None:
    settings = make_settings(
        database_url=database_url, env="production", auth_mode="oidc", **PRODUCTION_SECRETS
    )
    async with serve(create_app(settings)) as client:
        page = await _ide_page(client)
        assets = [await client.get(f"{ASSETS_PATH}/{name}") for name in ASSETS]

    assert "graphiql" not in page.text.lower()
    assert [asset.status_code for asset in assets] == [404] * len(ASSETS)
