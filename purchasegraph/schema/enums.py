"""Enums of the purchase graph; Python values are the database's, GraphQL names SCREAMING_CASE."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import cast

import strawberry

from purchasegraph.checkout import CheckoutReason
from purchasegraph.described import DescribedEnum, describe_values, graphql_enum
from purchasegraph.eligibility import Reason
from purchasegraph.policy import Access


@graphql_enum("The product families offered for self-service purchase.")
class ProductFamily(DescribedEnum):
    POWER_BI = "power_bi", "Power BI: reports and dashboards."
    POWER_APPS = "power_apps", "Power Apps: low-code business apps."
    POWER_AUTOMATE = "power_automate", "Power Automate: workflows."
    PROJECT = "project", "Project: project and portfolio management."
    VISIO = "visio", "Visio: diagrams."


@graphql_enum("How a subscription was bought.")
class SubscriptionChannel(DescribedEnum):
    SELF_SERVICE = "self_service", "Bought by a user with a credit card."
    CENTRAL = "central", "Bought centrally by the organization."


@graphql_enum("Which subscriptions a list shows, as in the admin center's product list.")
class ChannelFilter(DescribedEnum):
    INCLUDE_SELF_SERVICE = "all", "Central and self-service."
    CENTRAL_ONLY = "central", "Centrally bought only."
    SELF_SERVICE_ONLY = "self_service", "Self-service only."


@graphql_enum("Where an admin's request that the purchaser cancel a subscription stands.")
class CancellationRequestStatus(DescribedEnum):
    OPEN = "pending", "Waiting for the purchaser's answer; at most one per subscription."
    ACCEPTED = "accepted", "The purchaser accepted: the subscription was canceled."
    DECLINED = "declined", "The purchaser declined; the admins may ask again."
    CLOSED = "closed", "Closed without an answer: the admins took control of the subscription."


@graphql_enum("Lifecycle of a subscription, as in Microsoft 365.")
class SubscriptionStatus(DescribedEnum):
    TRIAL = "trial", "A free trial."
    ACTIVE = "active", "Paid and running."
    EXPIRED = "expired", "Up to 30 days after the end date: everyone keeps access."
    DISABLED = "disabled", "Up to 90 days after: only admins reach the data; no new assignments."
    DELETED = "deleted", "Final: canceled or lapsed; cannot be reactivated."


@graphql_enum("Who governs a self-service subscription.")
class ControlledBy(DescribedEnum):
    PURCHASER = "purchaser", "The user who bought it."
    ADMINS = "admins", "The tenant's admins, after a take-over or central."


@graphql_enum("What an order line did to its subscription.")
class OrderKind(DescribedEnum):
    PURCHASE = "purchase", "Bought the subscription."
    TRIAL = "trial", "Started it as a free trial."
    ADD_LICENSES = "add_licenses", "Added licenses to it."
    REMOVE_LICENSES = "remove_licenses", "Removed unassigned licenses."
    CANCEL = "cancel", "Canceled it; final."
    RENEW = "renew", "Charged a new term: an auto-renewal, or a trial converting to paid."
    TAKE_OVER = "take_over", "Admins took control of a self-service subscription from its purchaser."
    REACTIVATE = "reactivate", "Brought an expired or disabled subscription back to active."


@graphql_enum("Billing state of an invoice.")
class InvoiceStatus(DescribedEnum):
    OPEN = "open", "Billed, not paid yet; due seven days after it was issued."
    PAID = "paid", "Paid."
    PAST_DUE = "past_due", "Not paid by its due date: pay it with `payInvoice`."


@graphql_enum("How often a subscription is billed.")
class BillingFrequency(DescribedEnum):
    MONTHLY = "monthly", "A one-month term, billed each month."
    ANNUAL = "annual", "A twelve-month term, billed up front."


@graphql_enum("The MSCommerce AllowSelfServicePurchase policy value of a product.")
class SelfServicePolicyValue(DescribedEnum):
    ENABLED = "enabled", "Users may buy and start trials."
    DISABLED = "disabled", "Neither purchases nor trials."
    ONLY_TRIALS_WITHOUT_PAYMENT_METHOD = (
        "only_trials_without_payment_method",
        "Trials that need no payment method only.",
    )


@graphql_enum("Where a license request stands: waiting for the admins, or decided.")
class LicenseRequestStatus(DescribedEnum):
    PENDING = "pending", "Waiting for an admin; one per user and product."
    APPROVED = "approved", "An admin approved it, assigning licenses from a subscription or not."
    DENIED = "denied", "An admin turned it down."


@graphql_enum("Kind of organization; government and education cannot buy self-service.")
class OrganizationType(DescribedEnum):
    COMMERCIAL = "commercial", "A business; may buy self-service."
    GOVERNMENT = "government", "Government; cannot buy self-service."
    EDUCATION = "education", "School or university; cannot buy self-service."
    NONPROFIT = "nonprofit", "A nonprofit; may buy self-service."


@graphql_enum("Member of the directory, or a guest from another organization.")
class UserType(DescribedEnum):
    MEMBER = "member", "A member of the organization."
    GUEST = "guest", "A guest invited from another organization."


@graphql_enum("Where a user account is mastered.")
class UserSource(DescribedEnum):
    CLOUD = "cloud", "Created in the cloud directory."
    SYNCED = "synced", "Synchronized from on-premises Active Directory."


@graphql_enum("Directory roles that matter to purchases.")
class DirectoryRole(DescribedEnum):
    GLOBAL_ADMIN = "global_admin", "Administers the whole tenant, including self-service policies and take-overs."
    BILLING_ADMIN = "billing_admin", "Manages purchases, subscriptions and licenses of the tenant."
    GLOBAL_READER = "global_reader", "Sees the whole tenant; changes nothing."


@graphql_enum("State of a delegated-admin (GDAP) relationship.")
class PartnerRelationshipStatus(DescribedEnum):
    ACTIVE = "active", "Grants its roles while inside its dates."
    EXPIRED = "expired", "Past its end date; grants nothing."
    TERMINATED = "terminated", "Ended before its end date; grants nothing."


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


describe_values(
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
describe_values(EligibilityReason, {reason: reason.value for reason in Reason})

CheckoutEligibilityReason = strawberry.enum(
    CheckoutReason,
    name="CheckoutEligibilityReason",
    description="What is known of a checkout before sign-in, from the catalogue and the email address alone.",
)
describe_values(CheckoutEligibilityReason, {reason: reason.value for reason in CheckoutReason})


def stored_values(members: Sequence[enum.Enum] | None) -> list[str] | None:
    """What a filter on an enum field compares: the database's values; None when it is not given."""
    return None if members is None else [cast(str, member.value) for member in members]
