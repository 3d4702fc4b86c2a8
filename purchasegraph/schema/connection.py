"""Relay connections: ``edges { cursor node }``, ``pageInfo`` and a scoped ``totalCount``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import Slice
from purchasegraph.gateway.actual_cost import count_nodes

T = TypeVar("T")


@strawberry.type(description="Where a page sits in its connection (Relay cursor pagination).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item of the page.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item of the page.")


@strawberry.type(description="One item of a connection with the cursor to page from it.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(description="A page of items; `totalCount` counts only what the viewer may see.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="How this page relates to the rest.")
    slice_: strawberry.Private[Slice]

    @strawberry.field(description="Items in the viewer's scope across all pages (counted only when asked for).")
    async def total_count(self) -> int:
        return await self.slice_.count()

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def connection_from_slice(slice_: Slice, make: Callable[[Record], T]) -> Connection[T]:
    count_nodes(len(slice_.rows))
    edges = [Edge(cursor=cursor, node=make(row)) for row, cursor in zip(slice_.rows, slice_.cursors, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=slice_.has_next_page,
            has_previous_page=slice_.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        slice_=slice_,
    )
