"""A field added to an object type the compiled path reads must be added to the compiler too.

The compiler declines a field it does not know, and the request then runs on the resolvers: the
answer stays right, but the read is slower and nothing else would notice. So the field maps are
checked against the schema: every field of every Relay node type, and of every other type whose
fields the compiler maps, has a way to be compiled."""

from __future__ import annotations

from graphql import GraphQLObjectType

from purchasegraph.compiled import compiler
from purchasegraph.compiled.connections import CONNECTIONS
from purchasegraph.compiled.fields import FIELDS
from purchasegraph.schema import build_schema

# Fields the compiler writes in its own branch rather than in a table.
WRITTEN_IN_THE_COMPILER = {("Subscription", "product")}


def compiled_fields() -> set[tuple[str, str]]:
    known = set(WRITTEN_IN_THE_COMPILER) | set(CONNECTIONS) | set(FIELDS) | set(compiler.USER_COLUMNS)
    for table in (compiler.SCALARS, compiler.MONEY):
        known |= {(type_name, field) for type_name, fields in table.items() for field in fields}
    return known


def fields_the_compiler_misses(known: set[tuple[str, str]]) -> list[str]:
    schema = build_schema()._schema
    mapped_types = {type_name for type_name, _ in known}
    node_types = {
        name
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and any(i.name == "Node" for i in t.interfaces)
    }
    missing = [f"{name} (a node type)" for name in sorted(node_types - mapped_types)]
    return missing + sorted(
        f"{name}.{field}"
        for name in mapped_types
        for field in schema.type_map[name].fields  # type: ignore[attr-defined]
        if (name, field) not in known
    )


def test_every_field_of_a_type_the_compiler_reads_is_in_its_field_map() -> None:
    assert fields_the_compiler_misses(compiled_fields()) == [], "add these to the compiler's field maps"


def test_the_check_notices_a_field_the_compiler_was_not_told_of() -> None:
    """The check above is only worth its name if a missing entry makes it fail."""
    assert fields_the_compiler_misses(compiled_fields() - {("Subscription", "status")}) == ["Subscription.status"]
