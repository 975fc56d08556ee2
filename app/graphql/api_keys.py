"""API keys: `apiKeys`, `apiKey`, `apiKeyCreate`, `apiKeyUpdate`, `apiKeyRotate`,
`apiKeyRevoke`, `modelAccess`."""

from __future__ import annotations

from datetime import UTC, datetime
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
from app.graphql.permissions import ADMIN_ROLE, IsAuthenticated, own_or_readable
from app.graphql.types import ModelType, models_by_id
from app.metrics import KeyOperation
from app.services import access, api_keys, catalog


@strawberry.type(name="ApiKey", description="An API key; its secret is shown once, at creation.")
class ApiKeyType:
    id: strawberry.ID
    name: str
    prefix: str | None = strawberry.field(description="The first characters, for recognition.")
    status: ApiKeyStatusEnum = strawberry.field(
        description="EXPIRED once an active key is past `expiresAt`."
    )
    expires_at: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    max_budget: float | None
    tpm_limit: int | None
    rpm_limit: int | None
    spend: float | None = strawberry.field(
        description="What LiteLLM reported the key has spent, as of `spendSyncedAt` "
        "(null: not synced yet)."
    )
    spend_synced_at: datetime | None = strawberry.field(
        description="When `spend` was read from LiteLLM: how old it is."
    )
    # Loaded with the keys (one query for all of them), not by a resolver per key.
    model_access: list[ModelType] = strawberry.field(
        description="The models this key may call now: those its owner's subscription to is "
        "ACTIVE (enforced by LiteLLM; a suspended model is left out until it is reactivated)."
    )

    @classmethod
    def from_read(
        cls, key: api_keys.ApiKeyRead, models: list[ModelType], now: datetime
    ) -> ApiKeyType:
        """The key as it stands at `now` (an active key past its expiry is EXPIRED)."""
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            status=_API_STATUS[api_keys.derived_status(key, now)],
            expires_at=key.expires_at,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            max_budget=key.max_budget,
            tpm_limit=key.tpm_limit,
            rpm_limit=key.rpm_limit,
            spend=key.spend,
            spend_synced_at=key.spend_synced_at,
            model_access=models,
        )


_API_STATUS = {status: api_value(ApiKeyStatusEnum, status) for status in api_keys.KeyStatus}


@strawberry.input
class ApiKeyCreateInput:
    name: str
    model_ids: list[strawberry.ID]
    expires_at: datetime | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None


@strawberry.input(description="What to change; a field left out (or null) stays as it is.")
class ApiKeyUpdateInput:
    name: str | None = None
    model_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Every model the key may call: all subscribed, at least one."
    )
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    expires_at: datetime | None = None


@strawberry.input
class ApiKeyRotateInput:
    grace_period_seconds: int = strawberry.field(
        default=0, description="How long the old secret keeps working (0: it stops at once)."
    )


@strawberry.type
class ApiKeyUpdateSuccess:
    api_key: ApiKeyType


@strawberry.type
class ApiKeyRotateSuccess:
    api_key: ApiKeyType
    secret: str = strawberry.field(description="The new key. Shown now and never again.")


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
    enforced: bool = strawberry.field(
        description="False when the key lacks the model and is let through only because "
        "enforcement is LOG_ONLY or OFF."
    )


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
ApiKeyUpdateError = (
    NotFoundError | ModelAccessDeniedError | ValidationError | LitellmUnavailableError
)
ApiKeyUpdateResult = Annotated[
    ApiKeyUpdateSuccess | ApiKeyUpdateError, strawberry.union("ApiKeyUpdateResult")
]
ApiKeyRotateError = NotFoundError | ValidationError | LitellmUnavailableError
ApiKeyRotateResult = Annotated[
    ApiKeyRotateSuccess | ApiKeyRotateError, strawberry.union("ApiKeyRotateResult")
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
        description="The caller's API keys, newest first; admins may name another user."
    )
    async def api_keys(self, info: Info, user_id: strawberry.ID | None = None) -> list[ApiKeyType]:
        keys = info.context.resources.api_keys
        listed = await own_or_readable(
            info,
            user_id,
            own=lambda user, generation: api_keys.list_for_session(
                keys=keys, user_id=user, generation=generation
            ),
            of_user=lambda owner: api_keys.list_for_user(keys=keys, user_id=owner),
        )
        return await api_key_types(info, listed)

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
        return (await api_key_types(info, [key]))[0] if key is not None else None

    @strawberry.field(description="May the API key in `Authorization: Bearer` call this model?")
    async def model_access(self, info: Info, model: strawberry.ID) -> ModelAccessResult:
        resources = info.context.resources
        result = await access.check_model_access(
            keys=resources.api_keys,
            metrics=resources.metrics,
            enforcement=resources.enforcement.mode,
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
        requested = loaded[0] or catalog.unknown_model(result.model_id)
        allowed = [m for m in loaded[1:] if m is not None]
        models = await models_by_id(info, [requested, *allowed])
        return ModelAccessGranted(
            model=models[requested.id],
            allowed_models=[models[m.id] for m in allowed],
            enforced=not result.would_be_denied,
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
                policy=api_keys.KeyPolicy.from_settings(resources.settings),
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
        return ApiKeyCreateSuccess(
            api_key=(await api_key_types(info, [result.api_key]))[0], secret=result.secret
        )

    @strawberry.mutation(
        description="Change a key's name, models, limits or expiry; its secret stays the same.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_update(
        self, info: Info, id: strawberry.ID, input: ApiKeyUpdateInput
    ) -> ApiKeyUpdateResult:
        user = await info.context.user()
        resources = info.context.resources
        key_id = parse_uuid(id)
        result = (
            not_found("API key")
            if key_id is None
            else await resources.metrics.key_operation(
                KeyOperation.UPDATE,
                api_keys.update(
                    keys=resources.api_keys,
                    litellm=resources.litellm,
                    policy=api_keys.KeyPolicy.from_settings(resources.settings),
                    user_id=user.id,
                    key_id=key_id,
                    request=api_keys.ApiKeyUpdate(
                        name=input.name,
                        model_ids=(
                            tuple(str(m) for m in input.model_ids)
                            if input.model_ids is not None
                            else None
                        ),
                        expires_at=input.expires_at,
                        max_budget=input.max_budget,
                        tpm_limit=input.tpm_limit,
                        rpm_limit=input.rpm_limit,
                    ),
                ),
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ApiKeyUpdateError):
                return error
            raise not_in_result(result)
        return ApiKeyUpdateSuccess(api_key=(await api_key_types(info, [result]))[0])

    @strawberry.mutation(
        description="Give a key a new secret (shown once); the old one keeps working for "
        "the grace period, then never again.",
        permission_classes=[IsAuthenticated],
    )
    async def api_key_rotate(
        self, info: Info, id: strawberry.ID, input: ApiKeyRotateInput
    ) -> ApiKeyRotateResult:
        user = await info.context.user()
        resources = info.context.resources
        key_id = parse_uuid(id)
        result = (
            not_found("API key")
            if key_id is None
            else await resources.metrics.key_operation(
                KeyOperation.ROTATE,
                api_keys.rotate(
                    keys=resources.api_keys,
                    litellm=resources.litellm,
                    user_id=user.id,
                    key_id=key_id,
                    grace_period_seconds=input.grace_period_seconds,
                ),
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ApiKeyRotateError):
                return error
            raise not_in_result(result)
        return ApiKeyRotateSuccess(
            api_key=(await api_key_types(info, [result.api_key]))[0], secret=result.secret
        )

    @strawberry.mutation(
        description=(
            "Revoke a key: LiteLLM stops accepting it at once. Administrators may revoke "
            "anyone's key."
        ),
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
                keys=resources.api_keys,
                litellm=resources.litellm,
                user_id=user.id,
                key_id=key_id,
                any_owner=ADMIN_ROLE in user.roles,
            )
        )
        if isinstance(result, Failure):
            error = user_error(result)
            if isinstance(error, ApiKeyRevokeError):
                return error
            raise not_in_result(result)
        return ApiKeyRevokeSuccess(api_key=(await api_key_types(info, [result]))[0])


async def api_key_types(info: Info, keys: list[api_keys.ApiKeyRead]) -> list[ApiKeyType]:
    """The keys with the models each may call now, each model converted once."""
    models = await models_by_id(info, [m for key in keys for m in key.reachable])
    now = datetime.now(UTC)
    return [ApiKeyType.from_read(key, [models[m.id] for m in key.reachable], now) for key in keys]
