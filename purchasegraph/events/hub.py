"""One LISTEN connection per process, fanned out to every subscriber of that process.

Migration 0005 announces each committed purchase event on the channel ``purchasegraph_events``.
A process holds exactly one connection listening there (the owner login: notifications are
not subject to row-level security, and the listener never reads tenant data on anyone's
behalf), whatever the number of subscribers, and hands each notice to the queues of the
subscribers interested in its tenant. Every gateway process on the database listens, so each
delivers to its own subscribers; nothing is shared between processes.

The connection can drop (a server restart, a failover, a killed backend). The hub reconnects
with backoff, LISTENs again, then catches up on what committed while it was away by reading
the audit log after the last event it heard, so a short outage delays events rather than
losing them. (An event whose id is below one already heard but that committed during the
outage is the one case missed: ids are handed out at insert, not at commit.)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from purchasegraph.runtime import Runtime

log = logging.getLogger("purchasegraph.events")

CHANNEL = "purchasegraph_events"
# How the listener shows in pg_stat_activity: one per gateway process.
APPLICATION_NAME = "purchasegraph-events"
# Where the event ids stand when the hub first listens: only events after it are news.
SELECT_WATERMARK = "SELECT COALESCE(pg_sequence_last_value(pg_get_serial_sequence('audit_events', 'id')::regclass), 0)"
SELECT_MISSED = """
SELECT purchase_event_notice(a) AS notice FROM audit_events a
 WHERE a.id > $1 AND purchase_event_published(a)
 ORDER BY a.id
 LIMIT $2
"""
# An outage longer than this many events is reported, and its oldest events are not replayed.
CATCH_UP_LIMIT = 1000
# A subscriber this far behind is dropped rather than let its queue grow without bound.
QUEUE_LIMIT = 1000
# Ids of recent notices, so one heard both by catch-up and by LISTEN is delivered once.
RECENT_IDS = 4096
# How often an idle listener checks that its connection still answers (a dead peer sends no FIN).
HEALTH_CHECK_SECONDS = 30.0
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Notice:
    """One committed purchase event, as the notification names it: ids, no tenant data."""

    event_id: int
    # Its number in its tenant's audit log: what subscribers see (the global id is the hub's own).
    sequence: int
    tenant_id: uuid.UUID
    action: str
    target_type: str
    target_id: str
    subscription_id: uuid.UUID | None
    product_id: str | None
    purchaser_id: uuid.UUID | None
    actor_user_id: uuid.UUID | None
    actor_tenant_id: uuid.UUID | None
    occurred_at: datetime.datetime

    @classmethod
    def from_json(cls, text: str) -> Notice:
        raw: dict[str, Any] = json.loads(text)

        def optional_uuid(key: str) -> uuid.UUID | None:
            value = raw.get(key)
            return uuid.UUID(value) if value else None

        return cls(
            event_id=int(raw["id"]),
            sequence=int(raw["seq"]),
            tenant_id=uuid.UUID(raw["tenant_id"]),
            action=str(raw["action"]),
            target_type=str(raw["target_type"]),
            target_id=str(raw["target_id"]),
            subscription_id=optional_uuid("subscription_id"),
            product_id=raw.get("product_id"),
            purchaser_id=optional_uuid("purchaser_id"),
            actor_user_id=optional_uuid("actor_user_id"),
            actor_tenant_id=optional_uuid("actor_tenant_id"),
            occurred_at=datetime.datetime.fromisoformat(raw["occurred_at"]),
        )


@dataclass(frozen=True)
class Interest:
    """Which notices a subscriber wants: a tenant's, optionally only on one purchaser's subscriptions."""

    tenant_id: uuid.UUID
    purchaser_id: uuid.UUID | None = None

    def wants(self, notice: Notice) -> bool:
        return notice.tenant_id == self.tenant_id and (
            self.purchaser_id is None or notice.purchaser_id == self.purchaser_id
        )


class FeedEnded(Exception):
    """The feed stops before its subscriber did: it fell behind, or the process is stopping."""

    FELL_BEHIND = "fell_behind"
    SHUTTING_DOWN = "shutting_down"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Feed:
    """One subscriber's notices, in commit order; iterate it, close it when done."""

    def __init__(self, hub: EventHub, interest: Interest) -> None:
        self.interest = interest
        self._hub = hub
        self._queue: asyncio.Queue[Notice | FeedEnded] = asyncio.Queue()
        self._ended = False

    def offer(self, notice: Notice) -> None:
        """Called by the hub (on the event loop, never blocking)."""
        if self._ended:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            self.end(FeedEnded(FeedEnded.FELL_BEHIND))
            return
        self._queue.put_nowait(notice)

    def end(self, reason: FeedEnded) -> None:
        if not self._ended:
            self._ended = True
            self._queue.put_nowait(reason)
            self._hub.forget(self)

    def close(self) -> None:
        self._ended = True
        self._hub.forget(self)

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> Notice:
        item = await self._queue.get()
        if isinstance(item, FeedEnded):
            raise item
        return item


class EventHub:
    """The process's listener and its subscribers. ``start`` LISTENs before returning, so an
    event committed after the app reports itself started reaches a subscriber."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._feeds: dict[uuid.UUID, set[Feed]] = {}
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._last_event_id = 0
        self._conn: asyncpg.Connection | None = None
        # Set when the current connection closes, whoever closed it.
        self._lost = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        # While catching up, what LISTEN hears waits here, so events still go out in commit order.
        self._held: list[Notice] | None = None
        # Counted for tests and the benchmark: how many times the listener (re)connected.
        self.connections = 0

    # -- Subscribers ----------------------------------------------------------------------------

    def subscribe(self, interest: Interest) -> Feed:
        feed = Feed(self, interest)
        if self._stopping:
            feed.end(FeedEnded(FeedEnded.SHUTTING_DOWN))
        else:
            self._feeds.setdefault(interest.tenant_id, set()).add(feed)
        return feed

    def forget(self, feed: Feed) -> None:
        feeds = self._feeds.get(feed.interest.tenant_id)
        if feeds is not None:
            feeds.discard(feed)
            if not feeds:
                del self._feeds[feed.interest.tenant_id]

    @property
    def subscribers(self) -> int:
        return sum(len(f) for f in self._feeds.values())

    def publish(self, notice: Notice) -> None:
        """Hand a notice to every interested feed, once per event id."""
        if notice.event_id in self._recent:
            return
        self._recent[notice.event_id] = None
        if len(self._recent) > RECENT_IDS:
            self._recent.popitem(last=False)
        self._last_event_id = max(self._last_event_id, notice.event_id)
        # A copy: a feed that falls behind leaves the set while it is walked.
        for feed in list(self._feeds.get(notice.tenant_id, ())):
            if feed.interest.wants(notice):
                feed.offer(notice)

    # -- The listener ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._conn = await self._listen(catch_up=False)
        self._supervisor = asyncio.create_task(self._supervise(), name="purchase-event-listener")

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await self._close()
        for feeds in list(self._feeds.values()):
            for feed in list(feeds):
                feed.end(FeedEnded(FeedEnded.SHUTTING_DOWN))

    async def _listen(self, *, catch_up: bool) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self._database_url, timeout=10, server_settings={"application_name": APPLICATION_NAME}
        )
        lost = self._lost = asyncio.Event()
        conn.add_termination_listener(lambda _c: lost.set())
        try:
            # LISTEN first, then read the watermark or the missed events: whatever commits in
            # between is both heard and read, and `publish` delivers it once.
            await conn.add_listener(CHANNEL, self._on_notification)
            if catch_up:
                await self._catch_up(conn)
            else:
                self._last_event_id = int(await conn.fetchval(SELECT_WATERMARK))
        except BaseException:
            await conn.close(timeout=2)
            raise
        self.connections += 1
        return conn

    async def _catch_up(self, conn: asyncpg.Connection) -> None:
        self._held = []
        try:
            rows = await conn.fetch(SELECT_MISSED, self._last_event_id, CATCH_UP_LIMIT)
        finally:
            held, self._held = self._held, None
        if len(rows) == CATCH_UP_LIMIT:
            log.warning("purchase events: %d or more missed while reconnecting; replaying the first", CATCH_UP_LIMIT)
        for row in rows:
            self.publish(Notice.from_json(row["notice"]))
        for notice in held:
            self.publish(notice)
        if rows:
            log.info("purchase events: %d replayed after reconnecting", len(rows))

    def _on_notification(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            notice = Notice.from_json(payload)
        except (ValueError, KeyError, TypeError):
            log.exception("purchase events: an unreadable notification was dropped: %.200s", payload)
            return
        if self._held is not None:
            self._held.append(notice)
        else:
            self.publish(notice)

    async def _supervise(self) -> None:
        """Watch the connection; when it is gone, reconnect, LISTEN again and catch up."""
        attempt = 0
        while True:
            conn = self._conn
            if conn is not None and await self._healthy(conn):
                continue
            await self._close()
            log.warning("purchase events: the listener connection was lost; reconnecting")
            while self._conn is None:
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                attempt += 1
                try:
                    self._conn = await self._listen(catch_up=True)
                    attempt = 0
                except Exception as error:  # whatever it was, the next attempt may succeed
                    log.warning("purchase events: reconnect attempt %d failed: %r", attempt, error)

    async def _healthy(self, conn: asyncpg.Connection) -> bool:
        """Wait until the connection closes or a periodic check fails (False), or the period ends (True)."""
        if conn.is_closed():
            return False
        try:
            await asyncio.wait_for(self._lost.wait(), timeout=HEALTH_CHECK_SECONDS)
        except TimeoutError:
            try:
                await conn.fetchval("SELECT 1", timeout=5)
            except Exception:  # any failure of the check means a new connection
                return False
            return True
        return False

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=2)
            except Exception:  # it is being replaced or the app is stopping: just drop it
                conn.terminate()


def database_url_of(runtime: Runtime) -> str:
    """The database the runtime's pools reach: the configured one, else the embedded server's."""
    if runtime.settings.database_url:
        return runtime.settings.database_url
    assert runtime.embedded is not None, "without a database_url the runtime starts an embedded server"
    return runtime.embedded.database_url


@asynccontextmanager
async def listening(runtime: Runtime) -> AsyncIterator[EventHub]:
    """The hub for the app's lifespan: listening on entry, every subscriber ended on exit."""
    hub = EventHub(database_url_of(runtime))
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()
