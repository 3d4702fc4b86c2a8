"""People of a directory."""

from __future__ import annotations

import datetime
import uuid

import strawberry

from purchasegraph.context import Info
from purchasegraph.db.executor import Record
from purchasegraph.policy import sees_actor
from purchasegraph.resolvers import tenants
from purchasegraph.schema.enums import UserSource, UserType
from purchasegraph.schema.node import Node
from purchasegraph.schema.rows import FromRow, from_columns


@strawberry.type(description="A user of a tenant's directory.")
class User(Node, FromRow):
    user_id: strawberry.ID = strawberry.field(description="The directory object id (a UUID).")
    display_name: str = strawberry.field(description="Name as shown in the directory.")
    user_principal_name: str = strawberry.field(description="Sign-in name.")
    mail: str | None = strawberry.field(description="Email address, if any.")
    user_type: UserType = strawberry.field(description="Member, or guest from another organization.")
    source: UserSource = strawberry.field(description="Cloud-only, or synced from on-premises AD.")
    account_enabled: bool = strawberry.field(description="Whether the account can sign in.")
    departed_at: datetime.date | None = strawberry.field(
        description="When the user left the organization, if they did."
    )
    tenant_id: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Record) -> User:
        return from_columns(cls, row, user_id=strawberry.ID(str(row["id"])))


async def load_user(info: Info, tenant_id: uuid.UUID, user_id: uuid.UUID | None) -> User | None:
    if user_id is None:
        return None
    return User.found(await tenants.user(info, tenant_id, user_id))


async def load_actor(
    info: Info, tenant_id: uuid.UUID, actor_tenant_id: uuid.UUID | None, actor_id: uuid.UUID | None
) -> User | None:
    """Who acted on an object of ``tenant_id``, as far as the viewer may learn it: never another
    partner of the customer (as the audit trail withholds it), nor the sweep, which has no tenant."""
    if actor_tenant_id is None or not sees_actor(info.context.scope_of(tenant_id), actor_tenant_id):
        return None
    return await load_user(info, actor_tenant_id, actor_id)
