"""The Relay arguments every connection field takes, turned into one validated value."""

from __future__ import annotations

from purchasegraph.db.ordering import Ordering
from purchasegraph.db.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageArgs

FIRST = f"Items from the start (or after `after`); at most {MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}."
AFTER = "Cursor to start after (from a page of the same `orderBy`)."
LAST = f"Items from the end (or before `before`); at most {MAX_PAGE_SIZE}."
BEFORE = "Cursor to end before (from a page of the same `orderBy`)."


def page_args(
    first: int | None, after: str | None, last: int | None, before: str | None, ordering: Ordering
) -> PageArgs:
    return PageArgs.from_relay(first=first, after=after, last=last, before=before, ordering=ordering)
