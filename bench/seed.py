"""Seed a fresh PostgreSQL database with the data the load benchmark reads.

One benchmarked user owns 50 API keys over 5 models (75 key-model links) and 5 subscriptions;
1,000 other users own 10,000 keys so that the tables and their indexes are not trivially small.
One of the benchmarked user's keys has a known secret, for the access check.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import itsdangerous
from sqlalchemy import insert, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.auth.session import SESSION_COOKIE
from app.db.models import (
    ApiKey,
    ApiKeyModel,
    ApiKeyStatus,
    Model,
    Subscription,
    SubscriptionStatus,
    SyncStatus,
    User,
)

MODELS = ("granite-3-8b", "llama-3-70b", "mistral-7b", "ollama/llama2", "qwen-2.5-72b")
KEYS_OF_BENCH_USER = 50
OTHER_USERS = 1_000
KEYS_PER_OTHER_USER = 10
SUBSCRIPTIONS_PER_OTHER_USER = 3
# The access check asks for a model the key holds.
ACCESS_CHECK_MODELS = ("llama-3-70b", "mistral-7b")
ACCESS_CHECK_MODEL = "mistral-7b"
SEED = 20_251_126
CLI = Path(sys.executable).parent / "litemaas-bff"


@dataclass(frozen=True, slots=True)
class Seeded:
    """What a load run needs to know; `session_cookie` and `api_key` are secrets of the run."""

    database_url: str
    user_id: uuid.UUID
    session_cookie: str
    api_key: str
    access_model: str
    counts: dict[str, int]

    def __repr__(self) -> str:
        return f"Seeded(database_url={self.database_url!r}, counts={self.counts})"


async def create_database(server_url: str, name: str) -> str:
    """Create an empty database on the server; return its `postgresql://` URL."""
    await _as_admin(server_url, f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    await _as_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _as_admin(server_url: str, statement: str) -> None:
    admin = create_async_engine(_asyncpg(server_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


def _asyncpg(url: str) -> URL:
    return make_url(url).set(drivername="postgresql+asyncpg")


def migrate(database_url: str) -> None:
    """Apply the migrations as an operator would: `litemaas-bff migrate`."""
    env = {**os.environ, "DATABASE_URL": database_url, "ENV": "development"}
    subprocess.run(  # noqa: S603  (our own console script, fixed arguments)
        [str(CLI), "migrate"], env=env, check=True, capture_output=True
    )


def session_cookie(user_id: uuid.UUID, *, session_secret: str, max_age: int) -> str:
    """The `litemaas_session` value a sign-in would set, signed as Starlette's middleware does."""
    # A seeded user's sessions have never been ended: generation 0.
    payload = {"uid": str(user_id), "gen": 0, "exp": int(time.time()) + max_age}
    data = base64.b64encode(json.dumps(payload).encode())
    signed = itsdangerous.TimestampSigner(session_secret).sign(data).decode()
    return f"{SESSION_COOKIE}={signed}"


async def seed(database_url: str, *, session_secret: str, session_max_age: int) -> Seeded:
    """Migrate the empty database at `database_url` and fill it."""
    migrate(database_url)
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    bench_user = _user(rng, "bench", now)
    users = [bench_user, *(_user(rng, f"user{i:04d}", now) for i in range(OTHER_USERS))]

    subscriptions = [_subscription(rng, bench_user["id"], m, now) for m in MODELS]
    for user in users[1:]:
        for model_id in rng.sample(MODELS, SUBSCRIPTIONS_PER_OTHER_USER):
            subscriptions.append(_subscription(rng, user["id"], model_id, now))

    api_key = "sk-" + secrets.token_urlsafe(24)
    keys: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for i in range(KEYS_OF_BENCH_USER):
        # Half the keys hold one model, half two: 75 links.
        models = rng.sample(MODELS, 1 + i % 2)
        secret = None
        if i == 1:
            secret, models = api_key, list(ACCESS_CHECK_MODELS)
        created_at = now - timedelta(minutes=i)
        keys.append(_key(rng, bench_user["id"], created_at, secret, revoked=i % 10 == 9))
        links.extend({"api_key_id": keys[-1]["id"], "model_id": m} for m in models)
    bench_user_links = len(links)
    for user in users[1:]:
        for i in range(KEYS_PER_OTHER_USER):
            keys.append(_key(rng, user["id"], now - timedelta(hours=i), None, revoked=i == 9))
            models = rng.sample(MODELS, 1 + i % 2)
            links.extend({"api_key_id": keys[-1]["id"], "model_id": m} for m in models)

    engine = create_async_engine(_asyncpg(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(Model), [_model(m, now) for m in MODELS])
            await conn.execute(insert(User), users)
            await conn.execute(insert(Subscription), subscriptions)
            await conn.execute(insert(ApiKey), keys)
            await conn.execute(insert(ApiKeyModel), links)
            await conn.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return Seeded(
        database_url=database_url,
        user_id=bench_user["id"],
        session_cookie=session_cookie(
            bench_user["id"], session_secret=session_secret, max_age=session_max_age
        ),
        api_key=api_key,
        access_model=ACCESS_CHECK_MODEL,
        counts={
            "users": len(users),
            "models": len(MODELS),
            "subscriptions": len(subscriptions),
            "api_keys": len(keys),
            "api_key_models": len(links),
            "bench_user_keys": KEYS_OF_BENCH_USER,
            "bench_user_key_models": bench_user_links,
        },
    )


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _user(rng: random.Random, username: str, now: datetime) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "username": username,
        "email": f"{username}@example.com",
        "full_name": username.title(),
        "oauth_provider": "oidc",
        "oauth_issuer": "https://sso.example.com",
        "oauth_subject": username,
        "session_generation": 0,
        "roles": ["user"],
        "is_active": True,
        "max_budget": 100.0,
        "tpm_limit": 100_000,
        "rpm_limit": 120,
        "sync_status": SyncStatus.SYNCED,
        "sync_error": None,
        "sync_attempts": 0,
        "last_synced_at": now,
        "next_sync_at": None,
        "last_login_at": now,
        "created_at": now - timedelta(days=30),
        "updated_at": now,
    }


def _model(model_id: str, now: datetime) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": model_id,
        "provider": model_id.split("/")[0] if "/" in model_id else "openai",
        "description": f"{model_id}, served by LiteLLM",
        "context_length": 8192,
        "input_cost_per_token": 1e-06,
        "output_cost_per_token": 2e-06,
        "capabilities": ["chat"],
        "restricted_access": False,
        "available": True,
        "synced_at": now,
        "created_at": now,
        "updated_at": now,
    }


def _subscription(
    rng: random.Random, user_id: uuid.UUID, model_id: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": _uuid(rng),
        "user_id": user_id,
        "model_id": model_id,
        "status": SubscriptionStatus.ACTIVE,
        "cancelled_at": None,
        "created_at": now - timedelta(minutes=rng.randrange(10_000)),
        "updated_at": now,
    }


def _key(
    rng: random.Random,
    user_id: uuid.UUID,
    created_at: datetime,
    secret: str | None,
    *,
    revoked: bool,
) -> dict[str, Any]:
    secret = secret or "sk-" + secrets.token_urlsafe(24)
    return {
        "id": _uuid(rng),
        "user_id": user_id,
        "name": f"key {rng.randrange(1_000_000)}",
        "prefix": secret[:8],
        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
        "status": ApiKeyStatus.REVOKED if revoked else ApiKeyStatus.ACTIVE,
        "max_budget": None,
        "tpm_limit": None,
        "rpm_limit": None,
        "budget_duration": None,
        "expires_at": created_at + timedelta(days=90) if rng.random() < 0.5 else None,
        "revoked_at": created_at + timedelta(days=1) if revoked else None,
        # Synced from LiteLLM (no draw from `rng`: the rest of the data stays as it was).
        "spend": created_at.minute * 0.125,
        "spend_synced_at": created_at,
        "created_at": created_at,
        "updated_at": created_at,
    }
