"""Relay pages of children, for many parents in one statement: keyset windows, never OFFSET.

Each connection is a ``Listing``: a ``FROM … WHERE`` source that filters by tenant, parent and
scope, a column list, and the ``Sortable`` of its entity (``db/ordering.py``). Per ordering and
page shape a statement is built from those constants and cached. A cursor holds the sort-key
values of its row, so a page is an index seek past the cursor whatever the page's depth, and a
row committed or removed elsewhere never shifts the rows of a later page.

The page: the rows of the window ``after < key < before`` (either bound optional), the first
``first`` of them (``DEFAULT_PAGE_SIZE`` unless asked, at most ``MAX_PAGE_SIZE``) or the last
``last``. ``hasNextPage`` says a row in scope sorts after the page's end, ``hasPreviousPage``
that one sorts before its start, where the
end of a non-empty page is its last row and its start its first row; an empty page sits just
after ``after`` (forward; at the very start without ``after``) or just before ``before``
(backward; at the very end without ``before``). Each is a probe for the nearest row past a
cursor (an index walk from it, ``LIMIT 1``) or the one row fetched beyond the page, never a count:
  forward:  next = a row beyond the page in the window, or a row at or after ``before``;
            previous = a row at or before ``after`` (false without ``after``).
  backward: previous = a row beyond the page in the window, or a row at or before ``after``;
            next = a row at or after ``before`` (false without ``before``).
``totalCount`` is counted only when a client asks for it: ``Slice.count`` runs one count
statement for every parent of the page statement, the first time any of them is awaited.

Parameters shared by every statement:
  $1 tenant_id uuid, $2 parent keys uuid[], $3 after's key values text[], $4 before's text[],
  $5 first int, $6 last int, $7 whole tenant bool, $8 viewer uuid.
Filters particular to one connection follow from $9.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from purchasegraph.db.executor import Executor, Record
from purchasegraph.db.ordering import Ordering, Sortable, cursor_sql, decode_cursor, keyset, probe
from purchasegraph.errors import BadUserInput
from purchasegraph.policy import Scope

# The largest page any list of the API returns, and the page a list returns when asked for no
# size: part of the API's contract (the schema's descriptions state them), so not a setting.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

# Every statement names $3 to $6 with their types, whether or not its shape reads them.
_ARGS = "CROSS JOIN (SELECT $3::text[], $4::text[], $5::int, $6::int) AS _args(after_, before_, first_, last_)"


@dataclass(frozen=True)
class Listing:
    """One connection's constant fragments: the scoped source (a ``FROM … WHERE``), the columns,
    the alias of the row sorted, and what it may be sorted by."""

    source: str
    columns: str
    alias: str
    sortable: Sortable
    # Filters only the columns read ($9 on), none of which the count statement may be passed.
    column_filters: bool = False


def connection_query(
    *, source: str, columns: str, alias: str, sortable: Sortable, column_filters: bool = False
) -> Listing:
    """A connection of constant fragments; called at import, its statements built on first use."""
    return Listing(source=source, columns=columns, alias=alias, sortable=sortable, column_filters=column_filters)


def check_page_size(*, first: int | None, last: int | None) -> None:
    """Refuse what no page of the API serves: both ends at once, or a size past MAX_PAGE_SIZE."""
    if first is not None and last is not None:
        raise BadUserInput("Pass either `first` or `last`, not both.", field="first")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise BadUserInput(f"`{name}` must be between 0 and {MAX_PAGE_SIZE}.", field=name)


@dataclass(frozen=True)
class PageArgs:
    """Validated Relay arguments: exactly one of first/last, cursors decoded to key values."""

    first: int | None
    last: int | None
    after: tuple[str, ...] | None
    before: tuple[str, ...] | None
    ordering: Ordering

    @classmethod
    def from_relay(
        cls,
        *,
        first: int | None,
        after: str | None,
        last: int | None,
        before: str | None,
        ordering: Ordering,
    ) -> PageArgs:
        check_page_size(first=first, last=last)
        if first is None and last is None:
            first = DEFAULT_PAGE_SIZE
        return cls(
            first=first,
            last=last,
            after=decode_cursor(after, ordering, "after") if after is not None else None,
            before=decode_cursor(before, ordering, "before") if before is not None else None,
            ordering=ordering,
        )

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        size = self.last if self.last is not None else self.first
        assert size is not None
        return size

    def sql_args(self) -> tuple[list[str] | None, list[str] | None, int | None, int | None]:
        return (
            list(self.after) if self.after is not None else None,
            list(self.before) if self.before is not None else None,
            self.first,
            self.last,
        )


@lru_cache(maxsize=512)
def page_statement(listing: Listing, ordering: Ordering, *, after: bool, before: bool, backward: bool) -> str:
    """The page of every parent, with the two probes pageInfo needs (see the module docstring)."""
    a = listing.alias
    window = [keyset(ordering, a, "$3::text[]", after=True, inclusive=False)] if after else []
    window += [keyset(ordering, a, "$4::text[]", after=False, inclusive=False)] if before else []
    probe_after = probe(ordering, a, listing.source, "$3::text[]", after=False) if after else "false"
    probe_before = probe(ordering, a, listing.source, "$4::text[]", after=True) if before else "false"
    cut = "".join(f" AND {w}" for w in window)
    return f"""
SELECT k.parent AS _parent, x.upto_after AS _upto_after, y.from_before AS _from_before, p.*
  FROM unnest($2::uuid[]) AS k(parent)
 {_ARGS}
 CROSS JOIN LATERAL (SELECT {probe_after} AS upto_after OFFSET 0) AS x
 CROSS JOIN LATERAL (SELECT {probe_before} AS from_before OFFSET 0) AS y
  LEFT JOIN LATERAL (
       SELECT q.*, row_number() OVER () AS _rn FROM (
              SELECT {listing.columns}, {cursor_sql(ordering, a)} AS _cursor
              {listing.source}{cut}
               ORDER BY {ordering.order_by(a, reverse=backward)}
               LIMIT {"$6" if backward else "$5"}::int + 1) AS q) AS p ON true
 ORDER BY k.parent, p._rn
"""


@lru_cache(maxsize=64)
def count_statement(listing: Listing) -> str:
    return f"""
SELECT k.parent AS _parent, (SELECT count(*)::int {listing.source}) AS _total
  FROM unnest($2::uuid[]) AS k(parent)
 {_ARGS}
"""


@dataclass
class _Counts:
    """The rows in scope of every parent of one page statement, counted once when first asked."""

    db: Executor
    sql: str
    args: tuple[Any, ...]
    totals: dict[uuid.UUID, int] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def of(self, parent: uuid.UUID) -> int:
        async with self.lock:
            if self.totals is None:
                records = await self.db.fetch(self.sql, *self.args)
                self.totals = {r["_parent"]: r["_total"] for r in records}
        return self.totals.get(parent, 0)


@dataclass(frozen=True)
class Slice:
    """One parent's page: rows in order with their cursors, where the page sits, and its count."""

    rows: tuple[Record, ...]
    cursors: tuple[str, ...]
    has_previous_page: bool
    has_next_page: bool
    parent: uuid.UUID | None = None
    counts: _Counts | None = None

    async def count(self) -> int:
        """``totalCount``: counted on first call, for every parent the page statement served."""
        if self.counts is None or self.parent is None:
            return 0
        return await self.counts.of(self.parent)


EMPTY_SLICE = Slice(rows=(), cursors=(), has_previous_page=False, has_next_page=False)


async def fetch_slices(
    db: Executor,
    listing: Listing,
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
    sql = page_statement(
        listing, page.ordering, after=page.after is not None, before=page.before is not None, backward=page.backward
    )
    tail = (whole, scope.viewer_id, *filters)
    records = await db.fetch(sql, scope.tenant_id, list(parents), *page.sql_args(), *tail)
    counted = tail[:2] if listing.column_filters else tail
    counts = _Counts(db, count_statement(listing), (scope.tenant_id, list(parents), None, None, None, None, *counted))
    grouped: dict[uuid.UUID, list[Record]] = defaultdict(list)
    for record in records:
        grouped[record["_parent"]].append(record)
    slices = []
    for parent in parents:
        group = grouped.get(parent)
        if not group:
            slices.append(EMPTY_SLICE)
            continue
        rows = [r for r in group if r["_rn"] is not None]
        beyond = len(rows) > page.size
        rows = rows[: page.size]
        if page.backward:
            rows.reverse()
        has_previous = beyond if page.backward else False
        has_next = False if page.backward else beyond
        slices.append(
            Slice(
                rows=tuple(rows),
                cursors=tuple(r["_cursor"] for r in rows),
                has_previous_page=has_previous or group[0]["_upto_after"],
                has_next_page=has_next or group[0]["_from_before"],
                parent=parent,
                counts=counts,
            )
        )
    return slices
