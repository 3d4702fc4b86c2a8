"""Walking a Relay connection as a client does: page after page through the cursors it was given,
forward with first/after or backward with last/before, checking pageInfo on the way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Page = dict[str, Any]
# The connection's page for the paging arguments given (first/after or last/before).
FetchPage = Callable[[dict[str, Any]], Awaitable[Page]]


async def pages_forward(fetch: FetchPage, size: int) -> list[Page]:
    """Every page from the first; only the first says there is nothing before it."""
    pages: list[Page] = []
    after = None
    while True:
        page = await fetch({"first": size, "after": after})
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


async def pages_backward(fetch: FetchPage, size: int) -> list[Page]:
    """Every page from the last, in the connection's order; only the last says nothing follows."""
    pages: list[Page] = []
    before = None
    while True:
        page = await fetch({"last": size, "before": before})
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        pages.insert(0, page)
        if not page["pageInfo"]["hasPreviousPage"]:
            return pages
        before = page["pageInfo"]["startCursor"]


def node_ids(pages: list[Page]) -> list[str]:
    return [edge["node"]["id"] for page in pages for edge in page["edges"]]
