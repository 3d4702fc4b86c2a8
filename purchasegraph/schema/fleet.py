"""``accessibleTenants``: the tenants a user or an application reaches, each with what opens it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import strawberry

from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import Slice
from purchasegraph.fleet import FleetPage
from purchasegraph.policy import Reach
from purchasegraph.schema.connection import Connection, connection
from purchasegraph.schema.enums import AccessLevel, DirectoryRole
from purchasegraph.schema.tenants import Tenant

DESCRIPTION = (
    "Every tenant you reach, users and applications alike: your home tenant first, then each "
    "customer of a delegated relationship in force, by directory id, with the grant that opens it "
    "and when it ends. Each tenant's fields are read as `tenant(id:)` reads them."
)


@strawberry.type(description="A tenant you reach, and what opens it: your home, or a partner's grant.")
class AccessibleTenant:
    tenant: Tenant = strawberry.field(description="The tenant.")
    access: AccessLevel | None = strawberry.field(  # type: ignore[valid-type]
        description="What decides your reach there; null for an application that reads only the self-service policies."
    )
    granted_roles: list[DirectoryRole] = strawberry.field(
        description="The roles the delegated relationships in force grant your organization here "
        "(several relationships add up); empty in your home tenant."
    )
    ends_at: datetime.datetime | None = strawberry.field(
        description="When the reach through the relationships ends (the last of their end dates); null at home."
    )
    can_administer: bool = strawberry.field(
        description="Whether you may take admin actions here: an admin at home, a partner whose grant "
        "holds an admin role; false for a reader-only grant and for applications."
    )

    @classmethod
    def of(cls, reach: Reach, row: Record) -> AccessibleTenant:
        roles = reach.grant.roles if reach.grant is not None else frozenset()
        return cls(
            tenant=Tenant.from_row(row),
            access=reach.scope.access,
            granted_roles=[DirectoryRole(r) for r in sorted(roles)],
            ends_at=reach.grant.ends_at if reach.grant is not None else None,
            can_administer=reach.scope.can_administer,
        )


@dataclass(frozen=True)
class _WholeReach(Slice):
    """``Connection.totalCount`` asks its slice to count: here the whole reach, known already."""

    total: int = 0

    async def count(self) -> int:
        return self.total


def fleet_connection(page: FleetPage, rows: list[Record]) -> Connection[AccessibleTenant]:
    nodes = [AccessibleTenant.of(reach, row) for reach, row in zip(page.items, rows, strict=True)]
    reach = _WholeReach(
        rows=(),
        cursors=page.cursors,
        has_previous_page=page.has_previous_page,
        has_next_page=page.has_next_page,
        total=page.total_count,
    )
    return connection(nodes, reach)
