"""SQL expressions that render values exactly as the resolver path serializes them.

The compiled read path builds the response JSON inside PostgreSQL, so every scalar must come
out byte-for-byte as Strawberry would print it: global IDs in base64url without padding,
DateTime as Python's ``isoformat()`` (six fractional digits, or none), enums by GraphQL name.
Only constants of our own schema are ever inlined here; every value from a request is a
``$n`` parameter (see ``Params``), except a boolean or a null, which ``Params`` writes as the
constant itself (there is nothing else it could spell).
"""

from __future__ import annotations

import enum
from typing import Any

from graphql import GraphQLEnumType, GraphQLSchema

from purchasegraph.db.ordering import base64url_sql


class Params:
    """The statement's parameters; ``add`` returns the placeholder, cast to the type given."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str) -> str:
        # Booleans and nulls are the scope's shape (``whole OR purchaser = $n``) and the filters a
        # request left out (``$n IS NULL OR …``): written as constants, the plan PostgreSQL keeps
        # for the prepared statement folds them away instead of testing them on every row (the
        # generic plan it switches to after five executions could not).
        if value is None:
            return f"NULL::{cast}"
        if isinstance(value, bool) and cast == "bool":
            return "true" if value else "false"
        self.values.append(value)
        return f"${len(self.values)}::{cast}"


def literal(text: str) -> str:
    """A SQL string literal of a constant of our own code (type names, enum values)."""
    return "'" + text.replace("'", "''") + "'"


def global_id(type_name: str, tenant: str | None, key: str) -> str:
    """``encode_id``: base64url of ``Type:tenant:key`` (``Type::key`` without a tenant), no padding."""
    prefix = literal(f"{type_name}:") + (f" || {tenant}::text" if tenant is not None else "")
    raw = f"{prefix} || ':' || {key}::text"
    return f"rtrim({base64url_sql(raw)}, '=')"


def timestamp(expr: str) -> str:
    """A timestamptz as Python's ``datetime.isoformat()`` of asyncpg's UTC value."""
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL ELSE "
        f"to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN (date_part('microseconds', {expr})::bigint % 1000000) <> 0 "
        f"THEN to_char({expr} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00' END"
    )


def date(expr: str) -> str:
    return f"to_char({expr}, 'YYYY-MM-DD')"


def enum_names(schema: GraphQLSchema, type_name: str) -> dict[Any, str]:
    """A GraphQL enum's names by the stored value of the Python enum the resolvers return."""
    graphql_enum = schema.get_type(type_name)
    assert isinstance(graphql_enum, GraphQLEnumType)
    return {
        value.value.value if isinstance(value.value, enum.Enum) else value.value: name
        for name, value in graphql_enum.values.items()
    }


def enum_name(expr: str, schema: GraphQLSchema, type_name: str) -> str:
    """The GraphQL name of a stored enum value (the schema's own table, never ``upper()``)."""
    whens = [
        f"WHEN {literal(str(stored))} THEN {literal(name)}" for stored, name in enum_names(schema, type_name).items()
    ]
    return f"CASE {expr} {' '.join(whens)} END"
