"""Objects by id, many at once, inside a scope.

By-id queries share one parameter layout: $1 tenant_id uuid, $2 ids uuid[], $3 whole tenant
bool, $4 viewer uuid. Rows outside the scope are never selected, so they come back as None,
exactly like ids that do not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from purchasegraph.db.executor import Executor, Record
from purchasegraph.policy import Scope


async def fetch_by_ids(
    db: Executor, sql: str, *, scope: Scope, ids: Sequence[uuid.UUID], widen_to: bool | None = None
) -> list[Record | None]:
    """``widen_to`` replaces "whole tenant" as $3 where an entity is wider (the directory)."""
    if not scope.sees_anything:
        return [None for _ in ids]
    whole = scope.whole_tenant if widen_to is None else widen_to
    records = await db.fetch(sql, scope.tenant_id, list(ids), whole, scope.viewer_id)
    by_id = {record["id"]: record for record in records}
    return [by_id.get(i) for i in ids]


def by_ids_query(*, columns: str, source: str) -> str:
    """Assemble a by-id query at import from constant fragments (never from request values)."""
    return f"SELECT {columns}\n  {source}"
