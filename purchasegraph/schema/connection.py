"""Relay connections: ``edges { cursor node }``, ``pageInfo`` and a scoped ``totalCount``."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar, cast

import strawberry

from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import Slice
from purchasegraph.gateway.actual_cost import count_nodes

T = TypeVar("T")


class _Deferred:
    """``await`` runs ``start()`` then; until then nothing has begun."""

    def __init__(self, start: Callable[[], Coroutine[Any, Any, int]]) -> None:
        self._start = start

    def __await__(self) -> Generator[Any, None, int]:
        return self._start().__await__()


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
    # The page's items: counted towards the request's actual cost each time a list of them is
    # answered (``edges`` or ``nodes``, once per response key), as the compiled path counts the
    # lists its statement returned; a connection asked only for ``totalCount`` or ``pageInfo``
    # returns no nodes and costs none.
    items: strawberry.Private[list[Edge[T]]]
    page_info: PageInfo = strawberry.field(description="How this page relates to the rest.")
    slice_: strawberry.Private[Slice]

    @strawberry.field(description="Items in the viewer's scope across all pages (counted only when asked for).")
    def total_count(self) -> int:
        # An awaitable that starts its coroutine only when awaited: should a sibling field's error
        # abandon this one, no coroutine is left behind un-awaited.
        return cast(int, _Deferred(self.slice_.count))

    @strawberry.field(description="The items of this page with their cursors.")
    def edges(self) -> list[Edge[T]]:
        count_nodes(len(self.items))
        return self.items

    @strawberry.field(description="The items of this page, without cursors.")
    def nodes(self) -> list[T]:
        count_nodes(len(self.items))
        return [edge.node for edge in self.items]


def connection_from_slice(slice_: Slice, make: Callable[[Record], T]) -> Connection[T]:
    edges = [Edge(cursor=cursor, node=make(row)) for row, cursor in zip(slice_.rows, slice_.cursors, strict=True)]
    return Connection(
        items=edges,
        page_info=PageInfo(
            has_next_page=slice_.has_next_page,
            has_previous_page=slice_.has_previous_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        slice_=slice_,
    )
