"""Relay connections: their arguments, and ``edges { cursor node }``, ``pageInfo`` and a scoped ``totalCount``."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Annotated, Any, Generic, TypeVar, cast

import strawberry

from purchasegraph.db.executor import Record
from purchasegraph.db.ordering import Sortable
from purchasegraph.db.pagination import Slice
from purchasegraph.gateway.actual_cost import count_nodes
from purchasegraph.schema import paging
from purchasegraph.schema.ordering import order_by_argument
from purchasegraph.schema.ordering import resolve as resolve_order

T = TypeVar("T")

First = Annotated[int | None, strawberry.argument(description=paging.FIRST)]
After = Annotated[str | None, strawberry.argument(description=paging.AFTER)]
Last = Annotated[int | None, strawberry.argument(description=paging.LAST)]
Before = Annotated[str | None, strawberry.argument(description=paging.BEFORE)]


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


def connection(nodes: list[T], slice_: Slice) -> Connection[T]:
    """The page of ``nodes``, one a cursor of the slice, placed where the slice says."""
    edges = [Edge(cursor=cursor, node=node) for node, cursor in zip(nodes, slice_.cursors, strict=True)]
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


def connection_from_slice(slice_: Slice, make: Callable[[Record], T]) -> Connection[T]:
    return connection([make(row) for row in slice_.rows], slice_)


def _argument(name: str, annotation: object) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=annotation)


_RELAY = [_argument("first", First), _argument("after", After), _argument("last", Last), _argument("before", Before)]


def connection_field(sortable: Sortable, *, description: str) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """A connection field of this sortable's rows, its Relay arguments and ``orderBy`` declared here.

    The decorated resolver takes ``(self, info, page, ...filters)``: ``page`` is what those arguments
    ask for as one validated value, and its filters follow ``orderBy`` in the schema.
    """
    order_by = _argument("order_by", order_by_argument(sortable))

    def declare(resolve_page: Callable[..., Awaitable[Any]]) -> Any:
        signature = inspect.signature(resolve_page)
        self_, info, _page, *filters = signature.parameters.values()

        async def resolver(
            self: Any, info: Any, first: Any, after: Any, last: Any, before: Any, order_by: Any, **filters: Any
        ) -> Any:
            page = paging.page_args(first, after, last, before, resolve_order(sortable, order_by))
            return await resolve_page(self, info, page, **filters)

        resolver.__name__ = resolve_page.__name__
        resolver.__qualname__ = resolve_page.__qualname__
        resolver.__module__ = resolve_page.__module__  # where the filters' annotations are read
        resolver.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[self_, info, *_RELAY, order_by, *filters]
        )
        return strawberry.field(resolver=resolver, description=description)

    return declare
