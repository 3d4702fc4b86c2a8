"""The ASGI app: GraphQL at /graphql (GraphiQL in development), printable invoices at
/invoices/{Invoice ID}, /healthz and /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.db.executor import PoolExecutor
from purchasegraph.demo.tokens import first_demo_sign_in
from purchasegraph.events.hub import EventHub, listening
from purchasegraph.events.transport import EventStreams
from purchasegraph.gateway.cors import cors
from purchasegraph.gateway.documents import DocumentStore, load_manifest
from purchasegraph.gateway.execution import Engine
from purchasegraph.gateway.http import GraphQLHTTP
from purchasegraph.gateway.invoice_page import InvoicePage
from purchasegraph.gateway.request_id import RequestIdMiddleware
from purchasegraph.gateway.throttle import PostgresCostBucket, prune_full_buckets
from purchasegraph.graphiql import ASSETS_PATH, playground_asset
from purchasegraph.observability.metrics import metrics_endpoint
from purchasegraph.playground import playground
from purchasegraph.runtime import Runtime, running
from purchasegraph.schema import build_schema
from purchasegraph.schema.ids import INVOICE_PAGE_PREFIX
from purchasegraph.settings import Settings, settings_from_env

log = logging.getLogger("purchasegraph")


class State(TypedDict):
    runtime: Runtime
    # Live purchase events: this process's LISTEN connection and its subscribers.
    events: EventHub


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    """Ready while the primary answers. Replicas are optional capacity, so their states (as the
    last probe found them) are listed but never make the gateway unready: reads then run on the
    primary."""
    runtime: Runtime = request.state.runtime
    replicas = [
        {"replica": replica.label, "state": replica.state.value, "lagSeconds": replica.lag}
        for replica in runtime.replicas.replicas
    ]
    shown = {"replicas": replicas} if replicas else {}
    try:
        async with runtime.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except Exception:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed", exc_info=True)
        return JSONResponse({"ready": False, **shown}, status_code=503)
    return JSONResponse({"ready": True, **shown})


def create_app_from_env() -> Starlette:
    """The app of each `serve --workers N` process: its settings come from the environment."""
    return create_app(settings_from_env())


def create_app(settings: Settings) -> Starlette:
    engine = Engine(
        build_schema(), settings.limits, production=settings.production, compiled_reads=settings.compiled_reads
    )
    manifest = load_manifest(settings.trusted_documents) if settings.trusted_documents else None
    documents = DocumentStore(
        manifest, enforce=settings.require_trusted_documents, max_tokens=settings.limits.max_tokens
    )
    # One bucket for HTTP requests and websocket operations alike.
    bucket = PostgresCostBucket(settings.throttle)
    graphql_http = GraphQLHTTP(engine, bucket, documents, graphiql=not settings.production)
    invoice_page = InvoicePage(bucket)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[State]:
        async with running(settings) as runtime, listening(runtime) as events, runtime.replicas.probing():
            if settings.announce_url:
                await print_banner(runtime, settings.announce_url)
            sweeper = asyncio.create_task(sweep_forever(runtime)) if settings.sweep_seconds > 0 else None
            try:
                yield {"runtime": runtime, "events": events}
            finally:
                if sweeper is not None:
                    sweeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper

    return Starlette(
        routes=[
            Route("/graphql", graphql_http),
            # The same path over a websocket: subscriptions, graphql-transport-ws.
            WebSocketRoute("/graphql", EventStreams(engine, documents, bucket, settings.allowed_origins)),
            # A bill to print, with the same bearer token, scoped like the invoice (Invoice.printUrl).
            Route(f"{INVOICE_PAGE_PREFIX}{{invoice_id}}", invoice_page.respond, methods=["GET"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            Route("/", playground),
            # GraphiQL's files, shipped in the package (development only, like the page).
            Route(f"{ASSETS_PATH}/{{name}}", playground_asset),
        ],
        # CORS outermost: a preflight is answered before any other layer runs (no SQL, no throttle).
        middleware=[cors(settings.allowed_origins), Middleware(RequestIdMiddleware)],
        lifespan=lifespan,
    )


async def sweep_forever(runtime: Runtime) -> None:
    """Renewals and lifecycle, every few seconds, for as long as the app runs."""
    while True:
        await asyncio.sleep(runtime.settings.sweep_seconds)
        try:
            report = await sweep(PoolExecutor(runtime.owner_pool), runtime.processor)
            await prune_full_buckets(PoolExecutor(runtime.owner_pool), runtime.settings.throttle)
            if report.renewed or report.failed:
                log.info("lifecycle sweep: %d renewed, %d failed", len(report.renewed), len(report.failed))
        except Exception:  # the next sweep tries again; a failing database is reported by /readyz
            log.exception("lifecycle sweep failed")


async def print_banner(runtime: Runtime, url: str) -> None:
    """What `serve` prints: where to go, and how to get a token. Never a token itself: the demo
    page lists every actor, `purchasegraph demo-tokens` prints all their tokens, and a production
    banner must not print credentials anyway."""
    settings = runtime.settings
    # Production serves no GraphiQL at that URL: only the API.
    where = f"  endpoint:   {url}" if settings.production else f"  playground: {url}"
    lines = [f"purchasegraph is up ({runtime.startup_seconds:.2f}s to start)", where]
    if not settings.production:
        lines.append(f"  demo page:  {url.removesuffix('graphql')}  (every demo actor, one click into the playground)")
        if runtime.jwt_secret:
            # The CLI finds this server's database and secret only through the same data folder.
            data_dir = "" if settings.data_dir == Settings().data_dir else f" --data-dir {settings.data_dir}"
            email = await first_demo_sign_in(runtime) or "EMAIL"
            lines.append(
                f"  a token:    purchasegraph token{data_dir} {email}  (every demo actor's: purchasegraph demo-tokens)"
            )
    if runtime.embedded is not None:
        lines.append(f"  embedded PostgreSQL, data in {runtime.embedded.data_dir}")
    print("\n".join(lines), file=sys.stderr, flush=True)
