"""Schema objects read from database rows: a field takes the column of its own name."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

from purchasegraph.db.executor import Record
from purchasegraph.schema.ids import encode_id

T = TypeVar("T")


@functools.cache
def _set_on_construction(cls: Callable[..., Any]) -> tuple[str, ...]:
    # A resolver field is not set on construction: it is not read from the row.
    return tuple(field.name for field in dataclasses.fields(cls) if field.init)  # type: ignore[arg-type]


def from_columns(cls: Callable[..., T], row: Record, **derived: object) -> T:
    """``cls`` with the fields named in ``derived`` as given there, every other one the row's column
    of the same name: only what is converted or renamed on the way is written out."""
    columns = {name: row[name] for name in _set_on_construction(cls) if name not in derived}
    return cls(**columns, **derived)


def node_id(type_name: str, row: Record) -> strawberry.ID:
    """The global ID of a tenant's object, from its row's ``id`` and ``tenant_id``."""
    return strawberry.ID(encode_id(type_name, row["id"], row["tenant_id"]))
