"""Relay pages of children, for many parents in one statement.

Each connection query is built once, at import, from constant fragments: a ``FROM … WHERE``
source that filters by tenant, parent and scope, a column list and an ORDER BY that ends in a
unique column. Per parent it counts the rows in scope (``totalCount``) and returns the slice
the page asks for, so a nested query costs one statement per level, whatever the row count.

Parameters shared by every connection query:
  $1 tenant_id uuid, $2 parent keys uuid[], $3 after (row number, 0 = start), $4 before (row
  number or NULL), $5 first (or NULL), $6 last (or NULL), $7 whole tenant bool, $8 viewer uuid.
Filters particular to one connection follow from $9.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from purchasegraph.db.executor import Executor, Record
from purchasegraph.errors import BadUserInput
from purchasegraph.policy import Scope

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
CURSOR_PREFIX = "cursor:"
# Cursors name row numbers, which start at 1; the SQL takes them as int4.
MAX_ROW_NUMBER = 2**31 - 1

_CONNECTION_SHELL = """
SELECT k.parent AS _parent, c.total AS _total, b.start AS _start, p.*
  FROM unnest($2::uuid[]) AS k(parent)
 CROSS JOIN LATERAL (SELECT count(*)::int AS total {source}) AS c
 CROSS JOIN LATERAL (
       SELECT GREATEST(LEAST(COALESCE($4::int, c.total + 1), c.total + 1) - 1, 0) AS hi) AS h
 CROSS JOIN LATERAL (
       SELECT CASE WHEN $6::int IS NULL THEN LEAST($3::int, h.hi)
                   ELSE GREATEST(LEAST($3::int, h.hi), h.hi - $6::int) END AS start) AS b
  LEFT JOIN LATERAL (
       SELECT {columns}, row_number() OVER (ORDER BY {order_by}) AS _rn
       {source}
        ORDER BY {order_by}
       OFFSET b.start
        LIMIT GREATEST(LEAST(COALESCE($5::int, h.hi - b.start), h.hi - b.start), 0)) AS p ON true
 ORDER BY k.parent, p._rn
"""


def connection_query(*, source: str, columns: str, order_by: str) -> str:
    """Wrap a scoped source in the paging shell; called at import with constant fragments only."""
    return _CONNECTION_SHELL.format(source=source, columns=columns, order_by=order_by)


@dataclass(frozen=True)
class PageArgs:
    """Validated Relay arguments: exactly one of first/last, cursors decoded to row numbers."""

    first: int | None
    last: int | None
    after: int
    before: int | None

    @classmethod
    def from_relay(
        cls,
        *,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
    ) -> PageArgs:
        if first is not None and last is not None:
            raise BadUserInput("Pass either `first` or `last`, not both.", field="first")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise BadUserInput(f"`{name}` must be between 0 and {MAX_PAGE_SIZE}.", field=name)
        if first is None and last is None:
            first = DEFAULT_PAGE_SIZE
        return cls(
            first=first,
            last=last,
            after=decode_cursor(after, "after") if after is not None else 0,
            before=decode_cursor(before, "before") if before is not None else None,
        )

    def sql_args(self) -> tuple[int, int | None, int | None, int | None]:
        return (self.after, self.before, self.first, self.last)


def encode_cursor(row_number: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{row_number}".encode()).decode()


def decode_cursor(cursor: str, field: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        digits = text.removeprefix(CURSOR_PREFIX)
        if text.startswith(CURSOR_PREFIX) and digits.isascii() and digits.isdigit():
            value = int(digits)
            if 1 <= value <= MAX_ROW_NUMBER:
                return value
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise BadUserInput(f"`{field}` is not a cursor this API issued.", field=field)


@dataclass(frozen=True)
class Slice:
    """One parent's page: rows in order with their row numbers, and the count in scope."""

    rows: tuple[Record, ...]
    row_numbers: tuple[int, ...]
    total: int
    start: int

    @property
    def has_previous_page(self) -> bool:
        return self.start > 0

    @property
    def has_next_page(self) -> bool:
        return self.start + len(self.rows) < self.total


EMPTY_SLICE = Slice(rows=(), row_numbers=(), total=0, start=0)


async def fetch_slices(
    db: Executor,
    sql: str,
    *,
    scope: Scope,
    parents: Sequence[uuid.UUID],
    page: PageArgs,
    filters: Sequence[Any] = (),
    widen_to: bool | None = None,
) -> list[Slice]:
    """One statement for every parent's page; slices come back in the order of ``parents``.

    ``widen_to`` replaces "whole tenant" as $7 where an entity is wider (the directory).
    """
    if not scope.sees_anything:
        return [EMPTY_SLICE for _ in parents]
    whole = scope.whole_tenant if widen_to is None else widen_to
    records = await db.fetch(sql, scope.tenant_id, list(parents), *page.sql_args(), whole, scope.viewer_id, *filters)
    grouped: dict[uuid.UUID, list[Record]] = defaultdict(list)
    for record in records:
        grouped[record["_parent"]].append(record)
    slices = []
    for parent in parents:
        group = grouped.get(parent)
        if not group:
            slices.append(EMPTY_SLICE)
            continue
        rows = tuple(r for r in group if r["_rn"] is not None)
        slices.append(
            Slice(
                rows=rows,
                row_numbers=tuple(r["_rn"] for r in rows),
                total=group[0]["_total"],
                start=group[0]["_start"],
            )
        )
    return slices
