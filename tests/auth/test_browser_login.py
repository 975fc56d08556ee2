"""A person signing in: headless Chromium, panva's oidc-provider and the service under uvicorn.

Everything runs on 127.0.0.1; any request the browser makes elsewhere fails the test.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import AuditEvent, Subscription, User
from app.main import create_app
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.auth.conftest import oidc_settings
from tests.auth.oidc_provider import running_oidc_provider
from tests.auth.servers import loopback_socket, serving, socket_url
from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL

pytestmark = pytest.mark.e2e

# Nothing listens on port 1: connecting fails at once.
LITELLM_DOWN_URL = "http://127.0.0.1:1"


@dataclass
class GuardedBrowser:
    """A fresh Chromium profile that refuses, and remembers, any request off loopback."""

    context: BrowserContext
    off_loopback: list[str] = field(default_factory=list)

    async def guard(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            self.off_loopback.append(route.request.url)
            await route.abort()


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.skip(
            f"BROWSER TEST NOT RUN: no Chromium at {CHROMIUM} "
            "(apt-get install chromium; .ci/run does it)"
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


@asynccontextmanager
async def guarded_browser(chromium: Browser) -> AsyncIterator[GuardedBrowser]:
    """A fresh profile (its own cookies) that may reach loopback only."""
    context = await chromium.new_context()
    guarded = GuardedBrowser(context)
    await context.route("**/*", guarded.guard)
    yield guarded
    await context.close()
    assert guarded.off_loopback == [], "the browser reached for hosts off loopback"


@pytest.fixture
async def browser(chromium: Browser) -> AsyncIterator[GuardedBrowser]:
    async with guarded_browser(chromium) as guarded:
        yield guarded


@asynccontextmanager
async def service_with_provider(
    database_url: str, *, litellm: LiteLLMEmulator | None = None, **settings: Any
) -> AsyncIterator[str]:
    """The provider and the service, each on its own 127.0.0.1 port; yields the service URL.

    With `litellm`, the service's LiteLLM is that in-process emulator.
    """
    sock = loopback_socket()
    app_url = socket_url(sock)
    if litellm is not None:
        settings |= {"litellm_url": EMULATOR_URL, "litellm_master_key": EMULATOR_MASTER_KEY}
    async with running_oidc_provider([app_url]) as provider:
        app = create_app(
            oidc_settings(database_url, provider.issuer, public_url=app_url, **settings),
            litellm_transport=httpx.ASGITransport(app=litellm.app) if litellm else None,
        )
        async with serving(app, sock):
            yield app_url


async def sign_in(page: Page, app_url: str, login: str, *, redirect: str) -> None:
    """Open the login URL, fill the provider's form, consent, and land back on `redirect`."""
    await page.goto(f"{app_url}/auth/login?redirect={redirect}")
    await page.fill("input[name=login]", login)
    await page.fill("input[name=password]", "correct horse battery staple")
    await page.click("button[type=submit]")
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_url(f"{app_url}{redirect}")


async def graphql_from_page(page: Page, query: str) -> dict[str, Any]:
    """POST to /graphql from the page itself, with the browser's own cookies."""
    body: dict[str, Any] = await page.evaluate(
        """async (query) => {
            const response = await fetch('/graphql', {
                method: 'POST',
                headers: {'content-type': 'application/json'},
                body: JSON.stringify({query}),
            });
            return await response.json();
        }""",
        query,
    )
    return body


async def test_a_person_signs_in_through_the_provider_and_gets_roles_from_groups(
    database_url: str, browser: GuardedBrowser, emulator: LiteLLMEmulator
) -> None:
    async with service_with_provider(database_url, litellm=emulator) as app_url:
        page = await browser.context.new_page()
        await page.goto(f"{app_url}/auth/login?redirect=/healthz")
        login_page = urlsplit(page.url)
        await page.fill("input[name=login]", "ada")
        await page.fill("input[name=password]", "correct horse battery staple")
        await page.click("button[type=submit]")
        consent_text = await page.text_content("body")
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_url(f"{app_url}/healthz")
        landed_on = await page.text_content("body")
        me = await graphql_from_page(page, documents.ME)
        [cookie] = [c for c in await browser.context.cookies() if c["name"] == "litemaas_session"]

        # Signing out ends the provider's session too, then comes back here.
        await page.evaluate(
            """() => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = '/auth/logout';
                document.body.appendChild(form);
                form.submit();
            }"""
        )
        await page.get_by_role("button", name="Yes, sign me out").click()
        await page.wait_for_url(f"{app_url}/")
        after_logout = await graphql_from_page(page, documents.ME)

    assert login_page.port != urlsplit(app_url).port  # the provider's own page
    assert consent_text is not None
    assert "groups" in consent_text
    assert landed_on == "ok"
    assert "errors" not in me
    signed_in = me["data"]["me"]
    assert {key: signed_in[key] for key in ("username", "email", "roles", "litellmSyncStatus")} == {
        "username": "ada",
        "email": "ada@example.com",
        "roles": ["admin", "user"],
        "litellmSyncStatus": "SYNCED",
    }
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # development over plain http
    assert after_logout == {"data": {"me": None}}


async def test_sign_in_with_a_working_litellm_is_synced_there(
    database_url: str, browser: GuardedBrowser, emulator: LiteLLMEmulator
) -> None:
    async with service_with_provider(database_url, litellm=emulator) as app_url:
        page = await browser.context.new_page()
        await sign_in(page, app_url, "ben", redirect="/healthz")
        me = (await graphql_from_page(page, documents.ME))["data"]["me"]

    assert me["username"] == "ben"
    assert me["litellmSyncStatus"] == "SYNCED"
    assert list(emulator.users) == [me["id"]]


async def test_sign_in_with_litellm_down_still_signs_in_and_records_the_error(
    database_url: str, browser: GuardedBrowser
) -> None:
    async with service_with_provider(
        database_url, litellm_url=LITELLM_DOWN_URL, litellm_master_key="sk-unused"
    ) as app_url:
        page = await browser.context.new_page()
        await sign_in(page, app_url, "cy", redirect="/healthz")
        me = (await graphql_from_page(page, documents.ME))["data"]["me"]

    assert me["username"] == "cy"
    assert me["litellmSyncStatus"] == "ERROR"


async def test_a_second_subject_with_the_same_email_cannot_take_the_account_over(
    database_url: str,
    db_engine: AsyncEngine,
    chromium: Browser,
    browser: GuardedBrowser,
    emulator: LiteLLMEmulator,
) -> None:
    async with service_with_provider(database_url, litellm=emulator) as app_url:
        # Ada signs in and subscribes to a model.
        owner = await browser.context.new_page()
        await sign_in(owner, app_url, "ada", redirect="/healthz")
        subscribed = await graphql_from_page(
            owner, 'mutation { subscriptionCreate(input: {modelId: "m1"}) { __typename } }'
        )
        before = (await graphql_from_page(owner, documents.ME))["data"]["me"]
        async with AsyncSession(db_engine) as session:
            [ada_before] = (await session.exec(select(User))).all()

        # Mallory, another subject of the same provider, claims ada's (unverified) address.
        async with guarded_browser(chromium) as other:
            attacker = await other.context.new_page()
            await attacker.goto(f"{app_url}/auth/login")
            await attacker.fill("input[name=login]", "mallory")
            await attacker.fill("input[name=password]", "correct horse battery staple")
            await attacker.click("button[type=submit]")
            await attacker.get_by_role("button", name="Continue").click()
            await attacker.wait_for_url(f"{app_url}/?loginError=*")
            refused_at = attacker.url
            attacker_me = await graphql_from_page(attacker, documents.ME)
            attacker_subscriptions = await graphql_from_page(attacker, documents.SUBSCRIPTIONS)

        # Ada's old session still shows Ada.
        after = (await graphql_from_page(owner, documents.ME))["data"]["me"]

    assert subscribed["data"]["subscriptionCreate"]["__typename"] == "SubscriptionCreateSuccess"
    assert refused_at == f"{app_url}/?loginError=ACCOUNT_CONFLICT"
    assert attacker_me == {"data": {"me": None}}
    assert attacker_subscriptions["data"] is None
    assert after == before
    assert (after["username"], after["fullName"]) == ("ada", "Ada Lovelace")
    async with AsyncSession(db_engine) as session:
        [ada_after] = (await session.exec(select(User))).all()
        [subscription] = (await session.exec(select(Subscription))).all()
        refusals = [
            e
            for e in (await session.exec(select(AuditEvent))).all()
            if e.action == "user.login" and not e.success
        ]
    assert ada_after.model_dump() == ada_before.model_dump()
    assert (ada_after.oauth_subject, ada_after.full_name) == ("ada", "Ada Lovelace")
    assert subscription.user_id == ada_before.id
    assert [(r.details["code"], r.details["subject"]) for r in refusals] == [
        ("ACCOUNT_CONFLICT", "mallory")
    ]


async def test_a_refused_sign_in_lands_on_the_frontend_not_on_json(
    database_url: str, browser: GuardedBrowser
) -> None:
    async with service_with_provider(
        database_url, login_allowed_groups=["litemaas-admins"]
    ) as app_url:
        page = await browser.context.new_page()
        await page.goto(f"{app_url}/auth/login")
        await page.fill("input[name=login]", "cy")
        await page.fill("input[name=password]", "correct horse battery staple")
        await page.click("button[type=submit]")
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_url(f"{app_url}/?loginError=*")
        landed = page.url
        me = await graphql_from_page(page, documents.ME)

    assert landed == f"{app_url}/?loginError=NOT_ALLOWED"
    assert me == {"data": {"me": None}}
