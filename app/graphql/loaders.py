"""DataLoaders: one query per batch, whatever the number of parents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from strawberry.dataloader import DataLoader

from app.resources import Resources
from app.services import catalog, subscriptions
from app.services.catalog import CatalogModel
from app.services.subscriptions import ListedSubscription
from app.services.users import SignedIn


class Loaders:
    def __init__(
        self, resources: Resources, current_user: Callable[[], Awaitable[SignedIn | None]]
    ) -> None:
        self._resources = resources
        # The signed-in user, checked against the server's record: a cookie alone is not enough.
        self._current_user = current_user
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
        user = await self._current_user()
        if user is None:
            return [None] * len(model_ids)
        found = await subscriptions.by_model_for_user(
            resources=self._resources, user_id=user.id, model_ids=model_ids
        )
        return [found.get(m) for m in model_ids]
