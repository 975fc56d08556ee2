"""The physical limit: the benchmarked answers from bare Starlette, asyncpg and orjson.

Each endpoint returns byte for byte the JSON the service returns for the same request (the load
run checks it), from one hand-written statement and no framework in between: what this data
costs on this machine. Served by uvicorn as the service is:

    BENCH_DATABASE_URL=postgresql://... SESSION_SECRET=... \
        uvicorn bench.baseline:create_app --factory --port 4403
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import itsdangerous
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.bearer import bearer_token
from app.auth.session import SESSION_COOKIE

# The frontend's operations (frontend-contract/operations) select these columns; Apollo's
# cache asks every object for its `__typename` too.
API_KEYS_SQL = """
SELECT k.id, k.name, k.prefix, k.status, k.created_at, k.expires_at, k.revoked_at,
       k.max_budget, k.tpm_limit, k.rpm_limit, k.spend, k.spend_synced_at,
       m.id, m.name, m.provider, m.available
FROM users u
JOIN api_keys k ON k.user_id = u.id
LEFT JOIN api_key_models km ON km.api_key_id = k.id
LEFT JOIN models m ON m.id = km.model_id
WHERE u.id = $1 AND u.is_active AND k.status <> 'pending'
ORDER BY k.created_at DESC, k.id, m.id
"""
MODELS_SQL = """
SELECT m.id, m.name, m.provider, m.available, m.description, m.context_length,
       m.input_cost_per_token, m.output_cost_per_token, m.capabilities, m.restricted_access,
       s.id, s.status, s.model_id, s.created_at, s.updated_at, s.cancelled_at
FROM models m
LEFT JOIN subscriptions s ON s.model_id = m.id AND s.user_id = $1
WHERE m.available
ORDER BY m.id
"""
SUBSCRIPTIONS_SQL = """
SELECT s.id, s.status, s.model_id, s.created_at, s.updated_at, s.cancelled_at,
       m.id, m.name, m.provider, m.available
FROM users u
JOIN subscriptions s ON s.user_id = u.id
JOIN models m ON m.id = s.model_id
WHERE u.id = $1 AND u.is_active
ORDER BY s.created_at DESC
"""
ACCESS_SQL = """
SELECT k.status, k.expires_at, km.model_id
FROM api_keys k
LEFT JOIN api_key_models km ON km.api_key_id = k.id
WHERE k.secret_sha256 = $1
ORDER BY km.model_id
"""


def create_app() -> Starlette:
    database_url = os.environ["BENCH_DATABASE_URL"]
    pool_size = int(os.environ.get("DATABASE_POOL_SIZE", "10"))
    signer = itsdangerous.TimestampSigner(os.environ["SESSION_SECRET"])
    max_age = int(os.environ.get("SESSION_MAX_AGE", "28800"))
    pool: asyncpg.Pool[Any] | None = None

    def db() -> asyncpg.Pool[Any]:
        assert pool is not None
        return pool

    def session_user(request: Request) -> uuid.UUID | None:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie is None:
            return None
        try:
            session = json.loads(base64.b64decode(signer.unsign(cookie, max_age=max_age)))
        except itsdangerous.BadSignature:
            return None
        if session.get("exp", 0) <= time.time():
            return None
        return uuid.UUID(session["uid"])

    async def api_keys(request: Request) -> Response:
        user_id = session_user(request)
        if user_id is None:
            return _json({"error": "UNAUTHENTICATED"}, 401)
        keys: list[dict[str, Any]] = []
        last = None
        now = datetime.now(UTC)
        for r in await db().fetch(API_KEYS_SQL, user_id):
            if r[0] != last:
                last = r[0]
                keys.append(
                    {
                        "id": str(r[0]),
                        "name": r[1],
                        "prefix": r[2],
                        "status": (
                            "EXPIRED"
                            if r[3] == "active" and r[5] is not None and r[5] <= now
                            else r[3].upper()
                        ),
                        "createdAt": r[4],
                        "expiresAt": r[5],
                        "revokedAt": r[6],
                        "maxBudget": r[7],
                        "tpmLimit": r[8],
                        "rpmLimit": r[9],
                        "spend": r[10],
                        "spendSyncedAt": r[11],
                        "modelAccess": [],
                        "__typename": "ApiKey",
                    }
                )
            if r[12] is not None:
                keys[-1]["modelAccess"].append(_model_label(r[12], r[13], r[14], r[15]))
        return _json({"data": {"apiKeys": keys}})

    async def models(request: Request) -> Response:
        user_id = session_user(request)
        rows = await db().fetch(MODELS_SQL, user_id)
        return _json(
            {
                "data": {
                    "models": [
                        {
                            **_model_label(r[0], r[1], r[2], r[3]),
                            "description": r[4],
                            "contextLength": r[5],
                            "inputCostPerToken": r[6],
                            "outputCostPerToken": r[7],
                            "capabilities": orjson.Fragment(r[8]),
                            "restrictedAccess": r[9],
                            "subscription": None if r[10] is None else _subscription(r[10:16]),
                        }
                        for r in rows
                    ]
                }
            }
        )

    async def subscriptions(request: Request) -> Response:
        user_id = session_user(request)
        if user_id is None:
            return _json({"error": "UNAUTHENTICATED"}, 401)
        rows = await db().fetch(SUBSCRIPTIONS_SQL, user_id)
        return _json(
            {
                "data": {
                    "subscriptions": [
                        {**_subscription(r[0:6]), "model": _model_label(r[6], r[7], r[8], r[9])}
                        for r in rows
                    ]
                }
            }
        )

    async def authz(request: Request) -> Response:
        model_id = request.query_params.get("model", "")
        secret = bearer_token(request.headers.get("authorization"))
        rows = (
            await db().fetch(ACCESS_SQL, hashlib.sha256(secret.encode()).hexdigest())
            if secret
            else []
        )
        expires = rows[0][1] if rows else None
        if (
            not rows
            or rows[0][0] != "active"
            or (expires is not None and expires.timestamp() <= time.time())
        ):
            return _json({"allowed": False, "code": "INVALID_API_KEY", "model": model_id}, 401)
        allowed = [r[2] for r in rows if r[2] is not None]
        if model_id not in allowed:
            return _json({"allowed": False, "code": "MODEL_ACCESS_DENIED", "model": model_id}, 403)
        return _json(
            {"allowed": True, "model": model_id, "allowedModels": allowed, "enforced": True}
        )

    async def _no_reset(_conn: asyncpg.Connection[Any]) -> None:
        # Every statement here is a plain read: nothing to reset between requests.
        return None

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            database_url, min_size=pool_size, max_size=2 * pool_size, reset=_no_reset
        )
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/api-keys", api_keys, methods=["POST"]),
            Route("/models", models, methods=["POST"]),
            Route("/subscriptions", subscriptions, methods=["POST"]),
            Route("/authz", authz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _model_label(model_id: str, name: str, provider: str, available: bool) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": name,
        "provider": provider,
        "available": available,
        "__typename": "Model",
    }


def _subscription(columns: Any) -> dict[str, Any]:
    subscription_id, status, model_id, created, updated, cancelled = columns
    return {
        "id": str(subscription_id),
        "status": status.upper(),
        "modelId": model_id,
        "createdAt": created,
        "updatedAt": updated,
        "cancelledAt": cancelled,
        "__typename": "Subscription",
    }


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
