"""One mutation, one transaction: refusals roll back, audit events stay, charges never dangle.

The operation runs in a savepoint inside the transaction. A ``Refusal`` rolls the savepoint
back — nothing it wrote survives — and the refusal is audited in the same transaction; an
accepted change is audited beside it. Charges the operation made are voided whenever its
writes do not commit. An idempotency key claims its row inside the savepoint: a concurrent
request with the same key waits on that row and then replays the stored result.
"""

from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import asyncpg

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.context import Context
from purchasegraph.payments import CardDeclined, Charge, PaymentProcessor, ProcessorUnavailable
from purchasegraph.policy import Scope, audit_tenant
from purchasegraph.principals import Principal, SignedInApp, SignedInUser

log = logging.getLogger("purchasegraph.mutations")

INSERT_AUDIT_EVENT = """
INSERT INTO audit_events (tenant_id, actor_user_id, actor_app_id, actor_tenant_id, on_behalf_of_tenant_id, action,
                          target_type, target_id, request_id, details, outcome, error_codes, client_request_id,
                          occurred_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, app_now())
"""
CLAIM_IDEMPOTENCY_KEY = """
INSERT INTO idempotency_keys (tenant_id, principal_id, key, operation, request_hash, response, created_at)
VALUES ($1, $2, $3, $4, $5, '{}', app_now())
ON CONFLICT DO NOTHING
RETURNING true
"""
# idempotency_keys.key holds 1 to 255 characters (its CHECK constraint, 0002).
IDEMPOTENCY_KEY_LENGTH = 255
SELECT_IDEMPOTENCY_KEY = """
SELECT operation, request_hash, response FROM idempotency_keys
 WHERE tenant_id = $1 AND principal_id = $2 AND key = $3
"""
STORE_IDEMPOTENT_RESPONSE = """
UPDATE idempotency_keys SET response = $4 WHERE tenant_id = $1 AND principal_id = $2 AND key = $3
"""


@dataclass(frozen=True)
class Problem:
    """One entry of a payload's ``userErrors``."""

    code: ErrorCode
    message: str
    field: tuple[str, ...] | None = None


class Refusal(Exception):
    """The operation refuses; everything it wrote is rolled back."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def refuse(code: ErrorCode, message: str, *fields: str) -> Refusal:
    return Refusal(Problem(code, message, tuple(fields) or None))


@dataclass
class Work:
    """What an operation works with: the connection in its savepoint, who acts, and where."""

    conn: asyncpg.Connection
    principal: Principal
    scope: Scope
    processor: PaymentProcessor
    request_id: str
    target_type: str
    target_id: str
    # The X-Request-Id the client sent, when a sane one: recorded beside the gateway's own.
    client_request_id: str | None = None
    charges: list[Charge] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    async def charge(self, token: str, amount: Decimal, currency: str, *, reference: str) -> Charge | None:
        """Charge a card; a refusal if the card or the processor says no. Nothing to charge: None."""
        if amount <= 0:
            return None
        try:
            charge = await self.processor.charge(token, amount, currency, reference=reference)
        except CardDeclined as exc:
            raise refuse(ErrorCode.CARD_DECLINED, "The card was declined. Try another card.") from exc
        except ProcessorUnavailable as exc:
            raise refuse(
                ErrorCode.PAYMENT_PROCESSOR_UNAVAILABLE,
                "The payment processor is not answering; nothing was charged. Try again.",
            ) from exc
        self.charges.append(charge)
        return charge

    async def try_charge(self, token: str, amount: Decimal, currency: str, *, reference: str) -> Charge | None:
        """Charge if the card allows it; None (not a refusal) when it declines or the processor fails."""
        try:
            return await self.charge(token, amount, currency, reference=reference)
        except Refusal:
            return None

    def target(self, type_name: str, target_id: uuid.UUID | str) -> None:
        self.target_type, self.target_id = type_name, str(target_id)

    @property
    def viewer(self) -> SignedInUser:
        """The user acting, for the steps only a user takes (their purchase, card, bill, request).

        The policy module refuses applications before any such step; should one get this far
        anyway, it is refused here rather than recorded as a user that does not exist.
        """
        if isinstance(self.principal, SignedInUser):
            return self.principal
        raise refuse(ErrorCode.NOT_AUTHORIZED, "An application cannot do this: it acts for no user.")

    @property
    def principal_id(self) -> uuid.UUID:
        """Whose idempotency keys these are: the user's, or the application's."""
        return self.principal.app_id if isinstance(self.principal, SignedInApp) else self.principal.user_id


@dataclass(frozen=True)
class Idempotency:
    key: str
    request: dict[str, Any]
    # What the request names, for the NOT_FOUND a key outside the viewer's reach gets.
    what: str = "object"
    field: str | None = None

    def request_hash(self, operation: str) -> str:
        canonical = json.dumps({"operation": operation, "input": self.request}, sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """What the payload is built from: ids of what changed (JSON, replayable) or the problems."""

    data: dict[str, Any]
    problems: tuple[Problem, ...] = ()
    replayed: bool = False


Operation = Callable[[Work], Awaitable[dict[str, Any]]]


async def run(
    ctx: Context,
    *,
    action: str,
    tenant_id: uuid.UUID | None,
    target_type: str,
    target_id: uuid.UUID | str,
    operation: Operation,
    idempotency: Idempotency | None = None,
) -> Outcome:
    """Run ``operation`` in ``tenant_id`` (None: the caller's own tenant) as one audited transaction."""
    viewer = ctx.viewer
    if viewer is None:
        # No principal, no tenant to record it in: refused before any transaction starts.
        return Outcome({}, (Problem(ErrorCode.UNAUTHENTICATED, "Sign in to do this."),))
    scope = ctx.scope_of(viewer.tenant_id if tenant_id is None else tenant_id)
    work: Work | None = None
    try:
        async with ctx.db.transaction() as conn:
            work = Work(
                conn=conn,
                principal=viewer,
                scope=scope,
                processor=ctx.processor,
                request_id=ctx.request_id,
                client_request_id=ctx.client_request_id,
                target_type=target_type,
                target_id=str(target_id),
            )
            try:
                async with conn.transaction():
                    outcome = await _perform(work, action, operation, idempotency)
            except Refusal as refusal:
                await _void(work)
                outcome = Outcome({}, refusal.problems)
            await _audit(work, action, outcome)
    except BaseException:
        # The writes did not commit, so the charges go too: whether the operation, its audit row
        # or the commit itself failed (a commit refused, or its connection lost mid-way).
        if work is not None:
            await _void(work)
        raise
    return outcome


async def _perform(work: Work, action: str, operation: Operation, idempotency: Idempotency | None) -> Outcome:
    if idempotency is None:
        return Outcome(await operation(work))
    if not 1 <= len(idempotency.key) <= IDEMPOTENCY_KEY_LENGTH:
        raise refuse(
            ErrorCode.INVALID_INPUT,
            f"An idempotency key is 1 to {IDEMPOTENCY_KEY_LENGTH} characters (a UUID will do).",
            "idempotencyKey",
        )
    scope, principal = work.scope, work.principal_id
    if not scope.sees_anything:
        # Nothing to claim a key in: a tenant out of reach (or nonexistent) is simply not found.
        fields = (idempotency.field,) if idempotency.field else ()
        raise refuse(ErrorCode.NOT_FOUND, f"No such {idempotency.what}.", *fields)
    request_hash = idempotency.request_hash(action)
    claimed = await work.conn.fetchval(
        CLAIM_IDEMPOTENCY_KEY, scope.tenant_id, principal, idempotency.key, action, request_hash
    )
    if not claimed:
        row = await work.conn.fetchrow(SELECT_IDEMPOTENCY_KEY, scope.tenant_id, principal, idempotency.key)
        if row is None or row["request_hash"] != request_hash:
            raise refuse(
                ErrorCode.IDEMPOTENCY_KEY_REUSED,
                "This idempotency key was already used for a different request.",
                "idempotencyKey",
            )
        work.details["replayed"] = True
        return Outcome(dict(row["response"]), replayed=True)
    data = await operation(work)
    await work.conn.execute(STORE_IDEMPOTENT_RESPONSE, scope.tenant_id, principal, idempotency.key, data)
    return Outcome(data)


async def _audit(work: Work, action: str, outcome: Outcome) -> None:
    # In the tenant named when the actor reaches it, else in the actor's own: never decided on
    # whether the named tenant exists (that would tell an outsider it does).
    actor = work.principal
    recorded_in = audit_tenant(work.scope, actor)
    on_behalf = recorded_in if recorded_in != actor.tenant_id else None
    # The actor is a user or an application, never both: an app's event names no user.
    await work.conn.execute(
        INSERT_AUDIT_EVENT,
        recorded_in,
        actor.user_id,
        actor.app_id if isinstance(actor, SignedInApp) else None,
        actor.tenant_id,
        on_behalf,
        action,
        work.target_type,
        audit_text(work.target_id, TARGET_ID_LENGTH),
        work.request_id,
        _bounded(work.details),
        "refused" if outcome.problems else "accepted",
        [p.code.name for p in outcome.problems],
        work.client_request_id,
    )


# What an audit row keeps of a client's text: a target id as long as any this API issues (a
# global ID, a product id, "tenant:product"), and detail strings a little longer. The row must
# stay small and printable whatever was sent: a refusal costs the caller nothing.
TARGET_ID_LENGTH = 200
DETAIL_TEXT_LENGTH = 500


def _printable(text: str) -> str:
    # Control, format (bidi overrides, zero-width) and surrogate code points: Unicode's C* but
    # unassigned and private use, which print as themselves.
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))


def audit_text(value: str, length: int) -> str:
    """``value`` without control characters, cut to ``length`` with a marker saying how much went."""
    if len(value) <= length:
        return _printable(value)
    kept = length - len(f"…[+{len(value)} chars]")
    return f"{_printable(value[:kept])}…[+{len(value) - kept} chars]"


def _bounded(value: Any) -> Any:
    """Details (JSON the operations build) with every string in them bounded."""
    if isinstance(value, str):
        return audit_text(value, DETAIL_TEXT_LENGTH)
    if isinstance(value, dict):
        return {key: _bounded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_bounded(item) for item in value]
    return value


async def _void(work: Work) -> None:
    for charge in work.charges:
        try:
            await work.processor.void(charge.charge_id)
        except Exception:  # the charge stays to be reconciled; the log line names it
            log.exception("could not void charge %s", charge.charge_id)
    work.charges.clear()
