"""The API's enums mirror the enums they are mapped from, member for member, by name."""

from __future__ import annotations

from enum import Enum

import pytest

from app.db.models import SubscriptionStatus, SyncStatus
from app.failures import FailureCode
from app.graphql import enums
from app.litellm.breaker import BreakerState
from app.services.api_keys import KeyStatus
from app.services.health import HealthStatus
from app.services.safety import HoldKind

PAIRS: list[tuple[type[Enum], type[Enum]]] = [
    (KeyStatus, enums.ApiKeyStatusEnum),
    (SubscriptionStatus, enums.SubscriptionStatusEnum),
    (SyncStatus, enums.LitellmSyncStatusEnum),
    (HoldKind, enums.SafetyHoldKindEnum),
    (HealthStatus, enums.HealthStatusEnum),
    (BreakerState, enums.CircuitBreakerStateEnum),
    (FailureCode, enums.ErrorCode),
]


@pytest.mark.parametrize(("inner", "api"), PAIRS, ids=[api.__name__ for _, api in PAIRS])
def test_every_member_has_its_api_member_of_the_same_name(
    inner: type[Enum], api: type[Enum]
) -> None:
    assert [m.name for m in inner] == [m.name for m in api]
    for member in inner:
        assert enums.api_value(api, member).name == member.name


def test_a_member_the_api_lacks_is_refused() -> None:
    class Grown(Enum):
        ACTIVE = "active"
        ARCHIVED = "archived"

    assert enums.api_value(enums.ApiKeyStatusEnum, Grown.ACTIVE) is enums.ApiKeyStatusEnum.ACTIVE
    with pytest.raises(KeyError):
        enums.api_value(enums.ApiKeyStatusEnum, Grown.ARCHIVED)
