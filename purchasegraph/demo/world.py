"""Builds the demo world in the database: the rows of every table from the cast (``actors``) and
what happened to them (``history``), inserted in one transaction, once.

Orders, license changes, policy changes and requests also leave the audit events the live
mutations would have written, and bills are worked out from the quantities held in each period.
"""

from __future__ import annotations

import calendar
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import asyncpg

from purchasegraph.catalogue import list_price
from purchasegraph.demo import history
from purchasegraph.demo.actors import (
    CONTOSO_ID,
    DEMO_USERS,
    TENANT_BY_DOMAIN,
    TENANTS,
    demo_id,
    demo_tenant_id,
    demo_user_id,
    home_tenant_id,
)
from purchasegraph.demo.history import Ago, Ended, Purchase, Running, When

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
VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, NULL)
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

# Foreign-key order; audit events last.
TABLES = (
    INSERT_TENANT,
    INSERT_USER,
    INSERT_DIRECTORY_ROLE,
    INSERT_PARTNER_RELATIONSHIP,
    INSERT_POLICY,
    INSERT_PAYMENT_METHOD,
    INSERT_SUBSCRIPTION,
    INSERT_ORDER,
    INSERT_ASSIGNMENT,
    INSERT_INVOICE,
    INSERT_CANCELLATION_REQUEST,
    INSERT_LICENSE_REQUEST,
    INSERT_NOTIFICATION,
    INSERT_AUDIT_EVENT,
)

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
    """A subscription while its history is written: orders change its quantity and control."""

    purchase: Purchase
    purchaser_id: uuid.UUID | None
    unit_price: Decimal
    currency: str
    row: list[Any] = field(default_factory=list)
    quantity_history: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def tenant_id(self) -> uuid.UUID:
        return demo_tenant_id(self.purchase.domain)

    @property
    def id(self) -> uuid.UUID:
        return demo_id(f"subscription:{self.purchase.label}")

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
        self.rows: dict[str, list[Row]] = {sql: [] for sql in TABLES}
        self._cards: dict[str, uuid.UUID] = {}
        self._subscriptions: dict[str, _Subscription] = {}
        # Names a notice may point at beyond demo ids: ``invoice:{label}``, a bill's latest invoice.
        self._latest_invoices: dict[str, uuid.UUID] = {}

    def batches(self) -> list[tuple[str, list[Row]]]:
        self.rows[INSERT_SUBSCRIPTION] = [tuple(sub.row) for sub in self._subscriptions.values()]
        # Audit events by time, so their identity ids read chronologically.
        self.rows[INSERT_AUDIT_EVENT].sort(key=lambda row: row[-1])
        return list(self.rows.items())

    # -- time

    def at(self, when: When, term: _Term | None = None) -> datetime:
        if isinstance(when, Ago):
            return _at(self.today - timedelta(days=when.days), when.hour)
        assert term is not None, "a time after the term's start needs the term"
        return term.start + when

    def term(self, spec: Running | Ended | history.Trial) -> _Term:
        if isinstance(spec, Running):
            anchor = self.today - timedelta(days=spec.days_into_period)
            periods = _monthly_periods(anchor, -spec.months, 0)
            return _Term(_at(periods[0][0]), _at(_add_months(anchor, 12 - spec.months)), periods)
        if isinstance(spec, Ended):
            end = self.today - timedelta(days=spec.days_ago)
            start = _add_months(end, -12)
            return _Term(_at(start), _at(end), _monthly_periods(start, 0, 11))
        start = self.at(spec.started)
        return _Term(start, start + timedelta(days=spec.days), [])

    # -- directory, partners, policies, cards

    def directory(self) -> None:
        for t in TENANTS:
            tenant = (t.name, t.domain, t.managed, t.organization_type, t.country, t.currency)
            self.rows[INSERT_TENANT].append((demo_tenant_id(t.domain), *tenant, self.at(Ago(t.created_days_ago))))
        for u in DEMO_USERS:
            upn = u.user_principal_name
            tenant_id, user_id = home_tenant_id(upn), demo_user_id(upn)
            departed = None if u.departed_days_ago is None else self.today - timedelta(days=u.departed_days_ago)
            kind, source = "guest" if u.guest else "member", "synced" if u.synced else "cloud"
            user = (u.display_name, upn, u.mail or upn, kind, source, departed is None, departed)
            self.rows[INSERT_USER].append((tenant_id, user_id, *user, self.at(Ago(u.created_days_ago))))
            for role in u.roles:
                self.rows[INSERT_DIRECTORY_ROLE].append((tenant_id, user_id, role, self.at(Ago(1400))))

    def partnership(self, p: history.Partnership) -> None:
        name = f"{TENANT_BY_DOMAIN[p.partner].name} for {TENANT_BY_DOMAIN[p.customer].name}"
        relationship_id = demo_id(f"partner_relationship:{p.partner}->{p.customer}")
        starts, ends = self.at(p.starts), self.at(p.ends)
        row = (relationship_id, demo_tenant_id(p.partner), name, list(p.roles), p.status, starts, ends, starts)
        self.rows[INSERT_PARTNER_RELATIONSHIP].append((demo_tenant_id(p.customer), *row))

    def policy(self, p: history.PolicyChange) -> None:
        tenant_id, at = demo_tenant_id(p.domain), self.at(p.at)
        self.rows[INSERT_POLICY].append((tenant_id, p.product_id, p.value, at, demo_user_id(p.by)))
        details = {"product_id": p.product_id, "old_value": p.previous, "new_value": p.value}
        self.audit(tenant_id, p.by, "self_service_policy.update", "self_service_policy", p.product_id, at, details)

    def card(self, c: history.Card) -> None:
        method_id = demo_id(f"payment_method:{c.owner}:{c.key}")
        if c.removed is None:
            self._cards[c.owner] = method_id
        exp_month, exp_years_ahead = c.expires
        # What the (sandbox) processor hands back; the card number itself never reaches us.
        reference = f"tok_sandbox_{c.owner.partition('@')[0].replace('.', '_')}_{c.brand}_{c.last4}"
        removed = None if c.removed is None else self.at(c.removed)
        row = (c.brand, c.last4, exp_month, self.today.year + exp_years_ahead, reference, self.at(c.added), removed)
        self.rows[INSERT_PAYMENT_METHOD].append((home_tenant_id(c.owner), method_id, demo_user_id(c.owner), *row))

    # -- subscriptions

    def purchase(self, p: Purchase) -> None:
        """The subscription, then its licenses, orders (a cancellation last) and monthly bills."""
        term = self.term(p.term)
        tenant = TENANT_BY_DOMAIN[p.domain]
        # A trial carries the price it converts at, as startTrial writes it: only its order is free.
        unit_price = list_price(p.product_id, tenant.country, p.channel)
        sub = _Subscription(p, demo_user_id(p.purchaser) if p.purchaser else None, unit_price, tenant.currency)
        # Paid self-service is charged to the purchaser's card on file; trials here need none.
        card = self._cards[p.purchaser] if p.purchaser and not p.is_trial else None
        # A list, not a tuple: orders, take-overs and cancellations update it in place.
        sub.row = [
            *(sub.tenant_id, sub.id, p.product_id, p.channel, sub.purchaser_id),
            *("purchaser" if p.purchaser else "admins", 0, p.status, p.is_trial, term.start, term.expires),
            *(p.auto_renew, p.billing_frequency, card, unit_price, tenant.currency, term.start, None, None),
        ]
        self._subscriptions[p.label] = sub
        for upn, by, assigned, removed in p.holders:
            self.assign(sub, upn, by, self.at(assigned, term), None if removed is None else self.at(removed, term))
        for kind, actor, delta, at in p.orders:
            self.order(sub, kind, actor, delta, self.at(at, term))
        periods = term.periods
        if p.canceled is not None:
            # Canceling keeps the license count on record; the status says the licenses are gone.
            actor, when, reason = p.canceled
            canceled = self.at(when)
            self.order(sub, "cancel", actor, 0, canceled)
            sub.row[10], sub.row[17], sub.row[18] = canceled, canceled, reason
            periods = [period for period in periods if period[0] <= canceled.date()]
        if p.bills is not None:
            self.bill(sub, periods, p.bills)

    def order(self, sub: _Subscription, kind: str, actor: str, delta: int, at: datetime) -> None:
        quantity_after = sub.quantity + delta
        # As the live mutations write them: a trial's order and a removal are free (nothing is
        # refunded), at the trial's price of nothing and at the subscription's price respectively.
        charged = kind in {"purchase", "add_licenses", "renew", "reactivate"}
        total = sub.unit_price * abs(delta) if charged else Decimal("0.00")
        unit_price = Decimal("0.00") if kind == "trial" else sub.unit_price
        order_id = demo_id(f"order:{sub.purchase.label}:{len(sub.quantity_history) + 1}")
        actor_ids = (demo_user_id(actor), home_tenant_id(actor))
        row = (sub.id, kind, *actor_ids, delta, quantity_after, unit_price, total, sub.currency, at)
        self.rows[INSERT_ORDER].append((sub.tenant_id, order_id, *row))
        sub.quantity_history.append((at, quantity_after))
        sub.row[6] = quantity_after
        if kind == "take_over":
            sub.row[5] = "admins"
        details = {"quantity_delta": delta, "quantity_after": quantity_after}
        self.audit(sub.tenant_id, actor, f"subscription.{kind}", "subscription", str(sub.id), at, details)

    def assign(self, sub: _Subscription, upn: str, by: str, at: datetime, removed: datetime | None) -> None:
        if home_tenant_id(upn) != sub.tenant_id:
            raise ValueError(f"{upn} is not in the tenant of {sub.purchase.label}")
        assignment_id = demo_id(f"assignment:{sub.purchase.label}:{upn}")
        row = (assignment_id, sub.id, demo_user_id(upn), demo_user_id(by), at, removed)
        self.rows[INSERT_ASSIGNMENT].append((sub.tenant_id, *row))
        details = {"subscription_id": str(sub.id), "user_id": str(demo_user_id(upn))}
        for action, when in (("license.assign", at), ("license.unassign", removed)):
            if when is not None:
                self.audit(sub.tenant_id, by, action, "license_assignment", str(assignment_id), when, details)

    def bill(self, sub: _Subscription, periods: list[Period], last_status: str) -> None:
        """Monthly invoices to the purchaser; cards are charged on the period's first day. The
        latest invoice gets ``last_status``, the ones before it are paid."""
        for number, (start, end) in enumerate(periods):
            invoice_id = demo_id(f"invoice:{sub.purchase.label}:{number}")
            status = last_status if number == len(periods) - 1 else "paid"
            amount = sub.unit_price * sub.quantity_on(start)
            paid = _at(start, 10) if status == "paid" else None
            row = (sub.id, sub.purchaser_id, start, end, amount, sub.currency, status, start + timedelta(days=7), paid)
            self.rows[INSERT_INVOICE].append((sub.tenant_id, invoice_id, *row))
            self._latest_invoices[f"invoice:{sub.purchase.label}"] = invoice_id

    # -- requests, notices, audit

    def cancellation_request(self, r: history.CancellationRequest) -> None:
        sub, request_id, at = self._subscriptions[r.label], demo_id(f"cancellation_request:{r.label}"), self.at(r.at)
        requester = (demo_user_id(r.requested_by), home_tenant_id(r.requested_by))
        row = (sub.tenant_id, request_id, sub.id, *requester, r.message, at)
        self.rows[INSERT_CANCELLATION_REQUEST].append(row)
        details, kind = {"subscription_id": str(sub.id)}, "cancellation_request"
        self.audit(sub.tenant_id, r.requested_by, f"{kind}.create", kind, str(request_id), at, details)

    def license_request(self, r: history.LicenseRequest) -> None:
        request_id, tenant_id = demo_id(f"license_request:{r.key}"), home_tenant_id(r.requester)
        for_users = [demo_user_id(upn) for upn in r.for_users]
        decided_by, decided_at = (demo_user_id(r.denied[0]), self.at(r.denied[1])) if r.denied else (None, None)
        status = "denied" if r.denied else "pending"
        row = (r.product_id, demo_user_id(r.requester), for_users, status, self.at(r.at), decided_by, decided_at)
        self.rows[INSERT_LICENSE_REQUEST].append((tenant_id, request_id, *row))
        if r.denied is not None and decided_at is not None:
            details = {"product_id": r.product_id}
            action = "license_request.deny"
            self.audit(tenant_id, r.denied[0], action, "license_request", str(request_id), decided_at, details)

    def notice(self, n: history.Notice) -> None:
        subject = self._latest_invoices.get(n.subject) or demo_id(n.subject)
        read = None if n.read is None else self.at(n.read)
        row = (demo_user_id(n.to), n.kind, subject, n.message, self.at(n.at), read)
        self.rows[INSERT_NOTIFICATION].append((home_tenant_id(n.to), demo_id(f"notification:{n.key}"), *row))

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
        actor_tenant_id = home_tenant_id(actor)
        on_behalf_of = tenant_id if actor_tenant_id != tenant_id else None
        actor_ids = (demo_user_id(actor), actor_tenant_id, on_behalf_of)
        request_id = f"seed:{action}:{target_id}"
        row = (*actor_ids, action, target_type, target_id, request_id, json.dumps(details, sort_keys=True), at)
        self.rows[INSERT_AUDIT_EVENT].append((tenant_id, *row))


def build_demo_world(now: datetime) -> _World:
    world = _World(now)
    world.directory()
    # Cards before purchases, which pay with them; purchases before the requests and notices about them.
    tables: tuple[tuple[Callable[[Any], None], tuple[Any, ...]], ...] = (
        (world.partnership, history.PARTNERSHIPS),
        (world.policy, history.POLICY_CHANGES),
        (world.card, history.CARDS),
        (world.purchase, history.PURCHASES),
        (world.cancellation_request, history.CANCELLATION_REQUESTS),
        (world.license_request, history.LICENSE_REQUESTS),
        (world.notice, history.NOTICES),
    )
    for add, records in tables:
        for record in records:
            add(record)
    return world


async def seed_demo_world(conn: asyncpg.Connection) -> bool:
    """Insert the demo world in one transaction; return False (and do nothing) if it is already there."""
    async with conn.transaction():
        await conn.execute(LOCK_SEED, SEED_LOCK_KEY)
        if await conn.fetchval(SELECT_TENANT_EXISTS, CONTOSO_ID):
            return False
        # The app clock's date, so a server or suite on PURCHASEGRAPH_TODAY gets a world of that day.
        now: datetime = await conn.fetchval(SELECT_APP_NOW)
        for sql, rows in build_demo_world(now.astimezone(UTC)).batches():
            await conn.executemany(sql, rows)
    return True
