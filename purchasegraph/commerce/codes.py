"""The stable codes of every refusal a mutation can answer with."""

from __future__ import annotations

from purchasegraph.described import DescribedEnum, graphql_enum
from purchasegraph.eligibility import Reason


@graphql_enum("Why a mutation refused; stable, for programs to branch on.")
class ErrorCode(DescribedEnum):
    NOT_FOUND = "NOT_FOUND", "No such object within your reach (absent and hidden look alike)."
    NOT_AUTHORIZED = "NOT_AUTHORIZED", "You can see it but your role does not let you change it."
    NOT_IN_CONTROL = (
        "NOT_IN_CONTROL",
        "The subscription is governed by someone else: its purchaser, or admins after a take-over.",
    )
    UNAUTHENTICATED = "UNAUTHENTICATED", "Sign in first."
    # Eligibility: the same codes `viewer.eligibility` reports.
    UNMANAGED_TENANT = "UNMANAGED_TENANT", Reason.UNMANAGED_TENANT.value
    GUEST_USER = "GUEST_USER", Reason.GUEST_USER.value
    ACCOUNT_DISABLED = "ACCOUNT_DISABLED", Reason.ACCOUNT_DISABLED.value
    ORGANIZATION_TYPE_NOT_ELIGIBLE = "ORGANIZATION_TYPE_NOT_ELIGIBLE", Reason.ORGANIZATION_TYPE_NOT_ELIGIBLE.value
    MARKET_NOT_ELIGIBLE = "MARKET_NOT_ELIGIBLE", Reason.MARKET_NOT_ELIGIBLE.value
    PRODUCT_NOT_AVAILABLE_IN_MARKET = "PRODUCT_NOT_AVAILABLE_IN_MARKET", Reason.PRODUCT_NOT_AVAILABLE_IN_MARKET.value
    POLICY_DISABLED = "POLICY_DISABLED", Reason.POLICY_DISABLED.value
    TRIALS_ONLY = "TRIALS_ONLY", Reason.TRIALS_ONLY.value
    # Payment.
    PAYMENT_METHOD_NOT_SUPPORTED = "PAYMENT_METHOD_NOT_SUPPORTED", "Only credit cards are accepted; invoicing is not."
    PAYMENT_METHOD_REQUIRED = "PAYMENT_METHOD_REQUIRED", "Give exactly one of a saved payment method or a card."
    INVALID_CARD = "INVALID_CARD", "The card details cannot be a valid card."
    CARD_EXPIRED = "CARD_EXPIRED", "The card's expiry month has passed (on the app's clock): use another card."
    CARD_DECLINED = "CARD_DECLINED", "The card issuer declined the charge."
    PAYMENT_METHOD_IN_USE = (
        "PAYMENT_METHOD_IN_USE",
        "The card pays a subscription that is not canceled: name the card that takes it over.",
    )
    PAYMENT_PROCESSOR_UNAVAILABLE = (
        "PAYMENT_PROCESSOR_UNAVAILABLE",
        "The payment processor failed; nothing was charged or written. Retry with the same key.",
    )
    INVOICE_ALREADY_PAID = "INVOICE_ALREADY_PAID", "The invoice is paid."
    # Quantities and licenses.
    INVALID_QUANTITY = "INVALID_QUANTITY", "Quantities are whole numbers from 1 to 10,000."
    NO_LICENSES_LEFT = "NO_LICENSES_LEFT", "Every license of the subscription is assigned."
    LICENSES_ASSIGNED = "LICENSES_ASSIGNED", "Licenses still assigned cannot be removed: unassign them first."
    USER_NOT_IN_TENANT = "USER_NOT_IN_TENANT", "Licenses go only to users of the subscription's tenant."
    TOO_MANY_USERS = "TOO_MANY_USERS", "At most 20 users in one call."
    ALREADY_ASSIGNED = "ALREADY_ASSIGNED", "The user already holds a license of it."
    NOT_ASSIGNED = "NOT_ASSIGNED", "The user holds no license of it."
    # Lifecycle.
    SUBSCRIPTION_NOT_ACTIVE = "SUBSCRIPTION_NOT_ACTIVE", "The subscription's status does not allow this."
    CANNOT_REACTIVATE = "CANNOT_REACTIVATE", "Only EXPIRED or DISABLED subscriptions can be reactivated."
    PURCHASER_DEPARTED = (
        "PURCHASER_DEPARTED",
        "Its purchaser left: nobody buys more on it until an admin takes it over.",
    )
    TRIAL_NOT_AVAILABLE = "TRIAL_NOT_AVAILABLE", "The product has no trial."
    TRIAL_ALREADY_USED = "TRIAL_ALREADY_USED", "You already had a trial of this product."
    ALREADY_CONTROLLED = "ALREADY_CONTROLLED", "Admins already control this subscription."
    NOT_SELF_SERVICE = "NOT_SELF_SERVICE", "Only self-service subscriptions can be asked about or taken over."
    PRODUCT_MISMATCH = "PRODUCT_MISMATCH", "Users move only to a subscription of the same product."
    SAME_SUBSCRIPTION = "SAME_SUBSCRIPTION", "Source and target are the same."
    PRODUCT_NOT_BLOCKED = "PRODUCT_NOT_BLOCKED", "The product can be bought: no request is needed."
    CANCELLATION_ALREADY_REQUESTED = (
        "CANCELLATION_ALREADY_REQUESTED",
        "A cancellation request for this subscription is still waiting for its purchaser.",
    )
    LICENSE_ALREADY_REQUESTED = (
        "LICENSE_ALREADY_REQUESTED",
        "You already asked for this product and the admins have not decided yet.",
    )
    TRIAL_REQUIRES_PAYMENT_METHOD = (
        "TRIAL_REQUIRES_PAYMENT_METHOD",
        (
            "ONLY_TRIALS_WITHOUT_PAYMENT_METHOD fits only a product whose trial needs no card: "
            "this one's trial needs a card (or it has none), so nobody could start one."
        ),
    )
    ALREADY_DECIDED = "ALREADY_DECIDED", "The request was already approved, denied or answered."
    # Directory upkeep.
    CANNOT_MARK_SELF = "CANNOT_MARK_SELF", "Nobody marks their own account departed: another global admin does."
    LAST_GLOBAL_ADMIN = (
        "LAST_GLOBAL_ADMIN",
        "The tenant's last enabled global admin stays: make another global admin first.",
    )
    USER_NOT_DEPARTED = "USER_NOT_DEPARTED", "The user has not left and their account is enabled: nothing to reinstate."
    # Idempotency.
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED", "This idempotency key was used with a different request."
    INVALID_INPUT = "INVALID_INPUT", "An argument is malformed."


def code_of(reason: Reason) -> ErrorCode:
    return ErrorCode[reason.name]
