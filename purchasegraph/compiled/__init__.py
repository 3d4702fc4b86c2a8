"""The compiled read path: a read the compiler understands runs as one SQL statement.

``run_compiled`` answers None for anything else, and the resolvers run it. The flag
``PURCHASEGRAPH_COMPILED_READS=off`` turns the path off entirely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode
from graphql.execution.values import get_variable_values

from purchasegraph.compiled.compiler import Compiler, NotCompilable
from purchasegraph.context import Context


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


async def run_compiled(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    context: Context,
) -> CompiledResult | None:
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return None  # variables that do not fit: the resolver path reports them as it always does
    try:
        compiled = Compiler(schema, document, coerced.coerced, context.scope_of).compile(operation)
    except NotCompilable:
        return None
    row = await context.db.fetchrow(compiled.sql, *compiled.params)
    assert row is not None
    data: dict[str, Any] = orjson.loads(row[0])
    return CompiledResult(data=data, nodes=sum(count_listed(data, path) for path in compiled.node_lists))
