"""The schema's table of contents: root fields, the types they reach, the extensions."""

from __future__ import annotations

from typing import Annotated

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from purchasegraph.context import Info
from purchasegraph.gateway.masking import masked
from purchasegraph.principals import SignedInUser
from purchasegraph.resolvers import catalogue as catalogue_resolvers
from purchasegraph.resolvers import tenants as tenant_resolvers
from purchasegraph.schema import fleet
from purchasegraph.schema.catalogue import Product, ProductKeyArg
from purchasegraph.schema.checkout import CheckoutEligibility
from purchasegraph.schema.connection import After, Before, Connection, First, Last
from purchasegraph.schema.directory import User
from purchasegraph.schema.events import EventStream
from purchasegraph.schema.fleet import AccessibleTenant
from purchasegraph.schema.ids import decode_uuid
from purchasegraph.schema.mutations import billing, governance, licensing, purchasing
from purchasegraph.schema.node import Node
from purchasegraph.schema.nodes import resolve_node
from purchasegraph.schema.purchases import (
    Assignment,
    Invoice,
    Order,
    PaymentMethod,
    Purchase,
    Subscription,
)
from purchasegraph.schema.quote import QuoteResult, resolve_quote
from purchasegraph.schema.tenants import LicenseRequest, PartnerRelationship, Tenant, load_tenant, load_tenant_by_domain
from purchasegraph.schema.viewer import Viewer, product_key


@strawberry.type(description="The purchase graph. What you see depends on who you are: see `viewer`.")
class Query:
    @strawberry.field(description="The signed-in principal; null without a token.")
    def viewer(self, info: Info) -> Viewer | None:
        viewer = info.context.viewer
        if not isinstance(viewer, SignedInUser):
            return None  # anonymous, or an application: there is no user to show
        return Viewer(user_id=viewer.user_id, tenant_id=viewer.tenant_id, role_names=viewer.roles)

    @strawberry.field(
        description="A tenant by directory id, Tenant ID or primary domain (e.g. contoso.example); "
        "null outside your reach, exactly as for one that does not exist."
    )
    async def tenant(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="UUID, Tenant ID or primary domain.")],
    ) -> Tenant | None:
        tenant_id = decode_uuid(str(id), "Tenant")
        if tenant_id is not None:
            return await load_tenant(info, tenant_id)
        return await load_tenant_by_domain(info, str(id))

    @strawberry.field(description=fleet.DESCRIPTION)
    async def accessible_tenants(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None
    ) -> Connection[AccessibleTenant]:
        page, rows = await tenant_resolvers.accessible_tenants(info, first=first, after=after, last=last, before=before)
        return fleet.fleet_connection(page, rows)

    @strawberry.field(description="Any object by its global ID; null if it does not exist or is outside your reach.")
    async def node(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")]
    ) -> Node | None:
        return await resolve_node(info, str(id))

    @strawberry.field(description="The public catalogue, with list prices; open to everyone.")
    async def products(
        self,
        info: Info,
        market: Annotated[
            str | None,
            strawberry.argument(
                description="Only products with a list price in this market (ISO 3166 alpha-2); whether "
                "self-service purchase is open there is each product's `availability(market:)` (not in India)."
            ),
        ] = None,
    ) -> list[Product]:
        rows = await catalogue_resolvers.products_in_market(info, market.upper() if market else None)
        return [Product.from_row(r) for r in rows]

    quote: QuoteResult = strawberry.field(
        resolver=resolve_quote,
        description=(
            "The price a self-service purchase would charge you now, in your tenant's currency (sign in first);"
            " the same computation the purchase charges with."
        ),
    )

    @strawberry.field(
        description="Before sign-in, for anyone: whether the product is sold self-service at all and whether "
        "the address is a personal one that must use a work or school account; otherwise SIGN_IN_REQUIRED. "
        "It never looks the address's organization up, so it tells nothing about it."
    )
    async def checkout_eligibility(
        self,
        info: Info,
        email: Annotated[str, strawberry.argument(description="The address the buyer typed.")],
        product_id: ProductKeyArg,
    ) -> CheckoutEligibility:
        answer = await catalogue_resolvers.checkout_eligibility(info, email, product_key(str(product_id)))
        return CheckoutEligibility.from_answer(answer)


@strawberry.type(description="Everything that changes the purchase graph. Each mutation is one transaction.")
class Mutation:
    """Each commerce area's mutations, in the order schema.graphql has always listed them."""

    purchase_subscription = purchasing.purchase_subscription
    start_trial = purchasing.start_trial
    add_licenses = purchasing.add_licenses
    remove_licenses = purchasing.remove_licenses
    assign_licenses = licensing.assign_licenses
    unassign_licenses = licensing.unassign_licenses
    cancel_subscription = purchasing.cancel_subscription
    add_payment_method = billing.add_payment_method
    update_subscription_payment_method = billing.update_subscription_payment_method
    pay_invoice = billing.pay_invoice
    request_license = licensing.request_license
    set_self_service_policy = governance.set_self_service_policy
    request_cancellation = governance.request_cancellation
    answer_cancellation_request = governance.answer_cancellation_request
    take_control_of_subscription = governance.take_control_of_subscription
    move_users = licensing.move_users
    reactivate_subscription = purchasing.reactivate_subscription
    approve_license_request = licensing.approve_license_request
    deny_license_request = licensing.deny_license_request
    mark_notifications_read = governance.mark_notifications_read
    mark_user_departed = governance.mark_user_departed
    reinstate_user = governance.reinstate_user
    remove_payment_method = billing.remove_payment_method
    set_auto_renew = purchasing.set_auto_renew


# Types reachable only through `node` must be named for the schema to include them.
NODE_TYPES = [
    Tenant,
    User,
    Product,
    Subscription,
    Order,
    Purchase,
    Assignment,
    Invoice,
    PaymentMethod,
    PartnerRelationship,
    LicenseRequest,
]


class PurchaseGraphSchema(strawberry.Schema):
    """Logs errors as the gateway does (``masked``), never with the request's source text."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        request_id = getattr(execution_context.context, "request_id", "-") if execution_context else "-"
        for error in errors:
            masked(error, request_id)


def build_schema() -> strawberry.Schema:
    return PurchaseGraphSchema(query=Query, mutation=Mutation, subscription=EventStream, types=NODE_TYPES)


schema = build_schema()
