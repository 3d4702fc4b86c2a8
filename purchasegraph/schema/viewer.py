"""The calling principal: who they are, where they reach, what they may buy."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, cast

import strawberry

from purchasegraph.context import Info
from purchasegraph.db import ordering as sortables
from purchasegraph.db.pagination import PageArgs
from purchasegraph.eligibility import Reason
from purchasegraph.policy import Access
from purchasegraph.resolvers import purchases, tenants
from purchasegraph.resolvers import viewer as viewer_resolvers
from purchasegraph.schema.catalogue import ProductKeyArg
from purchasegraph.schema.connection import Connection, connection_field, connection_from_slice
from purchasegraph.schema.directory import User, load_user
from purchasegraph.schema.enums import AccessLevel, DirectoryRole, EligibilityReason, InvoiceStatus, stored_values
from purchasegraph.schema.ids import product_key as product_key  # re-exported: its home before ids.py
from purchasegraph.schema.purchases import Invoice, PaymentMethod
from purchasegraph.schema.rows import FromRow
from purchasegraph.schema.tenants import Tenant, load_tenant


@strawberry.type(description="A tenant the viewer may act on, and why.")
class TenantAccess:
    tenant: Tenant = strawberry.field(description="The tenant.")
    access: AccessLevel = strawberry.field(description="What decides the viewer's reach there.")  # type: ignore[valid-type]


@strawberry.type(description="Whether the viewer may buy a product self-service, and if not, why.")
class Eligibility:
    eligible: bool = strawberry.field(description="True when a purchase would be accepted.")
    reasons: list[EligibilityReason] = strawberry.field(  # type: ignore[valid-type]
        description="Every reason that blocks a purchase; empty when eligible."
    )
    message: str = strawberry.field(description="What to tell the user, including to contact their IT admin.")
    can_start_trial: bool = strawberry.field(description="A trial could be started even if buying cannot.")


@strawberry.type(description="Something the viewer is told: a take-over, a cancellation request, a decision.")
class Notification(FromRow):
    id: strawberry.ID = strawberry.field(description="Opaque ID; pass it to `markNotificationsRead`.")
    kind: str = strawberry.field(description="What happened, e.g. subscription_taken_over.")
    message: str = strawberry.field(description="The text shown to the user.")
    subject_id: strawberry.ID | None = strawberry.field(description="Directory id of the object concerned.")
    created_at: datetime.datetime = strawberry.field(description="When.")
    read_at: datetime.datetime | None = strawberry.field(
        description="When the viewer marked it read (`markNotificationsRead`); null while unread."
    )


@strawberry.type(description="The signed-in principal.")
class Viewer:
    user_id: strawberry.Private[uuid.UUID]
    tenant_id: strawberry.Private[uuid.UUID]
    role_names: strawberry.Private[frozenset[str]]

    @strawberry.field(description="The viewer as a directory user.")
    async def user(self, info: Info) -> User:
        user = await load_user(info, self.tenant_id, self.user_id)
        assert user is not None, "the viewer was loaded from this row in this request"
        return user

    @strawberry.field(description="The tenant whose directory the viewer signed in to.")
    async def home_tenant(self, info: Info) -> Tenant:
        tenant = await load_tenant(info, self.tenant_id)
        assert tenant is not None, "the viewer was loaded from this tenant in this request"
        return tenant

    @strawberry.field(description="The viewer's directory roles in the home tenant.")
    def directory_roles(self) -> list[DirectoryRole]:
        return sorted((DirectoryRole(r) for r in self.role_names), key=lambda r: cast(str, r.value))

    @strawberry.field(description="Every tenant the viewer may act on: home first, then partner customers.")
    async def tenants(self, info: Info) -> list[TenantAccess]:
        reachable = await tenants.reachable_tenants(info)
        return [
            TenantAccess(tenant=Tenant.from_row(row), access=scope.access or Access.GUEST) for scope, row in reachable
        ]

    @connection_field(
        sortables.NOTIFICATION,
        description="What the viewer has been told, newest first (`createdAt` descending) unless `orderBy`"
        " says otherwise; only ever the viewer's own, whatever their role. Each has its read state"
        " (`readAt`); `markNotificationsRead` sets it.",
    )
    async def notifications(
        self,
        info: Info,
        page: PageArgs,
        unread_only: Annotated[
            bool, strawberry.argument(description="Only those not yet marked read (`readAt` null).")
        ] = False,
    ) -> Connection[Notification]:
        slice_ = await tenants.notifications_of_viewer(info, page, unread_only=unread_only)
        return connection_from_slice(slice_, Notification.from_row)

    @strawberry.field(description="Whether the viewer may buy a product self-service; null for an unknown product.")
    async def eligibility(self, info: Info, product_id: ProductKeyArg) -> Eligibility | None:
        assessment = await viewer_resolvers.eligibility(info, product_key(str(product_id)))
        if assessment is None:
            return None
        reasons: list[Reason] = list(assessment.reasons)
        return Eligibility(
            eligible=assessment.eligible,
            reasons=reasons,
            message=assessment.message,
            can_start_trial=assessment.can_start_trial,
        )

    @connection_field(
        sortables.INVOICE,
        description="My bills: every invoice billed to the viewer (for the subscriptions they bought), newest"
        " first (period start descending) unless `orderBy` says otherwise. Only the viewer's own, whatever"
        " their role: an admin's are those of their own purchases, not the tenant's.",
    )
    async def invoices(
        self,
        info: Info,
        page: PageArgs,
        status: Annotated[
            list[InvoiceStatus] | None, strawberry.argument(description="Only bills in these statuses.")
        ] = None,
        due_before: Annotated[
            datetime.date | None, strawberry.argument(description="Only bills due before this day (not on it).")
        ] = None,
    ) -> Connection[Invoice]:
        slice_ = await purchases.invoices_of_viewer(info, page, statuses=stored_values(status), due_before=due_before)
        return connection_from_slice(slice_, Invoice.from_row)

    @strawberry.field(
        description="My cards: the credit cards on file the viewer owns, newest first. Never the card number."
    )
    async def payment_methods(self, info: Info) -> list[PaymentMethod]:
        return [PaymentMethod.from_row(row) for row in await purchases.payment_methods_of_viewer(info)]
