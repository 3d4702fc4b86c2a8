"""The demo world: one of every kind of actor, tenant and subscription state (DOMAIN.md, "Demo world").

Ids come from ``demo_id`` so that a token minted for ``paula.purchaser@contoso.example`` today still
names the same user after the database is rebuilt; dates are taken relative to the moment of seeding
so that an "active" subscription is never found expired a year later and the lifecycle windows
(expired for 30 days, disabled for 90) hold whenever the playground starts.
"""

from __future__ import annotations

import calendar
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import asyncpg

from purchasegraph import catalogue
from purchasegraph.catalogue import MARKET_CURRENCY, list_price

DEMO_NAMESPACE = uuid.UUID("5b0c2f0e-6a4e-4c1e-9a51-7a3f0a9d2c11")


def demo_id(name: str) -> uuid.UUID:
    """Stable across rebuilds, so tokens, bookmarks and tests can name demo rows by id."""
    return uuid.uuid5(DEMO_NAMESPACE, name)


@dataclass(frozen=True)
class DemoUser:
    user_principal_name: str
    display_name: str
    tenant_domain: str
    actor: str


# ---------------------------------------------------------------------------------------------
# SQL

# Two processes seeding one fresh database at once: the second waits here, then finds Contoso.
SEED_LOCK_KEY = 0x70677364  # "pgsd"
LOCK_SEED = "SELECT pg_advisory_xact_lock($1)"
SELECT_TENANT_EXISTS = "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)"
SELECT_APP_NOW = "SELECT app_now()"

INSERT_TENANT = """
INSERT INTO tenants (id, name, primary_domain, managed, organization_type, country, currency, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
INSERT_USER = """
INSERT INTO users (tenant_id, id, display_name, user_principal_name, mail, user_type, source,
                   account_enabled, departed_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
INSERT_DIRECTORY_ROLE = """
INSERT INTO directory_roles (tenant_id, user_id, role, granted_at) VALUES ($1, $2, $3, $4)
"""
INSERT_PARTNER_RELATIONSHIP = """
INSERT INTO partner_relationships (tenant_id, id, partner_tenant_id, display_name, roles, status,
                                   starts_at, ends_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
INSERT_POLICY = """
INSERT INTO self_service_policies (tenant_id, product_id, value, updated_at, updated_by)
VALUES ($1, $2, $3, $4, $5)
"""
INSERT_PAYMENT_METHOD = """
INSERT INTO payment_methods (tenant_id, id, owner_user_id, kind, brand, last4, exp_month, exp_year,
                             processor_token, created_at, removed_at)
VALUES ($1, $2, $3, 'credit_card', $4, $5, $6, $7, $8, $9, $10)
"""
INSERT_SUBSCRIPTION = """
INSERT INTO subscriptions (tenant_id, id, product_id, channel, purchaser_user_id, controlled_by, quantity,
                           status, is_trial, term_start, expires_at, auto_renew, billing_frequency,
                           payment_method_id, unit_price, currency, created_at, canceled_at, cancel_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
"""
INSERT_ORDER = """
INSERT INTO orders (tenant_id, id, subscription_id, kind, actor_user_id, actor_tenant_id, quantity_delta,
                    quantity_after, unit_price, total, currency, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
"""
INSERT_ASSIGNMENT = """
INSERT INTO license_assignments (tenant_id, id, subscription_id, user_id, assigned_by, assigned_at,
                                 removed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
INSERT_INVOICE = """
INSERT INTO invoices (tenant_id, id, subscription_id, billed_user_id, period_start, period_end, amount,
                      currency, status, due_date, paid_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""
INSERT_CANCELLATION_REQUEST = """
INSERT INTO cancellation_requests (tenant_id, id, subscription_id, requested_by, requested_by_tenant_id,
                                   message, status, created_at, resolved_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
INSERT_LICENSE_REQUEST = """
INSERT INTO license_requests (tenant_id, id, product_id, requester_user_id, for_user_ids, status,
                              created_at, decided_by, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""
INSERT_NOTIFICATION = """
INSERT INTO notifications (tenant_id, id, user_id, kind, subject_id, message, created_at, read_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
"""
# details goes in as text: correct whether or not the connection has a jsonb codec installed.
INSERT_AUDIT_EVENT = """
INSERT INTO audit_events (tenant_id, actor_user_id, actor_tenant_id, on_behalf_of_tenant_id, action,
                          target_type, target_id, request_id, details, occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10)
"""

# ---------------------------------------------------------------------------------------------
# Catalogue

# The catalogue is shipped reference data (migration 0019, from purchasegraph.catalogue): the
# seed reads its ids and prices and inserts none of it.
POWER_APPS_PER_USER = catalogue.POWER_APPS_PER_USER
POWER_AUTOMATE_PER_USER = catalogue.POWER_AUTOMATE_PER_USER
POWER_AUTOMATE_RPA = catalogue.POWER_AUTOMATE_RPA
POWER_BI_PREMIUM = catalogue.POWER_BI_PREMIUM
POWER_BI_PRO = catalogue.POWER_BI_PRO
PROJECT_PLAN_3 = catalogue.PROJECT_PLAN_3
VISIO_PLAN_1 = catalogue.VISIO_PLAN_1
VISIO_PLAN_2 = catalogue.VISIO_PLAN_2


# ---------------------------------------------------------------------------------------------
# Tenants and users

CONTOSO = "contoso.example"
WOODGROVE = "woodgrove.example"
FABRIKAM = "fabrikam.example"
TAILSPIN = "tailspin.example"
NORTHWIND_SCHOOL = "northwind-school.example"
CITY_OF_SAMPLE = "cityofsample.example"
VIRAL = "viral.example"
ADATUM = "adatum-partners.example"
LITWARE = "litware-partners.example"
KINSHASA = "kinshasa-traders.example"
PROSEWARE = "proseware-partners.example"


@dataclass(frozen=True)
class _Tenant:
    domain: str
    name: str
    organization_type: str
    country: str
    managed: bool = True
    created_days_ago: int = 2000

    @property
    def currency(self) -> str:
        return MARKET_CURRENCY[self.country]


_TENANTS = (
    _Tenant(CONTOSO, "Contoso", "commercial", "US"),
    _Tenant(WOODGROVE, "Woodgrove Bank", "commercial", "DE"),
    _Tenant(FABRIKAM, "Fabrikam Brasil", "commercial", "BR"),
    _Tenant(TAILSPIN, "Tailspin Toys India", "commercial", "IN"),
    _Tenant(NORTHWIND_SCHOOL, "Northwind School", "education", "GB"),
    _Tenant(CITY_OF_SAMPLE, "City of Sample", "government", "US"),
    # Created by a self-service sign-up, not by an admin: no one manages it.
    _Tenant(VIRAL, "Viral Signups", "commercial", "US", managed=False, created_days_ago=60),
    _Tenant(ADATUM, "Adatum Partners", "commercial", "US"),
    _Tenant(LITWARE, "Litware Partners", "commercial", "US"),
    # Rule 2: Project and Visio are not sold in the Democratic Republic of the Congo.
    _Tenant(KINSHASA, "Kinshasa Traders", "commercial", "CD"),
    # A partner whose grant only reads (issue 13).
    _Tenant(PROSEWARE, "Proseware Partners", "commercial", "US"),
)
_TENANT_BY_DOMAIN = {t.domain: t for t in _TENANTS}


@dataclass(frozen=True)
class _Account:
    user: DemoUser
    roles: tuple[str, ...] = ()
    mail: str | None = None
    guest: bool = False
    synced: bool = False
    departed_days_ago: int | None = None
    created_days_ago: int = 1500


def _member(upn: str, name: str, actor: str, **extra: Any) -> _Account:
    return _Account(DemoUser(upn, name, upn.partition("@")[2], actor), **extra)


ALEX = "alex.admin@contoso.example"
BEA = "bea.billing@contoso.example"
RITA = "rita.reader@contoso.example"
PAULA = "paula.purchaser@contoso.example"
PETE = "pete.purchaser@contoso.example"
SAM = "sam.synced@contoso.example"
DANA = "dana.departed@contoso.example"
LEE = "lee.licensed@contoso.example"
MIA = "mia.martin@contoso.example"
NOAH = "noah.novak@contoso.example"
OLIVIA = "olivia.ortiz@contoso.example"
RAJ = "raj.rao@contoso.example"
TESS = "tess.tan@contoso.example"
UNA = "una.unlicensed@contoso.example"
GUS = "gus_fabrikam.example#EXT#@contoso.example"
WILL = "will.admin@woodgrove.example"
PETRA = "petra.purchaser@woodgrove.example"
OLGA = "olga.outsider@woodgrove.example"
BRUNO = "bruno@fabrikam.example"
INES = "ines@tailspin.example"
ED = "ed@northwind-school.example"
GAIL = "gail@cityofsample.example"
VIC = "vic@viral.example"
PAT = "pat.partner@adatum-partners.example"
LIA = "lia.partner@litware-partners.example"
KOFI = "kofi.admin@kinshasa-traders.example"
AMANI = "amani@kinshasa-traders.example"
ROSA = "rosa.partner@proseware-partners.example"

_ACCOUNTS = (
    _member(ALEX, "Alex Admin", "global_admin", roles=("global_admin",)),
    _member(BEA, "Bea Billing", "billing_admin", roles=("billing_admin",)),
    _member(RITA, "Rita Reader", "global_reader", roles=("global_reader",)),
    _member(PAULA, "Paula Purchaser", "purchaser"),
    _member(PETE, "Pete Purchaser", "purchaser"),
    _member(SAM, "Sam Synced", "synced_user", synced=True),
    _member(DANA, "Dana Departed", "departed_user", departed_days_ago=20),
    _member(LEE, "Lee Licensed", "licensed_user"),
    _member(MIA, "Mia Martin", "licensed_user"),
    _member(NOAH, "Noah Novak", "licensed_user"),
    _member(OLIVIA, "Olivia Ortiz", "licensed_user"),
    _member(RAJ, "Raj Rao", "licensed_user"),
    _member(TESS, "Tess Tan", "licensed_user"),
    # A plain member with neither roles nor licenses: what "nothing to see" looks like from inside.
    _member(UNA, "Una Unlicensed", "licensed_user"),
    _Account(
        DemoUser(GUS, "Gus Guest", CONTOSO, "guest"),
        mail="gus@fabrikam.example",
        guest=True,
        created_days_ago=300,
    ),
    _member(WILL, "Will Admin", "outsider", roles=("global_admin",)),
    _member(PETRA, "Petra Purchaser", "outsider"),
    _member(OLGA, "Olga Outsider", "outsider"),
    _member(BRUNO, "Bruno Barros", "outsider"),
    _member(INES, "Ines Iyer", "outsider"),
    _member(ED, "Ed Evans", "outsider"),
    _member(GAIL, "Gail Green", "outsider"),
    _member(VIC, "Vic Viral", "outsider", created_days_ago=60),
    _member(PAT, "Pat Partner", "partner_active"),
    _member(LIA, "Lia Partner", "partner_expired"),
    _member(KOFI, "Kofi Admin", "outsider", roles=("global_admin",)),
    _member(AMANI, "Amani Mbuyi", "outsider"),
    _member(ROSA, "Rosa Partner", "partner_reader"),
)
_ACCOUNT_BY_UPN = {a.user.user_principal_name: a for a in _ACCOUNTS}

DEMO_USERS: tuple[DemoUser, ...] = tuple(a.user for a in _ACCOUNTS)


def demo_tenant_id(domain: str) -> uuid.UUID:
    return demo_id(f"tenant:{domain}")


def demo_user_id(upn: str) -> uuid.UUID:
    return demo_id(f"user:{upn}")


def _home_tenant_id(upn: str) -> uuid.UUID:
    return demo_tenant_id(_ACCOUNT_BY_UPN[upn].user.tenant_domain)


_CONTOSO_ID = demo_tenant_id(CONTOSO)

# ---------------------------------------------------------------------------------------------
# Building the rows

Row = tuple[Any, ...]
Period = tuple[date, date]


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def _at(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _monthly_periods(anchor: date, first: int, last: int) -> list[Period]:
    # Every period start is computed from one anchor, so month-end clamping never drifts the
    # current period away from the anchor the caller chose.
    starts = [_add_months(anchor, offset) for offset in range(first, last + 2)]
    return [(start, following - timedelta(days=1)) for start, following in pairwise(starts)]


@dataclass(frozen=True)
class _Term:
    start: datetime
    expires: datetime
    periods: list[Period]


@dataclass
class _Subscription:
    label: str
    tenant_id: uuid.UUID
    id: uuid.UUID
    purchaser_id: uuid.UUID | None
    unit_price: Decimal
    currency: str
    quantity_history: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def quantity(self) -> int:
        return self.quantity_history[-1][1] if self.quantity_history else 0

    def quantity_on(self, day: date) -> int:
        known = [quantity for at, quantity in self.quantity_history if at.date() <= day]
        return known[-1] if known else 0


class _World:
    """Collects the rows of every table, so the whole world is inserted with one executemany each."""

    def __init__(self, now: datetime) -> None:
        self.today = now.date()
        self.tenants: list[Row] = []
        self.users: list[Row] = []
        self.directory_roles: list[Row] = []
        self.partner_relationships: list[Row] = []
        self.policies: list[Row] = []
        self.payment_methods: list[Row] = []
        self.orders: list[Row] = []
        self.assignments: list[Row] = []
        self.invoices: list[Row] = []
        self.cancellation_requests: list[Row] = []
        self.license_requests: list[Row] = []
        self.notifications: list[Row] = []
        self.audit_events: list[Row] = []
        self._cards: dict[str, uuid.UUID] = {}
        self._subscription_rows: dict[str, list[Any]] = {}

    def batches(self) -> list[tuple[str, list[Row]]]:
        # Foreign-key order; audit events by time so their identity ids read chronologically.
        return [
            (INSERT_TENANT, self.tenants),
            (INSERT_USER, self.users),
            (INSERT_DIRECTORY_ROLE, self.directory_roles),
            (INSERT_PARTNER_RELATIONSHIP, self.partner_relationships),
            (INSERT_POLICY, self.policies),
            (INSERT_PAYMENT_METHOD, self.payment_methods),
            (INSERT_SUBSCRIPTION, [tuple(row) for row in self._subscription_rows.values()]),
            (INSERT_ORDER, self.orders),
            (INSERT_ASSIGNMENT, self.assignments),
            (INSERT_INVOICE, self.invoices),
            (INSERT_CANCELLATION_REQUEST, self.cancellation_requests),
            (INSERT_LICENSE_REQUEST, self.license_requests),
            (INSERT_NOTIFICATION, self.notifications),
            (INSERT_AUDIT_EVENT, sorted(self.audit_events, key=lambda row: row[-1])),
        ]

    # -- time

    def days_ago(self, days: int, hour: int = 9) -> datetime:
        return _at(self.today - timedelta(days=days), hour)

    def days_ahead(self, days: int, hour: int = 9) -> datetime:
        return _at(self.today + timedelta(days=days), hour)

    def running_term(self, months: int, days_into_period: int) -> _Term:
        """An annual term ``months`` into its year, its current monthly period ``days_into_period`` old."""
        anchor = self.today - timedelta(days=days_into_period)
        periods = _monthly_periods(anchor, -months, 0)
        return _Term(_at(periods[0][0]), _at(_add_months(anchor, 12 - months)), periods)

    def ended_term(self, days_ago: int) -> _Term:
        """An annual term that reached its end date ``days_ago`` days ago without renewing."""
        end = self.today - timedelta(days=days_ago)
        start = _add_months(end, -12)
        return _Term(_at(start), _at(end), _monthly_periods(start, 0, 11))

    # -- directory

    def tenant(self, tenant: _Tenant) -> None:
        self.tenants.append(
            (
                demo_tenant_id(tenant.domain),
                tenant.name,
                tenant.domain,
                tenant.managed,
                tenant.organization_type,
                tenant.country,
                tenant.currency,
                self.days_ago(tenant.created_days_ago),
            )
        )

    def user(self, account: _Account) -> None:
        upn = account.user.user_principal_name
        tenant_id = demo_tenant_id(account.user.tenant_domain)
        departed = None if account.departed_days_ago is None else self.today - timedelta(days=account.departed_days_ago)
        self.users.append(
            (
                tenant_id,
                demo_user_id(upn),
                account.user.display_name,
                upn,
                account.mail or upn,
                "guest" if account.guest else "member",
                "synced" if account.synced else "cloud",
                departed is None,
                departed,
                self.days_ago(account.created_days_ago),
            )
        )
        for role in account.roles:
            self.directory_roles.append((tenant_id, demo_user_id(upn), role, self.days_ago(1400)))

    def partner(
        self, customer: str, partner: str, roles: list[str], status: str, starts: datetime, ends: datetime
    ) -> None:
        name = f"{_TENANT_BY_DOMAIN[partner].name} for {_TENANT_BY_DOMAIN[customer].name}"
        self.partner_relationships.append(
            (
                demo_tenant_id(customer),
                demo_id(f"partner_relationship:{partner}->{customer}"),
                demo_tenant_id(partner),
                name,
                roles,
                status,
                starts,
                ends,
                starts,
            )
        )

    # -- policy

    def policy(self, domain: str, product_id: str, value: str, by: str, at: datetime, previous: str | None) -> None:
        """``previous`` is None where the tenant had no row yet, i.e. the implicit default."""
        tenant_id = demo_tenant_id(domain)
        self.policies.append((tenant_id, product_id, value, at, demo_user_id(by)))
        self.audit(
            tenant_id,
            by,
            "self_service_policy.update",
            "self_service_policy",
            product_id,
            at,
            {"product_id": product_id, "old_value": previous, "new_value": value},
        )

    def payment_method(
        self,
        upn: str,
        brand: str,
        last4: str,
        expires: tuple[int, int],
        added: datetime,
        *,
        key: str = "current",
        removed: datetime | None = None,
    ) -> None:
        """``expires`` is (month, years from now), so no demo card is ever already out of date."""
        method_id = demo_id(f"payment_method:{upn}:{key}")
        if removed is None:
            self._cards[upn] = method_id
        exp_month, exp_years_ahead = expires
        # What the (sandbox) processor hands back; the card number itself never reaches us.
        reference = f"tok_sandbox_{upn.partition('@')[0].replace('.', '_')}_{brand}_{last4}"
        self.payment_methods.append(
            (
                _home_tenant_id(upn),
                method_id,
                demo_user_id(upn),
                brand,
                last4,
                exp_month,
                self.today.year + exp_years_ahead,
                reference,
                added,
                removed,
            )
        )

    # -- subscriptions

    def subscription(
        self,
        label: str,
        *,
        domain: str,
        product_id: str,
        status: str,
        term: _Term,
        purchaser: str | None = None,
        is_trial: bool = False,
        auto_renew: bool = True,
        billing_frequency: str = "monthly",
    ) -> _Subscription:
        tenant = _TENANT_BY_DOMAIN[domain]
        channel = "self_service" if purchaser else "central"
        # A trial carries the price it converts at, as startTrial writes it: only its order is free.
        unit_price = list_price(product_id, tenant.country, channel)
        sub = _Subscription(
            label,
            demo_tenant_id(domain),
            demo_id(f"subscription:{label}"),
            demo_user_id(purchaser) if purchaser else None,
            unit_price,
            tenant.currency,
        )
        # A list, not a tuple: orders, take-overs and cancellations below update it in place.
        self._subscription_rows[label] = [
            sub.tenant_id,
            sub.id,
            product_id,
            channel,
            sub.purchaser_id,
            "purchaser" if purchaser else "admins",
            0,
            status,
            is_trial,
            term.start,
            term.expires,
            auto_renew,
            billing_frequency,
            # Paid self-service is charged to the purchaser's card on file; trials here need none.
            self._cards[purchaser] if purchaser and not is_trial else None,
            unit_price,
            tenant.currency,
            term.start,
            None,
            None,
        ]
        return sub

    def order(self, sub: _Subscription, kind: str, actor: str, delta: int, at: datetime) -> None:
        quantity_after = sub.quantity + delta
        # As the live mutations write them: a trial's order and a removal are free (nothing is
        # refunded), at the trial's price of nothing and at the subscription's price respectively.
        charged = kind in {"purchase", "add_licenses", "renew", "reactivate"}
        total = sub.unit_price * abs(delta) if charged else Decimal("0.00")
        unit_price = Decimal("0.00") if kind == "trial" else sub.unit_price
        number = len(sub.quantity_history) + 1
        actor_tenant_id = _home_tenant_id(actor)
        self.orders.append(
            (
                sub.tenant_id,
                demo_id(f"order:{sub.label}:{number}"),
                sub.id,
                kind,
                demo_user_id(actor),
                actor_tenant_id,
                delta,
                quantity_after,
                unit_price,
                total,
                sub.currency,
                at,
            )
        )
        sub.quantity_history.append((at, quantity_after))
        row = self._subscription_rows[sub.label]
        row[6] = quantity_after
        if kind == "take_over":
            row[5] = "admins"
        self.audit(
            sub.tenant_id,
            actor,
            f"subscription.{kind}",
            "subscription",
            str(sub.id),
            at,
            {"quantity_delta": delta, "quantity_after": quantity_after},
        )

    def cancel(self, sub: _Subscription, actor: str, at: datetime, reason: str) -> None:
        """Canceling keeps the license count on record; the status says the licenses are gone."""
        self.order(sub, "cancel", actor, 0, at)
        row = self._subscription_rows[sub.label]
        row[10], row[17], row[18] = at, at, reason

    def assign(self, sub: _Subscription, upn: str, by: str, at: datetime, removed: datetime | None = None) -> None:
        if _home_tenant_id(upn) != sub.tenant_id:
            raise ValueError(f"{upn} is not in the tenant of {sub.label}")
        assignment_id = demo_id(f"assignment:{sub.label}:{upn}")
        self.assignments.append(
            (sub.tenant_id, assignment_id, sub.id, demo_user_id(upn), demo_user_id(by), at, removed)
        )
        details = {"subscription_id": str(sub.id), "user_id": str(demo_user_id(upn))}
        self.audit(sub.tenant_id, by, "license.assign", "license_assignment", str(assignment_id), at, details)
        if removed is not None:
            self.audit(
                sub.tenant_id,
                by,
                "license.unassign",
                "license_assignment",
                str(assignment_id),
                removed,
                details,
            )

    def bill(self, sub: _Subscription, periods: list[Period], last_status: str = "paid") -> uuid.UUID:
        """Monthly invoices to the purchaser; cards are charged on the period's first day.

        Returns the id of the latest invoice, the one ``last_status`` applies to.
        """
        ids = [demo_id(f"invoice:{sub.label}:{number}") for number in range(len(periods))]
        for invoice_id, (start, end) in zip(ids, periods, strict=True):
            status = last_status if invoice_id == ids[-1] else "paid"
            self.invoices.append(
                (
                    sub.tenant_id,
                    invoice_id,
                    sub.id,
                    sub.purchaser_id,
                    start,
                    end,
                    sub.unit_price * sub.quantity_on(start),
                    sub.currency,
                    status,
                    start + timedelta(days=7),
                    _at(start, 10) if status == "paid" else None,
                )
            )
        return ids[-1]

    # -- requests, notices, audit

    def audit(
        self,
        tenant_id: uuid.UUID,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        at: datetime,
        details: dict[str, Any],
    ) -> None:
        actor_tenant_id = _home_tenant_id(actor)
        on_behalf_of = tenant_id if actor_tenant_id != tenant_id else None
        request_id = f"seed:{action}:{target_id}"
        self.audit_events.append(
            (
                tenant_id,
                demo_user_id(actor),
                actor_tenant_id,
                on_behalf_of,
                action,
                target_type,
                target_id,
                request_id,
                json.dumps(details, sort_keys=True),
                at,
            )
        )

    def notify(
        self,
        key: str,
        upn: str,
        kind: str,
        subject_id: uuid.UUID | None,
        message: str,
        at: datetime,
        read: datetime | None = None,
    ) -> None:
        self.notifications.append(
            (
                _home_tenant_id(upn),
                demo_id(f"notification:{key}"),
                demo_user_id(upn),
                kind,
                subject_id,
                message,
                at,
                read,
            )
        )


# ---------------------------------------------------------------------------------------------
# The world itself


def _directory(w: _World) -> None:
    for tenant in _TENANTS:
        w.tenant(tenant)
    for account in _ACCOUNTS:
        w.user(account)
    # Adatum may act for Contoso now; its Woodgrove relationship ran its full two years and lapsed.
    w.partner(CONTOSO, ADATUM, ["global_admin"], "active", w.days_ago(100), w.days_ahead(265))
    w.partner(WOODGROVE, ADATUM, ["global_reader"], "expired", w.days_ago(800), w.days_ago(70))
    w.partner(CONTOSO, LITWARE, ["billing_admin"], "expired", w.days_ago(370), w.days_ago(5))
    # Ended by the customer before its end date: the dates alone would still call it current.
    w.partner(FABRIKAM, LITWARE, ["global_reader"], "terminated", w.days_ago(200), w.days_ahead(165))
    # Proseware reads for Kinshasa Traders and may change nothing there: a reader-only grant.
    w.partner(KINSHASA, PROSEWARE, ["global_reader"], "active", w.days_ago(30), w.days_ahead(335))


def _policies(w: _World) -> None:
    # Enabled is also the default; the explicit row records that an admin decided it.
    w.policy(CONTOSO, POWER_BI_PRO, "enabled", ALEX, w.days_ago(60, 14), previous=None)
    w.policy(CONTOSO, PROJECT_PLAN_3, "disabled", ALEX, w.days_ago(45, 14), previous="enabled")
    w.policy(
        CONTOSO,
        VISIO_PLAN_1,
        "only_trials_without_payment_method",
        ALEX,
        w.days_ago(30, 14),
        previous="enabled",
    )
    w.policy(WOODGROVE, POWER_APPS_PER_USER, "disabled", WILL, w.days_ago(90, 11), previous="enabled")


def _contoso(w: _World) -> None:
    w.payment_method(PAULA, "visa", "4242", (8, 2), w.days_ago(90))
    w.payment_method(PAULA, "mastercard", "5454", (3, 1), w.days_ago(400), key="replaced", removed=w.days_ago(90))
    w.payment_method(PETE, "mastercard", "4444", (11, 3), w.days_ago(500))
    w.payment_method(SAM, "visa", "1881", (6, 1), w.days_ago(500))
    w.payment_method(DANA, "amex", "8431", (1, 2), w.days_ago(300))

    # Paula: the everyday purchaser, one bill still open.
    term = w.running_term(months=5, days_into_period=3)
    pbi = w.subscription(
        "paula-power-bi-pro",
        domain=CONTOSO,
        product_id=POWER_BI_PRO,
        status="active",
        term=term,
        purchaser=PAULA,
    )
    w.order(pbi, "purchase", PAULA, 6, term.start)
    w.order(pbi, "add_licenses", PAULA, 4, w.days_ago(80, 10))
    w.assign(pbi, LEE, PAULA, term.start + timedelta(hours=1))
    w.assign(pbi, MIA, PAULA, term.start + timedelta(days=1))
    w.assign(pbi, NOAH, PAULA, term.start + timedelta(days=1, hours=1))
    w.assign(pbi, RAJ, PAULA, term.start + timedelta(days=2), removed=w.days_ago(30, 15))
    w.assign(pbi, OLIVIA, PAULA, w.days_ago(79, 11))
    w.assign(pbi, GUS, PAULA, w.days_ago(40, 16))
    w.bill(pbi, term.periods, last_status="open")

    term = w.running_term(months=3, days_into_period=9)
    apps = w.subscription(
        "paula-power-apps",
        domain=CONTOSO,
        product_id=POWER_APPS_PER_USER,
        status="active",
        term=term,
        purchaser=PAULA,
    )
    w.order(apps, "purchase", PAULA, 5, term.start)
    w.assign(apps, LEE, PAULA, term.start + timedelta(hours=2))
    w.assign(apps, TESS, PAULA, term.start + timedelta(hours=3))
    w.bill(apps, term.periods)

    # Pete: one subscription in each of trial, expired and deleted, plus an active one he shrank.
    term = w.running_term(months=4, days_into_period=20)
    flows = w.subscription(
        "pete-power-automate",
        domain=CONTOSO,
        product_id=POWER_AUTOMATE_PER_USER,
        status="active",
        term=term,
        purchaser=PETE,
    )
    w.order(flows, "purchase", PETE, 4, term.start)
    w.order(flows, "remove_licenses", PETE, -1, w.days_ago(50, 13))
    w.assign(flows, RAJ, PETE, term.start + timedelta(days=1))
    w.bill(flows, term.periods)

    trial_start = w.days_ago(10, 16)
    trial = _Term(trial_start, trial_start + timedelta(days=30), [])
    visio = w.subscription(
        "pete-visio-plan-1-trial",
        domain=CONTOSO,
        product_id=VISIO_PLAN_1,
        status="trial",
        term=trial,
        purchaser=PETE,
        is_trial=True,
        auto_renew=False,
    )
    w.order(visio, "trial", PETE, 1, trial_start)  # startTrial grants one license, to whoever starts it
    w.assign(visio, PETE, PETE, trial_start + timedelta(minutes=5))

    # Bought a year before Alex disabled Project: the policy change left it alone until it ran out.
    term = w.ended_term(days_ago=10)
    project = w.subscription(
        "pete-project-plan-3-expired",
        domain=CONTOSO,
        product_id=PROJECT_PLAN_3,
        status="expired",
        term=term,
        purchaser=PETE,
        auto_renew=False,
    )
    w.order(project, "purchase", PETE, 2, term.start)
    w.assign(project, PETE, PETE, term.start + timedelta(hours=1))
    w.assign(project, OLIVIA, PETE, term.start + timedelta(days=1))
    w.bill(project, term.periods)

    term = w.running_term(months=4, days_into_period=15)
    canceled = w.days_ago(25, 12)
    rpa = w.subscription(
        "pete-power-automate-rpa-deleted",
        domain=CONTOSO,
        product_id=POWER_AUTOMATE_RPA,
        status="deleted",
        term=term,
        purchaser=PETE,
        auto_renew=False,
    )
    w.order(rpa, "purchase", PETE, 1, term.start)
    w.assign(rpa, PETE, PETE, term.start + timedelta(hours=1), removed=canceled)
    w.cancel(rpa, PETE, canceled, "The automation pilot ended.")
    w.bill(rpa, [p for p in term.periods if p[0] <= canceled.date()])

    # Sam (synced from on-premises AD) let his Visio lapse 40 days ago: disabled, data for admins only.
    term = w.ended_term(days_ago=40)
    visio2 = w.subscription(
        "sam-visio-plan-2-disabled",
        domain=CONTOSO,
        product_id=VISIO_PLAN_2,
        status="disabled",
        term=term,
        purchaser=SAM,
        auto_renew=False,
    )
    w.order(visio2, "purchase", SAM, 1, term.start)
    w.assign(visio2, SAM, SAM, term.start + timedelta(minutes=10))
    w.bill(visio2, term.periods)

    # Dana left 20 days ago: her subscriptions keep running (rule 11); her card no longer pays.
    term = w.running_term(months=6, days_into_period=12)
    premium = w.subscription(
        "dana-power-bi-premium",
        domain=CONTOSO,
        product_id=POWER_BI_PREMIUM,
        status="active",
        term=term,
        purchaser=DANA,
    )
    w.order(premium, "purchase", DANA, 2, term.start)
    w.assign(premium, TESS, DANA, term.start + timedelta(days=1))
    unpaid_invoice = w.bill(premium, term.periods, last_status="past_due")

    term = w.running_term(months=7, days_into_period=25)
    taken = w.subscription(
        "dana-power-apps-taken-over",
        domain=CONTOSO,
        product_id=POWER_APPS_PER_USER,
        status="active",
        term=term,
        purchaser=DANA,
    )
    w.order(taken, "purchase", DANA, 3, term.start)
    w.assign(taken, NOAH, DANA, term.start + timedelta(days=1))
    w.bill(taken, term.periods)
    take_over_at = w.days_ago(8, 10)
    w.order(taken, "take_over", ALEX, 0, take_over_at)

    requested_at = w.days_ago(7, 11)
    request_id = demo_id("cancellation_request:dana-power-bi-premium")
    w.cancellation_requests.append(
        (
            premium.tenant_id,
            request_id,
            premium.id,
            demo_user_id(ALEX),
            _CONTOSO_ID,
            "Dana has left Contoso. Please cancel this subscription so its users can move to licenses "
            "the company bought centrally.",
            "pending",
            requested_at,
            None,
        )
    )
    w.audit(
        _CONTOSO_ID,
        ALEX,
        "cancellation_request.create",
        "cancellation_request",
        str(request_id),
        requested_at,
        {"subscription_id": str(premium.id)},
    )
    w.notify(
        "dana-cancellation-requested",
        DANA,
        "cancellation_requested",
        request_id,
        "Alex Admin asked you to cancel your Power BI Premium per user subscription.",
        requested_at,
    )
    w.notify(
        "dana-taken-over",
        DANA,
        "subscription_taken_over",
        taken.id,
        "Your admins took control of your Power Apps per user subscription.",
        take_over_at,
    )
    w.notify(
        "dana-invoice-past-due",
        DANA,
        "invoice_past_due",
        unpaid_invoice,
        "Your Power BI Premium per user bill is past due.",
        w.days_ago(4, 8),
    )

    # Bought by the admins (and, once, by the partner acting for Contoso), billed to the company.
    term = w.running_term(months=10, days_into_period=5)
    central_pbi = w.subscription(
        "contoso-central-power-bi-pro",
        domain=CONTOSO,
        product_id=POWER_BI_PRO,
        status="active",
        term=term,
        billing_frequency="annual",
    )
    w.order(central_pbi, "purchase", ALEX, 40, term.start)
    w.order(central_pbi, "add_licenses", PAT, 10, w.days_ago(40, 15))
    for hours, upn in enumerate((ALEX, BEA, RITA, PAULA, PETE, SAM), start=1):
        w.assign(central_pbi, upn, ALEX, term.start + timedelta(hours=hours))

    term = w.running_term(months=8, days_into_period=14)
    central_apps = w.subscription(
        "contoso-central-power-apps",
        domain=CONTOSO,
        product_id=POWER_APPS_PER_USER,
        status="active",
        term=term,
        billing_frequency="annual",
    )
    w.order(central_apps, "purchase", BEA, 20, term.start)
    for hours, upn in enumerate((ALEX, MIA, RAJ), start=1):
        w.assign(central_apps, upn, BEA, term.start + timedelta(hours=hours))

    # Project is disabled, so Lee asks instead of buying; Noah asked earlier and was turned down.
    lee_request = demo_id("license_request:lee-project-plan-3")
    w.license_requests.append(
        (
            _CONTOSO_ID,
            lee_request,
            PROJECT_PLAN_3,
            demo_user_id(LEE),
            [demo_user_id(LEE), demo_user_id(MIA)],
            "pending",
            w.days_ago(6, 9),
            None,
            None,
        )
    )
    w.notify(
        "alex-license-requested",
        ALEX,
        "license_requested",
        lee_request,
        "Lee Licensed requested Project Plan 3 for 2 users.",
        w.days_ago(6, 9),
    )
    # Mia is named in Lee's request: told of it as requestLicense tells a named colleague.
    w.notify(
        "mia-license-requested-for-you",
        MIA,
        "license_requested_for_you",
        lee_request,
        "Lee Licensed asked the admins for Project Plan 3 for you.",
        w.days_ago(6, 9),
    )
    noah_request = demo_id("license_request:noah-project-plan-3")
    denied_at = w.days_ago(28, 10)
    w.license_requests.append(
        (
            _CONTOSO_ID,
            noah_request,
            PROJECT_PLAN_3,
            demo_user_id(NOAH),
            [demo_user_id(NOAH)],
            "denied",
            w.days_ago(30, 9),
            demo_user_id(ALEX),
            denied_at,
        )
    )
    w.audit(
        _CONTOSO_ID,
        ALEX,
        "license_request.deny",
        "license_request",
        str(noah_request),
        denied_at,
        {"product_id": PROJECT_PLAN_3},
    )
    w.notify(
        "noah-license-request-denied",
        NOAH,
        "license_request_denied",
        noah_request,
        "Your request for Project Plan 3 was denied.",
        denied_at,
        read=w.days_ago(27, 9),
    )


def _other_customers(w: _World) -> None:
    w.payment_method(PETRA, "mastercard", "5100", (9, 2), w.days_ago(200))
    term = w.running_term(months=2, days_into_period=5)
    pbi = w.subscription(
        "woodgrove-petra-power-bi-pro",
        domain=WOODGROVE,
        product_id=POWER_BI_PRO,
        status="active",
        term=term,
        purchaser=PETRA,
    )
    w.order(pbi, "purchase", PETRA, 3, term.start)
    w.assign(pbi, PETRA, PETRA, term.start + timedelta(minutes=5))
    w.assign(pbi, OLGA, PETRA, term.start + timedelta(days=3))
    w.bill(pbi, term.periods)

    term = w.running_term(months=1, days_into_period=18)
    visio = w.subscription(
        "woodgrove-petra-visio-plan-2",
        domain=WOODGROVE,
        product_id=VISIO_PLAN_2,
        status="active",
        term=term,
        purchaser=PETRA,
    )
    w.order(visio, "purchase", PETRA, 2, term.start)
    w.assign(visio, PETRA, PETRA, term.start + timedelta(minutes=5))
    w.bill(visio, term.periods)

    # Power Apps is disabled for self-service at Woodgrove; buying it centrally is unaffected.
    term = w.running_term(months=6, days_into_period=10)
    apps = w.subscription(
        "woodgrove-central-power-apps",
        domain=WOODGROVE,
        product_id=POWER_APPS_PER_USER,
        status="active",
        term=term,
        billing_frequency="annual",
    )
    w.order(apps, "purchase", WILL, 10, term.start)
    w.assign(apps, WILL, WILL, term.start + timedelta(hours=1))
    w.assign(apps, OLGA, WILL, term.start + timedelta(hours=2))

    w.payment_method(BRUNO, "visa", "1111", (4, 3), w.days_ago(100))
    term = w.running_term(months=2, days_into_period=7)
    fabrikam = w.subscription(
        "fabrikam-bruno-power-bi-pro",
        domain=FABRIKAM,
        product_id=POWER_BI_PRO,
        status="active",
        term=term,
        purchaser=BRUNO,
    )
    w.order(fabrikam, "purchase", BRUNO, 2, term.start)
    w.assign(fabrikam, BRUNO, BRUNO, term.start + timedelta(minutes=5))
    w.bill(fabrikam, term.periods)


def _build_demo_world(now: datetime) -> _World:
    world = _World(now)
    _directory(world)
    _policies(world)
    _contoso(world)
    _other_customers(world)
    return world


async def seed_demo_world(conn: asyncpg.Connection) -> bool:
    """Insert the demo world in one transaction; return False (and do nothing) if it is already there."""
    async with conn.transaction():
        await conn.execute(LOCK_SEED, SEED_LOCK_KEY)
        if await conn.fetchval(SELECT_TENANT_EXISTS, _CONTOSO_ID):
            return False
        # The app clock's date, so a server or suite on PURCHASEGRAPH_TODAY gets a world of that day.
        now: datetime = await conn.fetchval(SELECT_APP_NOW)
        for sql, rows in _build_demo_world(now.astimezone(UTC)).batches():
            await conn.executemany(sql, rows)
    return True
