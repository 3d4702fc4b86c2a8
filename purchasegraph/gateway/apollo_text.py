"""The text Apollo Client sends for an operation, so a manifest built here names it by the same hash.

Apollo Client 3 does not send a ``.graphql`` file as written. The file is one document: the
operation and every fragment defined beside it, used or not. Its cache adds the fragments the
document spreads but does not define (``FragmentRegistry.transform``) and ``__typename`` to every
selection set but the operation's own (``addTypenameToDocument``); before the link, the client's
own directives go (``removeDirectivesFromDocument`` in ``QueryManager.getDocumentInfo``: ``@client``
with the field it marks, ``@connection``, ``@nonreactive`` and ``@unmask`` alone, and when that
changed anything, the fragments and variables left unused); graphql-js 16 ``print``s the result.
Apollo's persisted-query tools sort the definitions first (the operation, then fragments by name;
``sortTopLevelDefinitions`` in ``@apollo/persisted-query-lists``). The SHA-256 of that text is the
id in Apollo's own manifests (``generate-persisted-query-manifest``), and
``tests/test_trusted_documents.py`` runs Apollo's generator to prove the two agree.

graphql-core 3.3 prints as graphql-js 17 does, which differs from graphql-js 16 (what Apollo
Client 3 runs on) in one place a client document can reach: list and object values. graphql-js
16 prints them on one line, objects without inner spaces (``{a: 1}``); graphql-core wraps long
ones and pads objects (``{ a: 1 }``). Those two printers are swapped for graphql-js 16's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from sys import maxsize
from typing import Any

from graphql import (
    REMOVE,
    SKIP,
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    NameNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
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
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    beside: Sequence[FragmentDefinitionNode] = (),
) -> DocumentNode:
    """The document Apollo Client holds for ``operation``: the fragments defined ``beside`` it in its
    file (all of them, used or not: the file is one document), then every fragment those spread
    (directly or through others) that the file does not define, as the fragment registry appends
    them. A missing fragment is left out; validating the result reports it."""
    defined = {fragment.name.value for fragment in beside}
    appended: list[FragmentDefinitionNode] = []
    pending = fragment_spreads(operation) + [name for fragment in beside for name in fragment_spreads(fragment)]
    while pending:
        name = pending.pop(0)
        if name in defined or name not in fragments:
            continue
        defined.add(name)
        appended.append(fragments[name])
        pending += fragment_spreads(fragments[name])
    return DocumentNode(definitions=(operation, *beside, *appended))


def sort_top_level_definitions(document: DocumentNode) -> DocumentNode:
    """``sortTopLevelDefinitions`` of ``@apollo/persisted-query-lists``: operations first, then
    fragments, each by name (a stable sort, names compared as JavaScript compares strings; GraphQL
    names are ASCII, so as Python does)."""

    def key(definition: Node) -> tuple[int, str]:
        name = getattr(definition, "name", None)
        return (0 if isinstance(definition, OperationDefinitionNode) else 1, name.value if name else "")

    return DocumentNode(definitions=tuple(sorted(document.definitions, key=key)))


# The directives Apollo Client keeps to itself (``QueryManager.getDocumentInfo``): `@client` takes its
# field, inline fragment or spread with it; the others go alone.
CLIENT_ONLY = "client"
CLIENT_DIRECTIVES = frozenset({CLIENT_ONLY, "connection", "nonreactive", "unmask"})


@dataclass
class _InUse:
    """Variables and fragment spreads one operation or fragment uses itself (Apollo's ``inUse``)."""

    variables: set[str] = field(default_factory=set)
    spreads: set[str] = field(default_factory=set)
    removed: bool = False
    transitive_variables: set[str] | None = None


class _Removal:
    """One run of ``removeDirectivesFromDocument``: what each operation and fragment uses (by name;
    an anonymous operation is ``""``), and whether the first pass changed anything."""

    def __init__(self, document: DocumentNode) -> None:
        self.operations: dict[str, _InUse] = {}
        self.fragments: dict[str, _InUse] = {}
        self.operation_count = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
        self.changed = False

    def fragment(self, name: str) -> _InUse:
        return self.fragments.setdefault(name, _InUse())

    def operation(self, node: OperationDefinitionNode) -> _InUse:
        return self.operations.setdefault(node.name.value if node.name else "", _InUse())

    def in_use_of(self, ancestors: Sequence[Any]) -> _InUse | None:
        for ancestor in ancestors:
            if isinstance(ancestor, OperationDefinitionNode):
                return self.operation(ancestor)
            if isinstance(ancestor, FragmentDefinitionNode):
                return self.fragment(ancestor.name.value)
        return None

    def transitive(self, in_use: _InUse) -> set[str]:
        """The variables used directly or through the fragments spread (but a removed one)."""
        if in_use.transitive_variables is None:
            in_use.transitive_variables = set(in_use.variables)
            if not in_use.removed:
                for child in list(in_use.spreads):
                    in_use.transitive_variables |= self.transitive(self.fragment(child))
        return in_use.transitive_variables

    def used_fragments(self, stripped: DocumentNode) -> list[str]:
        """The fragments an operation reaches (directly or through others); in a document of
        fragments alone, all of them."""
        used: list[str] = []
        for definition in stripped.definitions:
            if isinstance(definition, OperationDefinitionNode):
                in_use = self.operation(definition)
                self.transitive(in_use)
                used += [name for name in in_use.spreads if name not in used]
            elif (
                isinstance(definition, FragmentDefinitionNode)
                and self.operation_count == 0
                and not self.fragment(definition.name.value).removed
                and definition.name.value not in used
            ):
                used.append(definition.name.value)
        for name in used:  # grows as it goes: every fragment reached through another
            child_in_use = self.fragment(name)
            self.transitive(child_in_use)
            used += [child for child in child_in_use.spreads if child not in used]
        return used


class _StripClientDirectives(Visitor):
    """The first pass: the client's directives go (``@client`` with what it marks), what each
    definition uses is noted, and a fragment left with only ``__typename`` goes."""

    def __init__(self, removal: _Removal) -> None:
        super().__init__()
        self.removal = removal
        self.originals: dict[str, FragmentDefinitionNode] = {}

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        return self._drop_client_only(node)

    def enter_inline_fragment(self, node: InlineFragmentNode, *_: Any) -> Any:
        return self._drop_client_only(node)

    def _drop_client_only(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> Any:
        if any(d.name.value == CLIENT_ONLY for d in node.directives or ()):
            self.removal.changed = True
            return REMOVE
        return None

    def enter_variable_definition(self, *_: Any) -> Any:
        return SKIP  # a declaration is not a use

    def enter_variable(self, node: VariableNode, _key: Any, _parent: Any, _path: Any, ancestors: Any) -> None:
        in_use = self.removal.in_use_of(ancestors)
        if in_use is not None:
            in_use.variables.add(node.name.value)

    def enter_fragment_spread(
        self, node: FragmentSpreadNode, _key: Any, _parent: Any, _path: Any, ancestors: Any
    ) -> Any:
        if self._drop_client_only(node) is REMOVE:
            return REMOVE
        in_use = self.removal.in_use_of(ancestors)
        if in_use is not None:
            in_use.spreads.add(node.name.value)
        return None

    def enter_fragment_definition(
        self, node: FragmentDefinitionNode, _key: Any, _parent: Any, path: Any, *_: Any
    ) -> None:
        self.originals[repr(path)] = node

    def leave_fragment_definition(
        self, node: FragmentDefinitionNode, _key: Any, _parent: Any, path: Any, *_: Any
    ) -> Any:
        if node is self.originals[repr(path)]:
            return None
        # Left with nothing but __typename, a fragment goes, and later every spread of it.
        only_typename = all(
            isinstance(s, FieldNode) and s.name.value == TYPENAME for s in node.selection_set.selections
        )
        if self.removal.operation_count > 0 and only_typename:
            self.removal.fragment(node.name.value).removed = True
            self.removal.changed = True
            return REMOVE
        return None

    def leave_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if node.name.value in CLIENT_DIRECTIVES:
            self.removal.changed = True
            return REMOVE
        return None


class _DropUnused(Visitor):
    """The second pass: fragments no operation reaches go, with their spreads, and so do the
    variables an operation declares but no longer uses."""

    def __init__(self, removal: _Removal, used: list[str]) -> None:
        super().__init__()
        self.removal = removal
        self.used = used

    def _goes(self, name: str) -> bool:
        return name not in self.used or self.removal.fragment(name).removed

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> Any:
        return REMOVE if self._goes(node.name.value) else None

    def enter_fragment_definition(self, node: FragmentDefinitionNode, *_: Any) -> Any:
        return REMOVE if self._goes(node.name.value) else None

    def leave_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
        # Every declared variable must be used (https://spec.graphql.org/draft/#sec-All-Variables-Used).
        declared = node.variable_definitions or ()
        variables = self.removal.transitive(self.removal.operation(node))
        if len(variables) < len(declared):
            kept = tuple(d for d in declared if d.variable.name.value in variables)
            fields = {key: getattr(node, key) for key in node.keys if key != "loc"}
            return OperationDefinitionNode(**{**fields, "variable_definitions": kept})
        return None


def remove_client_directives(document: DocumentNode) -> DocumentNode | None:
    """Apollo Client 3's ``removeDirectivesFromDocument`` with the directives of ``CLIENT_DIRECTIVES``
    (``utilities/graphql/transform.js``), rule for rule; None when nothing is left to send."""
    removal = _Removal(document)
    stripped: DocumentNode = visit(document, _StripClientDirectives(removal))
    if not removal.changed:
        return document
    cleaned: DocumentNode = visit(stripped, _DropUnused(removal, removal.used_fragments(stripped)))
    return None if _is_empty(cleaned) else cleaned


def _is_empty(document: DocumentNode) -> bool:
    """Apollo's ``nullIfDocIsEmpty``: the operation selects nothing but spreads of empty fragments."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
    main: OperationDefinitionNode | FragmentDefinitionNode | None = operation or next(iter(fragments.values()), None)

    def empty(definition: OperationDefinitionNode | FragmentDefinitionNode | None, seen: frozenset[str]) -> bool:
        if definition is None:
            return True
        return all(
            isinstance(s, FragmentSpreadNode)
            and s.name.value not in seen
            and empty(fragments.get(s.name.value), seen | {s.name.value})
            for s in definition.selection_set.selections
        )

    return empty(main, frozenset())


def apollo_text(document: DocumentNode) -> str | None:
    """The body Apollo Client sends (and Apollo's manifest generator hashes) for a document
    holding one operation and its fragments (``operation_document``); None when the operation is
    the client's alone (every field ``@client``), so Apollo sends nothing."""
    sent = server_document(document)
    return None if sent is None else print_as_graphql_js_16(sent)


def server_document(document: DocumentNode) -> DocumentNode | None:
    """What reaches the server of ``document``: ``__typename`` added, the client's directives gone,
    definitions sorted as Apollo's persisted-query tools sort them."""
    sent = remove_client_directives(add_typename(document))
    return None if sent is None else sort_top_level_definitions(sent)
