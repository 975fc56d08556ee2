"""API keys: `apiKeys`, `apiKey`, `apiKeyCreate`, `apiKeyRevoke`, `modelAccess`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import strawberry

from app.auth.bearer import bearer_token
from app.db import models as db
from app.failures import Failure, not_found
from app.graphql.context import Info
from app.graphql.errors import (
    InvalidApiKeyError,
    KeyLimitReachedError,
    LitellmUnavailableError,
    ModelAccessDeniedError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import CanReadUser, IsAuthenticated
from app.graphql.types import Model
from app.services import access, api_keys, catalog

strawberry.enum(db.ApiKeyStatus, name="ApiKeyStatus")


@strawberry.type(description="An API key; its secret is shown once, at creation.")
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str | None = strawberry.field(description="The first characters, for recognition.")
    status: db.ApiKeyStatus
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None
    # Loaded with the keys (one query for all of them), not by a resolver per key.
    model_access: list[Model] = strawberry.field(
        description="The models this key may call (enforced by LiteLLM)."
    )

    @classmethod
    def from_row(cls, row: db.ApiKey | api_keys.ListedKey, models: list[Model]) -> ApiKey:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            prefix=row.prefix,
            status=row.status,
            expires_at=row.expires_at,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
            max_budget=row.max_budget,
            tpm_limit=row.tpm_limit,
            rpm_limit=row.rpm_limit,
            model_access=models,
        )


@strawberry.input
class ApiKeyCreateInput:
    name: str
    model_ids: list[strawberry.ID]
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@strawberry.type
class ApiKeyCreateSuccess:
    api_key: ApiKey
    secret: str = strawberry.field(description="The key itself. Shown now and never again.")


@strawberry.type
class ApiKeyRevokeSuccess:
    api_key: ApiKey


@strawberry.type
class ModelAccessGranted:
    model: Model
    allowed_models: list[Model]


ApiKeyCreateResult = Annotated[
    ApiKeyCreateSuccess
    | ModelAccessDeniedError
    | KeyLimitReachedError
    | ValidationError
    | LitellmUnavailableError
    | UserNotFoundLitellmError,
    strawberry.union("ApiKeyCreateResult"),
]
ApiKeyRevokeResult = Annotated[
    ApiKeyRevokeSuccess | NotFoundError | LitellmUnavailableError,
    strawberry.union("ApiKeyRevokeResult"),
]
ModelAccessResult = Annotated[
    ModelAccessGranted | ModelAccessDeniedError | InvalidApiKeyError | ValidationError,
    strawberry.union("ModelAccessResult"),
]


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(
        description="The caller's API keys, newest first; admins may name another user.",
        permission_classes=[IsAuthenticated, CanReadUser],
    )
    async def api_keys(self, info: Info, user_id: strawberry.ID | None = None) -> list[ApiKey]:
        owner = await info.context.owner(user_id)
        if owner is None:
            return []
        listed = await api_keys.list_for_user(resources=info.context.resources, user_id=owner)
        return _keys([(key, key.models) for key in listed])

    @strawberry.field(
        description="One of the caller's API keys.", permission_classes=[IsAuthenticated]
    )
    async def api_key(self, info: Info, id: strawberry.ID) -> ApiKey | None:
        user = await info.context.user()
        key_id = parse_uuid(id)
        if key_id is None:
            return None
        row = await api_keys.get_for_user(
            resources=info.context.resources, user_id=user.id, key_id=key_id
        )
        return await _with_models(info, row) if row is not None else None

    @strawberry.field(description="May the API key in `Authorization: Bearer` call this model?")
    async def model_access(self, info: Info, model: strawberry.ID) -> ModelAccessResult:
        resources = info.context.resources
        result = await access.check_model_access(
            resources=resources,
            secret=bearer_token(info.context.request.headers.get("authorization")),
            model_id=str(model),
        )
        if isinstance(result, Failure):
            return user_error(result)  # type: ignore[return-value]
        loaded = await info.context.loaders.model.load_many(
            [result.model_id, *result.allowed_model_ids]
        )
        requested, *allowed = loaded
        return ModelAccessGranted(
            model=Model.from_row(requested) if requested else _unknown_model(result.model_id),
            allowed_models=[Model.from_row(m) for m in allowed if m is not None],
        )


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(
        description="Create a key for models the caller is subscribed to.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreateResult:
        user = await info.context.user()
        result = await api_keys.create(
            resources=info.context.resources,
            user_id=user.id,
            request=api_keys.NewApiKey(
                name=input.name,
                model_ids=tuple(str(m) for m in input.model_ids),
                expires_at=input.expires_at,
                max_budget=input.max_budget,
                tpm_limit=input.tpm_limit,
                rpm_limit=input.rpm_limit,
            ),
        )
        if isinstance(result, Failure):
            return user_error(result)  # type: ignore[return-value]
        key = await _with_models(info, result.api_key)
        return ApiKeyCreateSuccess(api_key=key, secret=result.secret)

    @strawberry.mutation(
        description="Revoke a key: LiteLLM stops accepting it at once.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokeResult:
        user = await info.context.user()
        key_id = parse_uuid(id)
        result: db.ApiKey | Failure = (
            not_found("API key")
            if key_id is None
            else await api_keys.revoke(
                resources=info.context.resources, user_id=user.id, key_id=key_id
            )
        )
        if isinstance(result, Failure):
            return user_error(result)  # type: ignore[return-value]
        return ApiKeyRevokeSuccess(api_key=await _with_models(info, result))


async def _with_models(info: Info, row: db.ApiKey) -> ApiKey:
    models = await api_keys.models_for_key(resources=info.context.resources, key_id=row.id)
    (key,) = _keys([(row, models)])
    return key


def _keys(
    keys: Sequence[tuple[db.ApiKey | api_keys.ListedKey, Sequence[catalog.CatalogModel]]],
) -> list[ApiKey]:
    """The keys with their models, each model converted once."""
    converted: dict[str, Model] = {}

    def model(found: catalog.CatalogModel) -> Model:
        if found.id not in converted:
            converted[found.id] = Model.from_row(found)
        return converted[found.id]

    return [ApiKey.from_row(key, [model(m) for m in models]) for key, models in keys]


def _unknown_model(model_id: str) -> Model:
    # Granted in log-only/off mode for a model the catalogue does not know.
    return Model.from_row(catalog.CatalogModel(id=model_id, name=model_id, available=False))
