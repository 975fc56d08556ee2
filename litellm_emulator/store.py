"""The emulated proxy's database: users, virtual keys, deleted keys and the model list."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from litellm_emulator.records import DeletedKey, Model, User, VirtualKey, token_of

_DURATION = re.compile(r"(\d+)(mo|s|m|h|d|w)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass
class ProxyStore:
    users: dict[str, User] = field(default_factory=dict)
    keys: dict[str, VirtualKey] = field(default_factory=dict)  # by token
    deleted_keys: dict[str, DeletedKey] = field(default_factory=dict)  # by token
    models: dict[str, Model] = field(default_factory=dict)  # by model_name, in config order

    def add_model(self, model_name: str, model_info: Mapping[str, Any] | None = None) -> Model:
        """Serve `model_name`, replacing a deployment of that name."""
        model = Model.named(model_name, model_info)
        self.models[model_name] = model
        return model

    def key(self, key_or_token: str) -> VirtualKey | None:
        return self.keys.get(token_of(key_or_token))

    def alias_owner(self, alias: str) -> VirtualKey | None:
        return next((k for k in self.keys.values() if k.key_alias == alias), None)

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self.users.values() if u.user_email == email), None)

    def keys_of(self, user_id: str) -> list[VirtualKey]:
        return [k for k in self.keys.values() if k.user_id == user_id]


def expiry(duration: str, start: datetime) -> datetime | None:
    """When a key made at `start` with LiteLLM's `duration` ("30s", "1h", "30d", "1mo") expires.

    None when the duration is not in LiteLLM's format.
    """
    match = _DURATION.fullmatch(duration.strip())
    if match is None:
        return None
    count, unit = int(match[1]), match[2]
    if unit != "mo":
        return start + timedelta(seconds=count * _UNIT_SECONDS[unit])
    month_index = start.month - 1 + count
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return start.replace(
        year=year, month=month, day=min(start.day, calendar.monthrange(year, month)[1])
    )
