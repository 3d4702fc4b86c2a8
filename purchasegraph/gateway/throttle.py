"""A leaky bucket of query-cost points per principal, as Shopify and GitHub meter their APIs.

Each request takes its requested cost (computed before execution) from its principal's bucket;
the bucket refills at ``restore_rate`` points per second up to ``maximum_available``. A request
that does not fit is refused 429 THROTTLED with ``Retry-After``: the seconds until it would fit.

The bucket lives in PostgreSQL, in one row per principal taken from by ``throttle_take``
(migration 0014): several gateway replicas behind a load balancer share one database, so they
share the buckets too, exactly (no tolerance: the row lock of ``ON CONFLICT DO UPDATE`` makes
concurrent requests of one principal take turns, whichever replica they reach). The table is
UNLOGGED and the take commits without a WAL flush, and an HTTP request's take rides in its
sign-in statement (``gateway/authentication.py``), so the throttle costs a read request no round
trip and no write to the log of its own. ``bench/request_cost.py`` measured the options: the
logged upsert with a synchronous commit took 4 ms (p50, with its round trip); the unlogged take
alone 0.6 ms; folded into the sign-in it adds about 0.1 ms and no round trip; an in-process
bucket takes 0.003 ms but, reconciled in the background, lets N replicas grant up to N budgets
between reconciliations, and needs a background task per process. The folded row was the better deal.
``CostBucket`` is the seam for an in-process or Redis bucket should that statement ever matter.

Whose bucket pays is decided here (``principal_of``) and in ``gateway/authentication.py``: a
token naming nobody the directory has pays from its client address's bucket, since whoever holds
a signing key can mint a subject per request but not an address; the address is the connection's
unless a proxy in ``PURCHASEGRAPH_TRUSTED_PROXIES`` forwarded it. A bucket full again is as good
as no row: the lifecycle sweep deletes those (``prune_full_buckets``), so the table holds the
callers of the last few seconds, not every address that ever called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from purchasegraph.db.executor import Executor
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.principals import Principal, SignedInApp
from purchasegraph.settings import ThrottleSettings

# Refill since the last take (capped at the maximum), then take the cost if it fits.
TAKE = "SELECT available, granted FROM throttle_take($1, $2, $3, $4)"

# A bucket that has refilled to its maximum ($1 at $2 points a second) is as good as no row, since
# a new row starts full: at most $3 such rows go per run, none a take is holding. With throttling
# off ($2 <= 0) no row is read again, and all go. The lock re-reads a row a take has just changed,
# so a bucket taken from since the scan stays.
PRUNE_FULL = """
DELETE FROM throttle_buckets
 WHERE principal IN (SELECT principal FROM throttle_buckets
                      WHERE $2 <= 0 OR available + $2 * extract(epoch FROM clock_timestamp() - updated_at) >= $1
                      LIMIT $3 FOR UPDATE SKIP LOCKED)
RETURNING principal
"""
# Rows a prune deletes at most: one run stays short however many idle clients came by.
PRUNE_LIMIT = 10_000


def user_principal(tenant_id: object, user_id: object) -> str:
    """The bucket of a signed-in user of their tenant."""
    return f"user:{tenant_id}:{user_id}"


def app_principal(tenant_id: object, app_id: object) -> str:
    """The bucket of an application of its tenant, apart from any user's."""
    return f"app:{tenant_id}:{app_id}"


def anonymous_principal(address: str | None) -> str:
    """The bucket of an anonymous client: its address."""
    return f"anonymous:{address or 'unknown'}"


# What a take needs besides the principal: (maximum, cost, restore rate), as throttle_take's $2-$4.
Terms = tuple[float, float, float]


@dataclass(frozen=True)
class ThrottleStatus:
    granted: bool
    maximum_available: int
    currently_available: int
    restore_rate: int

    def retry_after(self, cost: int) -> int:
        """Whole seconds until ``cost`` points will be available again."""
        missing = max(cost - self.currently_available, 0)
        return max(1, math.ceil(missing / self.restore_rate)) if self.restore_rate else 1

    def as_extension(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum_available,
            "currentlyAvailable": self.currently_available,
            "restoreRate": self.restore_rate,
        }


class CostBucket(Protocol):
    def terms(self, cost: int) -> Terms:
        """The arguments of ``throttle_take`` after the principal, for a statement that takes it."""
        ...

    def status(self, available: float | None, granted: bool | None) -> ThrottleStatus | None:
        """The bucket as a statement's take left it; None when throttling is off."""
        ...

    async def take(self, db: Executor, principal: str, cost: int) -> ThrottleStatus | None:
        """The bucket after trying to take ``cost``; None when throttling is off."""
        ...


class PostgresCostBucket:
    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings

    def terms(self, cost: int) -> Terms:
        return float(self.settings.maximum_available), float(cost), float(max(self.settings.restore_rate, 0))

    def status(self, available: float | None, granted: bool | None) -> ThrottleStatus | None:
        if self.settings.restore_rate <= 0 or available is None or granted is None:
            return None
        return ThrottleStatus(
            granted=granted,
            maximum_available=self.settings.maximum_available,
            currently_available=math.floor(available),
            restore_rate=self.settings.restore_rate,
        )

    async def take(self, db: Executor, principal: str, cost: int) -> ThrottleStatus | None:
        if self.settings.restore_rate <= 0:
            return None
        row = await db.fetchrow(TAKE, principal, *self.terms(cost))
        assert row is not None
        return self.status(row["available"], row["granted"])


async def prune_full_buckets(db: Executor, settings: ThrottleSettings, limit: int = PRUNE_LIMIT) -> int:
    """Delete the buckets that are full again (``PRUNE_FULL``), so the table holds the clients of
    the last few seconds rather than every address that ever called; how many went."""
    rows = await db.fetch(PRUNE_FULL, float(settings.maximum_available), float(settings.restore_rate), limit)
    return len(rows)


def principal_of(viewer: Principal | None, address: str | None) -> str:
    """Whose bucket pays: the signed-in user of their tenant, or the application of its tenant (one
    bucket per app and tenant, apart from any user's), else the client's address. HTTP requests
    and websocket operations of one principal pay from the same bucket."""
    if isinstance(viewer, SignedInApp):
        return app_principal(viewer.tenant_id, viewer.app_id)
    if viewer is not None:
        return user_principal(viewer.tenant_id, viewer.user_id)
    return anonymous_principal(address)


def cost_extension(requested: int, actual: int, throttle: ThrottleStatus | None) -> dict[str, Any]:
    cost: dict[str, Any] = {"requestedQueryCost": requested, "actualQueryCost": actual}
    if throttle is not None:
        cost["throttleStatus"] = throttle.as_extension()
    return cost


def throttled(requested: int, throttle: ThrottleStatus) -> RequestError:
    """The 429 of a request whose cost its principal's bucket does not hold."""
    wait = throttle.retry_after(requested)
    return RequestError(
        RequestCode.THROTTLED,
        f"This request costs {requested} points and {throttle.currently_available} are available; "
        f"retry in {wait} s or ask for less.",
        status=429,
        headers={"Retry-After": str(wait)},
        extensions={"cost": cost_extension(requested, 0, throttle)},
    )
