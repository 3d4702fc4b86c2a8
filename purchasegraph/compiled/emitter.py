"""What the compiler offers the modules it delegates roots and fields to.

``compiler.Compiler`` implements ``Emitter``; ``roots``, ``viewer`` and ``lists`` are written
against this protocol so that they never import the compiler (no import cycle), and the
compiler's dispatch stays a table lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from graphql import FieldNode, GraphQLSchema, SelectionSetNode

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.context import Context, Info
from purchasegraph.policy import Scope
from purchasegraph.principals import Principal

if TYPE_CHECKING:
    from purchasegraph.compiled.connections import ConnectionSource


@dataclass(frozen=True)
class Beside:
    """A field whose rules live in Python (eligibility), resolved beside the compiled statement.

    The statement leaves ``null`` at ``path`` (response keys; never under a list), so the key keeps
    its place in the response, and ``resolve`` gives the serialized value put there."""

    path: tuple[str, ...]
    resolve: Callable[[Context], Awaitable[Any]]


class State(Protocol):
    beside: list[Beside]
    # Response paths of every connection's nodes/edges list, for the actual cost.
    node_lists: list[tuple[str, ...]]

    def alias(self, prefix: str) -> str: ...


class Emitter(Protocol):
    @property
    def _schema(self) -> GraphQLSchema: ...

    @property
    def _scope_of(self) -> Callable[[uuid.UUID], Scope]: ...

    @property
    def _viewer(self) -> Principal | None: ...

    @property
    def _state(self) -> State: ...

    def _selection(self, node: FieldNode, type_name: str, a: str, scope: Scope, path: tuple[str, ...]) -> str: ...

    def _fields(self, selection_set: SelectionSetNode, type_name: str) -> list[FieldNode]: ...

    def _money(self, node: FieldNode, amount: str, currency: str) -> str: ...

    def _connection(
        self, node: FieldNode, spec: ConnectionSource, parent: str, scope: Scope, path: tuple[str, ...]
    ) -> str: ...

    def _argument(self, node: FieldNode, name: str) -> Any: ...

    def _key(self, node: FieldNode) -> str: ...

    def _param(self, value: Any, cast: str) -> str: ...

    def _object(self, pairs: list[tuple[str, str]]) -> str: ...


# A field of an object type compiled outside the compiler: (emitter, field, row alias, scope, path).
FieldCompiler = Callable[[Emitter, FieldNode, str, Scope, tuple[str, ...]], str]
# A root field of Query: (emitter, field, path).
RootCompiler = Callable[[Emitter, FieldNode, tuple[str, ...]], str]


@dataclass(frozen=True)
class _ContextOnly:
    context: Context


def beside_info(context: Context) -> Info:
    """The ``Info`` a resolver run beside the statement is given: what those resolvers read of it,
    the request's context, and nothing else."""
    return cast(Info, _ContextOnly(context))


def beside_selection(
    e: Emitter, node: FieldNode, type_name: str, names: Collection[str]
) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The selection of an object resolved beside the statement, as a function from its field
    values (by GraphQL name) to the response's keys; a field not among ``names`` declines."""
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, f"{type_name} without selection")
    selected = [(e._key(child), child.name.value) for child in e._fields(node.selection_set, type_name)]
    for _key, name in selected:
        if name != "__typename" and name not in names:
            raise NotCompilable(Reason.FIELD, f"{type_name}.{name}")
    return lambda values: {key: type_name if name == "__typename" else values[name] for key, name in selected}
