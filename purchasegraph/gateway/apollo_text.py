"""The text Apollo Client sends for an operation, so a manifest built here names it by the same hash.

Apollo Client 3 does not send a ``.graphql`` file as written: its cache adds the fragments the
operation uses (``FragmentRegistry.transform``) and ``__typename`` to every selection set but the
operation's own (``addTypenameToDocument``), drops fragments nothing uses, and graphql-js 16
``print``s the result; Apollo's persisted-query tools sort the definitions first (the operation,
then fragments by name; ``sortTopLevelDefinitions`` in ``@apollo/persisted-query-lists``). The
SHA-256 of that text is the id in Apollo's own manifests (``generate-persisted-query-manifest``),
and ``tests/test_trusted_documents.py`` runs Apollo's generator to prove the two agree.

graphql-core 3.3 prints as graphql-js 17 does, which differs from graphql-js 16 (what Apollo
Client 3 runs on) in one place a client document can reach: list and object values. graphql-js
16 prints them on one line, objects without inner spaces (``{a: 1}``); graphql-core wraps long
ones and pads objects (``{ a: 1 }``). Those two printers are swapped for graphql-js 16's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from sys import maxsize
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    visit,
)
from graphql.language.printer import PrintBuffer, join, print_doc_ast_reducer, render
from graphql.language.reducer import reduce

TYPENAME = "__typename"

# graphql-js 16's `ListValue` and `ObjectValue` printers (graphql-js/src/language/printer.ts).
_GRAPHQL_JS_16_REDUCER: Mapping[str, Callable[[Any], PrintBuffer]] = {
    **print_doc_ast_reducer,
    "list_value": lambda node: join(("[", join(node.values, ", "), "]")),
    "object_value": lambda node: join(("{", join(node.fields, ", "), "}")),
}


def print_as_graphql_js_16(node: Node) -> str:
    """``print(node)`` from graphql-js 16, the printer Apollo Client 3 uses."""
    return str(render(reduce(node, _GRAPHQL_JS_16_REDUCER), maxsize))


class _AddTypename(Visitor):
    """Apollo Client 3's ``addTypenameToDocument`` (``utilities/graphql/transform.js``), rule for rule."""

    def enter_selection_set(
        self, node: SelectionSetNode, _key: Any, parent: Any, _path: Any, _ancestors: Any
    ) -> SelectionSetNode | None:
        # Not on an operation's root: Query, Mutation and Subscription need no __typename.
        if isinstance(parent, OperationDefinitionNode):
            return None
        # Not where one is already asked for, nor inside introspection (any field named `__…`).
        if any(isinstance(s, FieldNode) and s.name.value.startswith("__") for s in node.selections):
            return None
        # Not under a field `@export`ed as a variable (a client-side directive).
        if isinstance(parent, FieldNode) and any(d.name.value == "export" for d in parent.directives or ()):
            return None
        typename = FieldNode(name=NameNode(value=TYPENAME), arguments=(), directives=())
        return SelectionSetNode(selections=(*node.selections, typename))


def add_typename(document: DocumentNode) -> DocumentNode:
    added: DocumentNode = visit(document, _AddTypename())
    return added


def fragment_spreads(node: Node) -> list[str]:
    """The fragment names spread anywhere under ``node``, in document order."""
    names: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
            names.append(spread.name.value)

    visit(node, Spreads())
    return names


def operation_document(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> DocumentNode:
    """The operation with every fragment it uses (directly or through other fragments), sorted as
    Apollo's tools sort: the operation first, then fragments by name. A missing fragment is left
    out; validating the result reports it."""
    used: list[str] = []
    pending = fragment_spreads(operation)
    while pending:
        name = pending.pop(0)
        if name in used or name not in fragments:
            continue
        used.append(name)
        pending += fragment_spreads(fragments[name])
    return DocumentNode(definitions=(operation, *(fragments[name] for name in sorted(used))))


def apollo_text(document: DocumentNode) -> str:
    """The body Apollo Client sends (and Apollo's manifest generator hashes) for a document
    holding one operation and the fragments it uses."""
    return print_as_graphql_js_16(add_typename(document))
