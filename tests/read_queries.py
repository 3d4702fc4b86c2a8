"""Read documents drawn from the schema itself, for differential tests of the read paths.

Every field reachable from ``Query`` can be drawn: the drawer walks the GraphQLSchema the app
serves, so a field added tomorrow is drawn tomorrow without a line changed here. What it draws is
what real clients send: aliases, repeated (merged) fields, inline and named fragments on the
``Node`` interface and on concrete types, ``@include``/``@skip`` with literal and variable
conditions, ``__typename``, and arguments as literals or variables (with and without defaults,
omitted, or null). Argument values come from the demo world (``World``: ids and cursors read
from it) and from outside it (unknown, foreign and malformed ids, garbage cursors, page sizes
out of range), so refusals are compared as well as answers.

Only documents that pass GraphQL validation come out: the drawer keeps response keys apart
(aliases where two fields would collide) and validates what it built before returning it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)
from graphql.type.definition import GraphQLArgument, GraphQLField, GraphQLNamedType
from hypothesis import assume
from hypothesis import strategies as st

Composite = GraphQLObjectType | GraphQLInterfaceType


@dataclass(frozen=True, repr=False)
class World:
    """Argument values to draw from: what the demo world holds, and what no scope reaches."""

    tenant_ids: tuple[str, ...]
    node_ids: tuple[str, ...]
    user_ids: tuple[str, ...]
    product_ids: tuple[str, ...]
    cursors: tuple[str, ...]
    # accessibleTenants' own cursors: its paging arguments are drawn from these (and garbage).
    fleet_cursors: tuple[str, ...] = ()

    def __repr__(self) -> str:  # short, in hypothesis's report of a falsifying example
        return (
            f"World({len(self.tenant_ids) + len(self.node_ids) + len(self.user_ids)} ids, {len(self.cursors)} cursors)"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


# Values that name nothing: a well-formed id of nothing, a foreign type's id, malformed ones.
UNKNOWN_IDS = (
    "00000000-0000-0000-0000-000000000000",
    "not-an-id",
    "",
    "VGVuYW50Om5vdGhpbmc=",  # base64 of "Tenant:nothing"
    str(uuid.UUID(int=7)),
)
GARBAGE_CURSORS = ("bm90LWEtY3Vyc29y", "", "!!", "YXJyYXljb25uZWN0aW9uOjE=", "eyJrIjpbXX0=")
PAGE_SIZES = (0, 1, 2, 3, 5, 10, 100)
OUT_OF_RANGE_PAGE_SIZES = (101, -1)
MARKETS = ("US", "GB", "DE", "JP", "", "XX")
SEARCHES = ("a", "Alex", "contoso", "%", "_", "", "zz")


@dataclass(frozen=True)
class ReadDocument:
    """One request's body: the document, its variables and (when it names one) the operation."""

    query: str
    variables: dict[str, Any]
    operation_name: str | None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"query": self.query, "variables": self.variables}
        if self.operation_name is not None:
            body["operationName"] = self.operation_name
        return body


@dataclass
class _Scope:
    """The response keys of one selection set (with the fragments merged into it), so two fields
    never meet under one key with other arguments or another type (the merge rule of
    https://spec.graphql.org/October2021/#sec-Field-Selection-Merging)."""

    keys: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (field and arguments, type)
    children: dict[str, _Scope] = field(default_factory=dict)

    def child(self, key: str) -> _Scope:
        return self.children.setdefault(key, _Scope())


@dataclass(frozen=True)
class Bounds:
    """How big a drawn document may get: one example must run in well under a second."""

    max_depth: int = 6
    max_width: int = 4
    max_fragments: int = 3


class _Drawer:
    """Builds one document, drawing every choice from hypothesis so failures shrink."""

    def __init__(self, draw: st.DrawFn, schema: GraphQLSchema, world: World, bounds: Bounds) -> None:
        self.draw = draw
        self.schema = schema
        self.world = world
        self.bounds = bounds
        self.definitions: list[str] = []  # "$v1: Int = 3"
        self.variables: dict[str, Any] = {}
        self.fragments: dict[str, tuple[str, str]] = {}  # name -> (type condition, definition)
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- values --------------------------------------------------------------------------------

    def value(self, name: str, type_: GraphQLInputType, parent: str, *, nullable: bool = True) -> Any:
        """A value for argument (or input field) ``name`` of ``type_``, as JSON would carry it:
        null one time in eight where the type allows it."""
        if isinstance(type_, GraphQLNonNull):
            return self.value(name, type_.of_type, parent, nullable=False)
        if nullable and self.draw(st.integers(0, 7)) == 7:
            return None
        if isinstance(type_, GraphQLList):
            return [self.value(name, type_.of_type, parent) for _ in range(self.draw(st.integers(0, 3)))]
        if isinstance(type_, GraphQLInputObjectType):
            return {
                key: self.value(key, f.type, type_.name)
                for key, f in type_.fields.items()
                if isinstance(f.type, GraphQLNonNull) or self.draw(st.booleans())
            }
        if isinstance(type_, GraphQLEnumType):
            return self.draw(st.sampled_from(sorted(type_.values)))
        assert isinstance(type_, GraphQLScalarType)
        return self.scalar(name, type_.name, parent)

    def scalar(self, name: str, type_name: str, parent: str) -> Any:
        w = self.world
        if type_name == "Boolean":
            return self.draw(st.booleans())
        if type_name == "Int":
            if name in ("first", "last"):
                # Out of range one time in eight: refused alike on both paths, and cheap.
                sizes = OUT_OF_RANGE_PAGE_SIZES if self.draw(st.integers(0, 7)) == 7 else PAGE_SIZES
                return self.draw(st.sampled_from(sizes))
            return self.draw(st.sampled_from((0, 1, 5, 20, -1, 1000)))
        if type_name == "Float":
            return self.draw(st.sampled_from((0.0, 0.5, -1.0)))
        # (what the world holds, what it does not): the first three times in four.
        pools: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
            "after": (w.cursors, GARBAGE_CURSORS),
            "before": (w.cursors, GARBAGE_CURSORS),
            "productId": (w.product_ids, ("CFQ7TTC0XXXX", "")),
            "purchaserId": (w.user_ids, UNKNOWN_IDS),
            "userId": (w.user_ids, UNKNOWN_IDS),
            "market": (MARKETS, MARKETS),
            "search": (SEARCHES, SEARCHES),
        }
        known: tuple[str, ...] = ()
        unknown: tuple[str, ...] = ()
        if name == "id" and parent == "tenant":
            known, unknown = w.tenant_ids, UNKNOWN_IDS
        elif name in ("after", "before") and parent == "accessibleTenants" and w.fleet_cursors:
            known, unknown = w.fleet_cursors, GARBAGE_CURSORS
        elif name in pools:
            known, unknown = pools[name]
        elif type_name == "ID" or name.endswith("Id"):
            known, unknown = w.node_ids + w.tenant_ids, UNKNOWN_IDS
        if known:
            return self.draw(st.sampled_from(unknown if self.draw(st.integers(0, 3)) == 3 else known))
        if type_name == "Date":
            return self.draw(st.sampled_from(("2026-12-31", "2027-02-28", "not-a-date")))
        if type_name == "DateTime":
            return self.draw(st.sampled_from(("2026-12-31T23:59:59+00:00", "not-a-time")))
        return self.draw(st.sampled_from(("", "x", "Contoso")))

    def literal(self, value: Any, type_: GraphQLInputType) -> str:
        """``value`` written as a GraphQL literal of ``type_``."""
        if isinstance(type_, GraphQLNonNull):
            return self.literal(value, type_.of_type)
        if value is None:
            return "null"
        if isinstance(type_, GraphQLList):
            return "[" + ", ".join(self.literal(v, type_.of_type) for v in value) + "]"
        if isinstance(type_, GraphQLInputObjectType):
            return "{" + ", ".join(f"{k}: {self.literal(v, type_.fields[k].type)}" for k, v in value.items()) + "}"
        if isinstance(type_, GraphQLEnumType):
            return str(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return json.dumps(value)
        return json.dumps(str(value))

    def argument(self, name: str, arg: GraphQLArgument, parent: str) -> str | None:
        """``name: value`` as a literal or a variable, or None to leave the argument out."""
        required = isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
        if not required and self.draw(st.integers(0, 2)) != 2:
            return None  # clients leave most optional arguments out
        value = self.value(name, arg.type, parent)
        if not self.draw(st.booleans()):
            return f"{name}: {self.literal(value, arg.type)}"
        variable = self.fresh("v")
        declared = str(arg.type)
        how = self.draw(st.sampled_from(("given", "given", "default", "null")))
        if how == "default" and value is not None:
            # Declared with a default, then given or left out (the default applies).
            default = self.value(name, arg.type, parent)
            if default is not None:
                self.definitions.append(f"${variable}: {declared} = {self.literal(default, arg.type)}")
                if self.draw(st.booleans()):
                    self.variables[variable] = value
                return f"{name}: ${variable}"
        self.definitions.append(f"${variable}: {declared}")
        if how == "null" and not isinstance(arg.type, GraphQLNonNull):
            if self.draw(st.booleans()):
                self.variables[variable] = None
            return f"{name}: ${variable}"
        self.variables[variable] = value
        return f"{name}: ${variable}"

    def directive(self) -> str:
        """Mostly none; else ``@include``/``@skip`` on a literal or a variable condition."""
        if self.draw(st.integers(0, 5)) != 5:
            return ""
        which = self.draw(st.sampled_from(("include", "skip")))
        condition = not self.draw(st.booleans())
        form = self.draw(st.sampled_from(("literal", "variable", "defaulted")))
        if form == "literal":
            return f" @{which}(if: {'true' if condition else 'false'})"
        variable = self.fresh("b")
        if form == "variable":
            self.definitions.append(f"${variable}: Boolean!")
            self.variables[variable] = condition
        else:
            self.definitions.append(f"${variable}: Boolean = {'true' if condition else 'false'}")
            if self.draw(st.booleans()):
                self.variables[variable] = not condition
        return f" @{which}(if: ${variable})"

    # -- selections ----------------------------------------------------------------------------

    def selection_set(self, type_: Composite, depth: int, scope: _Scope, *, fragments: bool = True) -> str:
        """``{ … }`` of 1 to ``max_width`` fields (fewer deeper down) and, where ``fragments``,
        fragments; a fragment's own selection holds fields only, so nesting stays bounded."""
        width = self.draw(st.integers(1, max(1, self.bounds.max_width - depth // 2)))
        items: list[str] = []
        for _ in range(width):
            if fragments and self.draw(st.integers(0, 7)) == 7:
                items.append(self.fragment(type_, depth, scope))
            else:
                items.append(self.field(type_, depth, scope))
        if self.draw(st.integers(0, 5)) == 5:
            items.append(self.draw(st.sampled_from(items)))  # the same selection again: merged
        return "{ " + " ".join(items) + " }"

    def field(self, type_: Composite, depth: int, scope: _Scope) -> str:
        # Objects below as often as leaves (while depth allows), or reads never reach far.
        leaves = sorted(n for n, f in type_.fields.items() if is_leaf_type(get_named_type(f.type)))
        objects = sorted(set(type_.fields) - set(leaves))
        # Connections half the time an object is drawn: paging is where the two paths differ most.
        connections = [n for n in objects if get_named_type(type_.fields[n].type).name.endswith("Connection")]
        if objects and depth < self.bounds.max_depth and (not leaves or self.draw(st.booleans())):
            pick_connection: bool = self.draw(st.booleans())
            name = self.draw(st.sampled_from(connections if connections and pick_connection else objects))
        else:
            name = self.draw(st.sampled_from([*leaves, "__typename"]))
        if name == "__typename":
            alias = self.fresh("t") if self.draw(st.integers(0, 5)) == 5 else None
            return (f"{alias}: " if alias else "") + "__typename" + self.directive()
        definition: GraphQLField = type_.fields[name]
        args = [a for a in (self.argument(n, arg, name) for n, arg in definition.args.items()) if a]
        call = f"{name}({', '.join(args)})" if args else name
        shape = str(definition.type)
        alias = self.fresh("a") if self.draw(st.integers(0, 5)) == 5 else None
        if alias is None and scope.keys.get(name, (call, shape)) != (call, shape):
            alias = self.fresh("a")  # the key is taken by other arguments or another type
        key = alias or name
        scope.keys[key] = (call, shape)
        text = (f"{alias}: " if alias else "") + call + self.directive()
        target = get_named_type(definition.type)
        if isinstance(target, GraphQLObjectType | GraphQLInterfaceType):
            text += " " + self.selection_set(target, depth + 1, scope.child(key))
        return text

    def fragment(self, type_: Composite, depth: int, scope: _Scope) -> str:
        """An inline fragment (typed or not) or a named fragment's spread, on this type, an
        interface it implements, or (on an interface) one of its types."""
        conditions: list[GraphQLNamedType] = [type_]
        if isinstance(type_, GraphQLObjectType):
            conditions += list(type_.interfaces)
        else:
            conditions += sorted(self.schema.get_possible_types(type_), key=lambda t: t.name)
        condition = self.draw(st.sampled_from(conditions))
        assert isinstance(condition, GraphQLObjectType | GraphQLInterfaceType)
        form = self.draw(st.sampled_from(("inline", "untyped", "named")))
        if form == "named" and len(self.fragments) < self.bounds.max_fragments:
            reusable = sorted(n for n, (on, _) in self.fragments.items() if on == condition.name)
            name = self.fresh("F")
            reuse: bool = self.draw(st.booleans())
            if reusable and reuse:
                name = self.draw(st.sampled_from(reusable))
            else:
                # Its own scope: where it is spread, the validation below has the last word.
                body = self.selection_set(condition, depth, _Scope(), fragments=False)
                self.fragments[name] = (condition.name, f"fragment {name} on {condition.name} {body}")
            return f"...{name}" + self.directive()
        if form == "untyped":
            return "..." + self.directive() + " " + self.selection_set(type_, depth, scope, fragments=False)
        on = self.selection_set(condition, depth, scope, fragments=False)
        return f"... on {condition.name}" + self.directive() + " " + on

    def document(self) -> ReadDocument:
        query_type = self.schema.query_type
        assert query_type is not None
        selection = self.selection_set(query_type, 0, _Scope())
        named = bool(self.definitions) or self.draw(st.booleans())
        operation_name = self.fresh("Read") if named and self.draw(st.booleans()) else None
        header = "query"
        if operation_name:
            header += f" {operation_name}"
        if self.definitions:
            header += "(" + ", ".join(self.definitions) + ")"
        text = (f"{header} " if named else "") + selection
        fragments = [definition for _, definition in self.fragments.values()]
        return ReadDocument(
            query="\n".join([text, *fragments]), variables=self.variables, operation_name=operation_name
        )


def read_documents(
    schema: GraphQLSchema, world: World, bounds: Bounds | None = None
) -> st.SearchStrategy[ReadDocument]:
    """Valid read documents over every field reachable from ``Query``."""

    @st.composite
    def draw_document(draw: st.DrawFn) -> ReadDocument:
        document = _Drawer(draw, schema, world, bounds or Bounds()).document()
        errors = validate(schema, parse(document.query))
        assume(not errors)
        return document

    return draw_document()
