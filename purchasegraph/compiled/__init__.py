"""The compiled read path: a read the compiler understands runs as one SQL statement.

``run_compiled`` answers None for anything else, and the resolvers run it; either way the read is
counted (``purchasegraph_reads_total{path, reason}``) and a fallback logged with its reason. The
flag ``PURCHASEGRAPH_COMPILED_READS=off`` turns the path off entirely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_variable_values

from purchasegraph.compiled.compiler import Compiler
from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.context import Context
from purchasegraph.observability.metrics import COMPILED, NO_REASON, RESOLVERS, record_read

log = logging.getLogger("purchasegraph.compiled")


@dataclass(frozen=True)
class CompiledResult:
    data: dict[str, Any]
    # Nodes the connections returned: the request's actual cost, less the 1 of the operation.
    nodes: int


def count_listed(value: Any, path: tuple[str, ...]) -> int:
    """Items of the lists at ``path`` (keys only; lists on the way are walked through)."""
    if isinstance(value, list):
        return sum(count_listed(item, path) for item in value)
    if not path:
        return 0
    if not isinstance(value, dict) or value.get(path[0]) is None:
        return 0
    child = value[path[0]]
    if len(path) == 1:
        return len(child) if isinstance(child, list) else 0
    return count_listed(child, path[1:])


def put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """``value`` at ``path`` (keys; the statement left null there), unless an object on the way is null."""
    target: Any = data
    for key in path[:-1]:
        target = target.get(key) if isinstance(target, dict) else None
    if isinstance(target, dict):
        target[path[-1]] = value


async def run_compiled(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    context: Context,
) -> CompiledResult | None:
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    try:
        if isinstance(coerced, list):  # the resolver path reports them as it always does
            raise NotCompilable(Reason.VARIABLES, "variables that do not coerce")
        compiled = Compiler(schema, document, coerced.coerced, context.scope_of, context.viewer).compile(operation)
    except NotCompilable as declined:
        record_read(path=RESOLVERS, reason=declined.reason.value)
        # Schema names only, never a value: the detail is the field or argument declined.
        log.info("read answered by the resolvers: %s (%s)", declined.reason.value, declined.detail)
        return None
    record_read(path=COMPILED, reason=NO_REASON)
    row = await context.db.fetchrow(compiled.sql, *compiled.params)
    assert row is not None
    data: dict[str, Any] = orjson.loads(row[0])
    # Together, so that their loaders batch (five eligibility checks are one query, as in the resolvers).
    values = await asyncio.gather(*(beside.resolve(context) for beside in compiled.beside))
    for beside, value in zip(compiled.beside, values, strict=True):
        put(data, beside.path, value)
    return CompiledResult(data=data, nodes=sum(count_listed(data, path) for path in compiled.node_lists))
