"""A typed client for the parts of the LiteLLM proxy API the BFF uses.

Every call goes through the process's circuit breaker. Answers are mapped to values or to the
errors in `app.litellm.errors`; the quirks of different LiteLLM releases stay in here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.litellm.breaker import BreakerState, CircuitBreaker
from app.litellm.errors import (
    LiteLLMConflict,
    LiteLLMError,
    LiteLLMNotFound,
    LiteLLMRejected,
    LiteLLMUnavailable,
)
from app.litellm.monitor import LiteLLMMonitor
from app.metrics import Metrics

log = logging.getLogger(__name__)

_RETRY_DELAY = 0.05  # one quick retry of an idempotent GET after a connection error
_PAGE_SIZE = 100
# The `outcome` label of a call LiteLLM answered with an error (or never answered).
_OUTCOMES: dict[type[LiteLLMError], str] = {
    LiteLLMUnavailable: "unavailable",
    LiteLLMNotFound: "not_found",
    LiteLLMConflict: "conflict",
    LiteLLMRejected: "rejected",
}


@dataclass(frozen=True, slots=True)
class LiteLLMUser:
    user_id: str
    user_email: str | None
    user_alias: str | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    key: str = field(repr=False)  # the secret: shown to its owner once, never logged
    token: str  # sha256 of the key, LiteLLM's id for it
    key_alias: str | None
    expires: datetime | None
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    token: str | None
    key_alias: str | None
    user_id: str | None
    models: tuple[str, ...]
    expires: datetime | None
    deleted: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    blocked: bool = False
    spend: float = 0.0


@dataclass(frozen=True, slots=True)
class UserSpend:
    user_id: str
    spend: float
    max_budget: float | None
    budget_reset_at: datetime | None


@dataclass(frozen=True, slots=True)
class ModelDeployment:
    model_name: str
    provider: str | None
    max_tokens: int | None
    input_cost_per_token: float | None
    output_cost_per_token: float | None
    capabilities: tuple[str, ...]


class LiteLLMClient:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        breaker: CircuitBreaker,
        monitor: LiteLLMMonitor,
        metrics: Metrics,
    ) -> None:
        self._http = http
        self.breaker = breaker
        self.monitor = monitor
        self._metrics = metrics
        self._record_breaker()

    # Users -------------------------------------------------------------------------------

    async def user_info(self, user_id: str) -> LiteLLMUser:
        """The user; LiteLLMNotFound when LiteLLM has no such user."""
        if not user_id:
            raise ValueError("user_id is required: without it LiteLLM describes every key")
        body = await self._request("GET", "/user/info", params={"user_id": user_id})
        info = body.get("user_info") if isinstance(body, dict) else None
        # Releases up to 1.80.7 answer 200 with a stub ({"spend": 0}) for unknown users.
        if not isinstance(info, dict) or not info.get("user_id"):
            raise LiteLLMNotFound(f"LiteLLM has no user {user_id}", status=200)
        return _user(info)

    async def user_new(
        self,
        *,
        user_id: str,
        user_email: str | None,
        user_alias: str | None,
        max_budget: float | None,
        tpm_limit: int | None,
        rpm_limit: int | None,
    ) -> LiteLLMUser:
        """Create a user (no key); LiteLLMConflict when the id or e-mail is taken.

        Up to 1.80.7 a taken id is not reported: the answer echoes the request while the
        stored user stays as it was. Callers that must know read the user back.
        """
        body = await self._request(
            "POST",
            "/user/new",
            json={
                "user_id": user_id,
                "user_email": user_email,
                "user_alias": user_alias,
                "max_budget": max_budget,
                "tpm_limit": tpm_limit,
                "rpm_limit": rpm_limit,
                "auto_create_key": False,
            },
        )
        return _user(body)

    async def user_update(self, *, user_id: str, **changes: Any) -> LiteLLMUser:
        """Change a user's fields (LiteLLM creates the user if it does not exist)."""
        body = await self._request("POST", "/user/update", json={"user_id": user_id, **changes})
        return _user(body.get("data") or body)

    # Keys --------------------------------------------------------------------------------

    async def key_generate(
        self,
        *,
        key_alias: str,
        user_id: str,
        models: Sequence[str],
        max_budget: float | None = None,
        tpm_limit: int | None = None,
        rpm_limit: int | None = None,
        duration: str | None = None,
        budget_duration: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> GeneratedKey:
        """A new virtual key; LiteLLMConflict when the alias is taken."""
        body = await self._request(
            "POST",
            "/key/generate",
            json={
                "key_alias": key_alias,
                "user_id": user_id,
                "models": list(models),
                "max_budget": max_budget,
                "tpm_limit": tpm_limit,
                "rpm_limit": rpm_limit,
                "duration": duration,
                "budget_duration": budget_duration,
                "metadata": metadata or {},
            },
        )
        return GeneratedKey(
            key=body["key"],
            token=body.get("token") or body["token_id"],
            key_alias=body.get("key_alias"),
            expires=_datetime(body.get("expires")),
            models=tuple(body.get("models") or ()),
        )

    async def key_set_models(self, *, key: str, models: Sequence[str]) -> None:
        """Replace a key's allowed models (key = the secret or its token), leaving the rest of
        it as it is; LiteLLMNotFound. `key_update` sets everything."""
        if not models:
            raise ValueError("an empty models list lets a LiteLLM key call every model")
        try:
            await self._request("POST", "/key/update", json={"key": key, "models": list(models)})
        except LiteLLMRejected as exc:
            # Up to 1.80.7 an unknown key is a 401 "user key does not exist in db".
            if exc.status == 401 and "does not exist" in (exc.detail or ""):
                raise LiteLLMNotFound(str(exc), status=exc.status, detail=exc.detail) from exc
            raise

    async def key_update(
        self,
        *,
        key: str,
        models: Sequence[str],
        max_budget: float | None,
        tpm_limit: int | None,
        rpm_limit: int | None,
        expires_at: datetime | None,
        metadata: dict[str, Any],
    ) -> None:
        """Set all of a key's models, limits (None: no limit), expiry (to the second; None:
        never) and metadata; key = the secret or its token. LiteLLMNotFound."""
        if not models:
            raise ValueError("an empty models list lets a LiteLLM key call every model")
        body = {
            "key": key,
            "models": list(models),
            "max_budget": max_budget,
            "tpm_limit": tpm_limit,
            "rpm_limit": rpm_limit,
            "duration": duration_until(expires_at) if expires_at is not None else None,
            "metadata": metadata,
        }
        try:
            await self._request("POST", "/key/update", json=body)
        except LiteLLMRejected as exc:
            # Up to 1.80.7 an unknown key is a 401 "user key does not exist in db".
            if exc.status == 401 and "does not exist" in (exc.detail or ""):
                raise LiteLLMNotFound(str(exc), status=exc.status, detail=exc.detail) from exc
            raise

    async def key_delete(self, *, keys: Sequence[str]) -> None:
        """Delete keys (secrets or tokens); LiteLLMNotFound when none of them exists."""
        await self._request("POST", "/key/delete", json={"keys": list(keys)})

    async def key_block(self, key: str) -> None:
        """Block a key (secret or token): LiteLLM refuses its calls. LiteLLMNotFound."""
        await self._key_blocking("/key/block", key)

    async def key_unblock(self, key: str) -> None:
        """Let a blocked key (secret or token) call again. LiteLLMNotFound."""
        await self._key_blocking("/key/unblock", key)

    async def _key_blocking(self, path: str, key: str) -> None:
        # Both are idempotent: blocking a blocked key answers 200 as the first time did.
        try:
            await self._request("POST", path, json={"key": key})
        except LiteLLMRejected as exc:
            # 1.80.7 answers an unknown key with 401 "... not found in db"; 1.108.7 with 404.
            if exc.status == 401 and "not found in db" in (exc.detail or ""):
                raise LiteLLMNotFound(str(exc), status=exc.status, detail=exc.detail) from exc
            raise

    async def key_info(self, key: str) -> KeyInfo:
        """A key by secret or token; LiteLLMNotFound when unknown."""
        body = await self._request("GET", "/key/info", params={"key": key})
        token = hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key
        return _key_info(body.get("info") or {}, token=token)

    async def key_list(self, *, user_id: str | None = None) -> list[KeyInfo]:
        """Every key (of one user, when given), all pages."""
        keys: list[KeyInfo] = []
        page = 1
        while True:
            params: dict[str, Any] = {
                "return_full_object": "true",
                "page": page,
                "size": _PAGE_SIZE,
            }
            if user_id is not None:
                params["user_id"] = user_id
            body = await self._request("GET", "/key/list", params=params)
            keys.extend(_key_info(k, token=k.get("token")) for k in body.get("keys") or [])
            if page >= int(body.get("total_pages") or 0):
                return keys
            page += 1

    async def user_spend(self) -> list[UserSpend]:
        """What every user has spent, with their budget: all pages."""
        users: list[UserSpend] = []
        page = 1
        while True:
            body = await self._request(
                "GET", "/user/list", params={"page": page, "page_size": _PAGE_SIZE}
            )
            users.extend(
                UserSpend(
                    user_id=row["user_id"],
                    spend=float(row.get("spend") or 0.0),
                    max_budget=row.get("max_budget"),
                    budget_reset_at=_datetime(row.get("budget_reset_at")),
                )
                for row in body.get("users") or []
                if row.get("user_id")
            )
            if page >= int(body.get("total_pages") or 0):
                return users
            page += 1

    # Models and health -------------------------------------------------------------------

    async def model_info(self) -> list[ModelDeployment]:
        """Every model deployment the proxy serves."""
        body = await self._request("GET", "/model/info")
        return [_deployment(d) for d in body.get("data") or []]

    async def readiness(self) -> None:
        """Returns when LiteLLM and its database are ready; LiteLLMUnavailable otherwise."""
        body = await self._request("GET", "/health/readiness")
        # `status` differs between releases ("healthy", "connected"); `db` does not.
        if not isinstance(body, dict) or body.get("db") != "connected":
            raise LiteLLMUnavailable(
                "LiteLLM is up but its database is not connected", reached=True
            )

    # Transport ---------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
    ) -> Any:
        sent = False

        async def attempt() -> Any:
            nonlocal sent
            sent = True
            response = await self._send(method, path, params=params, json=json)
            return _decode(method, path, response)

        started = time.perf_counter()
        outcome = "ok"
        try:
            body = await self.breaker.call(attempt)
        except LiteLLMError as exc:
            outcome = _OUTCOMES.get(type(exc), "rejected") if sent else "breaker_open"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            if sent:
                self._metrics.litellm_request_duration.labels(endpoint=path).observe(
                    time.perf_counter() - started
                )
            self._metrics.litellm_requests.labels(endpoint=path, outcome=outcome).inc()
            self._record_breaker()
        self.monitor.last_success_at = datetime.now(UTC)
        return body

    def _record_breaker(self) -> None:
        snapshot = self.breaker.snapshot()
        for state in BreakerState:
            self._metrics.litellm_breaker_state.labels(state=state).set(
                int(state is snapshot.state)
            )
        self._metrics.litellm_consecutive_failures.set(snapshot.consecutive_failures)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None,
        json: dict[str, Any] | None,
    ) -> httpx.Response:
        retries = 1 if method == "GET" else 0
        while True:
            try:
                return await self._http.request(method, path, params=params, json=json)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if retries:
                    retries -= 1
                    await asyncio.sleep(_RETRY_DELAY)
                    continue
                raise LiteLLMUnavailable(
                    f"cannot connect to LiteLLM ({method} {path})", reached=False
                ) from exc
            except httpx.TimeoutException as exc:
                raise LiteLLMUnavailable(
                    f"LiteLLM timed out ({method} {path})", reached=True
                ) from exc
            except httpx.TransportError as exc:
                raise LiteLLMUnavailable(
                    f"LiteLLM connection failed ({method} {path})", reached=True
                ) from exc


def _decode(method: str, path: str, response: httpx.Response) -> Any:
    status = response.status_code
    if status < 400:
        try:
            return response.json()
        except ValueError as exc:
            raise LiteLLMUnavailable(
                f"LiteLLM answered {method} {path} with a body that is not JSON",
                reached=True,
                status=status,
            ) from exc
    error_type, detail = _error_details(response)
    summary = f"LiteLLM answered {method} {path} with {status}" + (
        f" ({error_type})" if error_type else ""
    )
    if status >= 500:
        raise LiteLLMUnavailable(
            summary, reached=True, status=status, error_type=error_type, detail=detail
        )
    error: type[LiteLLMError]
    if status == 404:
        error = LiteLLMNotFound
    elif status == 409 or "already exists" in (detail or ""):
        # 1.108.7 answers 409 for a duplicate user; older releases and key aliases use 400.
        error = LiteLLMConflict
    else:
        error = LiteLLMRejected
    raise error(summary, status=status, error_type=error_type, detail=detail)


def _error_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """LiteLLM's error `type` and message, from either of its two envelopes."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:500] or None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return error.get("type"), str(error.get("message", ""))
    if isinstance(body, dict) and "detail" in body:
        return None, str(body["detail"])
    return None, str(body)[:500]


def _user(row: dict[str, Any]) -> LiteLLMUser:
    return LiteLLMUser(
        user_id=row["user_id"],
        user_email=row.get("user_email"),
        user_alias=row.get("user_alias"),
        max_budget=row.get("max_budget"),
        tpm_limit=row.get("tpm_limit"),
        rpm_limit=row.get("rpm_limit"),
    )


def _key_info(row: dict[str, Any], *, token: str | None) -> KeyInfo:
    return KeyInfo(
        token=token or row.get("token"),
        key_alias=row.get("key_alias"),
        user_id=row.get("user_id"),
        models=tuple(row.get("models") or ()),
        expires=_datetime(row.get("expires")),
        deleted=row.get("status") == "deleted" or row.get("deleted_at") is not None,
        metadata=dict(row.get("metadata") or {}),
        blocked=row.get("blocked") is True,
        spend=float(row.get("spend") or 0.0),
    )


def _deployment(row: dict[str, Any]) -> ModelDeployment:
    info = row.get("model_info") or {}
    params = row.get("litellm_params") or {}
    backend = str(params.get("model") or "")
    provider = info.get("litellm_provider") or (
        backend.split("/", 1)[0] if "/" in backend else None
    )
    capabilities = ["chat"] if info.get("mode") in (None, "chat") else [str(info["mode"])]
    for flag, name in (
        ("supports_vision", "vision"),
        ("supports_function_calling", "tools"),
        ("supports_response_schema", "json_schema"),
    ):
        if info.get(flag):
            capabilities.append(name)
    return ModelDeployment(
        model_name=row["model_name"],
        provider=provider,
        max_tokens=info.get("max_input_tokens") or info.get("max_tokens"),
        input_cost_per_token=info.get("input_cost_per_token"),
        output_cost_per_token=info.get("output_cost_per_token"),
        capabilities=tuple(capabilities),
    )


def duration_until(expires_at: datetime) -> str:
    """LiteLLM's `duration` for a key that expires at `expires_at` (whole seconds, at least 1)."""
    return f"{max(1, math.ceil((expires_at - datetime.now(UTC)).total_seconds()))}s"


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
