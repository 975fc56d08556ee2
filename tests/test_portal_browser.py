"""The reference portal (frontend-contract/web) in headless Chromium, as a person uses it.

`litemaas-bff dev` serves the built portal on a PostgreSQL database of its own, with the LiteLLM
emulator served beside it (so a test can take LiteLLM down, or call a model with a key) and a
spend sync every second; one browser per module, a fresh context (no cookies) per test. Each
step that fails leaves a screenshot in the test's `tmp_path`; every page is checked with
axe-core (no serious or critical violation).
With `PORTAL_SCREENSHOTS=<directory>`, each page or state checked is also saved there as a
screenshot, with its axe-core violations beside it (`<state>.png`, `<state>.axe.json`).
"""

from __future__ import annotations

import asyncio
import json
import os
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
from tests import documents
from tests.auth.test_browser_login import service_with_provider
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import scratch_postgres_database
from tests.portal import Portal
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
# The emulator charges calls to this model per token, as tests/contract/litellm-config.yaml
# prices the real proxies' models; the others cost nothing.
PRICED_MODEL = "m1"
PRICE = {"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}
# How often the service reads spend from LiteLLM, in seconds (300 unless set).
SPEND_SYNC_INTERVAL = "1"
TIMEOUT_MS = 20_000
ADMIN_GROUPS = ["litemaas-admins"]
SCREENSHOTS = os.environ.get("PORTAL_SCREENSHOTS")


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
            httpx.post(
                f"{url}/_emulator/models",
                headers={"Authorization": f"Bearer {EMULATOR_MASTER_KEY}"},
                json={"model_name": PRICED_MODEL, "model_info": PRICE},
            ).raise_for_status()
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
        "SPEND_SYNC_INTERVAL_SECONDS": SPEND_SYNC_INTERVAL,
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
        if SCREENSHOTS:
            shot = Path(SCREENSHOTS) / (re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-"))
            await self.page.screenshot(path=f"{shot}.png", full_page=True)  # makes the directory
            _write_json(Path(f"{shot}.axe.json"), violations)
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], f"axe-core on {label}: {serious}"

    async def sign_in(self, username: str, *, admin: bool = False) -> None:
        page = self.page
        await page.get_by_label("User name").fill(username)
        await page.get_by_label("E-mail address").fill(f"{username}@example.com")
        if admin:
            await page.get_by_label("Administrator").check()
        await page.get_by_role("button", name="Sign in for development").click()

    async def subscribe(self, model_id: str, shown: str = "Subscribed") -> None:
        """Subscribe in the catalogue; the card then shows `shown`."""
        page = self.page
        await page.get_by_role("link", name="Models").click()
        await model_card(page, model_id).get_by_role("button", name="Subscribe").click()
        await expect(model_card(page, model_id)).to_contain_text(shown)

    async def create_key(self, name: str, model_ids: list[str]) -> str:
        """Create a key on the API keys page; its secret (shown once)."""
        page = self.page
        await page.get_by_role("link", name="API keys").click()
        await page.get_by_role("button", name="Create key").click()
        dialog = page.get_by_role("dialog", name="Create key")
        await dialog.get_by_label("Name").fill(name)
        for model_id in model_ids:
            await dialog.get_by_role("checkbox", name=model_id).check()
        await dialog.get_by_role("button", name="Create").click()
        secret_box = dialog.get_by_label("Secret key")
        await expect(secret_box).to_have_value(re.compile(r"^sk-"))
        secret = await secret_box.input_value()
        await dialog.get_by_role("button", name="Done").click()
        await expect(dialog).to_be_hidden()
        return secret


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2))


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
        # A closed dialog is hidden at once and taken out of the page when its `close` event
        # runs: the secret's field must leave the document, not only the screen.
        await expect(page.get_by_label("Secret key")).to_have_count(0)
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


def key_row(page: Page, name: str) -> Any:
    return page.get_by_role("row", name=re.compile(f"^{re.escape(name)} "))


def chips(row: Any, name: str) -> Any:
    return row.get_by_role("list", name=f"Models of {name}").locator("li")


async def test_edit_a_keys_models_and_rotate_its_secret(person: Person) -> None:
    page = person.page
    async with person.step("subscribe to two models and create a key for one"):
        await page.goto("/sign-in")
        await person.sign_in("portal-dave")
        await person.subscribe("m1")
        await person.subscribe("ollama/llama2")
        old_secret = await person.create_key("desk", ["m1"])
    async with person.step("the keys page: the budget, the key's spend and its actions"):
        await expect(page.get_by_role("heading", name="Your budget")).to_be_visible()
        row = key_row(page, "desk")
        await expect(chips(row, "desk")).to_have_text(["m1"])
        await expect(row).to_contain_text(re.compile(r"Not known yet|\$0\.00"))
        await person.accessible("API keys (budget, spend, actions)")
    async with person.step("the edit dialog shows the key as it is"):
        await row.get_by_role("button", name="Edit desk").click()
        dialog = page.get_by_role("dialog", name="Edit desk")
        await expect(dialog.get_by_label("Name")).to_have_value("desk")
        await expect(dialog.get_by_role("checkbox", name="m1")).to_be_checked()
        await expect(dialog.get_by_role("checkbox", name="ollama/llama2")).not_to_be_checked()
        await expect(dialog.get_by_role("checkbox", name=RESTRICTED_MODEL)).to_have_count(0)
        await person.accessible("edit-key dialog")
    async with person.step("rename, add a model and a budget: the chips follow"):
        await dialog.get_by_label("Name").fill("desk-2")
        await dialog.get_by_role("checkbox", name="ollama/llama2").check()
        await dialog.get_by_label("Budget (US dollars)").fill("5")
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog).to_be_hidden()
        row = key_row(page, "desk-2")
        await expect(chips(row, "desk-2")).to_have_text(["m1", "ollama/llama2"])
        await expect(row).to_contain_text("$5.00")
    async with person.step("an expiry in the past is refused in plain words, the field marked"):
        await row.get_by_role("button", name="Edit desk-2").click()
        dialog = page.get_by_role("dialog", name="Edit desk-2")
        await dialog.get_by_label("Expires on").fill("2020-01-01")
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog.get_by_role("alert")).to_contain_text(words("VALIDATION_FAILED"))
        await expect(dialog.get_by_label("Expires on")).to_have_attribute("aria-invalid", "true")
        await person.accessible("edit-key dialog (refused)")
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        await expect(row).to_contain_text("Never")
    async with person.step("/authz follows the edit, with the same secret"):
        granted = await _authz(person.url, old_secret, "ollama/llama2")
        assert (granted.status_code, granted.json()["allowedModels"]) == (
            200,
            ["m1", "ollama/llama2"],
        )
    async with person.step("take a model off again: the chips and /authz follow"):
        await row.get_by_role("button", name="Edit desk-2").click()
        dialog = page.get_by_role("dialog", name="Edit desk-2")
        await dialog.get_by_role("checkbox", name="m1").uncheck()
        await dialog.get_by_role("button", name="Save").click()
        await expect(dialog).to_be_hidden()
        await expect(chips(row, "desk-2")).to_have_text(["ollama/llama2"])
        denied = await _authz(person.url, old_secret, "m1")
        assert (denied.status_code, denied.json()["code"]) == (403, "MODEL_ACCESS_DENIED")
    async with person.step("the rotate dialog"):
        await row.get_by_role("button", name="Rotate desk-2").click()
        dialog = page.get_by_role("dialog", name="Rotate desk-2")
        await expect(dialog.get_by_role("radio", name="Stops at once")).to_be_checked()
        await person.accessible("rotate-key dialog")
    async with person.step("rotate: the new secret is shown once, the old one stops"):
        await dialog.get_by_role("button", name="Rotate").click()
        secret_box = dialog.get_by_label("Secret key")
        await expect(secret_box).to_have_value(re.compile(r"^sk-"))
        new_secret = await secret_box.input_value()
        assert new_secret != old_secret
        await expect(dialog).to_contain_text("The old secret no longer works.")
        await person.accessible("rotate-key dialog (new secret)")
        await dialog.get_by_role("button", name="Copy").click()
        await expect(dialog.get_by_text("Copied to the clipboard.")).to_be_visible()
        assert await page.evaluate("() => navigator.clipboard.readText()") == new_secret
    async with person.step("the new secret works at /authz, the old one no longer"):
        granted = await _authz(person.url, new_secret, "ollama/llama2")
        assert (granted.status_code, granted.json()["allowedModels"]) == (200, ["ollama/llama2"])
        old = await _authz(person.url, old_secret, "ollama/llama2")
        assert (old.status_code, old.json()["code"]) == (401, "INVALID_API_KEY")
    async with person.step("the key stays listed, active, and the secret is gone"):
        await dialog.get_by_role("button", name="Done").click()
        await expect(dialog).to_be_hidden()
        await expect(row).to_contain_text("Active")
        await expect(chips(row, "desk-2")).to_have_text(["ollama/llama2"])
        await expect(page.get_by_label("Secret key")).to_have_count(0)
        assert new_secret not in await page.content()
    async with person.step("rotate again with a grace period: both secrets work meanwhile"):
        await row.get_by_role("button", name="Rotate desk-2").click()
        dialog = page.get_by_role("dialog", name="Rotate desk-2")
        await dialog.get_by_role("radio", name="Works for one more hour").check()
        await dialog.get_by_role("button", name="Rotate").click()
        secret_box = dialog.get_by_label("Secret key")
        await expect(secret_box).to_have_value(re.compile(r"^sk-"))
        newest_secret = await secret_box.input_value()
        await expect(dialog).to_contain_text("The old secret keeps working until")
        for secret in (newest_secret, new_secret):
            still = await _authz(person.url, secret, "ollama/llama2")
            assert still.status_code == 200, still.text


def dollars(amount: float) -> str:
    """An amount of US dollars as the portal shows it (to the cent)."""
    return f"${amount:,.2f}"


async def _chat(emulator_url: str, secret: str, model: str) -> float:
    """One chat completion made with the key straight to LiteLLM; what it costs, from the
    model's price per token and the tokens LiteLLM reports for the call."""
    async with httpx.AsyncClient(
        base_url=emulator_url, headers={"Authorization": f"Bearer {secret}"}
    ) as client:
        answer = await client.post(
            "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "Hello"}]},
        )
        assert answer.status_code == 200, answer.text
        usage = answer.json()["usage"]
        infos = (await client.get("/v1/model/info")).raise_for_status().json()["data"]
    [price] = [m["model_info"] for m in infos if m["model_name"] == model]
    cost: float = (
        usage["prompt_tokens"] * price["input_cost_per_token"]
        + usage["completion_tokens"] * price["output_cost_per_token"]
    )
    assert cost > 0, f"{model} costs nothing: {price}"
    return cost


async def spend_cell(page: Page, row: Any) -> Any:
    """The row's cell under the keys table's Spend heading."""
    headings = await page.locator("table.keys thead th").all_inner_texts()
    return row.locator("th, td").nth(headings.index("Spend"))


async def test_the_keys_page_shows_what_each_key_and_the_user_spent(
    person: Person, emulator_url: str
) -> None:
    page = person.page
    calls = {"batch": 3, "chat": 1}
    secrets: dict[str, str] = {}
    async with person.step("subscribe to the priced model and create two keys for it"):
        await page.goto("/sign-in")
        await person.sign_in("portal-ivy")
        await person.subscribe(PRICED_MODEL)
        for name in calls:
            secrets[name] = await person.create_key(name, [PRICED_MODEL])
    spent: dict[str, float] = {}
    async with person.step("call the model with each key, straight to LiteLLM"):
        for name, count in calls.items():
            costs = [await _chat(emulator_url, secrets[name], PRICED_MODEL) for _ in range(count)]
            spent[name] = sum(costs)
        assert spent["batch"] != spent["chat"]
    async with person.step("the spend sync brings each key's spend and the user's to the page"):
        cells = {name: await spend_cell(page, key_row(page, name)) for name in calls}
        shown = {
            name: re.compile(rf"^{re.escape(dollars(spent[name]))}\s*as of ") for name in calls
        }
        budget = page.get_by_role("region", name="Your budget")
        deadline = time.monotonic() + 30
        while True:  # the page shows what was read from LiteLLM when it was loaded
            await page.reload()
            try:
                for name in calls:
                    await expect(cells[name]).to_have_text(shown[name], timeout=2_000)
                await expect(budget).to_contain_text(
                    f"{dollars(sum(spent.values()))} spent of ", timeout=2_000
                )
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
        await person.accessible("API keys (spend synced)")


async def test_cancel_a_subscription(person: Person) -> None:
    page = person.page
    async with person.step("subscribe to m1 and the restricted model, and make a key for m1"):
        await page.goto("/sign-in")
        await person.sign_in("portal-erin")
        await person.subscribe("m1")
        await person.subscribe(RESTRICTED_MODEL, shown="Pending approval")
        secret = await person.create_key("scripts", ["m1"])
    async with person.step("the subscriptions page lists both with their status"):
        await page.get_by_role("link", name="Subscriptions").click()
        await expect(page.get_by_role("heading", name="Subscriptions")).to_be_visible()
        active = page.get_by_role("row", name=re.compile("^m1 "))
        pending = page.get_by_role("row", name=re.compile(f"^{RESTRICTED_MODEL} "))
        await expect(active).to_contain_text("Subscribed")
        await expect(pending).to_contain_text("Pending approval")
        await person.accessible("subscriptions")
    async with person.step("cancel the subscription to m1, asked once more"):
        await active.get_by_role("button", name="Cancel the subscription to m1").click()
        await expect(active).to_contain_text("Your keys lose this model")
        await person.accessible("subscriptions (confirm cancel)")
        await active.get_by_role("button", name="Yes, cancel").click()
        await expect(active).to_contain_text("Subscription cancelled")
        await expect(active.get_by_role("button")).to_have_count(0)
        await expect(pending.get_by_role("button", name=re.compile("^Cancel"))).to_be_visible()
        await person.accessible("subscriptions (cancelled)")
    async with person.step("the key left with no model is revoked; the catalogue offers m1 again"):
        revoked = await _authz(person.url, secret, "m1")
        assert (revoked.status_code, revoked.json()["code"]) == (401, "INVALID_API_KEY")
        await page.get_by_role("link", name="API keys").click()
        await expect(key_row(page, "scripts")).to_contain_text("Revoked")
        await page.get_by_role("link", name="Models").click()
        await expect(model_card(page, "m1").get_by_role("button", name="Subscribe")).to_be_visible()


async def test_an_admin_approves_a_restricted_subscription_and_the_user_creates_a_key_for_it(
    browser: Browser, service: Served, tmp_path: Path
) -> None:
    async with (
        visiting(browser, service.url, tmp_path / "user") as user,
        visiting(browser, service.url, tmp_path / "admin") as admin,
        visiting(browser, service.url, tmp_path / "reader") as reader,
    ):
        async with user.step("the user asks for the restricted model"):
            await user.page.goto("/sign-in")
            await user.sign_in("portal-frank")
            await user.subscribe(RESTRICTED_MODEL, shown="Pending approval")
        async with user.step("the user has no approval queue, and no model to put on a key"):
            await expect(user.page.get_by_role("link", name="Approval queue")).to_have_count(0)
            await user.page.goto("/admin/requests")
            await expect(user.page.get_by_role("alert")).to_contain_text(words("FORBIDDEN"))
            await user.accessible("approval queue (not an administrator)")
            await user.page.get_by_role("link", name="API keys").click()
            await user.page.get_by_role("button", name="Create key").click()
            dialog = user.page.get_by_role("dialog", name="Create key")
            await expect(dialog).to_contain_text("You have no active subscription")
            await dialog.get_by_role("button", name="Cancel").click()
        async with reader.step("a read-only administrator reads the queue, with no way to decide"):
            # The development sign-in page offers no read-only role: sign in with its groups.
            signed_in = await reader.page.request.post(
                f"{reader.url}/auth/dev-login",
                data={
                    "username": "portal-reader-rita",
                    "email": "portal-reader-rita@example.com",
                    "groups": ["litemaas-readonly"],
                },
            )
            assert signed_in.ok, await signed_in.text()
            await reader.page.goto("/")
            await reader.page.get_by_role("link", name="Approval queue").click()
            queue = reader.page.get_by_role("main")
            await expect(queue.get_by_role("heading", name="Approval queue")).to_be_visible()
            frank = queue.get_by_role("row").filter(has_text="portal-frank@example.com")
            await expect(frank).to_contain_text(RESTRICTED_MODEL)
            await expect(queue.get_by_role("checkbox")).to_have_count(0)
            await expect(queue.get_by_role("button")).to_have_count(0)
            await expect(queue.get_by_label(re.compile("^Reason"))).to_have_count(0)
            await expect(queue).to_contain_text("Only an administrator may approve or deny them.")
            await reader.accessible("approval queue (read-only administrator)")
        request = "Select portal-frank's request for " + RESTRICTED_MODEL
        async with admin.step("the administrator's queue lists the request"):
            await admin.page.goto("/sign-in")
            await admin.sign_in("portal-admin-ann", admin=True)
            await admin.page.get_by_role("link", name="Approval queue").click()
            await expect(admin.page.get_by_role("heading", name="Approval queue")).to_be_visible()
            await expect(admin.page.get_by_role("checkbox", name=request)).to_be_visible()
            await admin.accessible("approval queue")
        async with admin.step("approve it: its outcome is shown and it leaves the queue"):
            await admin.page.get_by_role("checkbox", name=request).check()
            await admin.page.get_by_role("button", name="Approve selected").click()
            outcome = admin.page.get_by_role("region", name="Approved 1 of 1")
            await expect(outcome.locator("li")).to_have_text(
                [f"portal-frank's request for {RESTRICTED_MODEL}: approved."]
            )
            await expect(admin.page.get_by_role("checkbox", name=request)).to_have_count(0)
            await admin.accessible("approval queue (approved)")
        async with user.step("the user now creates a key for the approved model"):
            await user.page.reload()
            secret = await user.create_key("approved", [RESTRICTED_MODEL])
            await expect(chips(key_row(user.page, "approved"), "approved")).to_have_text(
                [RESTRICTED_MODEL]
            )
            granted = await _authz(service.url, secret, RESTRICTED_MODEL)
            assert (granted.status_code, granted.json()["allowedModels"]) == (
                200,
                [RESTRICTED_MODEL],
            )
        async with user.step("the user's subscriptions page shows it active"):
            await user.page.get_by_role("link", name="Subscriptions").click()
            row = user.page.get_by_role("row", name=re.compile(f"^{RESTRICTED_MODEL} "))
            await expect(row).to_contain_text("Subscribed")


async def test_a_bulk_deny_shows_each_requests_outcome(person: Person, service: Served) -> None:
    page = person.page
    async with (
        httpx.AsyncClient(base_url=service.url) as gina_client,
        httpx.AsyncClient(base_url=service.url) as hank_client,
        httpx.AsyncClient(base_url=service.url) as other_admin_client,
    ):
        gina, hank = Portal(gina_client), Portal(hank_client)
        other_admin = Portal(other_admin_client)
        await gina.login("portal-gina")
        await hank.login("portal-hank")
        await other_admin.login("portal-admin-olga", groups=ADMIN_GROUPS)
        gina_request = (await gina.subscribe(RESTRICTED_MODEL))["subscription"]["id"]
        await hank.subscribe(RESTRICTED_MODEL)
        async with person.step("an administrator selects both requests"):
            await page.goto("/sign-in")
            await person.sign_in("portal-admin-abe", admin=True)
            await page.get_by_role("link", name="Approval queue").click()
            for user in ("portal-gina", "portal-hank"):
                await page.get_by_role(
                    "checkbox", name=f"Select {user}'s request for {RESTRICTED_MODEL}"
                ).check()
        async with person.step("denying needs a reason"):
            await page.get_by_role("button", name="Deny selected").click()
            await expect(page.get_by_text("Give a reason to deny.")).to_be_visible()
        # Meanwhile another administrator approves one of them.
        approved = await other_admin.data(documents.SUBSCRIPTION_APPROVE, ids=[gina_request])
        assert approved["subscriptionApprove"]["succeeded"] == 1
        async with person.step("deny both: one is denied, the other was already decided"):
            await page.get_by_label(re.compile("^Reason")).fill("Not for this project")
            await page.get_by_role("button", name="Deny selected").click()
            outcome = page.get_by_role("region", name="Denied 1 of 2")
            gina_outcome = outcome.locator("li", has_text="portal-gina")
            await expect(gina_outcome).to_contain_text(
                "not denied. " + words("INVALID_STATE_TRANSITION")
            )
            await expect(gina_outcome).to_have_attribute("data-code", "INVALID_STATE_TRANSITION")
            await expect(outcome.locator("li", has_text="portal-hank")).to_have_text(
                f"portal-hank's request for {RESTRICTED_MODEL}: denied."
            )
            await person.accessible("approval queue (deny outcomes)")
        async with person.step("neither is listed any more; the service has the decisions"):
            for user in ("portal-gina", "portal-hank"):
                await expect(
                    page.get_by_role(
                        "checkbox", name=f"Select {user}'s request for {RESTRICTED_MODEL}"
                    )
                ).to_have_count(0)
            statuses = {
                portal: [
                    s["status"]
                    for s in (await portal.data(documents.SUBSCRIPTIONS))["subscriptions"]
                ]
                for portal in (gina, hank)
            }
            assert statuses == {gina: ["ACTIVE"], hank: ["DENIED"]}
