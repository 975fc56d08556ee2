"""The reference portal (frontend-contract/web) in headless Chromium, as a person uses it.

`litemaas-bff dev` serves the built portal on a PostgreSQL database of its own, with the LiteLLM
emulator served beside it (so a test can take LiteLLM down); one browser per module, a fresh
context (no cookies) per test. Each step that fails leaves a screenshot in the test's
`tmp_path`; every page is checked with axe-core (no serious or critical violation).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from litellm_emulator import LiteLLMEmulator
from tests.auth.test_browser_login import service_with_provider
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import scratch_postgres_database
from tests.served import LOOPBACK, Served, free_port, served

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "frontend-contract" / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
MESSAGES: dict[str, dict[str, str]] = json.loads(
    (ROOT / "frontend-contract" / "error-messages.json").read_text()
)
EMULATOR_MASTER_KEY = "sk-portal-emulator-master"
REGISTERED = {
    operation["id"]: operation["name"]
    for operation in json.loads(
        (ROOT / "frontend-contract" / "persisted-documents.json").read_text()
    )["operations"]
}
RESTRICTED_MODEL = "m2"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"NO BROWSER: {CHROMIUM} is missing (`apt-get install chromium`); "
            "the portal was not checked in a browser"
        )
    if not (WEB / "dist" / "index.html").is_file() or not AXE.is_file():
        pytest.fail("the portal is not built: run `make web` (`make test` does)")
    return Path(CHROMIUM)


@pytest.fixture(scope="module")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The LiteLLM emulator on its own port: its fault switch is reachable over HTTP."""
    port = free_port()
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    command = [
        sys.executable,
        "-m",
        "litellm_emulator",
        "--port",
        str(port),
        "--master-key",
        EMULATOR_MASTER_KEY,
        "--models",
        f"m1,{RESTRICTED_MODEL},ollama/llama2",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out, subprocess.Popen(command, stdout=out, stderr=out) as process:  # noqa: S603
        url = f"http://{LOOPBACK}:{port}"
        try:
            deadline = time.monotonic() + 30
            while not _answers(f"{url}/_emulator/faults"):
                assert process.poll() is None, f"the emulator exited:\n{log.read_text()}"
                assert time.monotonic() < deadline, f"no emulator after 30 s:\n{log.read_text()}"
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        headers = {"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"}
        return httpx.get(url, headers=headers, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
async def portal_database() -> AsyncIterator[str]:
    """An empty database: `litemaas-bff dev` migrates it, as `make run` does."""
    async with scratch_postgres_database("litemaas_portal") as url:
        yield url


@pytest.fixture(scope="module")
async def service(
    chromium: Path,
    emulator_url: str,
    portal_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Served]:
    env = {
        "ENV": "development",
        "AUTH_MODE": "dev",
        "DATABASE_URL": portal_database,
        "LITELLM_URL": emulator_url,
        "LITELLM_MASTER_KEY": EMULATOR_MASTER_KEY,
        "LOG_LEVEL": "warning",
    }
    with served("dev", env, tmp_path_factory.mktemp("portal")) as service:
        await _restrict(portal_database, RESTRICTED_MODEL)
        yield service


async def _restrict(database_url: str, model_id: str) -> None:
    """Mark a model as needing approval, once the start-up catalogue sync has recorded it."""
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + 30
        while True:
            async with engine.begin() as conn:
                changed = await conn.execute(
                    text("UPDATE models SET restricted_access = true WHERE id = :id"),
                    {"id": model_id},
                )
            if changed.rowcount == 1:
                return
            assert time.monotonic() < deadline, f"the catalogue never listed {model_id}"
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), headless=False, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


class Person:
    """A fresh browser context on the portal: no cookies; requests leaving 127.0.0.1 are
    aborted and recorded; a failing step leaves a screenshot in `output`."""

    def __init__(self, page: Page, url: str, output: Path) -> None:
        self.page = page
        self.url = url
        self.output = output
        self.elsewhere: list[str] = []
        self.graphql_requests: list[Any] = []
        self.page_errors: list[str] = []
        self.axe_results: dict[str, list[dict[str, Any]]] = {}
        self._steps = 0

    async def gate(self, route: Route) -> None:
        request = route.request
        if urlsplit(request.url).path == "/graphql":
            self.graphql_requests.append(request.post_data_json)
        if urlsplit(request.url).hostname == LOOPBACK:
            await route.continue_()
        else:
            self.elsewhere.append(route.request.url)
            await route.abort()

    @asynccontextmanager
    async def step(self, name: str) -> AsyncIterator[None]:
        self._steps += 1
        try:
            yield
        except BaseException as exc:
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            shot = self.output / f"{self._steps:02d}-{slug}.png"
            await self.page.screenshot(path=str(shot), full_page=True)
            exc.add_note(f"step {self._steps} ({name}) failed; screenshot: {shot}")
            raise

    async def accessible(self, label: str) -> None:
        """axe-core on the page as shown now: no serious or critical violation."""
        if not await self.page.evaluate("() => typeof window.axe === 'object'"):
            await self.page.evaluate(AXE.read_text())
        violations: list[dict[str, Any]] = await self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            targets: v.nodes.map(n => n.target.join(" "))}))"""
        )
        self.axe_results[label] = violations
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], f"axe-core on {label}: {serious}"

    async def sign_in(self, username: str) -> None:
        page = self.page
        await page.get_by_label("User name").fill(username)
        await page.get_by_label("E-mail address").fill(f"{username}@example.com")
        await page.get_by_role("button", name="Sign in for development").click()


@asynccontextmanager
async def visiting(browser: Browser, url: str, output: Path) -> AsyncIterator[Person]:
    """A person at the portal on `url`; afterwards, what the page did must hold."""
    context = await browser.new_context(base_url=url)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    visitor = Person(page, url, output)
    await context.route("**/*", visitor.gate)
    page.on("pageerror", lambda error: visitor.page_errors.append(str(error)))
    try:
        yield visitor
        assert visitor.elsewhere == [], "requests tried to leave 127.0.0.1"
        # Trusted documents: every operation goes by its registered id, never as a document.
        sent = visitor.graphql_requests
        assert sent, "the portal sent no GraphQL request"
        assert [body for body in sent if not isinstance(body, dict) or "query" in body] == []
        names = [
            REGISTERED.get(body["extensions"]["persistedQuery"]["sha256Hash"]) for body in sent
        ]
        assert None not in names, "an operation went by an id that is not registered"
        assert visitor.page_errors == []
        print(f"axe-core violations per page: {json.dumps(visitor.axe_results)}")
    finally:
        await context.close()


@pytest.fixture
async def person(browser: Browser, service: Served, tmp_path: Path) -> AsyncIterator[Person]:
    async with visiting(browser, service.url, tmp_path) as visitor:
        yield visitor


def words(code: str) -> str:
    return MESSAGES[code]["message"]


def model_card(page: Page, model_id: str) -> Any:
    return page.locator(f'li.card[data-model="{model_id}"]')


async def test_signing_in_returns_to_the_page_asked_for(person: Person) -> None:
    page = person.page
    async with person.step("a refused sign-in comes back with the contract's words"):
        await page.goto("/sign-in?loginError=NOT_ALLOWED")
        await expect(page.get_by_role("alert")).to_contain_text(words("NOT_ALLOWED"))
        await person.accessible("sign-in (refused)")
    async with person.step("an anonymous visitor opens the API keys page"):
        await page.goto("/keys")
        await expect(page).to_have_url(re.compile(r"/sign-in\?redirect=%2Fkeys$"))
        await expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        sso = page.get_by_role("link", name="Sign in with your organisation")
        assert await sso.get_attribute("href") == "/auth/login?redirect=%2Fkeys"
        await expect(page.get_by_role("heading", name="Development sign-in")).to_be_visible()
        await person.accessible("sign-in")
    async with person.step("signing in comes back to the API keys page"):
        await person.sign_in("portal-carol")
        await expect(page).to_have_url(f"{person.url}/keys")
        await expect(page.get_by_role("heading", name="API keys")).to_be_visible()
        await expect(page.get_by_text("Signed in as")).to_contain_text("portal-carol")
        await expect(page.get_by_text("You have no API key yet.")).to_be_visible()
        await person.accessible("API keys (none)")
    async with person.step("a session ended elsewhere says so, with a way back in"):
        await page.evaluate("() => fetch('/auth/logout', {method: 'POST'})")
        await page.get_by_role("link", name="Models").click()
        await page.get_by_role("link", name="API keys").click()
        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text(words("UNAUTHENTICATED"))
        await person.accessible("API keys (session ended)")
        await alert.get_by_role("link", name="Sign in").click()
        await expect(page).to_have_url(re.compile(r"/sign-in\?redirect=%2Fkeys$"))
        await person.sign_in("portal-carol")
        await expect(page).to_have_url(f"{person.url}/keys")
    async with person.step("signing out"):
        async with page.expect_navigation():
            await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("link", name="Sign in", exact=True)).to_be_visible()
        await expect(page.get_by_text("Signed in as")).to_have_count(0)


async def test_subscribe_create_a_key_copy_it_use_it_and_revoke_it(person: Person) -> None:
    page = person.page
    async with person.step("the anonymous catalogue"):
        await page.goto("/")
        await expect(page.get_by_role("heading", name="Models")).to_be_visible()
        await expect(page.locator("li.card")).to_have_count(3)
        await expect(model_card(page, "m1").get_by_role("link")).to_have_text(
            "Sign in to subscribe"
        )
        await expect(model_card(page, RESTRICTED_MODEL)).to_contain_text("Needs approval")
        await person.accessible("catalogue (anonymous)")
    async with person.step("sign in from the catalogue"):
        await model_card(page, "m1").get_by_role("link", name="Sign in to subscribe").click()
        await person.sign_in("portal-alice")
        await expect(page).to_have_url(f"{person.url}/")
    async with person.step("subscribe to m1"):
        await model_card(page, "m1").get_by_role("button", name="Subscribe").click()
        await expect(model_card(page, "m1")).to_contain_text("Subscribed")
    async with person.step("subscribe to the restricted model: pending approval"):
        await model_card(page, RESTRICTED_MODEL).get_by_role("button", name="Subscribe").click()
        await expect(model_card(page, RESTRICTED_MODEL)).to_contain_text("Pending approval")
        await person.accessible("catalogue (signed in)")
    async with person.step("the create-key dialog offers only the active subscription"):
        await page.get_by_role("link", name="API keys").click()
        await page.get_by_role("button", name="Create key").click()
        dialog = page.get_by_role("dialog", name="Create key")
        await expect(dialog.get_by_role("checkbox")).to_have_count(1)
        await expect(dialog.get_by_role("checkbox", name="m1")).to_be_visible()
        await person.accessible("create-key dialog")
    async with person.step("create the key: its secret is shown once"):
        await dialog.get_by_label("Name").fill("laptop")
        await dialog.get_by_role("checkbox", name="m1").check()
        await dialog.get_by_role("button", name="Create").click()
        secret_box = dialog.get_by_label("Secret key")
        await expect(secret_box).to_have_value(re.compile(r"^sk-"))
        secret = await secret_box.input_value()
        await person.accessible("create-key dialog (secret)")
    async with person.step("copy the secret"):
        await dialog.get_by_role("button", name="Copy").click()
        await expect(dialog.get_by_text("Copied to the clipboard.")).to_be_visible()
        assert await page.evaluate("() => navigator.clipboard.readText()") == secret
    async with person.step("the key may call m1, and only m1"):
        granted = await _authz(person.url, secret, "m1")
        assert (granted.status_code, granted.json()["allowedModels"]) == (200, ["m1"])
        denied = await _authz(person.url, secret, RESTRICTED_MODEL)
        assert (denied.status_code, denied.json()["code"]) == (403, "MODEL_ACCESS_DENIED")
    async with person.step("the key's row: chips, status, expiry; the secret is gone"):
        await dialog.get_by_role("button", name="Done").click()
        await expect(dialog).to_be_hidden()
        row = page.get_by_role("row", name=re.compile("^laptop"))
        await expect(row.get_by_role("list", name="Models of laptop").locator("li")).to_have_text(
            ["m1"]
        )
        await expect(row).to_contain_text("Active")
        await expect(row).to_contain_text("Never")
        assert secret not in await page.content()
        await person.accessible("API keys")
    async with person.step("revoke the key"):
        await row.get_by_role("button", name="Revoke laptop").click()
        await row.get_by_role("button", name="Revoke now").click()
        await expect(row).to_contain_text("Revoked")
        await expect(row.get_by_role("button")).to_have_count(0)
        revoked = await _authz(person.url, secret, "m1")
        assert (revoked.status_code, revoked.json()["code"]) == (401, "INVALID_API_KEY")
        await person.accessible("API keys (revoked)")


async def _authz(url: str, secret: str, model: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(
            f"{url}/authz", params={"model": model}, headers={"Authorization": f"Bearer {secret}"}
        )


async def test_litellm_down_shows_the_plain_words(person: Person, emulator_url: str) -> None:
    page = person.page
    async with person.step("sign in and subscribe while LiteLLM is up"):
        await page.goto("/sign-in")
        await person.sign_in("portal-bob")
        await model_card(page, "m1").get_by_role("button", name="Subscribe").click()
        await expect(model_card(page, "m1")).to_contain_text("Subscribed")
    emulator = httpx.AsyncClient(
        base_url=emulator_url, headers={"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"}
    )
    (await emulator.patch("/_emulator/faults", json={"down": True})).raise_for_status()
    try:
        async with person.step("creating a key while LiteLLM is down says so plainly"):
            await page.get_by_role("link", name="API keys").click()
            await page.get_by_role("button", name="Create key").click()
            dialog = page.get_by_role("dialog", name="Create key")
            await dialog.get_by_label("Name").fill("while-down")
            await dialog.get_by_role("checkbox", name="m1").check()
            await dialog.get_by_role("button", name="Create").click()
            await expect(dialog.get_by_role("alert")).to_have_text(words("LITELLM_UNAVAILABLE"))
            await person.accessible("create-key dialog (LiteLLM down)")
        async with person.step("no key was made"):
            await dialog.get_by_role("button", name="Cancel").click()
            await expect(page.get_by_text("You have no API key yet.")).to_be_visible()
    finally:
        (await emulator.delete("/_emulator/faults")).raise_for_status()
        await emulator.aclose()


async def test_signing_in_through_the_identity_provider_returns_to_the_page(
    browser: Browser,
    database_url: str,
    db_engine: AsyncEngine,
    emulator: LiteLLMEmulator,
    tmp_path: Path,
) -> None:
    """With single sign-on, the portal sends the browser to /auth/login and gets it back."""
    async with (
        service_with_provider(database_url, litellm=emulator) as url,
        visiting(browser, url, tmp_path) as person,
    ):
        page = person.page
        async with person.step("the sign-in page offers the identity provider only"):
            await page.goto("/keys")
            await expect(page).to_have_url(f"{url}/sign-in?redirect=%2Fkeys")
            await page.wait_for_load_state("networkidle")
            await expect(page.get_by_role("heading", name="Development sign-in")).to_have_count(0)
            await person.accessible("sign-in (single sign-on)")
        async with person.step("the provider signs the person in and sends them back"):
            await page.get_by_role("link", name="Sign in with your organisation").click()
            await page.fill("input[name=login]", "ben")
            await page.fill("input[name=password]", "correct horse battery staple")
            await page.click("button[type=submit]")
            await page.get_by_role("button", name="Continue").click()
            await expect(page).to_have_url(f"{url}/keys")
            await expect(page.get_by_role("heading", name="API keys")).to_be_visible()
            await expect(page.get_by_text("Signed in as")).to_contain_text("Ben Reader")
