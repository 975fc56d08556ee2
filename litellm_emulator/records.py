"""What the emulated proxy stores, and the JSON rows LiteLLM 1.108.7 shows for it.

LiteLLM keeps only the sha256 of a virtual key (its `token`); so does the emulator.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The proxy's own identity in `created_by` and friends when the master key acts.
PROXY_ADMIN_ID = "default_user_id"

TimeFormat = Callable[[datetime | None], str | None]


def now() -> datetime:
    """The current time, to the millisecond as LiteLLM's database keeps it."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def iso_z(moment: datetime | None) -> str | None:
    """`2026-11-26T15:19:30.239000Z`: how /key/generate, /key/list and /user/info print times."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_offset(moment: datetime | None) -> str | None:
    """`2026-11-26T15:19:30.239000+00:00`: how /key/info and /key/update print times."""
    return None if moment is None else moment.isoformat(timespec="microseconds")


def token_of(key: str) -> str:
    """The `token` LiteLLM derives from a raw `sk-` key; anything else already is a token."""
    return hashlib.sha256(key.encode()).hexdigest() if key.startswith("sk-") else key


def new_secret() -> str:
    return "sk-" + secrets.token_urlsafe(16)


def key_name(secret: str) -> str:
    return "sk-..." + secret[-4:]


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    user_email: str | None = None
    user_alias: str | None = None
    user_role: str | None = None
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    metadata: Mapping[str, Any] = field(default_factory=dict)
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    budget_duration: str | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)

    def row(self) -> dict[str, Any]:
        """`user_info` of /user/info and `data` of /user/update."""
        return {
            "user_id": self.user_id,
            "user_alias": self.user_alias,
            "team_id": None,
            "sso_user_id": None,
            "organization_id": None,
            "teams": [],
            "user_role": self.user_role,
            "max_budget": self.max_budget,
            "spend": self.spend,
            "user_email": self.user_email,
            "models": list(self.models),
            "metadata": dict(self.metadata),
            "max_parallel_requests": None,
            "tpm_limit": self.tpm_limit,
            "rpm_limit": self.rpm_limit,
            "budget_duration": self.budget_duration,
            "budget_reset_at": None,
            "allowed_cache_controls": [],
            "model_spend": {},
            "model_max_budget": {},
            "created_at": iso_z(self.created_at),
            "updated_at": iso_z(self.updated_at),
            "organization_memberships": [],
        }


@dataclass(frozen=True, slots=True)
class VirtualKey:
    token: str
    key_name: str
    key_alias: str | None = None
    user_id: str | None = None
    models: tuple[str, ...] = ()
    max_budget: float | None = None
    spend: float = 0.0
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    budget_duration: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    expires: datetime | None = None
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    settings_updated_at: datetime | None = None
    # None until the key is first blocked or unblocked, as LiteLLM shows it.
    blocked: bool | None = None

    def allows(self, model: str) -> bool:
        """An empty `models` list lets the key call every model, as in LiteLLM."""
        return not self.models or model in self.models

    def expired(self, at: datetime) -> bool:
        return self.expires is not None and self.expires < at

    def row(self, time_format: TimeFormat = iso_offset) -> dict[str, Any]:
        """The key as /key/info's `info` (without `status`) and /key/update show it."""
        return {
            "key_name": self.key_name,
            "key_alias": self.key_alias,
            "soft_budget_cooldown": False,
            "spend": self.spend,
            "total_spend": self.spend,
            "expires": time_format(self.expires),
            "models": list(self.models),
            "aliases": {},
            "config": {},
            "user_id": self.user_id,
            "team_id": None,
            "permissions": {},
            "max_parallel_requests": None,
            "metadata": dict(self.metadata),
            "blocked": self.blocked,
            "tpm_limit": self.tpm_limit,
            "rpm_limit": self.rpm_limit,
            "max_budget": self.max_budget,
            "budget_duration": self.budget_duration,
            "budget_reset_at": None,
            "allowed_cache_controls": [],
            "allowed_routes": [],
            "key_type": "default",
            "model_spend": {},
            "model_max_budget": {},
            "budget_id": None,
            "organization_id": None,
            "created_at": time_format(self.created_at),
            "created_by": PROXY_ADMIN_ID,
            "updated_at": time_format(self.updated_at),
            "updated_by": PROXY_ADMIN_ID,
            "settings_updated_at": time_format(self.settings_updated_at),
            "last_active": None,
            "rotation_count": 0,
        }


@dataclass(frozen=True, slots=True)
class DeletedKey:
    """A row of LiteLLM's deleted-keys table: 1.108.7 still answers /key/info from it."""

    key: VirtualKey
    deleted_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            **self.key.row(),
            "deleted_at": iso_offset(self.deleted_at),
            "deleted_by": PROXY_ADMIN_ID,
            "deleted_by_api_key": "litellm_proxy_master_key",
            "status": "deleted",
        }


@dataclass(frozen=True, slots=True)
class Model:
    """A deployment in the proxy's model list: `model_name` is what clients call."""

    model_name: str
    litellm_params: Mapping[str, Any]
    model_info: Mapping[str, Any]

    @classmethod
    def named(cls, model_name: str, model_info: Mapping[str, Any] | None = None) -> Model:
        # A bare name is served as an OpenAI-compatible deployment, as the real proxy's m1/m2.
        litellm_model = model_name if "/" in model_name else f"openai/{model_name}"
        info: dict[str, Any] = {
            "id": hashlib.sha256(f"{model_name}:{litellm_model}".encode()).hexdigest(),
            "db_model": False,
            "key": litellm_model,
            "max_tokens": None,
            "max_input_tokens": None,
            "max_output_tokens": None,
            "input_cost_per_token": None,
            "output_cost_per_token": None,
            "litellm_provider": litellm_model.split("/", 1)[0],
            "mode": None,
            "supports_system_messages": None,
            "supports_vision": None,
            "supports_function_calling": None,
            "supports_tool_choice": None,
            "supports_response_schema": None,
            "tpm": None,
            "rpm": None,
        }
        info.update(model_info or {})
        return cls(
            model_name=model_name,
            litellm_params={
                "model": litellm_model,
                "mock_response": f"Hello from mock model {model_name}",
            },
            model_info=info,
        )

    def entry(self) -> dict[str, Any]:
        """One element of /model/info's `data`."""
        return {
            "model_name": self.model_name,
            "litellm_params": dict(self.litellm_params),
            "model_info": dict(self.model_info),
        }
