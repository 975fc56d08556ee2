"""API keys: `apiKeys`, `apiKey`, `apiKeyCreate`, `apiKeyRevoke`, `modelAccess`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from app.auth.bearer import bearer_token
from app.failures import Failure, not_found
from app.graphql.context import Info
from app.graphql.enums import ApiKeyStatusEnum, api_value
from app.graphql.errors import (
    InvalidApiKeyError,
    KeyLimitReachedError,
    LitellmUnavailableError,
    ModelAccessDeniedError,
    NotFoundError,
    UserNotFoundLitellmError,
    ValidationError,
    not_in_result,
    user_error,
)
from app.graphql.ids import parse_uuid
from app.graphql.permissions import CanReadUser, IsAuthenticated
from app.graphql.types import ModelType
from app.metrics import KeyOperation
from app.services import access, api_keys, catalog


@strawberry.type(name="ApiKey", description="An API key; its secret is shown once, at creation.")
class ApiKeyType:
    id: strawberry.ID
    name: str
    prefix: str | None = strawberry.field(description="The first characters, for recognition.")
    status: ApiKeyStatusEnum
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None
    # Loaded with the keys (one query for all of them), not by a resolver per key.
    model_access: list[ModelType] = strawberry.field(
        description="The models this key may call (enforced by LiteLLM)."
    )

    @classmethod
    def from_read(cls, key: api_keys.ApiKeyRead, models: list[ModelType]) -> ApiKeyType:
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            status=api_value(ApiKeyStatusEnum, key.status),
            expires_at=key.expires_at,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            max_budget=key.max_budget,
            tpm_limit=key.tpm_limit,
            rpm_limit=key.rpm_limit,
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
    api_key: ApiKeyType
    secret: str = strawberry.field(description="The key itself. Shown now and never again.")


@strawberry.type
class ApiKeyRevokeSuccess:
    api_key: ApiKeyType


@strawberry.type
class ModelAccessGranted:
    model: ModelType
    allowed_models: list[ModelType]


ApiKeyCreateError = (
    ModelAccessDeniedError
    | KeyLimitReachedError
    | ValidationError
    | LitellmUnavailableError
    | UserNotFoundLitellmError
)
ApiKeyCreateResult = Annotated[
    ApiKeyCreateSuccess | ApiKeyCreateError, strawberry.union("ApiKeyCreateResult")
]
ApiKeyRevokeError = NotFoundError | LitellmUnavailableError
ApiKeyRevokeResult = Annotated[
    ApiKeyRevokeSuccess | ApiKeyRevokeError, strawberry.union("ApiKeyRevokeResult")
]
ModelAccessError = ModelAccessDeniedError | InvalidApiKeyError | ValidationError
ModelAccessResult = Annotated[
    ModelAccessGranted | ModelAccessError, strawberry.union("ModelAccessResult")
]


@strawberry.type
class ApiKeyQuery:
    @strawberry.field(
        description="The caller's API keys, newest first; admins may name another user.",
        permission_classes=[IsAuthenticated, CanReadUser],
    )
    async def api_keys(self, info: Info, user_id: strawberry.ID | None = None) -> list[ApiKeyType]:
        owner = await info.context.owner(user_id)
        if owner is None:
            return []
        listed = await api_keys.list_for_user(keys=info.context.resources.api_keys, user_id=owner)
        return _keys(listed)

    @strawberry.field(
        description="One of the caller's API keys.", permission_classes=[IsAuthenticated]
    )
    async def api_key(self, info: Info, id: strawberry.ID) -> ApiKeyType | None:
        user = await info.context.user()
        key_id = parse_uuid(id)
        if key_id is None:
            return None
        key = await api_keys.get_for_user(
            keys=info.context.resources.api_keys, user_id=user.id, key_id=key_id
        )
        return _keys([key])[0] if key is not None else None

    @strawberry.field(description="May the API key in `Authorization: Bearer` call this model?")
    async def model_access(self, info: Info, model: strawberry.ID) -> ModelAccessResult:
        resources = info.context.resources
        result = await access.check_model_access(
            keys=resources.api_keys,
            metrics=resources.metrics,
            enforcement=resources.settings.model_access_enforcement,
            secret=bearer_token(info.context.request.headers.get("authorization")),
            model_id=str(model),
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ModelAccessError):
                return error
            raise not_in_result(result)
        loaded = await info.context.loaders.model.load_many(
            [result.model_id, *result.allowed_model_ids]
        )
        requested, *allowed = loaded
        return ModelAccessGranted(
            model=ModelType.from_read(requested or catalog.unknown_model(result.model_id)),
            allowed_models=[ModelType.from_read(m) for m in allowed if m is not None],
        )


@strawberry.type
class ApiKeyMutation:
    @strawberry.mutation(
        description="Create a key for models the caller is subscribed to.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_create(self, info: Info, input: ApiKeyCreateInput) -> ApiKeyCreateResult:
        user = await info.context.user()
        resources = info.context.resources
        result = await resources.metrics.key_operation(
            KeyOperation.CREATE,
            api_keys.create(
                keys=resources.api_keys,
                litellm=resources.litellm,
                ensure_litellm_user=resources.user_sync.ensure,
                max_active_keys=resources.settings.max_active_keys_per_user,
                user_id=user.id,
                request=api_keys.NewApiKey(
                    name=input.name,
                    model_ids=tuple(str(m) for m in input.model_ids),
                    expires_at=input.expires_at,
                    max_budget=input.max_budget,
                    tpm_limit=input.tpm_limit,
                    rpm_limit=input.rpm_limit,
                ),
            ),
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ApiKeyCreateError):
                return error
            raise not_in_result(result)
        return ApiKeyCreateSuccess(api_key=_keys([result.api_key])[0], secret=result.secret)

    @strawberry.mutation(
        description="Revoke a key: LiteLLM stops accepting it at once.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_revoke(self, info: Info, id: strawberry.ID) -> ApiKeyRevokeResult:
        user = await info.context.user()
        resources = info.context.resources
        key_id = parse_uuid(id)
        result = (
            not_found("API key")
            if key_id is None
            else await api_keys.revoke(
                keys=resources.api_keys, litellm=resources.litellm, user_id=user.id, key_id=key_id
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ApiKeyRevokeError):
                return error
            raise not_in_result(result)
        return ApiKeyRevokeSuccess(api_key=_keys([result])[0])


def _keys(keys: list[api_keys.ApiKeyRead]) -> list[ApiKeyType]:
    """The keys with their models, each model converted once."""
    converted: dict[str, ModelType] = {}

    def model(found: catalog.ModelRead) -> ModelType:
        if found.id not in converted:
            converted[found.id] = ModelType.from_read(found)
        return converted[found.id]

    return [ApiKeyType.from_read(key, [model(m) for m in key.models]) for key in keys]
