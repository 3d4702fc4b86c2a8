"""The Relay ``Node`` interface every refetchable object implements."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object that can be fetched again by its opaque global ID with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID; pass it to `node(id:)`.")
