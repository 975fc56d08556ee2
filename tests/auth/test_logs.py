"""The service's logs: JSON lines with the request's id, user and operation, and never a
secret, through a whole sign-in (a real OpenID provider), a key creation and /authz checks."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.session import SESSION_COOKIE
from app.http.access_log import JsonFormatter, TextFormatter, log_config
from app.main import create_app
from litellm_emulator import LiteLLMEmulator
from tests import documents
from tests.auth.conftest import PUBLIC_URL, SESSION_SECRET, browser_client, oidc_settings
from tests.auth.oidc_provider import CLIENT_SECRET, OidcTestProvider, sign_in_at_provider
from tests.auth.session_cookie import read_session
from tests.conftest import EMULATOR_MASTER_KEY, EMULATOR_URL

CALLBACK = f"{PUBLIC_URL}/auth/callback"
REQUEST_ID = "gw-7f3a.2b_91"


@contextmanager
def captured_log(formatter: logging.Formatter) -> Iterator[io.StringIO]:
    """Every record at DEBUG and above, as the production configuration lets them through
    (its own level for httpx), written by `formatter`."""
    levels = {
        name: config["level"]
        for name, config in log_config("debug", json_lines=True)["loggers"].items()
        if "level" in config
    }
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    saved = root.level, {name: logging.getLogger(name).level for name in levels}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


async def test_a_sign_in_key_creation_and_authz_log_no_secret(
    database_url: str, db_engine: AsyncEngine, oidc_provider: OidcTestProvider
) -> None:
    emulator = LiteLLMEmulator(master_key=EMULATOR_MASTER_KEY, models=["m1", "m2"])
    settings = oidc_settings(
        database_url,
        oidc_provider.issuer,
        litellm_url=EMULATOR_URL,
        litellm_master_key=EMULATOR_MASTER_KEY,
    )
    app = create_app(settings, litellm_transport=httpx.ASGITransport(app=emulator.app))
    with captured_log(JsonFormatter()) as out:
        async with browser_client({PUBLIC_URL: app}) as client:
            callback_url = await sign_in_at_provider(
                client, f"{PUBLIC_URL}/auth/login", login="ada", callback_url=CALLBACK
            )
            pending = read_session(client.cookies[SESSION_COOKIE], SESSION_SECRET)
            signed_in = await client.get(callback_url)
            subscribed = await _graphql(client, documents.SUBSCRIPTION_CREATE, {"modelId": "m1"})
            created = await _graphql(
                client, documents.API_KEY_CREATE, {"input": {"name": "ci", "modelIds": ["m1"]}}
            )
            secret = created["apiKeyCreate"]["secret"]
            checks = [
                await client.get(
                    f"{PUBLIC_URL}/authz",
                    params={"model": model},
                    headers={"Authorization": f"Bearer {key}", "X-Request-ID": REQUEST_ID},
                )
                for model, key in (("m1", secret), ("m2", secret), ("m1", secret[:-2] + "xx"))
            ]
            cookies = [cookie.value for cookie in client.cookies.jar if cookie.value]
            session_cookie = client.cookies[SESSION_COOKIE]

    assert signed_in.status_code == 302
    assert subscribed["subscriptionCreate"]["__typename"] == "SubscriptionCreateSuccess"
    assert [c.status_code for c in checks] == [200, 403, 401]
    assert all(c.headers["x-request-id"] == REQUEST_ID for c in checks)
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
    secrets = {
        "OAuth code": query["code"],
        "OAuth state": query["state"],
        "API key": secret,
        "API key without its prefix": secret.removeprefix("sk-"),
        "session cookie": session_cookie,
        "session secret": SESSION_SECRET,
        "OIDC client secret": CLIENT_SECRET,
        "LiteLLM master key": EMULATOR_MASTER_KEY,
        **{f"cookie {n}": value for n, value in enumerate(cookies)},
        # The pending login: the PKCE code verifier, the nonce.
        **{f"pending login {n}": value for n, value in enumerate(_strings(pending))},
    }
    log = out.getvalue()
    lines = [json.loads(line) for line in log.splitlines()]
    for name, value in secrets.items():
        assert len(value) >= 8, name
        assert value not in log, f"the {name} is in the log"

    requests = [line for line in lines if line["logger"] == "app.request"]
    # /auth/login, /auth/callback, two GraphQL requests, three /authz checks.
    assert len(requests) == 7, requests
    assert [r["message"] for r in requests if r["request_id"] == REQUEST_ID] == [
        "GET /authz 200",
        "GET /authz 403",
        "GET /authz 401",
    ]
    (creation,) = [r for r in requests if r.get("operation") == "ApiKeyCreate"]
    assert creation["message"] == "POST /graphql 200"
    assert creation["user_id"] is not None
    assert creation["duration_ms"] > 0
    assert creation["outcome"] == 200
    assert {"time", "level", "logger", "message", "request_id", "user_id", "operation"} <= set(
        creation
    )
    (callback,) = [r for r in requests if r["message"].startswith("GET /auth/callback")]
    assert callback["user_id"] == creation["user_id"]
    made = [r["request_id"] for r in requests if r["request_id"] != REQUEST_ID]
    assert len(set(made)) == len(made) == 4  # the service's own ids: one per request


@pytest.mark.parametrize(
    "given",
    ["", "a b", "x" * 129, "id\u00e9", "id;drop", "two\nlines"],
)
async def test_an_unusable_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    headers = {"X-Request-ID": given.encode("utf-8")} if given else {}
    answer = await client.get("/healthz", headers=headers)  # type: ignore[arg-type]

    made = answer.headers["x-request-id"]
    assert made != given
    assert len(made) == 32
    assert int(made, 16) >= 0


async def test_a_usable_request_id_is_kept(client: httpx.AsyncClient) -> None:
    answer = await client.get("/healthz", headers={"X-Request-ID": "x" * 128})
    assert answer.headers["x-request-id"] == "x" * 128


def test_development_lines_are_plain_text_with_the_request_id() -> None:
    record = logging.LogRecord("app.test", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    line = TextFormatter().format(record)
    assert line.endswith(" INFO app.test [-]: hello you")


def _strings(value: object) -> list[str]:
    """Every string of 8 characters or more in a JSON value."""
    if isinstance(value, str):
        return [value] if len(value) >= 8 else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


async def _graphql(
    client: httpx.AsyncClient, document: str, variables: dict[str, Any]
) -> dict[str, Any]:
    # As Apollo Client sends it: with the operation's name.
    name = re.search(r"(?:query|mutation) (\w+)", document)
    assert name is not None
    response = await client.post(
        f"{PUBLIC_URL}/graphql",
        json={"query": document, "variables": variables, "operationName": name.group(1)},
    )
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
