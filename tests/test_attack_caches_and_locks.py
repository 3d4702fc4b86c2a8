"""What an outside attack on the verified-token cache and on migration 0023 found, kept as rules.

A remembered token is trusted no longer than the key set that verified it; a departure locks the
purchaser's subscriptions before their user row, as their own operations do; and the status rule
answers for every end date, the same in every session time zone."""

from __future__ import annotations

import asyncio
import contextlib
import datetime

import pytest

from purchasegraph import identity
from purchasegraph.demo.actors import ALEX, CONTOSO_ID, demo_user_id
from purchasegraph.identity import Claims, TokenReason
from tests.test_entra_tokens import (
    KID,
    SIGNING_KEY,
    STRANGERS_KEY,
    Published,
    jwks_endpoint,
    jwks_of,
    jwks_verifier,
    reason_of,
    signed,
    v2_user_claims,
)

# -- 1. the verified-token cache ----------------------------------------------------------------


async def test_a_withdrawn_key_stops_verifying_once_the_set_is_fetched_again_even_for_a_remembered_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """JWKS_CACHE_SECONDS promises a withdrawn key verifies nothing once the set is fetched again:
    a remembered token's deadline counts from when the key set that verified it was fetched, not
    from when the token was first seen (which let it outlive the key by another JWKS_CACHE_SECONDS)."""
    monkeypatch.setattr(identity, "JWKS_CACHE_SECONDS", 1.0)
    published = Published(jwks_of((SIGNING_KEY, KID)))
    with jwks_endpoint(published) as url:
        verifier = jwks_verifier(url)
        # Someone's token fetches the set at t=0.
        await verifier.verify_principal(signed(v2_user_claims() | {"jti": "first"}))
        await asyncio.sleep(0.8)
        # The victim token is first seen at t=0.8, verified by the set fetched at t=0.
        target = signed(v2_user_claims() | {"jti": "late"})
        assert await verifier.verify_principal(target) == Claims(demo_user_id(ALEX), CONTOSO_ID)
        # The provider withdraws the key (compromised); the set is fetched again at t>1.0.
        published.body = jwks_of((STRANGERS_KEY, "rotated-in"))
        await asyncio.sleep(0.4)
        assert await reason_of(verifier, signed(v2_user_claims() | {"jti": "other"})) is TokenReason.BAD_SIGNATURE
        # The set no longer holds the key: the remembered token must be refused too.
        assert await reason_of(verifier, target) is TokenReason.BAD_SIGNATURE


# -- 3. migration 0023: the departure trigger against the commerce code's row locks ---------------

import asyncpg  # noqa: E402

from purchasegraph.commerce.buyers import SELECT_USER_STANDING  # noqa: E402
from purchasegraph.commerce.governance import LOCK_PURCHASERS_SUBSCRIPTIONS, MARK_DEPARTED  # noqa: E402
from purchasegraph.commerce.records import LOCK_SUBSCRIPTION  # noqa: E402


async def test_marking_a_purchaser_departed_does_not_deadlock_with_their_add_licenses(pool: asyncpg.Pool) -> None:
    """add_licenses (and update_subscription_payment_method) lock the subscription, then the
    buyer's user row (product_for_buyer). markUserDeparted's trigger (0023) rewrites every
    subscription of theirs, so it locks them first, in id order, before the user row: the
    departure waits for the purchaser's operation instead of deadlocking with it (40P01)."""
    async with pool.acquire() as probe:
        target = await probe.fetchrow(
            """SELECT s.tenant_id, s.id, s.purchaser_user_id FROM subscriptions s
                 JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.purchaser_user_id
                WHERE s.channel = 'self_service' AND s.controlled_by = 'purchaser'
                  AND u.departed_at IS NULL ORDER BY s.id LIMIT 1"""
        )
    assert target is not None
    tenant, sub, purchaser = target["tenant_id"], target["id"], target["purchaser_user_id"]

    async def depart(admin: asyncpg.Connection) -> object:
        # mark_user_departed's statements, in its order.
        await admin.execute(LOCK_PURCHASERS_SUBSCRIPTIONS, tenant, purchaser)
        return await admin.fetchval(MARK_DEPARTED, tenant, purchaser, None)

    async with pool.acquire() as buyer, pool.acquire() as admin:
        tb, ta = buyer.transaction(), admin.transaction()
        await tb.start()
        await ta.start()
        try:
            # The purchaser's addLicenses: the subscription first.
            await buyer.fetchrow(LOCK_SUBSCRIPTION, tenant, sub, True, None)
            departure = asyncio.ensure_future(depart(admin))
            await asyncio.sleep(0.3)
            assert not departure.done(), "the departure waits for the purchaser's subscription"
            # add_licenses goes on to product_for_buyer, the buyer's user row, and gets it.
            standing = await asyncio.wait_for(buyer.fetchrow(SELECT_USER_STANDING, tenant, purchaser), 5)
            assert standing is not None
            await tb.rollback()
            # Then the departure goes through.
            assert await asyncio.wait_for(departure, 5) is not None
        finally:
            for t in (tb, ta):
                with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError):
                    await t.rollback()


# -- 3. migration 0023: the rewritten status rule against 0002's -----------------------------------

OLD_STATUS_RULE = """
CREATE FUNCTION pg_temp.status_0002(stored text, expires_at timestamptz, renews boolean, at timestamptz)
RETURNS text LANGUAGE sql AS $$
    SELECT CASE
        WHEN stored = 'deleted' THEN 'deleted'
        WHEN at < expires_at THEN stored
        WHEN stored IN ('trial', 'active') AND renews AND at < expires_at + interval '30 days' THEN stored
        WHEN at >= expires_at + interval '120 days' THEN 'deleted'
        WHEN at >= expires_at + interval '30 days' THEN 'disabled'
        WHEN stored = 'disabled' THEN 'disabled'
        ELSE 'expired'
    END
$$"""

DIFFERENCES = """
WITH e(exp) AS (VALUES ($1::timestamptz)),
     d(at) AS (SELECT exp + x * interval '1 hour' FROM e, generate_series(-24, 130 * 24) x),
     s(st) AS (VALUES ('trial'), ('active'), ('expired'), ('disabled')),
     r(rn) AS (VALUES (true), (false))
SELECT st, rn, at - exp AS after,
       pg_temp.status_0002(st, exp, rn, at) AS old, subscription_status(st, exp, rn, at) AS new
  FROM e, d, s, r
 WHERE pg_temp.status_0002(st, exp, rn, at) IS DISTINCT FROM subscription_status(st, exp, rn, at)
"""


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin"])
async def test_the_status_rule_is_0002s_in_utc_and_the_same_in_every_session_zone(
    conn: asyncpg.Connection, zone: str
) -> None:
    """0002's rule, evaluated in UTC (every gateway connection's zone), is the rule today; and the
    rule gives the same status whatever zone a session runs in (psql, a report), where 0002's
    calendar-day arithmetic moved its boundaries by the hour across a daylight-saving change."""
    await conn.execute(OLD_STATUS_RULE)
    end = datetime.datetime(2026, 2, 20, 12, tzinfo=datetime.UTC)
    await conn.execute("SET LOCAL TimeZone = 'UTC'")
    assert not await conn.fetch(DIFFERENCES, end)
    in_utc = await conn.fetch(EVERY_STATUS, end)
    await conn.execute(f"SET LOCAL TimeZone = '{zone}'")
    assert await conn.fetch(EVERY_STATUS, end) == in_utc


EVERY_STATUS = """
SELECT st, rn, x, subscription_status(st, $1::timestamptz, rn, $1::timestamptz + x * interval '1 hour')
  FROM generate_series(-24, 130 * 24) x, unnest(ARRAY['trial', 'active', 'expired', 'disabled']) st,
       unnest(ARRAY[true, false]) rn
 ORDER BY st, rn, x
"""


async def test_the_rewritten_status_rule_answers_for_an_unbounded_end_date_as_0002_did(
    conn: asyncpg.Connection,
) -> None:
    """subscriptions.expires_at is a timestamptz with no bound (CHECK expires_at > term_start);
    0002 read 'infinity' as a subscription that never ends and '-infinity' as long over. 0023
    subtracted it, which PostgreSQL 16 refuses: every statement reading the status failed."""
    await conn.execute(OLD_STATUS_RULE)
    for end in ("infinity", "-infinity"):
        for stored in ("trial", "active", "expired", "disabled", "deleted"):
            old = await conn.fetchval("SELECT pg_temp.status_0002($1, $2::text::timestamptz, true, now())", stored, end)
            try:
                async with conn.transaction():  # a savepoint: an error must not spoil the fixture's
                    new = await conn.fetchval(
                        "SELECT subscription_status($1, $2::text::timestamptz, true, now())", stored, end
                    )
            except asyncpg.PostgresError as error:
                new = f"error: {error}"
            assert new == old, (stored, end)
