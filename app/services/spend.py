"""What keys and users have spent: read from LiteLLM in a background pass, stored, and shown
from the database (pages never call LiteLLM for it).

One pass reads every key and every user page by page (`/key/list`, `/user/list`: a bounded
number of calls however often pages are viewed) and writes the amounts in one statement each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from app.db.models import utcnow
from app.db.repositories.api_keys import ApiKeyRepository
from app.db.repositories.users import SpentByUser, UserRepository
from app.litellm.client import LiteLLMClient


@dataclass(frozen=True, slots=True)
class Budget:
    """A user's budget as their pages show it; `synced_at` says how old `spend` is."""

    max_budget: float
    spend: float | None
    remaining: float | None
    reset_at: datetime | None
    synced_at: datetime | None


@dataclass(frozen=True, slots=True)
class SpendSyncReport:
    keys: int  # LiteLLM keys read
    users: int  # LiteLLM users read


async def sync(
    *, keys: ApiKeyRepository, users: UserRepository, litellm: LiteLLMClient
) -> SpendSyncReport:
    """Read every key's and user's spend from LiteLLM and store it (LiteLLMError if it fails:
    nothing is stored then, and the stored amounts keep their older `synced_at`)."""
    litellm_keys = await litellm.key_list()
    litellm_users = await litellm.user_spend()
    synced_at = utcnow()
    await keys.store_spend(
        {k.token: k.spend for k in litellm_keys if k.token is not None and not k.deleted},
        synced_at=synced_at,
    )
    await users.store_spend(
        [
            SpentByUser(user_id=user_id, spend=u.spend, budget_reset_at=u.budget_reset_at)
            for u in litellm_users
            if (user_id := _uuid(u.user_id)) is not None
        ],
        synced_at=synced_at,
    )
    return SpendSyncReport(keys=len(litellm_keys), users=len(litellm_users))


async def budget(*, users: UserRepository, user_id: uuid.UUID) -> Budget | None:
    """The user's budget, last synced spend and what remains of it."""
    found = await users.budget(user_id)
    if found is None:
        return None
    return Budget(
        max_budget=found.max_budget,
        spend=found.spend,
        remaining=max(0.0, found.max_budget - found.spend) if found.spend is not None else None,
        reset_at=found.budget_reset_at,
        synced_at=found.spend_synced_at,
    )


def _uuid(value: str) -> uuid.UUID | None:
    """Users this service made have its user ids; LiteLLM may hold others."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
