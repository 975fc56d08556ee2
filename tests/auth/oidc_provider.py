"""panva's oidc-provider (a certified OpenID Provider) run by Node on 127.0.0.1 for the tests."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc-provider"
CLIENT_ID = "litemaas"
CLIENT_SECRET = "litemaas-test-client-secret-0123456789"
# Logins the provider knows, with the claims it releases for them.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "groups": ["litemaas-admins", "litemaas-users", "unrelated-group"],
    },
    "ben": {"email": "ben@example.com", "name": "Ben Reader", "groups": ["litemaas-readonly"]},
    "cy": {"email": "cy@example.com", "name": "Cy Nogroup", "groups": []},
    # Another person at the provider whose unverified e-mail claim is ada's address.
    "mallory": {
        "email": "ada@example.com",
        "email_verified": False,
        "name": "Mallory Taker",
        "groups": ["litemaas-admins"],
    },
}


@dataclass(frozen=True, slots=True)
class OidcTestProvider:
    issuer: str


@asynccontextmanager
async def running_oidc_provider(public_urls: list[str]) -> AsyncIterator[OidcTestProvider]:
    """Start the provider with one confidential client allowed to come back to `public_urls`."""
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed for the OpenID provider (apt-get install nodejs)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"run `npm ci` in {PROVIDER_DIR} first (`make test` does it)")
    config = {
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{url}/auth/callback" for url in public_urls],
                "post_logout_redirect_uris": [f"{url}/" for url in public_urls],
            }
        ],
        "accounts": ACCOUNTS,
    }
    with tempfile.TemporaryFile() as stderr:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(PROVIDER_DIR / "server.mjs"),
            json.dumps(config),
            cwd=PROVIDER_DIR,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
            if not line.startswith(b"LISTENING "):
                stderr.seek(0)
                pytest.fail(f"the OpenID provider did not start: {stderr.read().decode()}")
            yield OidcTestProvider(issuer=line.decode().split()[1])
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()


_FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
_PROMPT = re.compile(r'name="prompt" value="(\w+)"')


async def sign_in_at_provider(
    client: httpx.AsyncClient, login_url: str, *, login: str, callback_url: str
) -> str:
    """Follow the login from `login_url` through the provider's login and consent forms.

    Stops before the callback and returns its URL (with `code` and `state`), so a test can
    send it, replay it or tamper with it.
    """
    response = await client.get(login_url)
    for _ in range(20):
        if response.is_redirect:
            target = str(response.url.join(response.headers["location"]))
            if target.startswith(callback_url):
                return target
            response = await client.get(target)
            continue
        action = _FORM_ACTION.search(response.text)
        prompt = _PROMPT.search(response.text)
        if response.status_code != 200 or action is None or prompt is None:
            raise AssertionError(
                f"unexpected answer {response.status_code} from {response.url}: "
                f"{response.text[:500]}"
            )
        form = {"prompt": prompt.group(1)}
        if form["prompt"] == "login":
            form |= {"login": login, "password": "any password will do"}
        response = await client.post(str(response.url.join(action.group(1))), data=form)
    raise AssertionError("the login did not come back to the callback in 20 steps")
