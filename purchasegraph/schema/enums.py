"""Enums of the purchase graph; Python values are the database's, GraphQL names SCREAMING_CASE."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import TypeVar, cast

import strawberry
from strawberry.types.enum import has_enum_definition

from purchasegraph.checkout import CheckoutReason
from purchasegraph.eligibility import Reason
from purchasegraph.policy import Access

E = TypeVar("E", bound=enum.Enum)


@strawberry.enum(description="The product families offered for self-service purchase.")
class ProductFamily(enum.Enum):
    POWER_BI = strawberry.enum_value("power_bi", description="Power BI: reports and dashboards.")
    POWER_APPS = strawberry.enum_value("power_apps", description="Power Apps: low-code business apps.")
    POWER_AUTOMATE = strawberry.enum_value("power_automate", description="Power Automate: workflows.")
    PROJECT = strawberry.enum_value("project", description="Project: project and portfolio management.")
    VISIO = strawberry.enum_value("visio", description="Visio: diagrams.")


@strawberry.enum(description="How a subscription was bought.")
class SubscriptionChannel(enum.Enum):
    SELF_SERVICE = strawberry.enum_value("self_service", description="Bought by a user with a credit card.")
    CENTRAL = strawberry.enum_value("central", description="Bought centrally by the organization.")


@strawberry.enum(description="Which subscriptions a list shows, as in the admin center's product list.")
class ChannelFilter(enum.Enum):
    INCLUDE_SELF_SERVICE = strawberry.enum_value("all", description="Central and self-service.")
    CENTRAL_ONLY = strawberry.enum_value("central", description="Centrally bought only.")
    SELF_SERVICE_ONLY = strawberry.enum_value("self_service", description="Self-service only.")


@strawberry.enum(description="Where an admin's request that the purchaser cancel a subscription stands.")
class CancellationRequestStatus(enum.Enum):
    OPEN = strawberry.enum_value(
        "pending", description="Waiting for the purchaser's answer; at most one per subscription."
    )
    ACCEPTED = strawberry.enum_value("accepted", description="The purchaser accepted: the subscription was canceled.")
    DECLINED = strawberry.enum_value("declined", description="The purchaser declined; the admins may ask again.")
    CLOSED = strawberry.enum_value(
        "closed", description="Closed without an answer: the admins took control of the subscription."
    )


@strawberry.enum(description="Lifecycle of a subscription, as in Microsoft 365.")
class SubscriptionStatus(enum.Enum):
    TRIAL = strawberry.enum_value("trial", description="A free trial.")
    ACTIVE = strawberry.enum_value("active", description="Paid and running.")
    EXPIRED = strawberry.enum_value("expired", description="Up to 30 days after the end date: everyone keeps access.")
    DISABLED = strawberry.enum_value(
        "disabled", description="Up to 90 days after: only admins reach the data; no new assignments."
    )
    DELETED = strawberry.enum_value("deleted", description="Final: canceled or lapsed; cannot be reactivated.")


@strawberry.enum(description="Who governs a self-service subscription.")
class ControlledBy(enum.Enum):
    PURCHASER = strawberry.enum_value("purchaser", description="The user who bought it.")
    ADMINS = strawberry.enum_value("admins", description="The tenant's admins, after a take-over or central.")


@strawberry.enum(description="What an order line did to its subscription.")
class OrderKind(enum.Enum):
    PURCHASE = strawberry.enum_value("purchase", description="Bought the subscription.")
    TRIAL = strawberry.enum_value("trial", description="Started it as a free trial.")
    ADD_LICENSES = strawberry.enum_value("add_licenses", description="Added licenses to it.")
    REMOVE_LICENSES = strawberry.enum_value("remove_licenses", description="Removed unassigned licenses.")
    CANCEL = strawberry.enum_value("cancel", description="Canceled it; final.")
    RENEW = strawberry.enum_value(
        "renew", description="Charged a new term: an auto-renewal, or a trial converting to paid."
    )
    TAKE_OVER = strawberry.enum_value(
        "take_over", description="Admins took control of a self-service subscription from its purchaser."
    )
    REACTIVATE = strawberry.enum_value(
        "reactivate", description="Brought an expired or disabled subscription back to active."
    )


@strawberry.enum(description="Billing state of an invoice.")
class InvoiceStatus(enum.Enum):
    OPEN = strawberry.enum_value("open", description="Billed, not paid yet; due seven days after it was issued.")
    PAID = strawberry.enum_value("paid", description="Paid.")
    PAST_DUE = strawberry.enum_value("past_due", description="Not paid by its due date: pay it with `payInvoice`.")


@strawberry.enum(description="How often a subscription is billed.")
class BillingFrequency(enum.Enum):
    MONTHLY = strawberry.enum_value("monthly", description="A one-month term, billed each month.")
    ANNUAL = strawberry.enum_value("annual", description="A twelve-month term, billed up front.")


@strawberry.enum(description="The MSCommerce AllowSelfServicePurchase policy value of a product.")
class SelfServicePolicyValue(enum.Enum):
    ENABLED = strawberry.enum_value("enabled", description="Users may buy and start trials.")
    DISABLED = strawberry.enum_value("disabled", description="Neither purchases nor trials.")
    ONLY_TRIALS_WITHOUT_PAYMENT_METHOD = strawberry.enum_value(
        "only_trials_without_payment_method", description="Trials that need no payment method only."
    )


@strawberry.enum(description="Where a license request stands: waiting for the admins, or decided.")
class LicenseRequestStatus(enum.Enum):
    PENDING = strawberry.enum_value("pending", description="Waiting for an admin; one per user and product.")
    APPROVED = strawberry.enum_value(
        "approved", description="An admin approved it, assigning licenses from a subscription or not."
    )
    DENIED = strawberry.enum_value("denied", description="An admin turned it down.")


@strawberry.enum(description="Kind of organization; government and education cannot buy self-service.")
class OrganizationType(enum.Enum):
    COMMERCIAL = strawberry.enum_value("commercial", description="A business; may buy self-service.")
    GOVERNMENT = strawberry.enum_value("government", description="Government; cannot buy self-service.")
    EDUCATION = strawberry.enum_value("education", description="School or university; cannot buy self-service.")
    NONPROFIT = strawberry.enum_value("nonprofit", description="A nonprofit; may buy self-service.")


@strawberry.enum(description="Member of the directory, or a guest from another organization.")
class UserType(enum.Enum):
    MEMBER = strawberry.enum_value("member", description="A member of the organization.")
    GUEST = strawberry.enum_value("guest", description="A guest invited from another organization.")


@strawberry.enum(description="Where a user account is mastered.")
class UserSource(enum.Enum):
    CLOUD = strawberry.enum_value("cloud", description="Created in the cloud directory.")
    SYNCED = strawberry.enum_value("synced", description="Synchronized from on-premises Active Directory.")


@strawberry.enum(description="Directory roles that matter to purchases.")
class DirectoryRole(enum.Enum):
    GLOBAL_ADMIN = strawberry.enum_value(
        "global_admin", description="Administers the whole tenant, including self-service policies and take-overs."
    )
    BILLING_ADMIN = strawberry.enum_value(
        "billing_admin", description="Manages purchases, subscriptions and licenses of the tenant."
    )
    GLOBAL_READER = strawberry.enum_value("global_reader", description="Sees the whole tenant; changes nothing.")


@strawberry.enum(description="State of a delegated-admin (GDAP) relationship.")
class PartnerRelationshipStatus(enum.Enum):
    ACTIVE = strawberry.enum_value("active", description="Grants its roles while inside its dates.")
    EXPIRED = strawberry.enum_value("expired", description="Past its end date; grants nothing.")
    TERMINATED = strawberry.enum_value("terminated", description="Ended before its end date; grants nothing.")


AccessLevel = strawberry.enum(
    Access,
    name="AccessLevel",
    description=(
        "Why the viewer reaches a tenant: ADMIN and READER by directory role, PARTNER through an "
        "active delegated relationship (all three see the whole tenant), MEMBER (own purchases and "
        "licenses), GUEST (own licenses only)."
    ),
)

EligibilityReason = strawberry.enum(
    Reason,
    name="EligibilityReason",
    description="Why a user cannot buy a product self-service; the purchase mutations use the same codes.",
)


def _describe_values(enum_type: type[E], descriptions: Mapping[E, str]) -> None:
    """Describe the values of an enum defined outside the schema, whose members cannot use `enum_value`."""
    definition = enum_type
    assert has_enum_definition(definition), f"{enum_type.__name__} is not a Strawberry enum"
    for value in definition.__strawberry_definition__.values:
        value.description = descriptions[enum_type(value.value)]


_describe_values(
    AccessLevel,
    {
        Access.ADMIN: "A global or billing admin of the tenant: sees and manages all of it.",
        Access.READER: "A global reader of the tenant: sees all of it, changes nothing.",
        Access.PARTNER: "A partner in an active delegated relationship: sees all of it, changes what its roles allow.",
        Access.MEMBER: "A member: sees their own purchases and licenses, and the directory.",
        Access.GUEST: "A guest: sees only the licenses assigned to them, and themselves.",
    },
)
# The same texts as the ErrorCode values of the same names.
_describe_values(EligibilityReason, {reason: reason.value for reason in Reason})

CheckoutEligibilityReason = strawberry.enum(
    CheckoutReason,
    name="CheckoutEligibilityReason",
    description="What is known of a checkout before sign-in, from the catalogue and the email address alone.",
)
_describe_values(CheckoutEligibilityReason, {reason: reason.value for reason in CheckoutReason})


def stored_values(members: Sequence[enum.Enum] | None) -> list[str] | None:
    """What a filter on an enum field compares: the database's values; None when it is not given."""
    return None if members is None else [cast(str, member.value) for member in members]
