"""The two shapes the query modules read in, inside a scope: objects by id, many at once, and
one page of a list of the scope's own tenant.

By-id queries share one parameter layout: $1 tenant_id uuid, $2 ids uuid[], $3 whole tenant
bool, $4 viewer uuid. Rows outside the scope are never selected, so they come back as None,
exactly like ids that do not exist. A tenant's list is a ``db/pagination.py`` connection whose
one parent is the tenant itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.ordering import Sortable
from purchasegraph.db.pagination import Listing, PageArgs, Slice, connection_query, fetch_slices
from purchasegraph.policy import Scope

K = TypeVar("K", bound=Hashable)


def in_key_order(records: Iterable[Record], keys: Sequence[K], column: str = "id") -> list[Record | None]:
    """The record of each key in ``keys``' order (a loader's answer), None where none has it."""
    by_key = {record[column]: record for record in records}
    return [by_key.get(key) for key in keys]


async def fetch_by_ids(
    db: Executor, sql: str, *, scope: Scope, ids: Sequence[uuid.UUID], widen_to: bool | None = None
) -> list[Record | None]:
    """``widen_to`` replaces "whole tenant" as $3 where an entity is wider (the directory)."""
    if not scope.sees_anything:
        return [None for _ in ids]
    whole = scope.whole_tenant if widen_to is None else widen_to
    return in_key_order(await db.fetch(sql, scope.tenant_id, list(ids), whole, scope.viewer_id), ids)


# Compared by identity: each one keys its own loader (``Loaders.by_id``, ``of_subscription``).
@dataclass(frozen=True, eq=False)
class ObjectsById:
    """A type's ``fetch_*_by_id``: its objects by id in scope, in the ids' order, read by ``sql``."""

    sql: str

    async def __call__(self, db: Executor, *, scope: Scope, ids: Sequence[uuid.UUID]) -> list[Record | None]:
        return await fetch_by_ids(db, self.sql, scope=scope, ids=ids)


@dataclass(frozen=True, eq=False)
class PagesBySubscription:
    """A type's ``fetch_*_by_subscription``: one page of ``listing`` per subscription."""

    listing: Listing

    async def __call__(
        self, db: Executor, *, scope: Scope, page: PageArgs, subscription_ids: Sequence[uuid.UUID]
    ) -> list[Slice]:
        return await fetch_slices(db, self.listing, scope=scope, parents=subscription_ids, page=page)


@dataclass(frozen=True)
class RowSource:
    """One entity's rows as its statements read them: the ``FROM`` (with its joins) over the row
    ``alias``, and the columns selected. Each statement adds what it selects by, over constant
    fragments at import (never request values)."""

    source: str
    alias: str
    columns: str

    def by_ids(self, visible: str) -> str:
        """The rows with one of the ids ($2) in the tenant ($1) that ``visible`` (over $3 and $4)
        lets the scope see."""
        return f"""SELECT {self.columns}
  {self.source}
 WHERE {self.alias}.tenant_id = $1 AND {self.alias}.id = ANY($2::uuid[])
   AND {visible}"""

    def listing(self, parent: str, where: str, sortable: Sortable, *, column_filters: bool = False) -> Listing:
        """The connection of the rows whose ``parent`` column holds the parent's key (a row of
        ``k``) in the tenant ($1), as far as ``where`` (over $7, $8 and the filters) keeps them."""
        source = f"""{self.source}
      WHERE {self.alias}.tenant_id = $1 AND {self.alias}.{parent} = k.parent
        AND {where}"""
        return connection_query(
            source=source, columns=self.columns, alias=self.alias, sortable=sortable, column_filters=column_filters
        )


async def fetch_tenant_page(
    db: Executor,
    listing: Listing,
    *,
    scope: Scope,
    page: PageArgs,
    filters: Sequence[Any] = (),
    widen_to: bool | None = None,
) -> Slice:
    """One page of ``listing`` under the scope's own tenant (``fetch_slices`` for one parent)."""
    (slice_,) = await fetch_slices(
        db, listing, scope=scope, parents=[scope.tenant_id], page=page, filters=filters, widen_to=widen_to
    )
    return slice_


def array(values: Sequence[str] | None) -> list[str] | None:
    """A list filter as its ``text[]`` parameter (None: no filter)."""
    return list(values) if values is not None else None
