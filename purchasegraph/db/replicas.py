"""The read replicas: their pools, their health, and which one a read runs on.

Queries are most of the traffic, and a streaming standby answers them as well as the primary
does, only a little later. So a query's statements run on a replica in rotation, while sign-in
(it writes the throttle row), mutations, the sweep and event listening stay on the primary.

Each process probes every replica every ``PROBE_SECONDS``: whether it is still a standby, how far
it has replayed, and how far behind it is. A replica that fails a probe is ``down``, one that trails
by more than the lag bound is ``lagging``; both leave the rotation until a probe finds them well.

Read-your-writes: a mutation's response names the primary's WAL position after its commit (a
``pg_lsn``, e.g. ``0/3000148``), and a read that sends it back runs only where that position has
been replayed: a replica that is there already, or one that gets there within the wait, else the
primary. The position is the database's, not a gateway's, so it means the same on every gateway.

A replica is optional capacity: whatever fails on one (a connection, a statement), the read runs
on the next, and finally on the primary; only the primary being away fails a read.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from purchasegraph.db.lending import SET_TENANT, give_back

log = logging.getLogger("purchasegraph.replicas")

# How often each process asks every replica how it is, in seconds.
PROBE_SECONDS = 0.5
# How long a probe, or taking a replica's connection for a read, may take before the replica
# counts as down: the primary is there to answer instead, so a sick replica is not waited on.
REPLICA_TIMEOUT_SECONDS = 1.0
# How often a read waiting for a position asks the replica again, in seconds.
REPLAY_POLL_SECONDS = 0.002

# A standby's health in one statement. A replica still streaming from the primary that has
# replayed all it received is not behind, however old its last replayed transaction (an idle
# primary sends none); otherwise its lag is the age of the last transaction it replayed. One whose
# stream stopped has also replayed all it received, but the primary's commits no longer reach it,
# so it cannot claim to be current. (Any role sees whether a WAL receiver runs: its pid.) One that
# has replayed no transaction since it started cannot say how far behind it is (lag NULL).
PROBE = """
SELECT pg_is_in_recovery() AS standby,
       (SELECT system_identifier FROM pg_control_system()) AS cluster,
       pg_last_wal_replay_lsn()::text AS replayed,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT FROM pg_stat_wal_receiver) THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8
       END AS lag
"""
# The tenant named on a replica's connection (as on the primary's: row-level security reads it)
# and whether the replica has replayed the position a read asks for, in one round trip.
# The position travels as text: asyncpg sends a pg_lsn as a signed 64-bit number, which cannot
# hold the upper half of the positions a client may send (up to FFFFFFFF/FFFFFFFF).
SET_TENANT_AFTER = """
SELECT set_config('purchasegraph.tenant_id', $1, false),
       pg_last_wal_replay_lsn() >= $2::text::pg_lsn AS replayed
"""
REPLAYED = "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn"

# A WAL position as PostgreSQL prints a pg_lsn: two hexadecimal halves of up to 32 bits each.
_LSN = re.compile(r"([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})")


def parse_lsn(text: str) -> int | None:
    """The position ``text`` names (``0/3000148``), as one number; None when it names none."""
    match = _LSN.fullmatch(text.strip())
    if match is None:
        return None
    return (int(match[1], 16) << 32) | int(match[2], 16)


def format_lsn(position: int) -> str:
    """``position`` as PostgreSQL prints a pg_lsn (``0/3000148``)."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


class ReplicaState(enum.StrEnum):
    UP = "up"
    LAGGING = "lagging"
    DOWN = "down"


class RouteReason(enum.StrEnum):
    """Why a read ran where it ran (the ``reason`` label of ``purchasegraph_read_routes_total``)."""

    # On a replica: in rotation, or one that had replayed the position the read asked for.
    ROTATION = "rotation"
    REPLAYED = "replayed"
    # On the primary: no replica is configured, none is in rotation, every one in rotation had all
    # its connections lent out, none replayed the position within the wait, or those tried failed.
    NO_REPLICAS = "no_replicas"
    NONE_IN_ROTATION = "none_in_rotation"
    REPLICAS_BUSY = "replicas_busy"
    READ_AFTER_WAIT = "read_after_wait"
    REPLICA_FAILED = "replica_failed"


@dataclass
class Replica:
    """One standby, as the last probe found it. Its label is its place in the setting, never its
    URL (which may hold a password)."""

    label: str
    pool: asyncpg.Pool
    # Where the probe connects: a connection of its own, so reads that hold every pooled one
    # never make a busy replica look like a dead one.
    url: str = field(repr=False, default="")
    state: ReplicaState = ReplicaState.DOWN
    lag: float | None = None
    replayed: int = 0
    prober: asyncpg.Connection | None = field(repr=False, default=None)
    # Reads holding one of its connections while they wait for it to replay their position.
    waiting: int = 0

    def may_wait(self) -> bool:
        """Whether one more read may hold a connection while it waits for replay. At most half the
        pool: positions no commit has reached yet (a client's typo, or one sent to slow others
        down) must never leave the reads that wait for nothing without a connection."""
        return self.waiting < max(1, int(self.pool.get_max_size()) // 2)

    def probed(self, standby: bool, replayed: str | None, lag: float | None, max_lag: float) -> None:
        """What a probe that answered found. A server no longer in recovery was promoted: its data
        has parted from the primary's, so it serves nothing until it is a standby again. A lag
        nobody can tell (None) counts as beyond the bound."""
        self.replayed = parse_lsn(replayed or "") or 0
        self.lag = lag if standby else None
        if not standby:
            self.state = ReplicaState.DOWN
        else:
            self.state = ReplicaState.LAGGING if lag is None or lag > max_lag else ReplicaState.UP

    def failed(self) -> None:
        self.state, self.lag = ReplicaState.DOWN, None

    async def probe_row(self) -> asyncpg.Record:
        """The probe's answer, on the probe's own connection (opened again after a failure)."""
        if self.prober is None or self.prober.is_closed():
            self.prober = await asyncpg.connect(self.url, timeout=REPLICA_TIMEOUT_SECONDS)
        try:
            row: asyncpg.Record = await self.prober.fetchrow(PROBE, timeout=REPLICA_TIMEOUT_SECONDS)
        except BaseException:
            await self.close_prober()
            raise
        return row

    async def close_prober(self) -> None:
        prober, self.prober = self.prober, None
        if prober is not None:
            prober.terminate()


@dataclass(frozen=True)
class Chosen:
    """Where a read's statements run: a connection already named for its tenant, the pool it is
    given back to, the replica (None: the primary), and why."""

    conn: asyncpg.Connection
    pool: asyncpg.Pool
    replica: Replica | None
    reason: RouteReason


class ReplicaSet:
    """The configured replicas of one process, probed in the background, and the choice of one."""

    def __init__(
        self, replicas: Sequence[Replica], *, max_lag: float, read_after_wait: float, cluster: int | None = None
    ) -> None:
        self.replicas = list(replicas)
        self.max_lag = max_lag
        self.read_after_wait = read_after_wait
        # The primary's cluster (its system identifier; None: not checked). A standby of another
        # cluster holds another database's rows and counts positions of another WAL.
        self.cluster = cluster
        self._turn = itertools.count()

    async def probe(self, replica: Replica) -> None:
        try:
            row = await replica.probe_row()
        except Exception as error:  # whatever stops a probe takes the replica out of rotation
            if replica.state is not ReplicaState.DOWN:
                log.warning("replica %s is down: %r", replica.label, error)
            replica.failed()
            return
        was = replica.state
        if self.cluster is not None and row["cluster"] != self.cluster:
            if was is not ReplicaState.DOWN:
                log.error("replica %s is a copy of another cluster, not of the primary", replica.label)
            replica.failed()
            return
        replica.probed(row["standby"], row["replayed"], row["lag"], self.max_lag)
        if replica.state is not was:
            log.info("replica %s is %s (lag %s s)", replica.label, replica.state.value, replica.lag)

    async def probe_all(self) -> None:
        await asyncio.gather(*(self.probe(replica) for replica in self.replicas))

    @asynccontextmanager
    async def probing(self) -> AsyncIterator[None]:
        """Every replica probed once now (so the first reads know the states), then every
        ``PROBE_SECONDS`` in the background for as long as the block runs (with no replica, nothing)."""
        if not self.replicas:
            yield
            return
        await self.probe_all()

        async def forever() -> None:
            while True:
                await asyncio.sleep(PROBE_SECONDS)
                await self.probe_all()

        task = asyncio.create_task(forever())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def in_rotation(self) -> list[Replica]:
        """The replicas a read may run on, starting at the next one's turn (round robin)."""
        up = [replica for replica in self.replicas if replica.state is ReplicaState.UP]
        if not up:
            return []
        start = next(self._turn) % len(up)
        return up[start:] + up[:start]

    def route(self, primary: asyncpg.Pool, tenant_setting: str, read_after: int | None) -> ReadRoute:
        return ReadRoute(self, primary, tenant_setting, read_after)


async def close_pools(replicas: ReplicaSet) -> None:
    for replica in replicas.replicas:
        await replica.close_prober()
        await replica.pool.close()


class ReadRoute:
    """The servers one read request tries in turn: the replicas in rotation (those that replayed
    its position, when it names one), then the primary. ``connect`` gives the first that answers;
    called again after a failure, the next."""

    def __init__(self, replicas: ReplicaSet, primary: asyncpg.Pool, tenant_setting: str, read_after: int | None):
        self._replicas = replicas
        self._primary = primary
        self._tenant = tenant_setting
        self._after = read_after
        self._candidates = replicas.in_rotation()
        if read_after is not None:
            # Those the last probe found at the position first: they answer without a wait.
            self._candidates.sort(key=lambda replica: replica.replayed < read_after)
        self._waited = False
        self._failed = False
        self._busy = False

    async def connect(self, acquire_timeout: float | None) -> Chosen:
        while self._candidates:
            replica = self._candidates.pop(0)
            try:
                chosen = await self._on_replica(replica)
            except Exception as error:  # only the set-up ran: whatever failed is the replica's
                self.failed(replica, error)
                continue
            if chosen is not None:
                return chosen
        return await self._on_primary(acquire_timeout)

    def failed(self, replica: Replica, error: BaseException) -> None:
        """A replica failed a read: out of rotation until a probe finds it well again."""
        log.warning("replica %s failed a read, trying the next server: %r", replica.label, error)
        replica.failed()
        self._failed = True

    async def _on_replica(self, replica: Replica) -> Chosen | None:
        try:
            conn = await replica.pool.acquire(timeout=REPLICA_TIMEOUT_SECONDS)
        except TimeoutError:
            # Every connection lent out: busy, not broken (a server that hangs fails its probe).
            self._busy = True
            return None
        try:
            if self._after is None:
                await conn.fetchrow(SET_TENANT, self._tenant, timeout=REPLICA_TIMEOUT_SECONDS)
                return Chosen(conn, replica.pool, replica, RouteReason.ROTATION)
            after = format_lsn(self._after)
            row = await conn.fetchrow(SET_TENANT_AFTER, self._tenant, after, timeout=REPLICA_TIMEOUT_SECONDS)
            assert row is not None
            if row["replayed"] or await self._wait_for_replay(replica, conn, after):
                return Chosen(conn, replica.pool, replica, RouteReason.REPLAYED)
        except BaseException:
            await give_back(replica.pool, conn)
            raise
        await give_back(replica.pool, conn)
        return None

    async def _wait_for_replay(self, replica: Replica, conn: asyncpg.Connection, after: str) -> bool:
        """Whether the replica replays the read's position within the wait: spent once per read,
        on the first replica that was not there yet, if it has room for one more waiting read."""
        if self._waited:
            return False
        self._waited = True
        if not replica.may_wait():
            return False
        replica.waiting += 1
        try:
            deadline = time.monotonic() + self._replicas.read_after_wait
            while time.monotonic() < deadline:
                await asyncio.sleep(REPLAY_POLL_SECONDS)
                if await conn.fetchval(REPLAYED, after, timeout=REPLICA_TIMEOUT_SECONDS):
                    return True
            return False
        finally:
            replica.waiting -= 1

    async def _on_primary(self, acquire_timeout: float | None) -> Chosen:
        conn = await self._primary.acquire(timeout=acquire_timeout)
        try:
            await conn.fetchrow(SET_TENANT, self._tenant)
        except BaseException:
            await give_back(self._primary, conn)
            raise
        return Chosen(conn, self._primary, None, self._primary_reason())

    def _primary_reason(self) -> RouteReason:
        if self._failed:
            return RouteReason.REPLICA_FAILED
        if self._waited:
            return RouteReason.READ_AFTER_WAIT
        if self._busy:
            return RouteReason.REPLICAS_BUSY
        if not self._replicas.replicas:
            return RouteReason.NO_REPLICAS
        return RouteReason.NONE_IN_ROTATION
