"""GraphiQL in a real headless Chromium, against the service run by uvicorn, with no network."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import BrowserContext, ConsoleMessage, Page, Route, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

LOOPBACK = "127.0.0.1"
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE_EDITOR = ".graphiql-response .CodeMirror"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def chromium() -> Path:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"NO BROWSER: {CHROMIUM} is missing (`apt-get install chromium`); "
            "GraphiQL was not checked in a browser"
        )
    return Path(CHROMIUM)


@pytest.fixture
def service_url(database_url: str, db_engine: AsyncEngine, tmp_path: Path) -> Iterator[str]:
    """`litemaas-bff dev` on the migrated test database, on a free loopback port."""
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "ENV": "development",
        "AUTH_MODE": "dev",
        "HOST": LOOPBACK,
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "warning",
    }
    command = [str(Path(sys.executable).with_name("litemaas-bff")), "dev", "--no-migrate"]
    # The working directory is empty, so no developer's .env is read.
    with subprocess.Popen(command, env=env, cwd=tmp_path) as server:  # noqa: S603
        try:
            url = f"http://{LOOPBACK}:{port}"
            _wait_until_up(url, server)
            yield url
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, "the service exited at start-up"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("the service did not answer /healthz within 30 s")


@pytest.fixture
async def browser_page(chromium: Path, tmp_path: Path) -> AsyncIterator[BrowserPage]:
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile
            executable_path=str(chromium),
            headless=False,  # --headless=new is among the flags
            args=CHROMIUM_ARGS,
        )
        try:
            yield await BrowserPage.open(context)
        finally:
            await context.close()


class BrowserPage:
    """A page whose every request is recorded; any not for loopback is aborted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.loopback: list[str] = []
        self.elsewhere: list[str] = []
        self.console_errors: list[str] = []

    @classmethod
    async def open(cls, context: BrowserContext) -> BrowserPage:
        page = context.pages[0] if context.pages else await context.new_page()
        browser_page = cls(page)
        await context.route("**/*", browser_page._gate)
        page.on("console", browser_page._on_console)
        page.on("pageerror", lambda error: browser_page.console_errors.append(str(error)))
        return browser_page

    async def _gate(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == LOOPBACK:
            self.loopback.append(url)
            await route.continue_()
        else:
            self.elsewhere.append(url)
            await route.abort()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)


async def test_graphiql_runs_a_query_with_no_request_leaving_loopback(
    browser_page: BrowserPage, service_url: str
) -> None:
    page = browser_page.page

    await page.goto(f"{service_url}/graphql")
    await page.wait_for_selector(QUERY_EDITOR, timeout=20_000)
    await page.click(QUERY_EDITOR)
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type("{ health { status } }")
    await page.click(".graphiql-execute-button")
    answer = await _response_text(page)

    assert json.loads(answer) == {"data": {"health": {"status": "OK"}}}
    assert browser_page.elsewhere == [], "requests tried to leave 127.0.0.1"
    assert f"{service_url}/graphiql/graphiql.min.js" in browser_page.loopback
    assert browser_page.console_errors == []


async def _response_text(page: Page) -> str:
    """The result pane's text, once GraphiQL has shown an answer."""
    shown = await page.wait_for_function(
        f"""() => {{
            const text = document.querySelector({RESPONSE_EDITOR!r})?.CodeMirror.getValue();
            return text && text.includes('"data"') ? text : null;
        }}""",
        timeout=20_000,
    )
    text: str = await shown.json_value()
    return text


async def test_a_shared_query_link_opens_with_its_query_and_runs(
    browser_page: BrowserPage, service_url: str
) -> None:
    page = browser_page.page
    query = "query Shared { health { status } }"

    await page.goto(f"{service_url}/graphql?{urlencode({'query': query})}")
    await page.wait_for_selector(QUERY_EDITOR, timeout=20_000)
    shown = await page.evaluate(
        f"() => document.querySelector({QUERY_EDITOR!r}).CodeMirror.getValue()"
    )
    await page.click(".graphiql-execute-button")
    answer = await _response_text(page)

    assert shown == query
    assert json.loads(answer) == {"data": {"health": {"status": "OK"}}}
    assert browser_page.console_errors == []
