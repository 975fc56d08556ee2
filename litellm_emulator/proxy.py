"""The LiteLLM routes the BFF uses, answering as LiteLLM 1.108.7 does."""

from __future__ import annotations

import math
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from litellm_emulator import bodies
from litellm_emulator.answers import PARAM_NONE, fastapi_detail, litellm_error
from litellm_emulator.records import (
    PROXY_ADMIN_ID,
    DeletedKey,
    User,
    VirtualKey,
    iso_z,
    key_name,
    new_secret,
    now,
    token_of,
)
from litellm_emulator.store import ProxyStore, expiry

# LiteLLM lists every model as created at this instant, owned by "openai".
MODEL_CREATED = 1677610602
INVALID_KEY = "Authentication Error, Invalid API key provided."
BLOCKED_KEY = "Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin."
KEY_LIST_PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class Caller:
    key: VirtualKey | None  # None: the master key

    @property
    def is_admin(self) -> bool:
        return self.key is None


def store_of(request: Request) -> ProxyStore:
    store: ProxyStore = request.app.state.store
    return store


def authenticate(request: Request) -> Caller | Response:
    """Who is calling: the master key, a live virtual key, or LiteLLM's 401."""
    header = request.headers.get("authorization")
    if not header:
        return litellm_error(
            401, "Authentication Error, No api key passed in.", "auth_error", PARAM_NONE
        )
    if not header.startswith("Bearer "):
        return litellm_error(
            401,
            "Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.",
            "auth_error",
            PARAM_NONE,
        )
    secret = header.removeprefix("Bearer ").strip()
    master_key: str = request.app.state.master_key
    if secrets.compare_digest(secret.encode(), master_key.encode()):
        return Caller(key=None)
    if not secret.startswith("sk-"):
        return litellm_error(
            401,
            "LiteLLM Virtual Key expected. Received=****, expected to start with 'sk-'.",
            "auth_error",
            PARAM_NONE,
        )
    key = store_of(request).key(secret)
    if key is None:
        return litellm_error(401, INVALID_KEY, "token_not_found_in_db", "key")
    if key.blocked:
        return litellm_error(401, BLOCKED_KEY, "auth_error", PARAM_NONE)
    at = now()
    if key.expired(at):
        return litellm_error(
            401,
            f"Authentication Error - Expired Key. Key Expiry time {key.expires} "
            f"and current time {at}",
            "expired_key",
            key.key_name,
        )
    return Caller(key=key)


def admin_caller(request: Request) -> Caller | Response:
    """The caller of a route only the proxy admin (the master key) may use."""
    caller = authenticate(request)
    if isinstance(caller, Caller) and not caller.is_admin:
        return litellm_error(
            401,
            "Authentication Error, Only proxy admin can be used to generate, delete, update "
            f"info for new keys/users/teams. Route={request.url.path}. Your role=unknown. "
            "Your user_id=*******",
            "auth_error",
            PARAM_NONE,
        )
    return caller


# ---------------------------------------------------------------------------- health


async def liveliness(_request: Request) -> Response:
    return JSONResponse("I'm alive!")


async def readiness(_request: Request) -> Response:
    return JSONResponse({"status": "healthy", "db": "connected"})


# ---------------------------------------------------------------------------- users


async def user_new(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.UserNew)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    user_id = body.user_id or str(uuid.uuid4())
    if user_id in store.users:
        return _python_dict_error(409, f"User with id {user_id} already exists")
    if body.user_email is not None and store.user_by_email(body.user_email) is not None:
        return _python_dict_error(409, f"User with email {body.user_email} already exists")
    user = User(
        user_id=user_id,
        user_email=body.user_email,
        user_alias=body.user_alias,
        user_role=body.user_role,
        models=tuple(body.models),
        max_budget=body.max_budget,
        metadata=body.metadata,
        tpm_limit=body.tpm_limit,
        rpm_limit=body.rpm_limit,
        budget_duration=body.budget_duration,
    )
    store.users[user_id] = user
    secret = ""
    if body.auto_create_key:
        secret = new_secret()
        key = VirtualKey(
            token=token_of(secret), key_name=key_name(secret), user_id=user_id, models=user.models
        )
        store.keys[key.token] = key
    # A key-shaped object with the user's fields mixed in; `token` stays null even with a key.
    return JSONResponse(
        {
            "key_alias": None,
            "duration": None,
            "models": list(user.models),
            "spend": 0.0,
            "max_budget": user.max_budget,
            "user_id": user_id,
            "team_id": None,
            "metadata": dict(user.metadata),
            "tpm_limit": user.tpm_limit,
            "rpm_limit": user.rpm_limit,
            "budget_duration": user.budget_duration,
            "key": secret,
            "key_name": key_name(secret) if secret else None,
            "key_type": None,
            "expires": None,
            "token_id": None,
            "token": None,
            "created_by": None,
            "updated_by": None,
            "created_at": None,
            "updated_at": None,
            "user_email": user.user_email,
            "user_role": user.user_role,
            "teams": None,
            "user_alias": user.user_alias,
        }
    )


async def user_info(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    store = store_of(request)
    user_id = request.query_params.get("user_id")
    if caller.key is not None:
        own_id = caller.key.user_id
        if user_id is not None and user_id != own_id:
            return litellm_error(
                403,
                f"key not allowed to access this user's info. user_id={user_id}, "
                f"key's user_id={own_id}",
                "auth_error",
                PARAM_NONE,
            )
        user_id = own_id
    elif user_id is None:
        # The proxy admin asking about nobody in particular: no user, and every key.
        return JSONResponse(
            {
                "user_id": PROXY_ADMIN_ID,
                "user_info": None,
                "keys": [_listed(k) for k in store.keys.values()],
                "teams": [],
            }
        )
    user = store.users.get(user_id or "")
    if user is None:
        return litellm_error(404, f"User {user_id or ''} not found", "internal_server_error")
    return JSONResponse(
        {
            "user_id": user.user_id,
            "user_info": user.row(),
            "keys": [_listed(k) for k in store.keys_of(user.user_id)],
            "teams": [],
        }
    )


async def user_update(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.UserUpdate)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    if body.user_id is not None:
        user = store.users.get(body.user_id) or User(user_id=body.user_id)  # upserts, as LiteLLM
    else:
        found = store.user_by_email(body.user_email or "")
        if found is None:
            # 1.108.7 fails here with a 400 from a bug of its own; a plain 404 is the intent.
            return litellm_error(
                404, f"User with email {body.user_email} not found", "internal_server_error"
            )
        user = found
    changes = _changes(body, body.model_fields_set - {"user_id"})
    updated = replace(user, **changes, updated_at=now())
    store.users[updated.user_id] = updated
    return JSONResponse({"user_id": updated.user_id, "data": updated.row()})


async def user_delete(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.UserDelete)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    for user_id in body.user_ids:
        if user_id not in store.users:
            return fastapi_detail(404, {"error": f"User not found, passed user_id={user_id}"})
    user_ids = set(body.user_ids)
    for user_id in user_ids:
        del store.users[user_id]
        for key in store.keys_of(user_id):
            # Gone with its user, not moved to the deleted-keys table: /key/info answers 404.
            del store.keys[key.token]
    return JSONResponse(len(user_ids))


# ---------------------------------------------------------------------------- keys


async def key_generate(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.KeyGenerate)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    if body.key_alias is not None and store.alias_owner(body.key_alias) is not None:
        return _alias_taken(body.key_alias)
    created = now()
    expires = None
    if body.duration is not None:
        expires = expiry(body.duration, created)
        if expires is None:
            return litellm_error(500, "Invalid duration format", "internal_server_error")
    secret = new_secret()
    key = VirtualKey(
        token=token_of(secret),
        key_name=key_name(secret),
        key_alias=body.key_alias,
        user_id=body.user_id,
        models=tuple(body.models),
        max_budget=body.max_budget,
        tpm_limit=body.tpm_limit,
        rpm_limit=body.rpm_limit,
        budget_duration=body.budget_duration,
        metadata=body.metadata,
        expires=expires,
        created_at=created,
        updated_at=created,
    )
    store.keys[key.token] = key
    return JSONResponse(
        {
            **key.row(iso_z),
            "key": secret,
            "token": key.token,
            "token_id": key.token,
            "duration": None,
        }
    )


async def key_update(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.KeyUpdate)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    key = store.key(body.key)
    if key is None:
        return litellm_error(404, "Key not found.", "not_found_error", "key")
    if body.key_alias is not None:
        owner = store.alias_owner(body.key_alias)
        if owner is not None and owner.token != key.token:
            return _alias_taken(body.key_alias)
    changed = now()
    # 1.108.7 applies an explicit null on a key (it clears a limit); 1.80.7 skipped it.
    changes = _changes(body, body.model_fields_set - {"key", "duration"}, nulls=True)
    if body.duration is not None:
        changes["expires"] = expiry(body.duration, changed)
        if changes["expires"] is None:
            return litellm_error(500, "Invalid duration format", "internal_server_error")
    elif "duration" in body.model_fields_set:  # an explicit null: the key never expires
        changes["expires"] = None
    updated = replace(key, **changes, updated_at=changed, settings_updated_at=changed)
    store.keys[key.token] = updated
    return JSONResponse({"key": body.key, "token": key.token, **updated.row()})


async def key_regenerate(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    # Without an enterprise licence, as every proxy the BFF supports runs.
    return litellm_error(
        500,
        "Regenerating Virtual Keys is an Enterprise feature, You must be a LiteLLM Enterprise "
        "user to use this feature. If you have a license please set `LITELLM_LICENSE` in your "
        "env. Get a 7 day trial key here: https://www.litellm.ai/enterprise#trial. \n"
        "Pricing: https://www.litellm.ai/#pricing",
        "internal_server_error",
    )


async def key_delete(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.KeyDelete)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    tokens = {token_of(k) for k in body.keys or []} | {
        k.token for k in store.keys.values() if k.key_alias in (body.key_aliases or [])
    }
    found = [store.keys[t] for t in tokens if t in store.keys]
    if not found:
        return _python_dict_error(404, "No keys found")
    deleted_at = now()
    for key in found:
        del store.keys[key.token]
        store.deleted_keys[key.token] = DeletedKey(key=key, deleted_at=deleted_at)
    # Echoes what was asked for, found or not.
    return JSONResponse({"deleted_keys": body.keys or body.key_aliases})


async def key_block(request: Request) -> Response:
    return await _set_blocked(request, blocked=True)


async def key_unblock(request: Request) -> Response:
    return await _set_blocked(request, blocked=False)


async def _set_blocked(request: Request, *, blocked: bool) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.KeyBlock)
    if isinstance(body, Response):
        return body
    store = store_of(request)
    key = store.key(body.key)
    if key is None:
        return litellm_error(404, "Key not found.", "not_found_error", "key")
    updated = replace(key, blocked=blocked, updated_at=now())
    store.keys[key.token] = updated
    return JSONResponse(_listed(updated))


async def key_info(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    store = store_of(request)
    asked = request.query_params.get("key")
    if caller.key is not None:
        if asked is not None and token_of(asked) != caller.key.token:
            return litellm_error(
                403,
                "You are not allowed to access this key's info. Your role=internal_user",
                "internal_server_error",
            )
        return JSONResponse(
            {"key": asked or caller.key.token, "info": {**caller.key.row(), "status": "active"}}
        )
    token = token_of(asked or "")
    if (key := store.keys.get(token)) is not None:
        return JSONResponse({"key": asked, "info": {**key.row(), "status": "active"}})
    if (deleted := store.deleted_keys.get(token)) is not None:
        return JSONResponse({"key": asked, "info": deleted.row()})
    return litellm_error(404, "Key not found in database", "not_found_error", "key")


async def key_list(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    if not caller.is_admin:
        return litellm_error(
            403,
            "You are not authorized to access this endpoint. "
            "No 'user_id' is associated with your API key.",
            "bad_request_error",
            "user_id",
        )
    query = request.query_params
    page = _positive_int(query.get("page", "1"), "page")
    size = _positive_int(query.get("size", str(KEY_LIST_PAGE_SIZE)), "size")
    if isinstance(page, Response):
        return page
    if isinstance(size, Response):
        return size
    user_id, alias = query.get("user_id"), query.get("key_alias")
    matching = [
        k
        for k in store_of(request).keys.values()
        if (user_id is None or k.user_id == user_id) and (alias is None or k.key_alias == alias)
    ]
    shown = matching[(page - 1) * size : page * size]
    full = query.get("return_full_object", "").lower() == "true"
    return JSONResponse(
        {
            "keys": [_listed(k) if full else k.token for k in shown],
            "total_count": len(matching),
            "current_page": page,
            "total_pages": math.ceil(len(matching) / size),
        }
    )


async def user_list(request: Request) -> Response:
    caller = admin_caller(request)
    if not isinstance(caller, Caller):
        return caller
    query = request.query_params
    page = _positive_int(query.get("page", "1"), "page")
    size = _positive_int(query.get("page_size", "25"), "page_size")
    if isinstance(page, Response):
        return page
    if isinstance(size, Response):
        return size
    users = list(store_of(request).users.values())
    return JSONResponse(
        {
            "users": [u.row() for u in users[(page - 1) * size : page * size]],
            "total": len(users),
            "page": page,
            "page_size": size,
            "total_pages": math.ceil(len(users) / size),
        }
    )


# ---------------------------------------------------------------------------- models


async def model_info(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    key = caller.key
    models = [
        m for m in store_of(request).models.values() if key is None or key.allows(m.model_name)
    ]
    return JSONResponse({"data": [m.entry() for m in models]})


async def list_models(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    names = list(store_of(request).models)
    if caller.key is not None and caller.key.models:
        # The key's own list, as written on the key, even a name the proxy does not serve.
        names = list(caller.key.models)
    return JSONResponse(
        {
            "data": [
                {"id": name, "object": "model", "created": MODEL_CREATED, "owned_by": "openai"}
                for name in names
            ],
            "object": "list",
        }
    )


async def chat_completions(request: Request) -> Response:
    caller = authenticate(request)
    if not isinstance(caller, Caller):
        return caller
    body = await bodies.read_body(request, bodies.ChatCompletion)
    if isinstance(body, Response):
        return body
    key = caller.key
    if key is not None and not key.allows(body.model):
        return litellm_error(
            403,
            f"The requested model '{body.model}' is not available for this API key, or the "
            "model name is invalid. Check the models available to you and try again.",
            "key_model_access_denied",
            "model",
        )
    if key is not None and key.max_budget is not None and key.spend >= key.max_budget:
        return litellm_error(
            422,
            f"Budget has been exceeded! Key=key ({key.key_name}) Current cost: {key.spend}, "
            f"Max budget: {key.max_budget}",
            "budget_exceeded",
        )
    if body.messages is None:
        return litellm_error(
            400,
            "/chat/completions: Missing required parameter: 'messages'.",
            "invalid_request_error",
            "messages",
        )
    if body.model not in store_of(request).models:
        message = (
            f"/chat/completions: Invalid model name passed in model={body.model}. "
            "Call `/v1/models` to view available models for your key."
        )
        return JSONResponse(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "400",
                    "provider_specific_fields": {"error": message},
                }
            },
            status_code=400,
        )
    _charge(store_of(request), key, body.model, prompt_tokens=10, completion_tokens=20)
    return JSONResponse(
        {
            "id": f"chatcmpl-{uuid.uuid4()}",
            "created": int(time.time()),
            "model": body.model,
            "object": "chat.completion",
            "choices": [
                {
                    "finish_reason": "stop",
                    "index": 0,
                    "message": {
                        "content": f"Hello from mock model {body.model}",
                        "role": "assistant",
                    },
                }
            ],
            "usage": {"completion_tokens": 20, "prompt_tokens": 10, "total_tokens": 30},
        }
    )


def _charge(
    store: ProxyStore,
    key: VirtualKey | None,
    model_name: str,
    *,
    prompt_tokens: int,
    completion_tokens: int,
) -> None:
    """Add a call's cost (the model's cost per token) to the key's and its user's spend."""
    info = store.models[model_name].model_info
    cost = prompt_tokens * float(info.get("input_cost_per_token") or 0) + completion_tokens * float(
        info.get("output_cost_per_token") or 0
    )
    if key is None or not cost:
        return
    store.keys[key.token] = replace(key, spend=key.spend + cost)
    user = store.users.get(key.user_id or "")
    if user is not None:
        store.users[user.user_id] = replace(user, spend=user.spend + cost)


# ---------------------------------------------------------------------------- shapes


def _listed(key: VirtualKey) -> dict[str, Any]:
    """A key as /key/list (full objects) and /user/info's `keys` show it: with its token."""
    return {"token": key.token, **key.row(iso_z)}


def _changes(body: BaseModel, fields: set[str], *, nulls: bool = False) -> dict[str, Any]:
    """The fields an update sets; unless `nulls`, LiteLLM skips them: null never clears."""
    changes = {
        name: value for name in fields if (value := getattr(body, name)) is not None or nulls
    }
    if "models" in changes:
        changes["models"] = tuple(changes["models"])
    return changes


def _python_dict_error(status: int, error: str) -> Response:
    # LiteLLM wraps these in HTTPException(detail={"error": ...}) and prints the dict's str().
    return litellm_error(status, str({"error": error}), "internal_server_error")


def _alias_taken(alias: str) -> Response:
    return litellm_error(
        400,
        f"Key with alias '{alias}' already exists. "
        "Unique key aliases across all keys are required.",
        "bad_request_error",
        "key_alias",
    )


def _positive_int(raw: str, name: str) -> int | Response:
    if raw.isdigit() and int(raw) >= 1:
        return int(raw)
    return fastapi_detail(
        422,
        [
            {
                "type": "greater_than_equal",
                "loc": ["query", name],
                "msg": "Input should be greater than or equal to 1",
            }
        ],
    )


routes = [
    Route("/health/liveliness", liveliness, methods=["GET"]),
    Route("/health/readiness", readiness, methods=["GET"]),
    Route("/user/new", user_new, methods=["POST"]),
    Route("/user/info", user_info, methods=["GET"]),
    Route("/user/update", user_update, methods=["POST"]),
    Route("/user/delete", user_delete, methods=["POST"]),
    Route("/user/list", user_list, methods=["GET"]),
    Route("/key/generate", key_generate, methods=["POST"]),
    Route("/key/update", key_update, methods=["POST"]),
    Route("/key/delete", key_delete, methods=["POST"]),
    Route("/key/regenerate", key_regenerate, methods=["POST"]),
    Route("/key/block", key_block, methods=["POST"]),
    Route("/key/unblock", key_unblock, methods=["POST"]),
    Route("/key/info", key_info, methods=["GET"]),
    Route("/key/list", key_list, methods=["GET"]),
    Route("/model/info", model_info, methods=["GET"]),
    Route("/v1/model/info", model_info, methods=["GET"]),
    Route("/models", list_models, methods=["GET"]),
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/chat/completions", chat_completions, methods=["POST"]),
    Route("/v1/chat/completions", chat_completions, methods=["POST"]),
]
