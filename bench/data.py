"""The benchmark's world: the demo seed plus one large customer, Northwind Traders.

    python bench/data.py [--data-dir DIR]

The demo seed holds a dozen subscriptions, where every query is fast whatever the gateway does.
A benchmark needs the sizes at which N+1 queries, missing indexes and unbounded pages show, so
Northwind (a managed commercial tenant in the US, eligible for self-service like Contoso) gets
20,000 users, 2 global admins and a billing admin, 12 purchasers with their cards, and 2,000
self-service subscriptions over the seeded products, each with 10 orders, up to 25 licenses,
an invoice per charged order and the audit trail the app would have written. A partner tenant,
Contoso Partners, holds an active delegated-admin relationship with it. The seeded tenants are
left as they are, so the demo users (and their tokens) still work against a bench database.

Deterministic: ids are uuid5 of names (``demo_id``, as in the seed), every choice comes from one
seeded ``random.Random``, and dates are whole days relative to the day of the build, as in the
seed, so that an active subscription is not found expired when the benchmark runs: two builds
on the same day give identical rows, two builds on any day give identical ids.

Fast: rows are made in Python and loaded with COPY in one transaction, and ANALYZEd (see
ANALYZE_REFERENCED for why partly during the load). Idempotent: a database that already has
Northwind is only described, never loaded twice.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import json
import random
import sys
import tempfile
import time as clock
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from purchasegraph.db.embedded import start_embedded_server
from purchasegraph.db.migrate import migrate
from purchasegraph.demo.actors import demo_id, demo_tenant_id, demo_user_id
from purchasegraph.demo.world import seed_demo_world

# ---------------------------------------------------------------------------------------------
# The shape of the world

SEED = 20_260_005  # any constant: it fixes every random choice below
NORTHWIND = "northwind.example"
PARTNERS = "contoso-partners.example"
NORTHWIND_ID = demo_tenant_id(NORTHWIND)
PARTNERS_ID = demo_tenant_id(PARTNERS)
MARKET, CURRENCY = "US", "USD"

USER_COUNT = 20_000
SUBSCRIPTION_COUNT = 2_000
ORDERS_PER_SUBSCRIPTION = 10
MAX_ASSIGNMENTS = 25
PURCHASER_COUNT = 12
# The write mix assigns and unassigns these many users on subscription 0, side by side: it keeps
# a free license for each of them.
WRITE_USERS = 16

_ADMINS = (
    ("nadia.admin", "Nadia Admin", "global_admin"),
    ("omar.admin", "Omar Admin", "global_admin"),
    ("bianca.billing", "Bianca Billing", "billing_admin"),
)
# 40 x 50 names: 2,000 people, then the same names again with a number in the sign-in name.
_FIRST = (
    "Ava", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Henry", "Isla", "Jack",
    "Kara", "Liam", "Maya", "Nate", "Olive", "Paul", "Quinn", "Rosa", "Sam", "Tara",
    "Uma", "Victor", "Wendy", "Xavier", "Yara", "Zane", "Amir", "Bella", "Carlos", "Dina",
    "Elif", "Farah", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena", "Mateo", "Nia",
)  # fmt: skip
_LAST = (
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
    "Khan", "Lopez", "Meyer", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi", "Silva", "Tanaka",
    "Usman", "Vargas", "Weber", "Xu", "Young", "Zimmer", "Andersen", "Brown", "Costa", "Dubois",
    "Eriksen", "Fernandes", "Gupta", "Horvat", "Ibrahim", "Jovanovic", "Kowalski", "Larsen", "Moreau", "Novak",
    "Oliveira", "Popescu", "Rahman", "Santos", "Torres", "Ueda", "Volkov", "Wright", "Yilmaz", "Zhang",
)  # fmt: skip
_PURCHASER_FIRST = _FIRST[:PURCHASER_COUNT]
_NAMED = len(_ADMINS) + PURCHASER_COUNT
_BRANDS = ("visa", "mastercard", "amex", "discover")
_STATUS_MIX = (("active", 0.84), ("deleted", 0.90), ("expired", 0.95), ("disabled", 1.0))


def bench_id(name: str) -> uuid.UUID:
    """Stable across builds, so a benchmark (or a token) can name bench rows by id."""
    return demo_id(f"bench:{name}")


def _upn(alias: str, domain: str = NORTHWIND) -> str:
    return f"{alias}@{domain}"


ADMIN_UPN = _upn(_ADMINS[0][0])
PURCHASER_UPN = _upn(f"{_PURCHASER_FIRST[0].lower()}.purchaser")
PARTNER_UPN = _upn("casey.partner", PARTNERS)
WRITE_SUBSCRIPTION_ID = bench_id("subscription:0")

# ---------------------------------------------------------------------------------------------
# SQL

# Not the seed's key: a bench build waits for a concurrent one, and only for that.
BENCH_LOCK_KEY = 0x70676263  # "pgbc"
LOCK_BENCH = "SELECT pg_advisory_xact_lock($1)"
SELECT_TENANT_EXISTS = "SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)"
# What the seed priced for self-service in Northwind's market, in a fixed order for the round-robin.
SELECT_SELF_SERVICE_PRICES = """
SELECT product_id, unit_price, currency FROM product_prices
 WHERE market = $1 AND channel = 'self_service'
 ORDER BY product_id
"""
# The tables the big ones reference, analyzed inside the load as soon as they are full: the
# foreign-key checks of the 60,000 rows that follow are planned at their first row, and without
# statistics the planner takes the new rows' tables for empty and scans them row by row (the
# load took 6 s instead of 1.5 s).
ANALYZE_REFERENCED = "ANALYZE tenants, users, payment_methods, subscriptions"
LAST_REFERENCED = "subscriptions"
# The rest once committed, so the first benchmark request is planned with real statistics too.
ANALYZE_REST = "ANALYZE directory_roles, partner_relationships, orders, license_assignments, invoices, audit_events"
# Counted, not remembered: a described (already built) world may since have had a write mix.
# The purchaser sees every subscription they bought, DISABLED ones too (policy.SUBSCRIPTION_VISIBLE).
SELECT_COUNTS = """
SELECT (SELECT count(*) FROM users WHERE tenant_id = $1)::int AS users,
       (SELECT count(*) FROM subscriptions WHERE tenant_id = $1)::int AS subscriptions,
       (SELECT count(*) FROM orders WHERE tenant_id = $1)::int AS orders,
       (SELECT count(*) FROM license_assignments WHERE tenant_id = $1 AND removed_at IS NULL)::int AS assignments,
       (SELECT count(*) FROM invoices WHERE tenant_id = $1)::int AS invoices,
       (SELECT count(*) FROM subscriptions WHERE tenant_id = $1 AND purchaser_user_id = $2)::int
           AS purchaser_subscriptions,
       (SELECT count(*) FROM subscriptions s WHERE s.tenant_id = $1 AND s.purchaser_user_id = $2)::int
           AS purchaser_visible_subscriptions
"""
SELECT_FREE_SEATS = """
SELECT s.quantity - (SELECT count(*) FROM license_assignments a
                      WHERE a.tenant_id = s.tenant_id AND a.subscription_id = s.id AND a.removed_at IS NULL)::int
  FROM subscriptions s
 WHERE s.tenant_id = $1 AND s.id = $2 AND effective_status(s) = 'active' AND s.controlled_by = 'purchaser'
"""
# Plain members without a license of the write subscription, whatever a previous run left.
SELECT_UNASSIGNED_MEMBERS = """
SELECT u.id FROM users u
 WHERE u.tenant_id = $1 AND u.user_type = 'member' AND u.account_enabled AND u.departed_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM directory_roles r WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id)
   AND NOT EXISTS (SELECT 1 FROM license_assignments a
                    WHERE a.tenant_id = u.tenant_id AND a.subscription_id = $2 AND a.user_id = u.id
                      AND a.removed_at IS NULL)
 ORDER BY u.user_principal_name
 LIMIT $3
"""

# Every column named: COPY fills no defaults the app would set (created_at = now()), and
# audit_events' identity id is left to the table.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "tenants": ("id", "name", "primary_domain", "managed", "organization_type", "country", "currency", "created_at"),
    "users": (
        "tenant_id", "id", "display_name", "user_principal_name", "mail", "user_type", "source",
        "account_enabled", "departed_at", "created_at",
    ),
    "directory_roles": ("tenant_id", "user_id", "role", "granted_at"),
    "partner_relationships": (
        "tenant_id", "id", "partner_tenant_id", "display_name", "roles", "status", "starts_at", "ends_at",
        "created_at",
    ),
    "payment_methods": (
        "tenant_id", "id", "owner_user_id", "kind", "brand", "last4", "exp_month", "exp_year", "processor_token",
        "created_at", "removed_at",
    ),
    "subscriptions": (
        "tenant_id", "id", "product_id", "channel", "purchaser_user_id", "controlled_by", "quantity", "status",
        "is_trial", "term_start", "expires_at", "auto_renew", "billing_frequency", "payment_method_id",
        "unit_price", "currency", "created_at", "canceled_at", "cancel_reason",
    ),
    "orders": (
        "tenant_id", "id", "subscription_id", "kind", "actor_user_id", "actor_tenant_id", "quantity_delta",
        "quantity_after", "unit_price", "total", "currency", "created_at",
    ),
    "license_assignments": (
        "tenant_id", "id", "subscription_id", "user_id", "assigned_by", "assigned_at", "removed_at",
    ),
    "invoices": (
        "tenant_id", "id", "subscription_id", "billed_user_id", "period_start", "period_end", "amount",
        "currency", "status", "due_date", "paid_at",
    ),
    "audit_events": (
        "tenant_id", "actor_user_id", "actor_tenant_id", "on_behalf_of_tenant_id", "action", "target_type",
        "target_id", "request_id", "details", "outcome", "error_codes", "occurred_at",
    ),
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# What a benchmark gets


@dataclass(frozen=True)
class BenchWorld:
    """The ids a benchmark acts as and on, and how big the world it runs against is.

    ``write_subscription_id`` is the purchaser's, active, with a free license for each of
    ``write_user_ids``: members holding none of it, which a write mix assigns and unassigns
    alternately (``write_user_id`` is the first, for a mix of one). The purchaser has over 150
    subscriptions, all of which they see (``purchaser_visible_subscriptions``, their ``totalCount``;
    the licenses of a DISABLED one are for admins only). ``assignments`` counts live licenses.
    """

    database_url: str
    tenant_id: uuid.UUID
    admin_user_id: uuid.UUID
    admin_tenant_id: uuid.UUID
    purchaser_user_id: uuid.UUID
    purchaser_subscriptions: int
    purchaser_visible_subscriptions: int
    write_subscription_id: uuid.UUID
    write_user_id: uuid.UUID
    write_user_ids: tuple[uuid.UUID, ...]
    partner_user_id: uuid.UUID
    partner_tenant_id: uuid.UUID
    users: int
    subscriptions: int
    orders: int
    assignments: int
    invoices: int

    @property
    def counts(self) -> dict[str, int]:
        """Northwind's size, for a report."""
        return {
            "users": self.users,
            "subscriptions": self.subscriptions,
            "orders": self.orders,
            "assignments": self.assignments,
            "invoices": self.invoices,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, indent=2)


# ---------------------------------------------------------------------------------------------
# Dates

Row = tuple[Any, ...]


def _add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day as PostgreSQL's interval arithmetic does."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


@dataclass(frozen=True)
class _Price:
    product_id: str
    unit_price: Decimal
    currency: str


# ---------------------------------------------------------------------------------------------
# The rows


class _Rows:
    """Northwind's rows, table by table, in foreign-key order."""

    def __init__(self, today: date, prices: Sequence[_Price]) -> None:
        if not prices:
            raise RuntimeError(f"the seed priced nothing for self-service in {MARKET}")
        self.today = today
        self.prices = prices
        self.rng = random.Random(SEED)  # noqa: S311 - reproducible data, no secret
        self.tables: dict[str, list[Row]] = {table: [] for table in _COLUMNS}
        self.user_ids: list[uuid.UUID] = []
        self.purchaser_ids: list[uuid.UUID] = []
        self.cards: dict[uuid.UUID, uuid.UUID] = {}
        self._requests = 0

    def days_ago(self, days: int) -> date:
        return self.today - timedelta(days=days)

    # -- directory

    def directory(self) -> None:
        created = _at(self.days_ago(2000), 9)
        for tenant_id, name, domain in (
            (NORTHWIND_ID, "Northwind Traders", NORTHWIND),
            (PARTNERS_ID, "Contoso Partners", PARTNERS),
        ):
            self.tables["tenants"].append((tenant_id, name, domain, True, "commercial", MARKET, CURRENCY, created))
        granted = _at(self.days_ago(1400), 9)
        for alias, name, role in _ADMINS:
            user_id = self._user(NORTHWIND_ID, _upn(alias), name)
            self.tables["directory_roles"].append((NORTHWIND_ID, user_id, role, granted))
        for first in _PURCHASER_FIRST:
            upn = _upn(f"{first.lower()}.purchaser")
            self.purchaser_ids.append(self._user(NORTHWIND_ID, upn, f"{first} Purchaser"))
        for index in range(_NAMED, USER_COUNT):
            self._directory_user(index)
        # The partner's people: one acts for Northwind, a guest of theirs acts for no one.
        self._user(PARTNERS_ID, PARTNER_UPN, "Casey Partner")
        self._user(PARTNERS_ID, _upn("devon.partner", PARTNERS), "Devon Partner")
        self._user(PARTNERS_ID, _upn("elliot_fabrikam.example#EXT#", PARTNERS), "Elliot Guest", guest=True)
        # GDAP is time-bound, at most two years (the CHECK in 0001): 100 days in, 265 to go.
        starts = _at(self.days_ago(100), 9)
        self.tables["partner_relationships"].append(
            (
                NORTHWIND_ID,
                bench_id(f"partner_relationship:{PARTNERS}->{NORTHWIND}"),
                PARTNERS_ID,
                "Contoso Partners for Northwind Traders",
                ["global_admin"],
                "active",
                starts,
                _at(self.today + timedelta(days=265), 9),
                starts,
            )
        )

    def _user(
        self,
        tenant_id: uuid.UUID,
        upn: str,
        name: str,
        *,
        mail: str | None = None,
        guest: bool = False,
        synced: bool = False,
        enabled: bool = True,
        departed: date | None = None,
        created_days_ago: int = 1500,
    ) -> uuid.UUID:
        user_id = demo_user_id(upn)
        self.tables["users"].append(
            (
                tenant_id,
                user_id,
                name,
                upn,
                mail or upn,
                "guest" if guest else "member",
                "synced" if synced else "cloud",
                enabled,
                departed,
                _at(self.days_ago(created_days_ago), 9),
            )
        )
        if tenant_id == NORTHWIND_ID:
            self.user_ids.append(user_id)
        return user_id

    def _directory_user(self, index: int) -> None:
        """Names repeat (as in a real directory); sign-in names never do: a number follows them
        from the 2,001st user on. A few guests, disabled accounts and leavers among them."""
        first, last = _FIRST[index % len(_FIRST)], _LAST[(index // len(_FIRST)) % len(_LAST)]
        number = index // (len(_FIRST) * len(_LAST))
        alias = f"{first}.{last}{number or ''}".lower()
        name = f"{first} {last}"
        created_days_ago = 1000 + index % 800
        if index % 1000 == 999:
            self._user(
                NORTHWIND_ID,
                _upn(f"{alias}_fabrikam.example#EXT#"),
                name,
                mail=f"{alias}@fabrikam.example",
                guest=True,
                created_days_ago=created_days_ago,
            )
        elif index % 1000 == 499:
            departed = self.days_ago(30 + index % 300)
            self._user(NORTHWIND_ID, _upn(alias), name, enabled=False, departed=departed, synced=True)
        else:
            self._user(
                NORTHWIND_ID,
                _upn(alias),
                name,
                enabled=index % 1000 != 777,
                synced=index % 5 == 0,
                created_days_ago=created_days_ago,
            )

    def payment_methods(self) -> None:
        """One live card per purchaser (what their subscriptions are charged to); every other
        purchaser also replaced an older one."""
        for number, purchaser in enumerate(self.purchaser_ids):
            cards: list[tuple[str, date, datetime | None]] = [("current", self.days_ago(900), None)]
            if number % 2 == 0:
                cards.append(("replaced", self.days_ago(1500), _at(self.days_ago(900), 8)))
            for key, added, removed in cards:
                card_id = bench_id(f"payment_method:{purchaser}:{key}")
                brand = _BRANDS[(number + len(key)) % len(_BRANDS)]
                last4 = f"{(number * 7919 + len(key) * 131) % 10_000:04d}"
                if removed is None:
                    self.cards[purchaser] = card_id
                self.tables["payment_methods"].append(
                    (
                        NORTHWIND_ID,
                        card_id,
                        purchaser,
                        "credit_card",
                        brand,
                        last4,
                        1 + number % 12,
                        self.today.year + 1 + number % 3,
                        f"tok_sandbox_bench_{number:02d}_{key}_{brand}_{last4}",
                        _at(added, 9),
                        removed,
                    )
                )

    # -- purchases

    def subscriptions(self) -> None:
        for index in range(SUBSCRIPTION_COUNT):
            self._subscription(index)

    def _subscription(self, index: int) -> None:
        """One self-service subscription and its history: a purchase, renewals at each term's end,
        licenses added and removed in between (and, if canceled, the cancellation), 10 orders in all.

        Products go round-robin; purchasers take blocks of one subscription per product, so each
        purchaser has every product. Subscription 0 is the write mix's: active, monthly, with
        licenses to spare.
        """
        rng = self.rng
        price = self.prices[index % len(self.prices)]
        purchaser = self.purchaser_ids[(index // len(self.prices)) % PURCHASER_COUNT]
        card = self.cards[purchaser]
        subscription_id = bench_id(f"subscription:{index}")
        for_writes = subscription_id == WRITE_SUBSCRIPTION_ID

        # Mostly active; some canceled (DELETED), some past their end date (EXPIRED, then DISABLED).
        roll = 0.0 if for_writes else rng.random()
        status = next(name for name, below in _STATUS_MIX if roll < below)
        annual = not for_writes and rng.random() < 0.2
        months = 12 if annual else 1
        renewals = rng.randint(0, 1) if annual else rng.randint(1, 6)
        # The end of the current term; effective_status() must read the status stored here.
        if status == "active":
            expires = self.today + timedelta(days=rng.randint(1, 330 if annual else 27))
        elif status == "expired":
            expires = self.today - timedelta(days=rng.randint(1, 29))  # within the 30 days of EXPIRED
        elif status == "disabled":
            expires = self.today - timedelta(days=rng.randint(31, 115))  # within the next 90 days
        else:
            expires = self.today + timedelta(days=14 - rng.randint(0, 200))
        term_starts = [_add_months(expires, -months * (renewals + 1 - k)) for k in range(renewals + 1)]
        purchased, term_start = term_starts[0], term_starts[-1]
        # Canceled in its last term, before today (a monthly term is at least 28 days, and ends at most
        # 14 days from now); in a first term, late enough to have made its license changes.
        canceled = None
        if status == "deleted":
            canceled = term_start + timedelta(days=rng.randint(1 if renewals else 10, 300 if annual else 13))
        last_day = canceled or (self.today if status == "active" else expires)

        # Licenses change on days of their own: never a renewal's day, never today or later.
        renewal_days = set(term_starts[1:])
        candidates = [
            day
            for offset in range(1, (last_day - purchased).days)
            if (day := purchased + timedelta(days=offset)) not in renewal_days
        ]
        changes = ORDERS_PER_SUBSCRIPTION - 1 - renewals - (canceled is not None)
        events: list[tuple[datetime, str]] = [(_at(purchased, 9), "purchase")]
        events += [(_at(day, 9), "renew") for day in term_starts[1:]]
        for day in rng.sample(candidates, changes):
            events.append((_at(day, rng.randint(10, 17), rng.randint(0, 59)), "change"))
        if canceled is not None:
            events.append((_at(canceled, 16), "cancel"))
        events.sort()

        # The purchaser keeps a floor of licenses; the write subscription keeps room to assign.
        floor = MAX_ASSIGNMENTS + WRITE_USERS if for_writes else 1
        bought = rng.randint(floor + 5, floor + 45) if for_writes else rng.randint(5, 50)
        quantity, lowest = 0, bought
        unpaid_last_invoice = status == "active" and not for_writes and rng.random() < 0.03
        invoices: list[tuple[datetime, int, Decimal, int]] = []  # (at, months, amount, order number)
        for number, (at, kind) in enumerate(events):
            delta, total = 0, Decimal("0.00")
            if kind == "purchase":
                delta = bought
                total = price.unit_price * bought * months
            elif kind == "renew":
                total = price.unit_price * quantity * months
            elif kind == "change" and (quantity - floor < 1 or rng.random() < 0.6):
                kind, delta = "add_licenses", rng.randint(1, 10)
                total = price.unit_price * delta  # one month's worth, as commerce/purchasing.py bills it
            elif kind == "change":
                kind, delta = "remove_licenses", -rng.randint(1, min(5, quantity - floor))
            quantity += delta
            lowest = min(lowest, quantity)
            order_id = bench_id(f"order:{index}:{number}")
            # The sweep renews (no user acts); the purchaser does everything else.
            actor = None if kind == "renew" else purchaser
            self.tables["orders"].append(
                (
                    NORTHWIND_ID,
                    order_id,
                    subscription_id,
                    kind,
                    actor,
                    NORTHWIND_ID,
                    delta,
                    quantity,
                    price.unit_price,
                    total,
                    price.currency,
                    at,
                )
            )
            if kind in {"purchase", "renew", "add_licenses"}:
                invoices.append((at, months if kind != "add_licenses" else 1, total, number))
            details: dict[str, Any] = {}
            if kind == "purchase":
                details = {
                    "product_id": price.product_id,
                    "quantity": delta,
                    "amount": str(total),
                    "currency": price.currency,
                }
            elif kind == "add_licenses":
                details = {"quantity": delta, "amount": str(total)}
            elif kind == "cancel":
                details = {"reason": "No longer needed."}
            self._audit(actor, f"subscription.{kind}", subscription_id, at, details)

        self.tables["subscriptions"].append(
            (
                NORTHWIND_ID,
                subscription_id,
                price.product_id,
                "self_service",
                purchaser,
                "purchaser",
                quantity,
                status,
                False,
                _at(term_start, 9),
                _at(expires, 9),
                status == "active",  # the lapsed and the canceled had auto-renew turned off
                "annual" if annual else "monthly",
                card,
                price.unit_price,
                price.currency,
                _at(purchased, 9),
                None if canceled is None else _at(canceled, 16),
                None if canceled is None else "No longer needed.",
            )
        )
        self._invoices(index, subscription_id, purchaser, price, invoices, unpaid_last=unpaid_last_invoice)
        assignments = min(rng.randint(0, MAX_ASSIGNMENTS), lowest)
        if for_writes:
            assignments = min(MAX_ASSIGNMENTS, lowest - WRITE_USERS)
        self._assign(index, subscription_id, purchaser, purchased, last_day, assignments, canceled)

    def _invoices(
        self,
        index: int,
        subscription_id: uuid.UUID,
        purchaser: uuid.UUID,
        price: _Price,
        charges: list[tuple[datetime, int, Decimal, int]],
        *,
        unpaid_last: bool,
    ) -> None:
        """A bill per charged order, for one term from the day of the charge, paid by the card
        then (records.write_invoice); a few purchasers still owe their latest one."""
        for at, months, amount, number in charges:
            start = at.date()
            due = start + timedelta(days=7)
            unpaid = unpaid_last and number == charges[-1][3]
            status = ("open" if due >= self.today else "past_due") if unpaid else "paid"
            self.tables["invoices"].append(
                (
                    NORTHWIND_ID,
                    bench_id(f"invoice:{index}:{number}"),
                    subscription_id,
                    purchaser,
                    start,
                    _add_months(start, months) - timedelta(days=1),
                    amount,
                    price.currency,
                    status,
                    due,
                    None if unpaid else at,
                )
            )

    def _assign(
        self,
        index: int,
        subscription_id: uuid.UUID,
        purchaser: uuid.UUID,
        purchased: date,
        last_day: date,
        count: int,
        canceled: date | None,
    ) -> None:
        """``count`` distinct users, licensed minutes after the purchase; a few lost theirs since,
        and a cancellation took back the rest. ``count`` is at most the lowest quantity the
        subscription ever had, so it never held more licenses than it bought."""
        rng = self.rng
        first = rng.randrange(len(self.user_ids))
        span = max((last_day - purchased).days - 1, 1)
        for number in range(count):
            user_id = self.user_ids[(first + number) % len(self.user_ids)]
            assigned = _at(purchased, 9, 1 + number * 2)
            removed = by_cancel = None
            if rng.random() < 0.08:
                removed = _at(purchased + timedelta(days=rng.randint(1, span)), 12)
            elif canceled is not None:
                removed = by_cancel = _at(canceled, 16)
            assignment_id = bench_id(f"assignment:{index}:{number}")
            self.tables["license_assignments"].append(
                (NORTHWIND_ID, assignment_id, subscription_id, user_id, purchaser, assigned, removed)
            )
            details = {"users": [str(user_id)]}
            self._audit(purchaser, "license.assign", subscription_id, assigned, details)
            if removed is not None and by_cancel is None:  # the cancellation's own event covers the rest
                self._audit(purchaser, "license.unassign", subscription_id, removed, details)

    def _audit(
        self, actor: uuid.UUID | None, action: str, subscription_id: uuid.UUID, at: datetime, details: dict[str, Any]
    ) -> None:
        """As unit_of_work._audit writes it (the lifecycle sweep's renewals name no actor)."""
        self._requests += 1
        request_id = "lifecycle-sweep" if actor is None else f"bench-{self._requests:06d}"
        self.tables["audit_events"].append(
            (
                NORTHWIND_ID,
                actor,
                None if actor is None else NORTHWIND_ID,
                None,
                action,
                "Subscription",
                str(subscription_id),
                request_id,
                json.dumps(details, sort_keys=True),
                "accepted",
                [],
                at,
            )
        )

    def batches(self) -> list[tuple[str, tuple[str, ...], list[Row]]]:
        # Audit events by time, so their identity ids read chronologically as the app's would.
        self.tables["audit_events"].sort(key=lambda row: (row[-1], row[6]))
        return [(table, _COLUMNS[table], rows) for table, rows in self.tables.items()]


def _northwind_rows(today: date, prices: Sequence[_Price]) -> _Rows:
    rows = _Rows(today, prices)
    rows.directory()
    rows.payment_methods()
    rows.subscriptions()
    return rows


# ---------------------------------------------------------------------------------------------
# Building and describing


async def build_bench_world(database_url: str, *, today: date | None = None) -> BenchWorld:
    """Migrate, seed the demo world, add Northwind unless it is there; describe what is there.

    ``today`` anchors the dates (default: today, UTC); a build on a past day would make active
    subscriptions look expired to the app, so it is for tests of the generator only.
    """
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        await seed_demo_world(conn)
        loaded = False
        async with conn.transaction():
            await conn.execute(LOCK_BENCH, BENCH_LOCK_KEY)
            if not await conn.fetchval(SELECT_TENANT_EXISTS, NORTHWIND_ID):
                prices = [
                    _Price(r["product_id"], r["unit_price"], r["currency"])
                    for r in await conn.fetch(SELECT_SELF_SERVICE_PRICES, MARKET)
                ]
                rows = _northwind_rows(today or datetime.now(UTC).date(), prices)
                for table, columns, records in rows.batches():
                    await conn.copy_records_to_table(table, records=records, columns=columns)
                    if table == LAST_REFERENCED:
                        await conn.execute(ANALYZE_REFERENCED)
                loaded = True
        if loaded:
            await conn.execute(ANALYZE_REST)
        return await _describe(conn, database_url)
    finally:
        await conn.close()


async def _describe(conn: asyncpg.Connection, database_url: str) -> BenchWorld:
    purchaser_id = demo_user_id(PURCHASER_UPN)
    counts = await conn.fetchrow(SELECT_COUNTS, NORTHWIND_ID, purchaser_id)
    # Fewer than WRITE_USERS only if a write mix was stopped with some of its licenses assigned.
    free = await conn.fetchval(SELECT_FREE_SEATS, NORTHWIND_ID, WRITE_SUBSCRIPTION_ID)
    if free is None or free < 1:
        raise RuntimeError(f"subscription {WRITE_SUBSCRIPTION_ID} has no free license for the write mix")
    rows = await conn.fetch(SELECT_UNASSIGNED_MEMBERS, NORTHWIND_ID, WRITE_SUBSCRIPTION_ID, min(free, WRITE_USERS))
    write_user_ids = tuple(r["id"] for r in rows)
    return BenchWorld(
        database_url=database_url,
        tenant_id=NORTHWIND_ID,
        admin_user_id=demo_user_id(ADMIN_UPN),
        admin_tenant_id=NORTHWIND_ID,
        purchaser_user_id=purchaser_id,
        purchaser_subscriptions=counts["purchaser_subscriptions"],
        purchaser_visible_subscriptions=counts["purchaser_visible_subscriptions"],
        write_subscription_id=WRITE_SUBSCRIPTION_ID,
        write_user_id=write_user_ids[0],
        write_user_ids=write_user_ids,
        partner_user_id=demo_user_id(PARTNER_UPN),
        partner_tenant_id=PARTNERS_ID,
        users=counts["users"],
        subscriptions=counts["subscriptions"],
        orders=counts["orders"],
        assignments=counts["assignments"],
        invoices=counts["invoices"],
    )


# ---------------------------------------------------------------------------------------------
# CLI


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="Where the embedded PostgreSQL keeps its data (default: a temporary folder, removed after).",
    )
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        folder: Path | None = args.data_dir
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="purchasegraph-bench-")))
        started = clock.perf_counter()
        server = start_embedded_server(folder.expanduser().resolve())
        try:
            ready = clock.perf_counter()
            world = asyncio.run(build_bench_world(server.database_url))
            built = clock.perf_counter()
        finally:
            server.stop()
    print(world.to_json())
    # On stderr, so stdout stays one JSON document a script can read.
    print(f"server started in {ready - started:.1f} s, world built in {built - ready:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
