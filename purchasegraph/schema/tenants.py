"""A tenant and its purchase graph, as far as the viewer's scope reaches."""

from __future__ import annotations

import datetime
import enum
import uuid
from typing import Annotated, TypeVar, cast

import strawberry

from purchasegraph.context import Info
from purchasegraph.db import ordering as sortables
from purchasegraph.db.executor import Record
from purchasegraph.db.pagination import PageArgs
from purchasegraph.errors import BadUserInput
from purchasegraph.instants import utc_instant
from purchasegraph.policy import HIDDEN_ACTOR_NAME
from purchasegraph.resolvers import purchases, tenants
from purchasegraph.schema.catalogue import ProductKeyArg, product_field
from purchasegraph.schema.connection import Connection, connection_field, connection_from_slice
from purchasegraph.schema.directory import User, load_user
from purchasegraph.schema.enums import (
    CancellationRequestStatus,
    ChannelFilter,
    DirectoryRole,
    InvoiceStatus,
    LicenseRequestStatus,
    OrganizationType,
    PartnerRelationshipStatus,
    SelfServicePolicyValue,
    SubscriptionStatus,
    stored_values,
)
from purchasegraph.schema.ids import decode_uuid, encode_id, product_key
from purchasegraph.schema.node import Node
from purchasegraph.schema.purchases import (
    Assignment,
    CancellationRequest,
    Invoice,
    Purchase,
    Subscription,
    load_subscription,
)
from purchasegraph.schema.rows import FromRow, from_columns

ProductIdArg = Annotated[
    str | None, strawberry.argument(description="Only this product (commerce id, e.g. CFQ7TTC0H9MP).")
]


ChannelArg = Annotated[ChannelFilter, strawberry.argument(description="Central only, or include self-service.")]
PurchaserIdArg = Annotated[strawberry.ID | None, strawberry.argument(description="Only this purchaser (User ID).")]
ExpiresBeforeArg = Annotated[
    datetime.datetime | None,
    strawberry.argument(description="Only subscriptions whose current term ends before this instant."),
]
E = TypeVar("E", bound=enum.Enum)
# A filter on an enum field: only rows in any of these statuses.
StatusesArg = Annotated[list[E] | None, strawberry.argument(description="Only these statuses.")]
PurchasedSinceArg = Annotated[
    datetime.datetime | None, strawberry.argument(description="Only what was bought at or after this instant.")
]


def _channels(channel: ChannelFilter) -> list[str] | None:
    return None if channel is ChannelFilter.INCLUDE_SELF_SERVICE else [cast(str, channel.value)]


def _user_filter(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    if value is None:
        return None
    user_id = decode_uuid(str(value), "User")
    if user_id is None:
        raise BadUserInput(f"`{field}` is not a user ID.", field=field)
    return user_id


@strawberry.type(description="A product's AllowSelfServicePurchase policy in a tenant.")
class SelfServicePolicy(FromRow):
    value: SelfServicePolicyValue = strawberry.field(description="ENABLED unless an admin changed it.")
    updated_at: datetime.datetime | None = strawberry.field(description="Last change; null if never set.")
    product_id: strawberry.Private[str]

    product = product_field("The product the policy governs.")


@strawberry.type(description="Licenses of one product in a tenant: bought, assigned and free.")
class ProductCapacity(FromRow):
    self_service_licenses: int = strawberry.field(description="Licenses bought self-service.")
    central_licenses: int = strawberry.field(description="Licenses bought centrally.")
    assigned_licenses: int = strawberry.field(description="Licenses assigned to users.")
    self_service_subscriptions: int = strawberry.field(description="Self-service subscriptions counted.")
    central_subscriptions: int = strawberry.field(description="Central subscriptions counted.")
    product_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Record) -> ProductCapacity:
        return from_columns(
            cls,
            row,
            self_service_licenses=row["self_service_quantity"],
            central_licenses=row["central_quantity"],
            assigned_licenses=row["assigned"],
        )

    @strawberry.field(description="Licenses bought and not assigned.")
    def free_licenses(self) -> int:
        return self.self_service_licenses + self.central_licenses - self.assigned_licenses

    product = product_field("The product counted.")


@strawberry.type(description="A user's request for a product the organization blocks; kept 12 months.")
class LicenseRequest(Node, FromRow):
    status: LicenseRequestStatus = strawberry.field(description="PENDING, APPROVED or DENIED.")
    created_at: datetime.datetime = strawberry.field(description="When it was asked.")
    decided_at: datetime.datetime | None = strawberry.field(description="When an admin decided.")
    tenant_id: strawberry.Private[uuid.UUID]
    product_id: strawberry.Private[str]
    requester_id: strawberry.Private[uuid.UUID]
    for_user_ids: strawberry.Private[list[uuid.UUID]]
    assigned_from_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_row(cls, row: Record) -> LicenseRequest:
        return from_columns(
            cls,
            row,
            requester_id=row["requester_user_id"],
            for_user_ids=list(row["for_user_ids"]),
            assigned_from_id=row["assigned_from_subscription_id"],
        )

    product = product_field("The product asked for.")

    @strawberry.field(description="Who asked.")
    async def requester(self, info: Info) -> User | None:
        return await load_user(info, self.tenant_id, self.requester_id)

    @strawberry.field(description="Who it is for (the requester and named colleagues).")
    async def for_users(self, info: Info) -> list[User]:
        users = [await load_user(info, self.tenant_id, u) for u in self.for_user_ids]
        return [u for u in users if u is not None]

    @strawberry.field(
        description="The subscription an approval assigned the licenses from: null when it was approved"
        " without assigning, not yet decided, or the subscription is outside the viewer's scope."
    )
    async def assigned_from(self, info: Info) -> Subscription | None:
        return await load_subscription(info, self.tenant_id, self.assigned_from_id)


async def load_license_request(info: Info, tenant_id: uuid.UUID, request_id: uuid.UUID) -> LicenseRequest | None:
    return LicenseRequest.found(await tenants.license_request(info, tenant_id, request_id))


async def load_policy(info: Info, tenant_id: uuid.UUID, product_id: str) -> SelfServicePolicy | None:
    return SelfServicePolicy.found(await tenants.policy(info, tenant_id, product_id))


@strawberry.type(description="One recorded mutation, accepted or refused; append-only.")
class AuditEvent(FromRow):
    action: str = strawberry.field(description="What was attempted, e.g. subscription.purchase.")
    outcome: str = strawberry.field(description="accepted or refused.")
    error_codes: list[str] = strawberry.field(description="The refusal codes, if refused.")
    target_type: str = strawberry.field(description="Kind of object acted on.")
    target_id: str = strawberry.field(description="Its id.")
    actor_user_id: strawberry.ID | None = strawberry.field(
        description="Directory id of the actor; null when withheld (see actorName)."
    )
    actor_tenant_id: strawberry.ID | None = strawberry.field(
        description="The actor's own tenant; null when withheld (see actorName)."
    )
    actor_name: str | None = strawberry.field(
        description='"Another organization" when the actor is withheld: a partner sees the actors of its own '
        "tenant and of the customer, never who another partner of the customer is. Null otherwise."
    )
    actor_app_id: strawberry.ID | None = strawberry.field(
        description="The application that acted, for an app-only token (then there is no actor user)."
    )
    on_behalf_of_tenant_id: strawberry.ID | None = strawberry.field(
        description="The customer tenant a partner acted for."
    )
    request_id: str | None = strawberry.field(
        description="The gateway's id of the request that did it (its X-Request-Id response header)."
    )
    client_request_id: str | None = strawberry.field(
        description="The X-Request-Id the client sent with it, if any: the client's word, not the gateway's."
    )
    occurred_at: datetime.datetime = strawberry.field(description="When.")
    previous_value: str | None = strawberry.field(
        description="For a change of a setting (a self-service policy, auto-renew): its value before, as"
        " recorded (a policy's value in lower case, `true`/`false`); null for other events."
    )
    new_value: str | None = strawberry.field(description="For a change of a setting: its value after; null otherwise.")

    @classmethod
    def from_row(cls, row: Record) -> AuditEvent:
        return from_columns(
            cls,
            row,
            error_codes=list(row["error_codes"]),
            actor_name=HIDDEN_ACTOR_NAME if row["actor_withheld"] else None,
        )


@strawberry.type(description="A delegated-admin (GDAP) relationship of this tenant with a partner.")
class PartnerRelationship(Node, FromRow):
    display_name: str = strawberry.field(description="Name of the relationship.")
    partner_tenant_id: strawberry.ID = strawberry.field(description="Directory id of the partner tenant.")
    roles: list[DirectoryRole] = strawberry.field(description="Roles the partner holds through it.")
    status: PartnerRelationshipStatus = strawberry.field(description="Active, expired or terminated.")
    starts_at: datetime.datetime = strawberry.field(description="Start of the relationship.")
    ends_at: datetime.datetime = strawberry.field(description="End (at most two years after the start).")
    in_force: bool = strawberry.field(description="Active and inside its dates right now.")

    @classmethod
    def from_row(cls, row: Record) -> PartnerRelationship:
        return from_columns(cls, row, roles=[DirectoryRole(r) for r in row["roles"]])


@strawberry.type(description="An organization's directory and everything bought in it.")
class Tenant(Node, FromRow):
    tenant_id: strawberry.ID = strawberry.field(description="The directory id (a UUID).")
    name: str = strawberry.field(description="Organization name.")
    primary_domain: str = strawberry.field(description="Primary domain.")
    managed: bool = strawberry.field(description="Managed by an admin (false for an unmanaged, viral directory).")
    organization_type: OrganizationType = strawberry.field(description="Commercial, government, education…")
    country: str = strawberry.field(description="ISO 3166 alpha-2 country: the market it buys in.")
    currency: str = strawberry.field(description="ISO 4217 billing currency.")
    uuid: strawberry.Private[uuid.UUID]

    @classmethod
    def from_row(cls, row: Record) -> Tenant:
        return from_columns(
            cls,
            row,
            id=strawberry.ID(encode_id("Tenant", row["id"])),
            tenant_id=strawberry.ID(str(row["id"])),
            uuid=row["id"],
        )

    @connection_field(
        sortables.ORDER, description="Orders that bought licenses, newest first (a member sees their own)."
    )
    async def purchases(
        self,
        info: Info,
        page: PageArgs,
        product_id: ProductIdArg = None,
        purchaser_id: PurchaserIdArg = None,
        channel: ChannelArg = ChannelFilter.INCLUDE_SELF_SERVICE,
        expires_before: ExpiresBeforeArg = None,
        purchased_since: PurchasedSinceArg = None,
    ) -> Connection[Purchase]:
        slice_ = await purchases.purchases_of_tenant(
            info,
            self.uuid,
            page,
            product_id=product_id,
            purchaser_id=_user_filter(purchaser_id, "purchaserId"),
            channels=_channels(channel),
            expires_before=utc_instant(expires_before, "expiresBefore"),
            purchased_since=utc_instant(purchased_since, "purchasedSince"),
        )
        return connection_from_slice(slice_, Purchase.from_row)

    @connection_field(
        sortables.SUBSCRIPTION, description="Subscriptions, oldest first (a member sees what they bought)."
    )
    async def subscriptions(
        self,
        info: Info,
        page: PageArgs,
        channel: ChannelArg = ChannelFilter.INCLUDE_SELF_SERVICE,
        product_id: ProductIdArg = None,
        status: StatusesArg[SubscriptionStatus] = None,
        purchaser_id: PurchaserIdArg = None,
        expires_before: ExpiresBeforeArg = None,
        purchased_since: PurchasedSinceArg = None,
    ) -> Connection[Subscription]:
        slice_ = await purchases.subscriptions_of_tenant(
            info,
            self.uuid,
            page,
            channels=_channels(channel),
            product_id=product_id,
            statuses=stored_values(status),
            purchaser_id=_user_filter(purchaser_id, "purchaserId"),
            expires_before=utc_instant(expires_before, "expiresBefore"),
            purchased_since=utc_instant(purchased_since, "purchasedSince"),
        )
        return connection_from_slice(slice_, Subscription.from_row)

    @connection_field(
        sortables.INVOICE,
        description="Bills of the tenant's subscriptions, newest first: whole-tenant viewers see all, a purchaser "
        "the bills they pay.",
    )
    async def invoices(
        self,
        info: Info,
        page: PageArgs,
        status: StatusesArg[InvoiceStatus] = None,
        due_before: Annotated[
            datetime.date | None, strawberry.argument(description="Only bills due before this day.")
        ] = None,
    ) -> Connection[Invoice]:
        slice_ = await purchases.invoices_of_tenant(
            info, self.uuid, page, statuses=stored_values(status), due_before=due_before
        )
        return connection_from_slice(slice_, Invoice.from_row)

    @connection_field(
        sortables.ASSIGNMENT, description="Licenses assigned in the tenant (a licensed user sees their own)."
    )
    async def assignments(
        self,
        info: Info,
        page: PageArgs,
        product_id: ProductIdArg = None,
        user_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Only this user's licenses (User ID).")
        ] = None,
    ) -> Connection[Assignment]:
        slice_ = await purchases.assignments_of_tenant(
            info, self.uuid, page, product_id=product_id, user_id=_user_filter(user_id, "userId")
        )
        return connection_from_slice(slice_, Assignment.from_row)

    @connection_field(
        sortables.USER, description="The directory: members and admins see it all, a guest sees only themselves."
    )
    async def users(
        self,
        info: Info,
        page: PageArgs,
        search: Annotated[
            str | None, strawberry.argument(description="Prefix of the display name or sign-in name.")
        ] = None,
    ) -> Connection[User]:
        slice_ = await tenants.users_of_tenant(info, self.uuid, page, search)
        return connection_from_slice(slice_, User.from_row)

    @strawberry.field(description="AllowSelfServicePurchase per product; admins, readers and partners only.")
    async def policies(self, info: Info) -> list[SelfServicePolicy]:
        rows = await tenants.policies_of_tenant(info, self.uuid)
        return [SelfServicePolicy.from_row(r) for r in rows]

    @strawberry.field(
        description="AllowSelfServicePurchase of one product (Get-MSCommerceProductPolicy); null for a product "
        "that is not sold self-service, and for whoever may not read the policies."
    )
    async def policy(self, info: Info, product_id: ProductKeyArg) -> SelfServicePolicy | None:
        return await load_policy(info, self.uuid, product_key(str(product_id)))

    @strawberry.field(description="Licenses per product: bought self-service and central, assigned, free.")
    async def capacity(self, info: Info) -> list[ProductCapacity]:
        rows = await tenants.capacity_of_tenant(info, self.uuid)
        return [ProductCapacity.from_row(r) for r in rows]

    @connection_field(
        sortables.LICENSE_REQUEST, description="License requests, newest first: admins see all, a member their own."
    )
    async def license_requests(
        self,
        info: Info,
        page: PageArgs,
        status: Annotated[
            LicenseRequestStatus | None,
            strawberry.argument(description="Only requests in this status (PENDING: the admins' worklist)."),
        ] = None,
    ) -> Connection[LicenseRequest]:
        stored = None if status is None else cast(str, status.value)
        slice_ = await tenants.license_requests_of_tenant(info, self.uuid, page, status=stored)
        return connection_from_slice(slice_, LicenseRequest.from_row)

    @connection_field(
        sortables.CANCELLATION_REQUEST,
        description="Requests that purchasers cancel their self-service subscriptions, newest first: whole-tenant "
        "viewers (admins, readers, partners) see all, a purchaser those asked of them.",
    )
    async def cancellation_requests(
        self,
        info: Info,
        page: PageArgs,
        status: StatusesArg[CancellationRequestStatus] = None,
    ) -> Connection[CancellationRequest]:
        slice_ = await purchases.cancellation_requests_of_tenant(info, self.uuid, page, statuses=stored_values(status))
        return connection_from_slice(slice_, CancellationRequest.from_row)

    @connection_field(
        sortables.AUDIT_EVENT,
        description="Every mutation on the tenant, newest first; admins and active partners only.",
    )
    async def audit_events(self, info: Info, page: PageArgs) -> Connection[AuditEvent]:
        slice_ = await tenants.audit_events_of_tenant(info, self.uuid, page)
        return connection_from_slice(slice_, AuditEvent.from_row)

    @strawberry.field(description="Delegated-admin relationships with partners; admins, readers and partners only.")
    async def partner_relationships(self, info: Info) -> list[PartnerRelationship]:
        rows = await tenants.partner_relationships_of_tenant(info, self.uuid)
        return [PartnerRelationship.from_row(r) for r in rows]


async def load_tenant(info: Info, tenant_id: uuid.UUID) -> Tenant | None:
    return Tenant.found(await tenants.tenant(info, tenant_id))


async def load_tenant_by_domain(info: Info, domain: str) -> Tenant | None:
    return Tenant.found(await tenants.tenant_by_domain(info, domain))
