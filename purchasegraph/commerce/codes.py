"""The stable codes of every refusal a mutation can answer with."""

from __future__ import annotations

import enum

import strawberry

from purchasegraph.eligibility import Reason


@strawberry.enum(description="Why a mutation refused; stable, for programs to branch on.")
class ErrorCode(enum.Enum):
    NOT_FOUND = strawberry.enum_value(
        "NOT_FOUND", description="No such object within your reach (absent and hidden look alike)."
    )
    NOT_AUTHORIZED = strawberry.enum_value(
        "NOT_AUTHORIZED", description="You can see it but your role does not let you change it."
    )
    NOT_IN_CONTROL = strawberry.enum_value(
        "NOT_IN_CONTROL",
        description="The subscription is governed by someone else: its purchaser, or admins after a take-over.",
    )
    UNAUTHENTICATED = strawberry.enum_value("UNAUTHENTICATED", description="Sign in first.")
    # Eligibility: the same codes `viewer.eligibility` reports.
    UNMANAGED_TENANT = strawberry.enum_value("UNMANAGED_TENANT", description=Reason.UNMANAGED_TENANT.value)
    GUEST_USER = strawberry.enum_value("GUEST_USER", description=Reason.GUEST_USER.value)
    ACCOUNT_DISABLED = strawberry.enum_value("ACCOUNT_DISABLED", description=Reason.ACCOUNT_DISABLED.value)
    ORGANIZATION_TYPE_NOT_ELIGIBLE = strawberry.enum_value(
        "ORGANIZATION_TYPE_NOT_ELIGIBLE", description=Reason.ORGANIZATION_TYPE_NOT_ELIGIBLE.value
    )
    MARKET_NOT_ELIGIBLE = strawberry.enum_value("MARKET_NOT_ELIGIBLE", description=Reason.MARKET_NOT_ELIGIBLE.value)
    PRODUCT_NOT_AVAILABLE_IN_MARKET = strawberry.enum_value(
        "PRODUCT_NOT_AVAILABLE_IN_MARKET", description=Reason.PRODUCT_NOT_AVAILABLE_IN_MARKET.value
    )
    POLICY_DISABLED = strawberry.enum_value("POLICY_DISABLED", description=Reason.POLICY_DISABLED.value)
    TRIALS_ONLY = strawberry.enum_value("TRIALS_ONLY", description=Reason.TRIALS_ONLY.value)
    # Payment.
    PAYMENT_METHOD_NOT_SUPPORTED = strawberry.enum_value(
        "PAYMENT_METHOD_NOT_SUPPORTED", description="Only credit cards are accepted; invoicing is not."
    )
    PAYMENT_METHOD_REQUIRED = strawberry.enum_value(
        "PAYMENT_METHOD_REQUIRED", description="Give exactly one of a saved payment method or a card."
    )
    INVALID_CARD = strawberry.enum_value("INVALID_CARD", description="The card details cannot be a valid card.")
    CARD_EXPIRED = strawberry.enum_value(
        "CARD_EXPIRED", description="The card's expiry month has passed (on the app's clock): use another card."
    )
    CARD_DECLINED = strawberry.enum_value("CARD_DECLINED", description="The card issuer declined the charge.")
    PAYMENT_METHOD_IN_USE = strawberry.enum_value(
        "PAYMENT_METHOD_IN_USE",
        description="The card pays a subscription that is not canceled: name the card that takes it over.",
    )
    PAYMENT_PROCESSOR_UNAVAILABLE = strawberry.enum_value(
        "PAYMENT_PROCESSOR_UNAVAILABLE",
        description="The payment processor failed; nothing was charged or written. Retry with the same key.",
    )
    INVOICE_ALREADY_PAID = strawberry.enum_value("INVOICE_ALREADY_PAID", description="The invoice is paid.")
    # Quantities and licenses.
    INVALID_QUANTITY = strawberry.enum_value(
        "INVALID_QUANTITY", description="Quantities are whole numbers from 1 to 10,000."
    )
    NO_LICENSES_LEFT = strawberry.enum_value(
        "NO_LICENSES_LEFT", description="Every license of the subscription is assigned."
    )
    LICENSES_ASSIGNED = strawberry.enum_value(
        "LICENSES_ASSIGNED", description="Licenses still assigned cannot be removed: unassign them first."
    )
    USER_NOT_IN_TENANT = strawberry.enum_value(
        "USER_NOT_IN_TENANT", description="Licenses go only to users of the subscription's tenant."
    )
    TOO_MANY_USERS = strawberry.enum_value("TOO_MANY_USERS", description="At most 20 users in one call.")
    ALREADY_ASSIGNED = strawberry.enum_value("ALREADY_ASSIGNED", description="The user already holds a license of it.")
    NOT_ASSIGNED = strawberry.enum_value("NOT_ASSIGNED", description="The user holds no license of it.")
    # Lifecycle.
    SUBSCRIPTION_NOT_ACTIVE = strawberry.enum_value(
        "SUBSCRIPTION_NOT_ACTIVE", description="The subscription's status does not allow this."
    )
    CANNOT_REACTIVATE = strawberry.enum_value(
        "CANNOT_REACTIVATE", description="Only EXPIRED or DISABLED subscriptions can be reactivated."
    )
    PURCHASER_DEPARTED = strawberry.enum_value(
        "PURCHASER_DEPARTED",
        description="Its purchaser left: nobody buys more on it until an admin takes it over.",
    )
    TRIAL_NOT_AVAILABLE = strawberry.enum_value("TRIAL_NOT_AVAILABLE", description="The product has no trial.")
    TRIAL_ALREADY_USED = strawberry.enum_value(
        "TRIAL_ALREADY_USED", description="You already had a trial of this product."
    )
    ALREADY_CONTROLLED = strawberry.enum_value(
        "ALREADY_CONTROLLED", description="Admins already control this subscription."
    )
    NOT_SELF_SERVICE = strawberry.enum_value(
        "NOT_SELF_SERVICE", description="Only self-service subscriptions can be asked about or taken over."
    )
    PRODUCT_MISMATCH = strawberry.enum_value(
        "PRODUCT_MISMATCH", description="Users move only to a subscription of the same product."
    )
    SAME_SUBSCRIPTION = strawberry.enum_value("SAME_SUBSCRIPTION", description="Source and target are the same.")
    PRODUCT_NOT_BLOCKED = strawberry.enum_value(
        "PRODUCT_NOT_BLOCKED", description="The product can be bought: no request is needed."
    )
    CANCELLATION_ALREADY_REQUESTED = strawberry.enum_value(
        "CANCELLATION_ALREADY_REQUESTED",
        description="A cancellation request for this subscription is still waiting for its purchaser.",
    )
    LICENSE_ALREADY_REQUESTED = strawberry.enum_value(
        "LICENSE_ALREADY_REQUESTED",
        description="You already asked for this product and the admins have not decided yet.",
    )
    TRIAL_REQUIRES_PAYMENT_METHOD = strawberry.enum_value(
        "TRIAL_REQUIRES_PAYMENT_METHOD",
        description="ONLY_TRIALS_WITHOUT_PAYMENT_METHOD fits only a product whose trial needs no card: "
        "this one's trial needs a card (or it has none), so nobody could start one.",
    )
    ALREADY_DECIDED = strawberry.enum_value(
        "ALREADY_DECIDED", description="The request was already approved, denied or answered."
    )
    # Directory upkeep.
    CANNOT_MARK_SELF = strawberry.enum_value(
        "CANNOT_MARK_SELF", description="Nobody marks their own account departed: another global admin does."
    )
    LAST_GLOBAL_ADMIN = strawberry.enum_value(
        "LAST_GLOBAL_ADMIN",
        description="The tenant's last enabled global admin stays: make another global admin first.",
    )
    USER_NOT_DEPARTED = strawberry.enum_value(
        "USER_NOT_DEPARTED", description="The user has not left and their account is enabled: nothing to reinstate."
    )
    # Idempotency.
    IDEMPOTENCY_KEY_REUSED = strawberry.enum_value(
        "IDEMPOTENCY_KEY_REUSED", description="This idempotency key was used with a different request."
    )
    INVALID_INPUT = strawberry.enum_value("INVALID_INPUT", description="An argument is malformed.")


def code_of(reason: Reason) -> ErrorCode:
    return ErrorCode[reason.name]
