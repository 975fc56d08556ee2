"""Request bodies as LiteLLM's FastAPI models accept them, with FastAPI's 422 on bad input."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.requests import Request
from starlette.responses import Response

from litellm_emulator.answers import fastapi_detail

Body = TypeVar("Body", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserNew(_Body):
    user_id: str | None = None
    user_email: str | None = None
    user_alias: str | None = None
    user_role: str | None = None
    models: list[str] = []
    max_budget: float | None = None
    metadata: dict[str, Any] = {}
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    budget_duration: str | None = None
    auto_create_key: bool = True


class UserUpdate(_Body):
    user_id: str | None = None
    user_email: str | None = None
    user_alias: str | None = None
    user_role: str | None = None
    models: list[str] | None = None
    max_budget: float | None = None
    metadata: dict[str, Any] | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    budget_duration: str | None = None

    @model_validator(mode="after")
    def _names_a_user(self) -> UserUpdate:
        if self.user_id is None and self.user_email is None:
            raise ValueError("Either user id or user email must be provided")
        return self


class UserDelete(_Body):
    user_ids: list[str]


class KeyGenerate(_Body):
    models: list[str] = []
    user_id: str | None = None
    key_alias: str | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    duration: str | None = None
    budget_duration: str | None = None
    metadata: dict[str, Any] = {}


class KeyUpdate(_Body):
    key: str
    models: list[str] | None = None
    user_id: str | None = None
    key_alias: str | None = None
    max_budget: float | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    duration: str | None = None
    budget_duration: str | None = None
    metadata: dict[str, Any] | None = None


class KeyBlock(_Body):
    """/key/block and /key/unblock."""

    key: str


class KeyDelete(_Body):
    keys: list[str] | None = None
    key_aliases: list[str] | None = None

    @model_validator(mode="after")
    def _names_a_key(self) -> KeyDelete:
        if not self.keys and not self.key_aliases:
            raise ValueError("At least one of 'keys' or 'key_aliases' must be provided.")
        return self


class ChatCompletion(_Body):
    model: str
    messages: list[Any] | None = None


class FaultSettings(_Body):
    down: bool | None = None
    latency: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)


class ModelDeployment(_Body):
    model_name: str = Field(min_length=1)
    model_info: dict[str, Any] = {}


async def read_body(request: Request, body_type: type[Body]) -> Body | Response:
    """The parsed body, or FastAPI's 422 `{"detail": [...]}` naming what is wrong."""
    try:
        raw = json.loads(await request.body() or b"{}")
    except ValueError:
        return fastapi_detail(
            422, [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error"}]
        )
    try:
        return body_type.model_validate(raw)
    except ValidationError as exc:
        return fastapi_detail(
            422,
            [
                {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
                for error in exc.errors()
            ],
        )
