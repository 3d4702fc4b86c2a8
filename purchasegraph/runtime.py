"""What a running purchasegraph holds: the database (embedded or not), the pools, the verifier.

The app's lifespan and the CLI commands both start one of these, so `serve`, `token` and
`seed` always agree on where the data and the development secret live.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from purchasegraph.db.embedded import EmbeddedServer, dev_secret, start_embedded_server
from purchasegraph.db.migrate import migrate
from purchasegraph.db.pool import GATEWAY_ROLE, create_pool
from purchasegraph.db.replicas import Replica, ReplicaSet, close_pools
from purchasegraph.demo.world import seed_demo_world
from purchasegraph.identity import TokenVerifier
from purchasegraph.payments import PaymentProcessor, SandboxProcessor
from purchasegraph.settings import Settings

log = logging.getLogger("purchasegraph")


@dataclass
class Runtime:
    settings: Settings
    # Requests: connections act as the gateway role, bound by row-level security.
    pool: asyncpg.Pool
    # Work across tenants on purpose (lifecycle sweep, CLI look-ups): the owner, past RLS.
    owner_pool: asyncpg.Pool
    verifier: TokenVerifier
    jwt_secret: str | None
    embedded: EmbeddedServer | None = None
    # The sandbox until a real processor is configured (cards never leave the process).
    processor: PaymentProcessor = field(default_factory=SandboxProcessor)
    # Queries' statements run on these streaming standbys (none configured: on the primary).
    replicas: ReplicaSet = field(default_factory=lambda: ReplicaSet([], max_lag=0, read_after_wait=0))
    migrated: list[int] = field(default_factory=list)
    seeded: bool = False
    startup_seconds: float = 0.0


# Which cluster the primary is: its standbys report the same system identifier.
CLUSTER = "SELECT system_identifier FROM pg_control_system()"


def jwt_secret_for(settings: Settings) -> str | None:
    """The configured secret; in development, else the one kept in the data folder."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.jwks_url:
        return None
    if settings.production:
        raise RuntimeError(
            "production mode needs PURCHASEGRAPH_JWKS_URL or PURCHASEGRAPH_JWT_SECRET; "
            "it never falls back to a development secret"
        )
    return dev_secret(settings.data_dir)


async def replica_set(settings: Settings, *, cluster: int | None = None) -> ReplicaSet:
    """A pool per configured replica, acting as the gateway role like the request pool. It opens
    no connection until a probe or a read asks, so a replica that is down does not stop the start.
    ``cluster`` is the primary's system identifier: a replica of any other serves nothing."""
    replicas = [
        Replica(
            label=f"replica-{index}",
            url=url,
            pool=await create_pool(
                url,
                min_size=0,
                max_size=settings.pool_max_size,
                role=GATEWAY_ROLE,
                statement_timeout=settings.statement_timeout,
                today=settings.today,
            ),
        )
        for index, url in enumerate(settings.replica_urls)
    ]
    return ReplicaSet(
        replicas, max_lag=settings.replica_max_lag, read_after_wait=settings.read_after_wait, cluster=cluster
    )


@asynccontextmanager
async def running(settings: Settings, *, seed: bool | None = None) -> AsyncIterator[Runtime]:
    """Start the database side (embedded server, pool, migrations, seed), stop it on exit."""
    if settings.production and settings.today is not None:
        # A moved clock renews, expires and bills on the wrong day: rehearsals only.
        raise RuntimeError("PURCHASEGRAPH_TODAY moves the app clock, for tests and rehearsals; production refuses it")
    started = time.perf_counter()
    embedded = None
    database_url = settings.database_url
    if database_url is None:
        embedded = await asyncio.to_thread(start_embedded_server, settings.data_dir)
        database_url = embedded.database_url
    try:
        # Small: it serves start-up, the sweep and the CLI, never a request.
        owner_pool = await create_pool(database_url, min_size=1, max_size=2, today=settings.today)
        try:
            async with owner_pool.acquire() as conn:
                migrated = await migrate(conn)
                should_seed = settings.should_seed if seed is None else seed
                seeded = await seed_demo_world(conn) if should_seed else False
            # Only now: the gateway role is made by a migration, and connecting names it.
            pool = await create_pool(
                database_url,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                role=GATEWAY_ROLE,
                statement_timeout=settings.statement_timeout,
                today=settings.today,
            )
            cluster = await pool.fetchval(CLUSTER) if settings.replica_urls else None
            replicas = await replica_set(settings, cluster=cluster)
            try:
                secret = jwt_secret_for(settings)
                runtime = Runtime(
                    settings=settings,
                    pool=pool,
                    owner_pool=owner_pool,
                    verifier=TokenVerifier(settings, secret=secret),
                    jwt_secret=secret,
                    embedded=embedded,
                    replicas=replicas,
                    migrated=migrated,
                    seeded=seeded,
                    startup_seconds=time.perf_counter() - started,
                )
                yield runtime
            finally:
                await close_pools(replicas)
                await pool.close()
        finally:
            await owner_pool.close()
    finally:
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
