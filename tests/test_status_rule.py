"""The status every read shows, as the database computes it (``effective_status``).

A subscription is what its dates say: its stored state until its end date; for the 30 days after
it, still trial or active if it will renew (auto-renew on a card, or a trial with a card, and a
purchaser who has not left), otherwise expired (disabled stays disabled); disabled from 30 to 120
days after; deleted from then on; and deleted once deleted. The rule is checked at and around
each boundary, and the facts it reads are kept true by the database whoever writes them. The
functions are also held to being inlined into the statements that call them: a status per row is
read on every list, and as a function call it cost 6 to 20 µs a row.
"""

from __future__ import annotations

import datetime
import uuid

import asyncpg
import pytest

END = datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC)
DAY = datetime.timedelta(days=1)
TICK = datetime.timedelta(microseconds=1)

RENEWING = ("trial", "active")


def expected(stored: str, renews: bool, at: datetime.datetime) -> str:
    """The rule, read from its description above."""
    if stored == "deleted":
        return "deleted"
    if at < END:
        return stored
    if at < END + 30 * DAY:
        if stored in RENEWING and renews:
            return stored
        return "disabled" if stored == "disabled" else "expired"
    if at < END + 120 * DAY:
        return "disabled"
    return "deleted"


INSTANTS = [
    END + offset
    for boundary in (datetime.timedelta(0), 30 * DAY, 120 * DAY)
    for offset in (boundary - DAY, boundary - TICK, boundary, boundary + TICK, boundary + DAY)
]


@pytest.mark.parametrize("stored", ["trial", "active", "expired", "disabled", "deleted"])
@pytest.mark.parametrize("renews", [True, False])
async def test_the_status_follows_the_end_date_at_every_boundary(
    conn: asyncpg.Connection, stored: str, renews: bool
) -> None:
    rows = await conn.fetch(
        "SELECT at, subscription_status($1, $2, $3, at) AS status FROM unnest($4::timestamptz[]) AS at",
        stored,
        END,
        renews,
        INSTANTS,
    )
    assert {row["at"]: row["status"] for row in rows} == {at: expected(stored, renews, at) for at in INSTANTS}


async def renews(conn: asyncpg.Connection, subscription_id: uuid.UUID) -> bool:
    value = await conn.fetchval("SELECT subscription_renews(s) FROM subscriptions s WHERE s.id = $1", subscription_id)
    assert isinstance(value, bool)
    return value


async def test_a_purchasers_departure_stops_the_renewal_and_reinstatement_restores_it(
    conn: asyncpg.Connection,
) -> None:
    row = await conn.fetchrow(
        """SELECT s.id, s.tenant_id, s.purchaser_user_id FROM subscriptions s JOIN users u
             ON u.tenant_id = s.tenant_id AND u.id = s.purchaser_user_id
            WHERE s.channel = 'self_service' AND s.controlled_by = 'purchaser' AND s.payment_method_id IS NOT NULL
              AND s.auto_renew AND u.departed_at IS NULL
            ORDER BY s.id LIMIT 1"""
    )
    assert row is not None, "the demo world has a renewing self-service subscription"
    assert await renews(conn, row["id"])
    await conn.execute(
        "UPDATE users SET departed_at = DATE '2026-01-15' WHERE tenant_id = $1 AND id = $2",
        row["tenant_id"],
        row["purchaser_user_id"],
    )
    assert not await renews(conn, row["id"])
    await conn.execute(
        "UPDATE users SET departed_at = NULL WHERE tenant_id = $1 AND id = $2",
        row["tenant_id"],
        row["purchaser_user_id"],
    )
    assert await renews(conn, row["id"])


async def test_a_subscription_given_to_a_departed_user_does_not_renew(conn: asyncpg.Connection) -> None:
    subscription = await conn.fetchrow(
        """SELECT id, tenant_id, purchaser_user_id FROM subscriptions
            WHERE channel = 'self_service' AND controlled_by = 'purchaser' AND payment_method_id IS NOT NULL
              AND auto_renew ORDER BY id LIMIT 1"""
    )
    assert subscription is not None, "the demo world has a renewing self-service subscription"
    colleague = await conn.fetchrow(
        """SELECT id FROM users WHERE tenant_id = $1 AND id <> $2 AND user_type = 'member' AND departed_at IS NULL
            ORDER BY id LIMIT 1""",
        subscription["tenant_id"],
        subscription["purchaser_user_id"],
    )
    assert colleague is not None
    assert await renews(conn, subscription["id"])
    # The colleague leaves; a subscription handed to them afterwards does not renew on their card.
    await conn.execute(
        "UPDATE users SET departed_at = DATE '2026-01-15' WHERE tenant_id = $1 AND id = $2",
        subscription["tenant_id"],
        colleague["id"],
    )
    assert await renews(conn, subscription["id"]), "someone else's departure changes nothing"
    await conn.execute(
        "UPDATE subscriptions SET purchaser_user_id = $2 WHERE id = $1", subscription["id"], colleague["id"]
    )
    assert not await renews(conn, subscription["id"])


@pytest.mark.parametrize(
    "expression",
    ["effective_status(s)", "subscription_renews(s)", "subscription_status(s.status, s.expires_at, true, app_now())"],
)
async def test_the_status_rule_is_inlined_into_the_statements_that_read_it(
    conn: asyncpg.Connection, expression: str
) -> None:
    plan = await conn.fetch(f"EXPLAIN (VERBOSE, COSTS OFF) SELECT {expression} FROM subscriptions s")
    text = "\n".join(row[0] for row in plan)
    for function in ("effective_status", "subscription_renews", "subscription_status", "app_now"):
        assert f"{function}(" not in text, text
