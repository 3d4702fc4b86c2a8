"""Schema objects read from database rows: a field takes the column of its own name."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Self, TypeVar

import strawberry
from strawberry.types.base import StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

from purchasegraph.db.executor import Record
from purchasegraph.schema.ids import encode_id

T = TypeVar("T")
Read = Callable[[Record], object]


def _read(type_name: str, column: str, field_type: object) -> Read:
    """``id`` is the global ID of an object of a tenant (its type, its tenant, its key); another ID
    field is the text of a directory id; an enum field takes the member of the stored value (enum
    values are the database's); a type that reads itself from a column (``Money.from_column``) does
    so; any other field takes the value as it is."""
    if column == "id":
        return lambda row: strawberry.ID(encode_id(type_name, row["id"], row["tenant_id"]))
    if field_type is strawberry.ID or (
        isinstance(field_type, StrawberryOptional) and field_type.of_type is strawberry.ID
    ):
        return lambda row: None if row[column] is None else strawberry.ID(str(row[column]))
    if isinstance(field_type, StrawberryEnumDefinition):
        enum_type = field_type.wrapped_cls
        return lambda row: enum_type(row[column])
    from_column = getattr(field_type, "from_column", None)
    if from_column is not None:
        return lambda row: from_column(row, column)
    return lambda row: row[column]


@functools.cache
def _readers(cls: Any) -> tuple[tuple[str, Read], ...]:
    definition = cls.__strawberry_definition__
    types = {field.python_name: field.type for field in definition.fields}
    # A resolver field is not set on construction: it is not read from the row.
    return tuple(
        (field.name, _read(definition.name, field.name, types[field.name]))
        for field in dataclasses.fields(cls)
        if field.init
    )


def from_columns(cls: Callable[..., T], row: Record, **derived: object) -> T:
    """``cls`` with the fields named in ``derived`` as given there and every other one read from the
    row's column of the same name: only what is computed or renamed on the way is written out."""
    columns = {name: read(row) for name, read in _readers(cls) if name not in derived}
    return cls(**columns, **derived)


class FromRow:
    """A schema type read from a database row, each field from the column of its name; a type that
    computes or renames fields on the way overrides ``from_row`` with them."""

    @classmethod
    def from_row(cls, row: Record) -> Self:
        return from_columns(cls, row)

    @classmethod
    def found(cls, row: Record | None) -> Self | None:
        """The object of the row a lookup found; None when it found none (absent or out of scope)."""
        return cls.from_row(row) if row is not None else None
