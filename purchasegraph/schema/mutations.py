"""Mutations: every one a single transaction returning its changed objects and ``userErrors``.

Resolvers here only translate: GraphQL input → an operation of ``purchasegraph.commerce`` run
by ``unit_of_work.run`` → a payload. Who may do what is decided by ``purchasegraph.policy``
inside the operations; refusals come back as ``userErrors`` with stable codes.
"""

from __future__ import annotations

import datetime
import enum
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, cast

import strawberry

from purchasegraph.commerce import billing, cancellations, governance, licensing, notifications, purchasing
from purchasegraph.commerce.billing import PaymentChoice
from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Idempotency, Operation, Outcome, Problem, Work, refuse, run
from purchasegraph.context import Info
from purchasegraph.payments import CardDetails
from purchasegraph.resolvers import purchases
from purchasegraph.schema.directory import User, load_user
from purchasegraph.schema.enums import BillingFrequency, SelfServicePolicyValue
from purchasegraph.schema.ids import decode_id, encode_id
from purchasegraph.schema.purchases import (
    CancellationRequest,
    Invoice,
    Order,
    PaymentMethod,
    Subscription,
    load_cancellation_request,
    load_subscription,
)
from purchasegraph.schema.tenants import LicenseRequest, SelfServicePolicy, load_license_request, load_policy
from purchasegraph.schema.viewer import product_key


@strawberry.type(description="Why a mutation refused, in terms a program can act on.")
class UserError:
    code: ErrorCode = strawberry.field(description="Stable code; see the ErrorCode enum.")
    field: list[str] | None = strawberry.field(description="Path of the input at fault, if one is.")
    message: str = strawberry.field(description="What went wrong, for a person.")


@strawberry.enum(description="How a purchase is paid. Only credit cards are accepted (rule 5).")
class PaymentKind(enum.Enum):
    CREDIT_CARD = strawberry.enum_value("credit_card", description="A saved card or a new one.")
    INVOICE = strawberry.enum_value("invoice", description="Not supported: refused with PAYMENT_METHOD_NOT_SUPPORTED.")


@strawberry.input(description="A credit card. Its number and CVC go to the payment processor only; never stored.")
class CardInput:
    number: str = strawberry.field(description="Card number (sandbox: 4242424242424242 approves).")
    exp_month: int = strawberry.field(description="Expiry month, 1-12.")
    exp_year: int = strawberry.field(description="Expiry year, four digits.")
    cvc: str = strawberry.field(description="Security code.")

    def details(self) -> CardDetails:
        return CardDetails(number=self.number, exp_month=self.exp_month, exp_year=self.exp_year, cvc=self.cvc)


@strawberry.input(description="A self-service purchase.")
class PurchaseSubscriptionInput:
    tenant_id: strawberry.ID = strawberry.field(description="Your tenant (UUID or Tenant ID).")
    product_id: strawberry.ID = strawberry.field(description="Commerce product id or Product ID.")
    quantity: int = strawberry.field(description="Licenses, 1-10,000.")
    idempotency_key: str = strawberry.field(
        description="Same key, same request: charged once. 1 to 255 characters (a UUID will do)."
    )
    payment_method_id: strawberry.ID | None = strawberry.field(default=None, description="A saved card of yours.")
    card: CardInput | None = strawberry.field(default=None, description="Or a new card, saved to you.")
    pay_by: PaymentKind = strawberry.field(default=PaymentKind.CREDIT_CARD, description="Credit card only.")
    billing_frequency: BillingFrequency = strawberry.field(
        default=BillingFrequency.MONTHLY, description="Monthly or annual term."
    )


def _user_errors(problems: Sequence[Problem]) -> list[UserError]:
    return [UserError(code=p.code, field=list(p.field) if p.field else None, message=p.message) for p in problems]


@strawberry.type(description="The result of a mutation on a subscription.")
class SubscriptionPayload:
    subscription: Subscription | None = strawberry.field(description="The subscription as it is now.")
    order: Order | None = strawberry.field(description="The order line the change wrote, if it wrote one.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of moving users between subscriptions.")
class MoveUsersPayload:
    from_subscription: Subscription | None = strawberry.field(description="The source, now DELETED.")
    to_subscription: Subscription | None = strawberry.field(description="The target, holding the users.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of saving a card.")
class PaymentMethodPayload:
    payment_method: PaymentMethod | None = strawberry.field(description="The saved card (brand, last 4, expiry).")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of removing a saved card.")
class RemovePaymentMethodPayload:
    removed_payment_method_id: strawberry.ID | None = strawberry.field(
        description="The card removed (PaymentMethod ID); null when refused."
    )
    moved_subscriptions: list[Subscription] = strawberry.field(
        description="The subscriptions it paid, now billed to the card that took over; empty when none moved."
    )
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of paying an invoice.")
class InvoicePayload:
    invoice: Invoice | None = strawberry.field(description="The invoice as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of changing a self-service policy.")
class SelfServicePolicyPayload:
    policy: SelfServicePolicy | None = strawberry.field(description="The policy as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of a license request or a decision on one.")
class LicenseRequestPayload:
    license_request: LicenseRequest | None = strawberry.field(description="The request as it is now.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of answering a cancellation request.")
class CancellationRequestPayload:
    cancellation_request: CancellationRequest | None = strawberry.field(description="The request as it is now.")
    subscription: Subscription | None = strawberry.field(
        description="The subscription asked about, as it is now (DELETED when the request was accepted)."
    )
    order: Order | None = strawberry.field(description="The cancellation's order line, when the request was accepted.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of marking notifications read.")
class MarkNotificationsReadPayload:
    marked_count: int = strawberry.field(description="How many were unread and are now read.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


@strawberry.type(description="The result of a change to a user.")
class UserPayload:
    user: User | None = strawberry.field(description="The user as they are now.")
    user_errors: list[UserError] = strawberry.field(description="Why it was refused; empty on success.")


def _target(info: Info, value: str, type_name: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(tenant, id) of a global ID of the given type, or of a raw UUID in the viewer's home tenant."""
    try:
        raw = uuid.UUID(value)
    except ValueError:
        gid = decode_id(value)
        if gid is None or gid.type_name != type_name or gid.tenant_id is None:
            return None
        try:
            return gid.tenant_id, gid.uuid
        except ValueError:
            return None
    viewer = info.context.viewer
    return (viewer.tenant_id, raw) if viewer is not None else None


def _tenant(info: Info, value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        gid = decode_id(value)
        if gid is None or gid.type_name != "Tenant":
            return None
        try:
            return gid.uuid
        except ValueError:
            return None


def _user_ids(values: Sequence[strawberry.ID]) -> list[uuid.UUID]:
    """User IDs as UUIDs; an ID that is no user at all becomes a UUID that matches nobody."""
    decoded = []
    for value in values:
        target = decode_id(str(value))
        try:
            decoded.append(uuid.UUID(str(value)) if target is None else target.uuid)
        except ValueError:
            decoded.append(uuid.uuid4())
    return decoded


# A reason or message a person writes to another; it is stored, sent on and shown.
FREE_TEXT_LENGTH = 1000


def _free_text(value: str, field: str) -> str:
    """A free-text argument, refused (inside the operation, so audited) when longer than a person writes."""
    if len(value) > FREE_TEXT_LENGTH:
        raise refuse(ErrorCode.INVALID_INPUT, f"`{field}` holds at most {FREE_TEXT_LENGTH} characters.", field)
    return value


async def _unknown(info: Info, action: str, target_type: str, value: str, what: str, field: str) -> list[UserError]:
    """An id that names nothing this API issued: refused like any absent object, and audited too."""
    viewer = info.context.viewer

    async def operation(work: Work) -> dict[str, Any]:
        raise refuse(ErrorCode.NOT_FOUND, f"No such {what}.", field)

    outcome = await _run(
        info,
        action=action,
        tenant_id=viewer.tenant_id if viewer is not None else uuid.UUID(int=0),
        target_type=target_type,
        target_id=value,  # bounded, with a marker, where it is audited
        operation=operation,
    )
    return _user_errors(outcome.problems)


async def _run(
    info: Info,
    *,
    action: str,
    tenant_id: uuid.UUID,
    target_type: str,
    target_id: uuid.UUID | str,
    operation: Operation,
    idempotency: Idempotency | None = None,
) -> Outcome:
    return await run(
        info.context,
        action=action,
        tenant_id=tenant_id,
        target_type=target_type,
        target_id=target_id,
        operation=operation,
        idempotency=idempotency,
    )


async def _subscription_payload(info: Info, outcome: Outcome, tenant_id: uuid.UUID | None) -> SubscriptionPayload:
    subscription = order = None
    if not outcome.problems and tenant_id is not None:
        data = outcome.data
        if "subscription_id" in data:
            subscription = await load_subscription(info, tenant_id, uuid.UUID(data["subscription_id"]))
        if "order_id" in data:
            row = await purchases.order(info, tenant_id, uuid.UUID(data["order_id"]))
            order = Order.from_row(row) if row is not None else None
    return SubscriptionPayload(subscription=subscription, order=order, user_errors=_user_errors(outcome.problems))


SubscriptionIdArg = Annotated[strawberry.ID, strawberry.argument(description="The subscription (Subscription ID).")]
UserIdsArg = Annotated[list[strawberry.ID], strawberry.argument(description="Users (User IDs), at most 20.")]
KeyArg = Annotated[
    str, strawberry.argument(description="Same key, same request: charged once. 1 to 255 characters (a UUID will do).")
]


async def _on_subscription(
    info: Info, subscription_id: str, action: str, operation: Any, idempotency: Idempotency | None = None
) -> SubscriptionPayload:
    target = _target(info, subscription_id, "Subscription")
    if target is None:
        return SubscriptionPayload(
            subscription=None,
            order=None,
            user_errors=await _unknown(info, action, "Subscription", subscription_id, "subscription", "subscriptionId"),
        )
    tenant_id, sub_id = target
    outcome = await _run(
        info,
        action=action,
        tenant_id=tenant_id,
        target_type="Subscription",
        target_id=sub_id,
        operation=lambda work: operation(work, sub_id),
        idempotency=idempotency,
    )
    return await _subscription_payload(info, outcome, tenant_id)


@strawberry.type(description="Everything that changes the purchase graph. Each mutation is one transaction.")
class Mutation:
    @strawberry.mutation(description="Buy a subscription self-service, paid by credit card.")
    async def purchase_subscription(
        self,
        info: Info,
        input: Annotated[
            PurchaseSubscriptionInput, strawberry.argument(description="What to buy, for whom, and how to pay.")
        ],
    ) -> SubscriptionPayload:
        tenant_id = _tenant(info, str(input.tenant_id))
        if tenant_id is None:
            return SubscriptionPayload(
                subscription=None,
                order=None,
                user_errors=await _unknown(
                    info, "subscription.purchase", "Tenant", str(input.tenant_id), "tenant", "tenantId"
                ),
            )
        payment_method = (
            _target(info, str(input.payment_method_id), "PaymentMethod") if input.payment_method_id else None
        )
        if input.payment_method_id and payment_method is None:
            return SubscriptionPayload(
                subscription=None,
                order=None,
                user_errors=await _unknown(
                    info,
                    "subscription.purchase",
                    "PaymentMethod",
                    str(input.payment_method_id),
                    "payment method",
                    "paymentMethodId",
                ),
            )
        choice = PaymentChoice(
            payment_method_id=payment_method[1] if payment_method else None,
            card=input.card.details() if input.card else None,
            invoice=input.pay_by is PaymentKind.INVOICE,
        )
        product_id = product_key(str(input.product_id))
        frequency = cast(str, input.billing_frequency.value)

        async def operation(work: Work) -> dict[str, Any]:
            return await purchasing.purchase_subscription(
                work,
                product_id=product_id,
                quantity=input.quantity,
                billing_frequency=frequency,
                payment=choice,
            )

        request = {
            "tenant": str(tenant_id),
            "product": product_id,
            "quantity": input.quantity,
            "payment": choice,
            "frequency": frequency,
        }
        outcome = await _run(
            info,
            action="subscription.purchase",
            tenant_id=tenant_id,
            target_type="Product",
            target_id=product_id,
            operation=operation,
            idempotency=Idempotency(input.idempotency_key, request, "tenant", "tenantId"),
        )
        return await _subscription_payload(info, outcome, tenant_id)

    @strawberry.mutation(description="Start the free trial of a product (a card only where the trial needs one).")
    async def start_trial(
        self,
        info: Info,
        product_id: Annotated[strawberry.ID, strawberry.argument(description="Commerce product id or Product ID.")],
        payment_method_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="A saved card, where the trial needs one.")
        ] = None,
        card: Annotated[CardInput | None, strawberry.argument(description="Or a new card.")] = None,
    ) -> SubscriptionPayload:
        viewer = info.context.viewer
        tenant_id = viewer.tenant_id if viewer else uuid.UUID(int=0)
        payment_method = _target(info, str(payment_method_id), "PaymentMethod") if payment_method_id else None
        choice = PaymentChoice(
            payment_method_id=payment_method[1] if payment_method else (uuid.uuid4() if payment_method_id else None),
            card=card.details() if card else None,
        )
        key = product_key(str(product_id))
        outcome = await _run(
            info,
            action="subscription.start_trial",
            tenant_id=tenant_id,
            target_type="Product",
            target_id=key,
            operation=lambda work: purchasing.start_trial(work, product_id=key, payment=choice),
        )
        return await _subscription_payload(info, outcome, tenant_id)

    @strawberry.mutation(description="Buy more licenses of a subscription you govern.")
    async def add_licenses(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        quantity: Annotated[int, strawberry.argument(description="Licenses to add, 1-10,000; at most 10,000 in all.")],
        idempotency_key: KeyArg,
    ) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.add_licenses",
            lambda work, sid: purchasing.add_licenses(work, subscription_id=sid, quantity=quantity),
            Idempotency(
                idempotency_key,
                {"subscription": str(subscription_id), "quantity": quantity},
                "subscription",
                "subscriptionId",
            ),
        )

    @strawberry.mutation(description="Remove unassigned licenses (refused below the assigned count).")
    async def remove_licenses(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        quantity: Annotated[
            int, strawberry.argument(description="Licenses to remove; at least one stays, and every assigned one.")
        ],
    ) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.remove_licenses",
            lambda work, sid: purchasing.remove_licenses(work, subscription_id=sid, quantity=quantity),
        )

    @strawberry.mutation(description="Assign licenses to users of the same tenant: all of them or none.")
    async def assign_licenses(
        self, info: Info, subscription_id: SubscriptionIdArg, user_ids: UserIdsArg
    ) -> SubscriptionPayload:
        users = _user_ids(user_ids)
        return await _on_subscription(
            info,
            str(subscription_id),
            "license.assign",
            lambda work, sid: licensing.assign_licenses(work, subscription_id=sid, user_ids=users),
        )

    @strawberry.mutation(description="Take licenses back from users.")
    async def unassign_licenses(
        self, info: Info, subscription_id: SubscriptionIdArg, user_ids: UserIdsArg
    ) -> SubscriptionPayload:
        users = _user_ids(user_ids)
        return await _on_subscription(
            info,
            str(subscription_id),
            "license.unassign",
            lambda work, sid: licensing.unassign_licenses(work, subscription_id=sid, user_ids=users),
        )

    @strawberry.mutation(description="Cancel a subscription: final (DELETED); its users lose their licenses.")
    async def cancel_subscription(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        reason: Annotated[
            str, strawberry.argument(description="Why; shown to the purchaser. At most 1,000 characters.")
        ] = "",
    ) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.cancel",
            lambda work, sid: purchasing.cancel_subscription(
                work, subscription_id=sid, reason=_free_text(reason, "reason")
            ),
        )

    @strawberry.mutation(description="Save a credit card to pay with (brand, last 4 and expiry are kept).")
    async def add_payment_method(
        self, info: Info, card: Annotated[CardInput, strawberry.argument(description="The card to save.")]
    ) -> PaymentMethodPayload:
        viewer = info.context.viewer
        tenant_id = viewer.tenant_id if viewer else uuid.UUID(int=0)
        details = card.details()
        outcome = await _run(
            info,
            action="payment_method.add",
            tenant_id=tenant_id,
            target_type="PaymentMethod",
            target_id="new",
            operation=lambda work: billing.add_payment_method(work, card=details),
        )
        payment_method = None
        if not outcome.problems:
            row = await purchases.payment_method(info, tenant_id, uuid.UUID(outcome.data["payment_method_id"]))
            payment_method = PaymentMethod.from_row(row) if row is not None else None
        return PaymentMethodPayload(payment_method=payment_method, user_errors=_user_errors(outcome.problems))

    @strawberry.mutation(description="Bill a subscription of yours to another of your cards.")
    async def update_subscription_payment_method(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        payment_method_id: Annotated[strawberry.ID, strawberry.argument(description="A card of yours.")],
    ) -> SubscriptionPayload:
        target = _target(info, str(payment_method_id), "PaymentMethod")
        method_id = target[1] if target else uuid.uuid4()
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.update_payment_method",
            lambda work, sid: billing.update_subscription_payment_method(
                work, subscription_id=sid, payment_method_id=method_id
            ),
        )

    @strawberry.mutation(description="Pay an invoice billed to you.")
    async def pay_invoice(
        self,
        info: Info,
        invoice_id: Annotated[strawberry.ID, strawberry.argument(description="The invoice (Invoice ID).")],
        idempotency_key: KeyArg,
        payment_method_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Another card of yours; default the subscription's."),
        ] = None,
    ) -> InvoicePayload:
        target = _target(info, str(invoice_id), "Invoice")
        if target is None:
            return InvoicePayload(
                invoice=None,
                user_errors=await _unknown(info, "invoice.pay", "Invoice", str(invoice_id), "invoice", "invoiceId"),
            )
        tenant_id, invoice_uuid = target
        method = _target(info, str(payment_method_id), "PaymentMethod") if payment_method_id else None
        choice = PaymentChoice(payment_method_id=method[1] if method else (uuid.uuid4() if payment_method_id else None))
        outcome = await _run(
            info,
            action="invoice.pay",
            tenant_id=tenant_id,
            target_type="Invoice",
            target_id=invoice_uuid,
            operation=lambda work: billing.pay_invoice(work, invoice_id=invoice_uuid, payment=choice),
            idempotency=Idempotency(
                idempotency_key, {"invoice": str(invoice_uuid), "payment": choice}, "invoice", "invoiceId"
            ),
        )
        invoice = None
        if not outcome.problems:
            row = await purchases.invoice(info, tenant_id, invoice_uuid)
            invoice = Invoice.from_row(row) if row is not None else None
        return InvoicePayload(invoice=invoice, user_errors=_user_errors(outcome.problems))

    @strawberry.mutation(description="Ask the admins for a product your organization blocks (for you and colleagues).")
    async def request_license(
        self,
        info: Info,
        product_id: Annotated[strawberry.ID, strawberry.argument(description="Commerce product id or Product ID.")],
        for_user_ids: Annotated[
            list[strawberry.ID] | None, strawberry.argument(description="Colleagues who need it too (User IDs).")
        ] = None,
    ) -> LicenseRequestPayload:
        viewer = info.context.viewer
        tenant_id = viewer.tenant_id if viewer else uuid.UUID(int=0)
        key = product_key(str(product_id))
        users = _user_ids(for_user_ids or [])
        outcome = await _run(
            info,
            action="license_request.create",
            tenant_id=tenant_id,
            target_type="Product",
            target_id=key,
            operation=lambda work: licensing.request_license(work, product_id=key, for_user_ids=users),
        )
        return await _license_request_payload(info, outcome, tenant_id)

    @strawberry.mutation(
        description="Admins: turn self-service purchase of a product on or off (AllowSelfServicePurchase)."
    )
    async def set_self_service_policy(
        self,
        info: Info,
        tenant_id: Annotated[strawberry.ID, strawberry.argument(description="The tenant (UUID or Tenant ID).")],
        product_id: Annotated[strawberry.ID, strawberry.argument(description="Commerce product id or Product ID.")],
        value: Annotated[
            SelfServicePolicyValue,
            strawberry.argument(description="The new value; applies to future purchases and trials only."),
        ],
    ) -> SelfServicePolicyPayload:
        tenant = _tenant(info, str(tenant_id))
        if tenant is None:
            return SelfServicePolicyPayload(
                policy=None,
                user_errors=await _unknown(
                    info, "self_service_policy.update", "Tenant", str(tenant_id), "tenant", "tenantId"
                ),
            )
        key = product_key(str(product_id))
        policy_value = cast(str, value.value)
        outcome = await _run(
            info,
            action="self_service_policy.update",
            tenant_id=tenant,
            target_type="SelfServicePolicy",
            target_id=f"{tenant}:{key}",
            operation=lambda work: governance.set_self_service_policy(work, product_id=key, value=policy_value),
        )
        policy = await load_policy(info, tenant, key) if not outcome.problems else None
        return SelfServicePolicyPayload(policy=policy, user_errors=_user_errors(outcome.problems))

    @strawberry.mutation(description="Admins: ask the purchaser of a self-service subscription to cancel it.")
    async def request_cancellation(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        message: Annotated[
            str, strawberry.argument(description="What the purchaser is told. At most 1,000 characters.")
        ] = "",
    ) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.request_cancellation",
            lambda work, sid: governance.request_cancellation(
                work, subscription_id=sid, message=_free_text(message, "message")
            ),
        )

    @strawberry.mutation(
        description="The purchaser asked: accept an admin's cancellation request (the subscription is canceled in "
        "the same transaction) or decline it."
    )
    async def answer_cancellation_request(
        self,
        info: Info,
        request_id: Annotated[strawberry.ID, strawberry.argument(description="The request (CancellationRequest ID).")],
        accept: Annotated[bool, strawberry.argument(description="True cancels the subscription; false declines.")],
        message: Annotated[
            str, strawberry.argument(description="Your answer to the admins. At most 1,000 characters.")
        ] = "",
    ) -> CancellationRequestPayload:
        action = "cancellation_request.accept" if accept else "cancellation_request.decline"
        target = _target(info, str(request_id), "CancellationRequest")
        if target is None:
            return CancellationRequestPayload(
                cancellation_request=None,
                subscription=None,
                order=None,
                user_errors=await _unknown(
                    info, action, "CancellationRequest", str(request_id), "cancellation request", "requestId"
                ),
            )
        tenant_id, request_uuid = target
        outcome = await _run(
            info,
            action=action,
            tenant_id=tenant_id,
            target_type="CancellationRequest",
            target_id=request_uuid,
            operation=lambda work: cancellations.answer(
                work, request_id=request_uuid, accept=accept, message=_free_text(message, "message")
            ),
        )
        if outcome.problems:
            return CancellationRequestPayload(
                cancellation_request=None, subscription=None, order=None, user_errors=_user_errors(outcome.problems)
            )
        payload = await _subscription_payload(info, outcome, tenant_id)
        return CancellationRequestPayload(
            cancellation_request=await load_cancellation_request(info, tenant_id, request_uuid),
            subscription=payload.subscription,
            order=payload.order,
            user_errors=[],
        )

    @strawberry.mutation(description="Admins: take control of a self-service subscription (the purchaser loses it).")
    async def take_control_of_subscription(self, info: Info, subscription_id: SubscriptionIdArg) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.take_over",
            lambda work, sid: governance.take_control(work, subscription_id=sid),
        )

    @strawberry.mutation(description="Admins: move every user of a taken-over subscription to another, then cancel it.")
    async def move_users(
        self,
        info: Info,
        from_subscription_id: SubscriptionIdArg,
        to_subscription_id: SubscriptionIdArg,
    ) -> MoveUsersPayload:
        source = _target(info, str(from_subscription_id), "Subscription")
        target = _target(info, str(to_subscription_id), "Subscription")
        if source is None or target is None or source[0] != target[0]:
            return MoveUsersPayload(
                from_subscription=None,
                to_subscription=None,
                user_errors=await _unknown(
                    info,
                    "subscription.move_users",
                    "Subscription",
                    str(from_subscription_id if source is None else to_subscription_id),
                    "subscription",
                    "fromSubscriptionId" if source is None else "toSubscriptionId",
                ),
            )
        tenant_id = source[0]
        outcome = await _run(
            info,
            action="subscription.move_users",
            tenant_id=tenant_id,
            target_type="Subscription",
            target_id=source[1],
            operation=lambda work: licensing.move_users(
                work, from_subscription_id=source[1], to_subscription_id=target[1]
            ),
        )
        if outcome.problems:
            return MoveUsersPayload(
                from_subscription=None, to_subscription=None, user_errors=_user_errors(outcome.problems)
            )
        return MoveUsersPayload(
            from_subscription=await load_subscription(info, tenant_id, source[1]),
            to_subscription=await load_subscription(info, tenant_id, target[1]),
            user_errors=[],
        )

    @strawberry.mutation(
        description=(
            "Bring an EXPIRED or DISABLED subscription back for a new term, billed like a renewal by whoever"
            " controls it: its purchaser (charged to its card), or the admins after a take-over (central price)."
        )
    )
    async def reactivate_subscription(self, info: Info, subscription_id: SubscriptionIdArg) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.reactivate",
            lambda work, sid: purchasing.reactivate(work, subscription_id=sid),
        )

    @strawberry.mutation(
        description="Admins: approve a license request. Naming a subscription (central, or one the admins "
        "took control of, of the product asked for) also assigns everyone the request is for, in the same "
        "transaction: refused with NO_LICENSES_LEFT, nothing written, when it has too few free licenses. "
        "Everyone the request is for is notified."
    )
    async def approve_license_request(
        self,
        info: Info,
        request_id: Annotated[strawberry.ID, strawberry.argument(description="LicenseRequest ID.")],
        assign_from_subscription_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The subscription (Subscription ID) to assign from; null: approve only."),
        ] = None,
    ) -> LicenseRequestPayload:
        return await _decide(
            info,
            str(request_id),
            approve=True,
            assign_from=None if assign_from_subscription_id is None else str(assign_from_subscription_id),
        )

    @strawberry.mutation(description="Admins: deny a license request.")
    async def deny_license_request(
        self,
        info: Info,
        request_id: Annotated[strawberry.ID, strawberry.argument(description="LicenseRequest ID.")],
    ) -> LicenseRequestPayload:
        return await _decide(info, str(request_id), approve=False)

    @strawberry.mutation(
        description="Mark your notifications read: the named ones, or all of yours when `ids` is null. "
        "Only ever your own: another's id is NOT_FOUND, and then nothing is marked."
    )
    async def mark_notifications_read(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Notification IDs, at most 100; null: all of yours."),
        ] = None,
    ) -> MarkNotificationsReadPayload:
        viewer = info.context.viewer
        home = viewer.tenant_id if viewer is not None else uuid.UUID(int=0)
        keys = None if ids is None else [_notification_key(str(i), home) for i in ids]
        outcome = await _run(
            info,
            action="notification.mark_read",
            tenant_id=home,
            target_type="Notification",
            # "all", or the named ones: a UUID each, "unknown" for an id that names no notification of theirs.
            target_id="all" if ids is None else ",".join("unknown" if k is None else str(k) for k in keys or []),
            operation=lambda work: notifications.mark_read(work, ids=keys),
        )
        marked = 0 if outcome.problems else int(outcome.data["marked"])
        return MarkNotificationsReadPayload(marked_count=marked, user_errors=_user_errors(outcome.problems))

    @strawberry.mutation(
        description="Global admins: record that a user left the organization. Their account is disabled "
        "(it signs in to nothing); their purchases run to term. Never yourself, never the last global admin."
    )
    async def mark_user_departed(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The user (User ID).")],
        departed_on: Annotated[
            datetime.date | None, strawberry.argument(description="Their last day: today or before; default today.")
        ] = None,
    ) -> UserPayload:
        return await _on_user(
            info,
            str(user_id),
            "user.mark_departed",
            lambda work, uid: governance.mark_user_departed(work, user_id=uid, departed_on=departed_on),
        )

    @strawberry.mutation(
        description="Global admins: undo a departure. The account is enabled again; the user no longer counts as left."
    )
    async def reinstate_user(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="The user (User ID).")],
    ) -> UserPayload:
        return await _on_user(
            info, str(user_id), "user.reinstate", lambda work, uid: governance.reinstate_user(work, user_id=uid)
        )

    @strawberry.mutation(
        description=(
            "Remove a card of yours. Refused (PAYMENT_METHOD_IN_USE) while it pays a subscription that is not"
            " canceled, unless `replacementPaymentMethodId` names another card of yours: every such subscription"
            " then moves to it, in the same transaction."
        )
    )
    async def remove_payment_method(
        self,
        info: Info,
        payment_method_id: Annotated[strawberry.ID, strawberry.argument(description="The card to remove.")],
        replacement_payment_method_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Another card of yours that takes over what the removed one pays."),
        ] = None,
    ) -> RemovePaymentMethodPayload:
        action = "payment_method.remove"
        target = _target(info, str(payment_method_id), "PaymentMethod")
        if target is None:
            errors = await _unknown(
                info, action, "PaymentMethod", str(payment_method_id), "payment method", "paymentMethodId"
            )
            return RemovePaymentMethodPayload(
                removed_payment_method_id=None, moved_subscriptions=[], user_errors=errors
            )
        tenant_id, method_id = target
        replacement_id = None
        if replacement_payment_method_id is not None:
            replacement = _target(info, str(replacement_payment_method_id), "PaymentMethod")
            # An id that is no card of this API's finds no card, like any card not the caller's.
            replacement_id = replacement[1] if replacement else uuid.uuid4()
        outcome = await _run(
            info,
            action=action,
            tenant_id=tenant_id,
            target_type="PaymentMethod",
            target_id=method_id,
            operation=lambda work: billing.remove_payment_method(
                work, payment_method_id=method_id, replacement_id=replacement_id
            ),
        )
        if outcome.problems:
            return RemovePaymentMethodPayload(
                removed_payment_method_id=None, moved_subscriptions=[], user_errors=_user_errors(outcome.problems)
            )
        moved = [await load_subscription(info, tenant_id, uuid.UUID(i)) for i in outcome.data["moved_subscription_ids"]]
        return RemovePaymentMethodPayload(
            removed_payment_method_id=strawberry.ID(encode_id("PaymentMethod", method_id, tenant_id)),
            moved_subscriptions=[m for m in moved if m is not None],
            user_errors=[],
        )

    @strawberry.mutation(
        description=(
            "Turn automatic renewal of an active subscription on or off: its purchaser, or the admins once it is"
            " central or taken over. Turning it on for a purchaser's subscription needs a card on it."
        )
    )
    async def set_auto_renew(
        self,
        info: Info,
        subscription_id: SubscriptionIdArg,
        auto_renew: Annotated[bool, strawberry.argument(description="True: renews at its term end.")],
    ) -> SubscriptionPayload:
        return await _on_subscription(
            info,
            str(subscription_id),
            "subscription.set_auto_renew",
            lambda work, sid: purchasing.set_auto_renew(work, subscription_id=sid, auto_renew=auto_renew),
        )


def _notification_key(value: str, home: uuid.UUID) -> uuid.UUID | None:
    """A Notification ID of the viewer's home tenant as its UUID; anything else names none of theirs."""
    gid = decode_id(value)
    if gid is None or gid.type_name != "Notification" or gid.tenant_id != home:
        return None
    try:
        return gid.uuid
    except ValueError:
        return None


async def _on_user(info: Info, user_id: str, action: str, operation: Any) -> UserPayload:
    target = _target(info, user_id, "User")
    if target is None:
        return UserPayload(user=None, user_errors=await _unknown(info, action, "User", user_id, "user", "userId"))
    tenant_id, user_uuid = target
    outcome = await _run(
        info,
        action=action,
        tenant_id=tenant_id,
        target_type="User",
        target_id=user_uuid,
        operation=lambda work: operation(work, user_uuid),
    )
    user = await load_user(info, tenant_id, user_uuid) if not outcome.problems else None
    return UserPayload(user=user, user_errors=_user_errors(outcome.problems))


async def _decide(
    info: Info, request_id: str, *, approve: bool, assign_from: str | None = None
) -> LicenseRequestPayload:
    target = _target(info, request_id, "LicenseRequest")
    if target is None:
        return LicenseRequestPayload(
            license_request=None,
            user_errors=await _unknown(
                info,
                "license_request.approve" if approve else "license_request.deny",
                "LicenseRequest",
                request_id,
                "license request",
                "requestId",
            ),
        )
    tenant_id, request_uuid = target
    subscription_uuid: uuid.UUID | None = None
    if assign_from is not None:
        source = _target(info, assign_from, "Subscription")
        # A subscription of another tenant than the request's is outside it: not found, like none.
        subscription_uuid = source[1] if source is not None and source[0] == tenant_id else uuid.uuid4()
    outcome = await _run(
        info,
        action="license_request.approve" if approve else "license_request.deny",
        tenant_id=tenant_id,
        target_type="LicenseRequest",
        target_id=request_uuid,
        operation=lambda work: licensing.decide_license_request(
            work, request_id=request_uuid, approve=approve, assign_from=subscription_uuid
        ),
    )
    return await _license_request_payload(info, outcome, tenant_id)


async def _license_request_payload(info: Info, outcome: Outcome, tenant_id: uuid.UUID) -> LicenseRequestPayload:
    request = None
    if not outcome.problems:
        request = await load_license_request(info, tenant_id, uuid.UUID(outcome.data["license_request_id"]))
    return LicenseRequestPayload(license_request=request, user_errors=_user_errors(outcome.problems))
