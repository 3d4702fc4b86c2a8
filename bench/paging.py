"""Walking a connection page by page through the API's own cursors, for the bench's set-ups.

A workload that reads page N (workloads 5 and 6, the growth table's page 100) must send the
cursor the server issued for page N - 1, whatever its format: row numbers today, keyset cursors
later, PostGraphile's own. So the set-up asks the server for the pages before, as a client would,
and never builds a cursor itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

Body = dict[str, Any]
# Sends one GraphQL request body and answers the decoded response.
Post = Callable[[Body], Awaitable[dict[str, Any]]]


class BenchSetupError(RuntimeError):
    """A set-up request failed: the workload cannot be measured as described."""


def http_post(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Post:
    """A ``Post`` over HTTP that refuses non-2xx answers and answers carrying GraphQL errors."""

    async def post(body: Body) -> dict[str, Any]:
        response = await client.post(url, json=body, headers=headers, timeout=120)
        answer: dict[str, Any] = response.json() if response.content else {}
        if response.status_code // 100 != 2 or answer.get("errors"):
            raise BenchSetupError(f"{response.status_code} {response.text[:500]}")
        return answer

    return post


def dig(value: Any, path: Sequence[str]) -> Any:
    """``value[path[0]][path[1]]…``, or None where a step is missing."""
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


async def cursor_before_page(post: Post, body: Body, connection: Sequence[str], page: int) -> str | None:
    """The ``endCursor`` to send as ``after`` for page ``page`` (1-based; None for page 1).

    ``body`` is the request with ``variables.after`` left out or null; ``connection`` is the path
    from ``data`` to the connection, whose selection must include ``pageInfo { endCursor hasNextPage }``.
    """
    after: str | None = None
    for number in range(1, page):
        answer = await post({**body, "variables": {**body.get("variables", {}), "after": after}})
        info = dig(answer, ("data", *connection, "pageInfo")) or {}
        if not info.get("hasNextPage") or not isinstance(info.get("endCursor"), str):
            raise BenchSetupError(f"page {number} of {'.'.join(connection)} has no next page (asked for page {page})")
        after = info["endCursor"]
    return after
