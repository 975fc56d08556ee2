"""DataLoaders: one query per batch, whatever the number of parents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.auth.session import Session
from app.resources import Resources
from app.services import catalog, subscriptions, users


class Loaders:
    def __init__(self, resources: Resources, session: Session | None) -> None:
        self._resources = resources
        # The cookie's session: the subscriptions' read checks it is still current.
        self._session = session
        self.model = DataLoader[str, catalog.ModelRead | None](self._load_models)
        self.my_subscription = DataLoader[str, subscriptions.SubscriptionRead | None](
            self._load_my_subscriptions
        )
        self.user = DataLoader[uuid.UUID, users.UserRead | None](self._load_users)
        self.history = DataLoader[uuid.UUID, list[subscriptions.StatusChangeRead]](
            self._load_history
        )

    async def _load_users(self, ids: Sequence[uuid.UUID]) -> list[users.UserRead | None]:
        found = await users.by_id(users=self._resources.users, user_ids=ids)
        return [found.get(i) for i in ids]

    async def _load_history(
        self, ids: Sequence[uuid.UUID]
    ) -> list[list[subscriptions.StatusChangeRead]]:
        found = await subscriptions.history(
            subscriptions=self._resources.subscriptions, subscription_ids=ids
        )
        return [found[i] for i in ids]

    async def _load_models(self, ids: Sequence[str]) -> list[catalog.ModelRead | None]:
        found = await catalog.models_by_id(models=self._resources.catalogue, model_ids=ids)
        return [found.get(i) for i in ids]

    async def _load_my_subscriptions(
        self, model_ids: Sequence[str]
    ) -> list[subscriptions.SubscriptionRead | None]:
        if self._session is None:
            return [None] * len(model_ids)
        found = await subscriptions.by_model_for_session(
            subscriptions=self._resources.subscriptions,
            user_id=self._session.user_id,
            generation=self._session.generation,
            model_ids=model_ids,
        )
        return [found.get(m) for m in model_ids]
