"""The ASGI app: GraphQL at /graphql (GraphiQL in development), /healthz and /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict

from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors

from purchasegraph.commerce.lifecycle import sweep
from purchasegraph.context import Context, build_context
from purchasegraph.db.executor import PoolExecutor
from purchasegraph.demo import demo_tokens
from purchasegraph.identity import InvalidToken
from purchasegraph.runtime import Runtime, running
from purchasegraph.schema import build_schema
from purchasegraph.settings import Settings
from purchasegraph.viewer import Viewer, load_viewer

log = logging.getLogger("purchasegraph")


class State(TypedDict):
    runtime: Runtime


class Unauthenticated(Exception):
    """No request runs on a token that fails verification or names nobody."""


async def authenticate(request: Request, runtime: Runtime, db: PoolExecutor) -> Viewer | None:
    """Missing token: anonymous. A token that is present must be valid and name a user."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be `Bearer <token>`.")
    try:
        claims = await runtime.verifier.verify(token.strip())
    except InvalidToken as exc:
        raise Unauthenticated(f"The bearer token is not valid: {exc}.") from exc
    viewer = await load_viewer(db, claims)
    if viewer is None:
        raise Unauthenticated("The bearer token names a user this directory does not have.")
    return viewer


def unauthenticated_response(message: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class PurchaseGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        runtime: Runtime = request.state.runtime
        return build_context(
            viewer=request.state.viewer,
            db=request.state.db,
            processor=runtime.processor,
            request=request,
            request_id=request_id_of(request),
        )


class AuthenticatedGraphQL:
    """Works out the viewer once per request before GraphQL runs; answers 401 on a bad token."""

    def __init__(self, graphql_app: PurchaseGraphQL) -> None:
        self._graphql = graphql_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope, receive)
            runtime: Runtime = request.state.runtime
            db = PoolExecutor(runtime.pool)
            try:
                viewer = await authenticate(request, runtime, db)
            except Unauthenticated as exc:
                await unauthenticated_response(str(exc))(scope, receive, send)
                return
            request.state.viewer = viewer
            request.state.db = db
        await self._graphql(scope, receive, send)


def request_id_of(request: Request) -> str:
    """The caller's X-Request-Id when it is a sane token, else a fresh one (it ends up in audit rows)."""
    given = request.headers.get("x-request-id", "")
    if 8 <= len(given) <= 128 and all(c.isalnum() or c in "-_.:" for c in given):
        return given
    return uuid.uuid4().hex


def mask_unexpected(error: GraphQLError) -> bool:
    """Errors raised on purpose keep their message; anything else is masked, logged server-side."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


async def healthz(_: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    runtime: Runtime = request.state.runtime
    try:
        async with runtime.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)
    except Exception:  # any failure to reach the database means "not ready"
        log.warning("readiness check failed", exc_info=True)
        return JSONResponse({"ready": False}, status_code=503)
    return JSONResponse({"ready": True})


def create_app(settings: Settings) -> Starlette:
    schema = build_schema(extensions=[lambda: MaskErrors(should_mask_error=mask_unexpected)])
    graphql_app = PurchaseGraphQL(schema, graphql_ide=None if settings.production else "graphiql")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[State]:
        async with running(settings) as runtime:
            if settings.announce_url:
                await print_banner(runtime, settings.announce_url)
            sweeper = asyncio.create_task(sweep_forever(runtime)) if settings.sweep_seconds > 0 else None
            try:
                yield {"runtime": runtime}
            finally:
                if sweeper is not None:
                    sweeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper

    return Starlette(
        routes=[
            Route("/graphql", AuthenticatedGraphQL(graphql_app)),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )


async def sweep_forever(runtime: Runtime) -> None:
    """Renewals and lifecycle, every few seconds, for as long as the app runs."""
    while True:
        await asyncio.sleep(runtime.settings.sweep_seconds)
        try:
            report = await sweep(PoolExecutor(runtime.pool), runtime.processor)
            if report.renewed or report.failed:
                log.info("lifecycle sweep: %d renewed, %d failed", len(report.renewed), len(report.failed))
        except Exception:  # the next sweep tries again; a failing database is reported by /readyz
            log.exception("lifecycle sweep failed")


async def print_banner(runtime: Runtime, url: str) -> None:
    """What `serve` prints: where the playground is and a token per demo actor."""
    lines = [f"purchasegraph is up ({runtime.startup_seconds:.2f}s to start)", f"  playground: {url}"]
    if runtime.embedded is not None:
        lines.append(f"  embedded PostgreSQL, data in {runtime.embedded.data_dir}")
    tokens = await demo_tokens(runtime) if runtime.jwt_secret else []
    if tokens:
        lines.append("  demo bearer tokens (header  Authorization: Bearer <token>):")
        lines += [f"    {t['actor']:<16} {t['email']:<44} {t['token']}" for t in tokens]
    print("\n".join(lines), file=sys.stderr, flush=True)
