"""A leaky bucket of query-cost points per principal, as Shopify and GitHub meter their APIs.

Each request takes its requested cost (computed before execution) from its principal's bucket;
the bucket refills at ``restore_rate`` points per second up to ``maximum_available``. A request
that does not fit is refused 429 THROTTLED with ``Retry-After``: the seconds until it would fit.

The bucket lives in PostgreSQL, in one row per principal updated by one upsert: several gateway
replicas behind a load balancer share one database, so they share the buckets too, and the
row lock of ``ON CONFLICT DO UPDATE`` makes concurrent requests of one principal take turns.
``CostBucket`` is the seam for an in-process or Redis bucket should that statement ever matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from purchasegraph.db.executor import Executor
from purchasegraph.settings import ThrottleSettings

# Refill since the last take (capped at the maximum), then take the cost if it fits.
TAKE = """
INSERT INTO throttle_buckets AS b (principal, available, granted, updated_at)
VALUES ($1, CASE WHEN $3::float8 <= $2::float8 THEN $2::float8 - $3::float8 ELSE $2::float8 END,
        $3::float8 <= $2::float8, clock_timestamp())
ON CONFLICT (principal) DO UPDATE SET
    available = CASE
        WHEN LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
             >= $3::float8
        THEN LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
             - $3::float8
        ELSE LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
    END,
    granted = LEAST($2::float8, b.available + $4::float8 * extract(epoch FROM clock_timestamp() - b.updated_at))
              >= $3::float8,
    updated_at = clock_timestamp()
RETURNING available, granted
"""


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
    async def take(self, db: Executor, principal: str, cost: int) -> ThrottleStatus | None:
        """The bucket after trying to take ``cost``; None when throttling is off."""
        ...


class PostgresCostBucket:
    def __init__(self, settings: ThrottleSettings) -> None:
        self.settings = settings

    async def take(self, db: Executor, principal: str, cost: int) -> ThrottleStatus | None:
        if self.settings.restore_rate <= 0:
            return None
        row = await db.fetchrow(
            TAKE, principal, float(self.settings.maximum_available), float(cost), float(self.settings.restore_rate)
        )
        assert row is not None
        return ThrottleStatus(
            granted=row["granted"],
            maximum_available=self.settings.maximum_available,
            currently_available=math.floor(row["available"]),
            restore_rate=self.settings.restore_rate,
        )
