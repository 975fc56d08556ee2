"""DataLoaders: one query per batch, whatever the number of parents."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.resources import Resources
from app.services import catalog, subscriptions
from app.services.catalog import CatalogModel
from app.services.subscriptions import ListedSubscription


class Loaders:
    def __init__(self, resources: Resources, user_id: uuid.UUID | None) -> None:
        self._resources = resources
        self._user_id = user_id
        self.model = DataLoader[str, CatalogModel | None](self._load_models)
        self.my_subscription = DataLoader[str, ListedSubscription | None](
            self._load_my_subscriptions
        )

    async def _load_models(self, ids: Sequence[str]) -> list[CatalogModel | None]:
        found = await catalog.models_by_id(resources=self._resources, model_ids=ids)
        return [found.get(i) for i in ids]

    async def _load_my_subscriptions(
        self, model_ids: Sequence[str]
    ) -> list[ListedSubscription | None]:
        if self._user_id is None:
            return [None] * len(model_ids)
        found = await subscriptions.by_model_for_user(
            resources=self._resources, user_id=self._user_id, model_ids=model_ids
        )
        return [found.get(m) for m in model_ids]
