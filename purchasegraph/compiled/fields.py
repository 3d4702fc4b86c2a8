"""Object fields the compiler hands out by (type, field): objects reached through a key of the
row, and plain lists. Scalars and Money stay in the compiler's tables, connections in the
compiler."""

from __future__ import annotations

from graphql import FieldNode

from purchasegraph.compiled import catalogue, lists
from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Emitter, FieldCompiler
from purchasegraph.compiled.objects import (
    cancellation_request_of_subscription,
    keyed_object,
    product_object,
)
from purchasegraph.compiled.sql import literal
from purchasegraph.compiled.subscription_of_row import of_subscription
from purchasegraph.policy import (
    AUDIT_ACTOR_VISIBLE,
    HIDDEN_ACTOR_NAME,
    Scope,
    audit_partner,
    sees_actor,
    tenants_in_reach,
)


def _product(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """A row's own ``product_id`` (a policy, a capacity row, a license request)."""
    return product_object(e, node, f"{a}.product_id", scope, path)


def _subscription(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    return keyed_object(e, node, "Subscription", scope, f"{a}.tenant_id", f"{a}.subscription_id", path)


def _assigned_from(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``LicenseRequest.assignedFrom``: the subscription an approval assigned from, if any."""
    return keyed_object(e, node, "Subscription", scope, f"{a}.tenant_id", f"{a}.assigned_from_subscription_id", path)


def _product_of_subscription(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    return product_object(e, node, of_subscription("product_id").format(a=a), scope, path)


def _purchaser_of_subscription(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    return keyed_object(
        e, node, "User", scope, f"{a}.tenant_id", of_subscription("purchaser_user_id").format(a=a), path
    )


def _requester(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    return keyed_object(e, node, "User", scope, f"{a}.tenant_id", f"{a}.requester_user_id", path)


def _payment_method(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Subscription.paymentMethod``: the card's owner only; null without a card."""
    return keyed_object(e, node, "PaymentMethod", scope, f"{a}.tenant_id", f"{a}.payment_method_id", path)


def _actor(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    return _acting_user(e, node, scope, f"{a}.actor_tenant_id", f"{a}.actor_user_id", path)


def _requested_by(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``CancellationRequest.requestedBy``: the admin who asked, shown as ``Order.actor`` is."""
    return _acting_user(e, node, scope, f"{a}.requested_by_tenant_id", f"{a}.requested_by", path)


def _cancellation_request(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Subscription.cancellationRequest``: its open request, else its latest, in scope."""
    return cancellation_request_of_subscription(e, node, scope, a, path)


def _acting_user(
    e: Emitter, node: FieldNode, scope: Scope, actor_tenant: str, actor_user: str, path: tuple[str, ...]
) -> str:
    """``Order.actor``: the actor's user under the scope of the actor's own tenant, where
    ``sees_actor`` lets the viewer learn who acted. The actor's tenant is a column, but the
    tenants the viewer has any scope in are few and known: the order's own and those in reach.
    ``sees_actor`` decides for each of them here, and an actor of any other tenant is null (no
    scope there: the resolver's loader finds nothing)."""
    candidates = [scope.tenant_id, *(reach.tenant_id for reach in tenants_in_reach(e._viewer))]
    whens = []
    for tenant_id in dict.fromkeys(candidates):
        if not sees_actor(scope, tenant_id) or not e._scope_of(tenant_id).sees_anything:
            continue
        # The user is read by the tenant's parameter, equal to the column in this branch, so the
        # subquery names its tenant and runs where that tenant's rows live.
        tenant = e._param(tenant_id, "uuid")
        user = keyed_object(e, node, "User", e._scope_of(tenant_id), tenant, actor_user, path)
        whens.append(f"WHEN {actor_tenant} = {tenant} THEN {user}")
    return f"(CASE {' '.join(whens)} END)" if whens else "NULL::json"


def _audit_actor(expr: str, *, withheld: bool = False) -> FieldCompiler:
    """A field of an audit row that names who acted: shown where ``AUDIT_ACTOR_VISIBLE`` lets the
    viewer know the actor (``audit_partner`` of the scope, as the list's query reads it), else null;
    ``withheld`` is the other way round (``actorName``)."""

    def compile_field(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
        if node.arguments or node.selection_set is not None:
            raise NotCompilable(Reason.ARGUMENT, f"AuditEvent.{node.name.value}")
        visible = AUDIT_ACTOR_VISIBLE.format(e=a, partner=e._param(audit_partner(scope), "uuid"))
        return f"(CASE WHEN {'NOT ' if withheld else ''}{visible} THEN {expr.format(a=a)} END)"

    return compile_field


FIELDS: dict[tuple[str, str], FieldCompiler] = {
    ("AuditEvent", "actorUserId"): _audit_actor("{a}.actor_user_id::text"),
    ("AuditEvent", "actorTenantId"): _audit_actor("{a}.actor_tenant_id::text"),
    ("AuditEvent", "actorAppId"): _audit_actor("{a}.actor_app_id::text"),
    ("AuditEvent", "clientRequestId"): _audit_actor("{a}.client_request_id"),
    ("AuditEvent", "actorName"): _audit_actor(literal(HIDDEN_ACTOR_NAME), withheld=True),
    ("Order", "actor"): _actor,
    ("Tenant", "policies"): lists.tenant_policies,
    ("Tenant", "policy"): lists.tenant_policy,
    ("Tenant", "capacity"): lists.tenant_capacity,
    ("Tenant", "partnerRelationships"): lists.tenant_partner_relationships,
    ("Product", "prices"): lists.product_prices,
    ("Product", "availability"): catalogue.product_availability,
    ("PartnerRelationship", "roles"): lists.relationship_roles,
    ("LicenseRequest", "forUsers"): lists.requested_for_users,
    ("LicenseRequest", "product"): _product,
    ("LicenseRequest", "requester"): _requester,
    ("LicenseRequest", "assignedFrom"): _assigned_from,
    ("SelfServicePolicy", "product"): _product,
    ("ProductCapacity", "product"): _product,
    ("Subscription", "paymentMethod"): _payment_method,
    ("Order", "subscription"): _subscription,
    ("Purchase", "subscription"): _subscription,
    ("Purchase", "product"): _product_of_subscription,
    ("Purchase", "purchaser"): _purchaser_of_subscription,
    ("Assignment", "subscription"): _subscription,
    ("Assignment", "product"): _product_of_subscription,
    ("Invoice", "subscription"): _subscription,
    ("Subscription", "cancellationRequest"): _cancellation_request,
    ("CancellationRequest", "subscription"): _subscription,
    ("CancellationRequest", "requestedBy"): _requested_by,
}
