"""Per-request DataLoaders, one per access path and scope.

A loader's cache lives exactly as long as its request. Loaders of scoped entities are keyed
by the ``Scope`` (and the page, for connections), so two scopes never share a cached row: an
admin's view of a subscription can never leak into a member's resolution of the same id.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar

from aiodataloader import DataLoader

from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.pagination import PageArgs, Slice
from purchasegraph.db.queries import cancellations, eligibility, products, tenants
from purchasegraph.policy import Scope

K = TypeVar("K")
V = TypeVar("V")


class ByIds(Protocol):
    """A query module's ``fetch_*_by_id``: objects of one type by id, in scope, in the ids' order."""

    def __call__(self, db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> Awaitable[list[Record | None]]: ...


class BySubscriptions(Protocol):
    """A query module's ``fetch_*_by_subscription``: one page of children per subscription."""

    def __call__(
        self, db: Executor, *, scope: Scope, page: PageArgs, subscription_ids: Sequence[uuid.UUID]
    ) -> Awaitable[list[Slice]]: ...


class Loaders:
    def __init__(self, db: Executor, *, batching: bool = True) -> None:
        self._db = db
        # Off only for the benchmark's "naive" contender: one query per field, to show what
        # batching buys. Never in production.
        self._batching = batching
        self._loaders: dict[Hashable, DataLoader[Any, Any]] = {}

    def _loader(self, key: Hashable, batch: Callable[[list[K]], Awaitable[list[V]]]) -> DataLoader[K, V]:
        loader = self._loaders.get(key)
        if loader is None:

            async def load(keys: list[K]) -> list[V]:
                return await batch(keys)

            loader = self._loaders[key] = DataLoader(batch_load_fn=load, batch=self._batching, cache=self._batching)
        return loader

    def by_id(self, fetch: ByIds, scope: Scope) -> DataLoader[uuid.UUID, Record | None]:
        """Objects of one tenant-scoped type by id, as ``scope`` sees them (``fetch`` the type's
        ``fetch_*_by_id``)."""

        async def batch(ids: list[uuid.UUID]) -> list[Record | None]:
            return await fetch(self._db, scope=scope, ids=ids)

        return self._loader((fetch, scope), batch)

    def of_subscription(self, fetch: BySubscriptions, scope: Scope, page: PageArgs) -> DataLoader[uuid.UUID, Slice]:
        """Children of subscriptions, one page each, for many subscriptions at once (``fetch`` the
        children's ``fetch_*_by_subscription``)."""

        async def batch(parent_ids: list[uuid.UUID]) -> list[Slice]:
            return await fetch(self._db, scope=scope, page=page, subscription_ids=parent_ids)

        return self._loader((fetch, scope, page), batch)

    def tenant(self) -> DataLoader[uuid.UUID, Record | None]:
        async def batch(ids: list[uuid.UUID]) -> list[Record | None]:
            return await tenants.fetch_tenants_by_id(self._db, ids=ids)

        return self._loader("tenant", batch)

    def product(self) -> DataLoader[str, Record | None]:
        async def batch(ids: list[str]) -> list[Record | None]:
            return await products.fetch_products_by_id(self._db, ids=ids)

        return self._loader("product", batch)

    def prices(self, market: str | None) -> DataLoader[str, list[Record]]:
        async def batch(ids: list[str]) -> list[list[Record]]:
            return await products.fetch_prices_by_product(self._db, product_ids=ids, market=market)

        return self._loader(("prices", market), batch)

    def sold_self_service(self, market: str) -> DataLoader[str, bool]:
        async def batch(ids: list[str]) -> list[bool]:
            return await products.fetch_sold_self_service(self._db, product_ids=ids, market=market)

        return self._loader(("sold_self_service", market), batch)

    def cancellation_request_of_subscription(self, scope: Scope) -> DataLoader[uuid.UUID, Record | None]:
        """Keyed by subscription id: its open request, else its latest."""

        async def batch(ids: list[uuid.UUID]) -> list[Record | None]:
            return await cancellations.fetch_current_by_subscription(self._db, scope=scope, subscription_ids=ids)

        return self._loader(("cancellation_request_of_subscription", scope), batch)

    def eligibility_facts(self, tenant_id: uuid.UUID) -> DataLoader[str, Record | None]:
        async def batch(product_ids: list[str]) -> list[Record | None]:
            return await eligibility.fetch_eligibility_facts(self._db, tenant_id=tenant_id, product_ids=product_ids)

        return self._loader(("eligibility", tenant_id), batch)


async def load_many(loader: DataLoader[K, V], keys: Sequence[K]) -> list[V]:
    return list(await loader.load_many(list(keys)))
