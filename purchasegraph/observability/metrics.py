"""Prometheus metrics, served at /metrics in the text exposition format.

Every GraphQL request is recorded once, by ``record_request``, from the same place that writes
its log line (``GraphQLHTTP.__call__``). The pool gauges are not kept up to date by anyone:
they are read from the running app's pools when Prometheus scrapes.

Operation names come from clients, and every distinct label value is a new time series kept
for the life of the process, so ``operation_label`` bounds them: a name must look like a GraphQL
name of at most 64 characters, and only the first ``MAX_OPERATION_NAMES`` distinct names get a
series of their own; anything else is ``other``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator

import asyncpg
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from purchasegraph.db.replicas import ReplicaSet, ReplicaState
from purchasegraph.runtime import Runtime

OK = "ok"
ANONYMOUS = "anonymous"
# A batch (several operations in one request) is one request: its names are not split out.
BATCH = "batch"
# Refused before the document was read (bad JSON, wrong method, too large...), or the playground.
UNKNOWN = "unknown"
OTHER = "other"

OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200

_known_names: set[str] = set()
_known_lock = threading.Lock()


def operation_label(operation: str | None) -> str:
    """The ``operation`` label for what GraphQLHTTP recorded as the request's operation."""
    if operation is None or operation == "":
        return UNKNOWN
    if "," in operation:
        return BATCH
    if operation == ANONYMOUS:
        return ANONYMOUS
    if not OPERATION_NAME.fullmatch(operation):
        return OTHER
    if operation in _known_names:
        return operation
    with _known_lock:
        if len(_known_names) >= MAX_OPERATION_NAMES:
            return OTHER
        _known_names.add(operation)
    return operation


def outcome_label(code: str | None) -> str:
    """``ok``, or the request's refusal code (a closed set: gateway.refusals.RequestCode)."""
    return code or OK


REQUESTS = Counter(
    "purchasegraph_graphql_requests",
    "GraphQL HTTP requests, by operation name and outcome (ok or the refusal code).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
REQUEST_DURATION = Histogram(
    "purchasegraph_graphql_request_duration_seconds",
    "Time to answer a GraphQL HTTP request, by operation name and outcome.",
    ["operation", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
REQUEST_STATEMENTS = Histogram(
    "purchasegraph_graphql_request_statements",
    "SQL statements one GraphQL HTTP request ran (authentication and throttle included), by operation name.",
    ["operation"],
    buckets=(0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100),
    registry=REGISTRY,
)
THROTTLED = Counter(
    "purchasegraph_throttled_requests",
    "GraphQL HTTP requests refused 429 THROTTLED by the cost bucket.",
    registry=REGISTRY,
)
# The reads metric's `path`, and its `reason` when the compiled path answered or was off; a
# fallback's reason is one of compiled.compiler.Reason, a closed set.
COMPILED = "compiled"
RESOLVERS = "resolvers"
NO_REASON = "none"
DISABLED = "disabled"
READS = Counter(
    "purchasegraph_reads",
    "Read operations by the path that answered them (compiled or resolvers) and why the "
    "compiler declined (none when it did not).",
    ["path", "reason"],
    registry=REGISTRY,
)
READ_ROUTES = Counter(
    "purchasegraph_read_routes",
    "Read requests, with replicas configured, by the server that answered them (replica or primary) "
    "and why (db.replicas.RouteReason, a closed set).",
    ["target", "reason"],
    registry=REGISTRY,
)
SUBSCRIPTIONS_ACTIVE = Gauge(
    "purchasegraph_subscriptions_active",
    "GraphQL subscriptions (the operation type) open right now.",
    registry=REGISTRY,
)


def record_request(*, operation: str | None, code: str | None, duration_seconds: float, statements: int) -> None:
    """Count one GraphQL HTTP request; called once per request, where its log line is written."""
    name = operation_label(operation)
    outcome = outcome_label(code)
    REQUESTS.labels(name, outcome).inc()
    REQUEST_DURATION.labels(name, outcome).observe(duration_seconds)
    REQUEST_STATEMENTS.labels(name).observe(statements)
    if code == "THROTTLED":
        THROTTLED.inc()


def record_read(*, path: str, reason: str) -> None:
    """Count one read operation (a query over HTTP) by the path that answered it."""
    READS.labels(path, reason).inc()


def record_read_route(*, target: str, reason: str) -> None:
    """Count one read request by where its statements ran and why."""
    READ_ROUTES.labels(target, reason).inc()


def subscription_started() -> None:
    SUBSCRIPTIONS_ACTIVE.inc()


def subscription_ended() -> None:
    SUBSCRIPTIONS_ACTIVE.dec()


class PoolCollector(Collector):
    """Connections of the app's pools, in use and idle, read from asyncpg at collection time."""

    def __init__(self, pools: Iterable[tuple[str, asyncpg.Pool]]) -> None:
        self.pools = list(pools)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        in_use = GaugeMetricFamily(
            "purchasegraph_db_pool_connections_in_use",
            "Connections of the pool lent out right now.",
            labels=["pool"],
        )
        idle = GaugeMetricFamily(
            "purchasegraph_db_pool_connections_idle",
            "Open connections of the pool waiting in it.",
            labels=["pool"],
        )
        size = GaugeMetricFamily(
            "purchasegraph_db_pool_connections_max",
            "The most connections the pool may open.",
            labels=["pool"],
        )
        for name, pool in self.pools:
            open_connections, waiting = pool.get_size(), pool.get_idle_size()
            in_use.add_metric([name], open_connections - waiting)
            idle.add_metric([name], waiting)
            size.add_metric([name], pool.get_max_size())
        yield in_use
        yield idle
        yield size


class ReplicaCollector(Collector):
    """Each replica's state and lag as the last probe found them, read at collection time. The
    label is the replica's place in the setting, never its URL (which may hold a password)."""

    def __init__(self, replicas: ReplicaSet) -> None:
        self.replicas = replicas

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "purchasegraph_replica_up",
            "1 when the replica is in the read rotation (answering, a standby, within the lag bound), else 0.",
            labels=["replica"],
        )
        lag = GaugeMetricFamily(
            "purchasegraph_replica_lag_seconds",
            "How far the replica trails the primary (0 when it replayed all it received); absent while down.",
            labels=["replica"],
        )
        for replica in self.replicas.replicas:
            up.add_metric([replica.label], 1 if replica.state is ReplicaState.UP else 0)
            if replica.lag is not None:
                lag.add_metric([replica.label], replica.lag)
        yield up
        yield lag


class Scrape(Collector):
    """The process's registry and the pools of the app being scraped, as one collector."""

    def __init__(self, runtime: Runtime) -> None:
        # `gateway` serves requests; `owner` the sweep and start-up.
        replica_pools = [(replica.label, replica.pool) for replica in runtime.replicas.replicas]
        self.pools = PoolCollector([("gateway", runtime.pool), ("owner", runtime.owner_pool), *replica_pools])
        self.replicas = ReplicaCollector(runtime.replicas)

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()
        yield from self.pools.collect()
        yield from self.replicas.collect()


def exposition(runtime: Runtime, accept: str | None = None) -> tuple[bytes, str]:
    """The metrics and their media type: the Prometheus text format unless OpenMetrics is asked for."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Scrape(runtime))
    encode, media_type = choose_encoder(accept or "")
    return encode(registry), media_type


async def metrics_endpoint(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    body, media_type = exposition(runtime, request.headers.get("accept"))
    return Response(body, headers={"Content-Type": media_type})
