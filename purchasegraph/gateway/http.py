"""GraphQL over HTTP at /graphql, as the GraphQL-over-HTTP specification describes it.

POST with an ``application/json`` body, or GET with the query in the URL (queries only: a
mutation over GET is 405, so a link or an image tag can never buy anything). Responses come as
``application/graphql-response+json`` when the client accepts it, else ``application/json``.

Only JSON bodies are taken on POST. That is also the CSRF defence: a browser cannot send
``application/json`` cross-site without a CORS preflight (which ``gateway/cors.py`` grants only
to the configured origins), and form posts or ``text/plain`` bodies are refused with 415.
Credentials are bearer tokens, never cookies, so a GET from another site carries no identity.

Every refusal happens in the cheapest possible order: body size, JSON, document limits,
validation, cost, and only then the token, the throttle (one statement together: the tenant named
on the connection, the viewer read, the cost taken) and execution.

With read replicas configured (``db/replicas.py``), a request of queries only signs in on the
primary and then runs its statements on a replica; a request with a mutation runs on the primary
and answers, in ``X-Read-After`` and ``extensions.readAfter``, the WAL position its commit reached.
A read that sends that position back runs only where it has been replayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from purchasegraph.context import build_context
from purchasegraph.db.availability import database_unavailable
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.replicas import parse_lsn
from purchasegraph.gateway.authentication import SignedIn, authenticate
from purchasegraph.gateway.documents import DocumentStore, Resolved
from purchasegraph.gateway.execution import Engine, Prepared, format_result
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.gateway.request_id import client_request_id_from_scope, request_id_from_scope
from purchasegraph.gateway.request_parsing import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    GraphQLRequest,
    check_strings,
    negotiate,
    read_requests,
)
from purchasegraph.gateway.throttle import CostBucket, cost_extension, throttled
from purchasegraph.graphiql import graphiql_page
from purchasegraph.observability.metrics import record_read_route, record_request
from purchasegraph.observability.tracing import request_tracing
from purchasegraph.principals import Principal
from purchasegraph.runtime import Runtime

log = logging.getLogger("purchasegraph.request")


@dataclass
class RequestRecord:
    """What one request did, for its response and its log line."""

    request_id: str
    # The X-Request-Id the client sent (a sane one), kept beside the gateway's own.
    client_request_id: str | None = None
    media_type: str = JSON
    status: int = 200
    operation: str | None = None
    statements: int = 0
    viewer: Principal | None = None
    code: str | None = None
    # The position a read must see (X-Read-After or extensions.readAfter), and the one a mutation's
    # commit reached, sent back in X-Read-After.
    read_after: int | None = None
    committed_at: str | None = None


@dataclass
class Planned:
    """One operation of the request, checked and costed, ready to run."""

    request: GraphQLRequest
    prepared: Prepared
    cost: int
    # The document's text, and the persisted-query hash to remember it under once the caller is known.
    document: Resolved


def _service_unavailable() -> RequestError:
    return RequestError(
        RequestCode.SERVICE_UNAVAILABLE,
        "The database is unavailable; retry shortly.",
        status=503,
        headers={"Retry-After": "1"},
    )


READ_AFTER_HEADER = "X-Read-After"


def read_after(request: Request, operations: list[GraphQLRequest]) -> int | None:
    """The WAL position the request's reads must see: the furthest of the X-Read-After headers
    (every one sent: an older position must not hide a newer one) and its operations'
    ``extensions.readAfter``; None when it names none. A value that is no position
    (``0/3000148``) is refused 400 BAD_REQUEST, never guessed at."""
    sent: list[object] = list(request.headers.getlist(READ_AFTER_HEADER))
    sent += [(operation.extensions or {}).get("readAfter") for operation in operations]
    positions = []
    for value in sent:
        if value is None or value == "":
            continue
        position = parse_lsn(value) if isinstance(value, str) else None
        if position is None:
            raise RequestError(
                RequestCode.BAD_REQUEST,
                f"{READ_AFTER_HEADER} (or extensions.readAfter) must be the readAfter a mutation "
                "returned: a WAL position such as 0/3000148.",
                extensions={"field": READ_AFTER_HEADER},
            )
        positions.append(position)
    return max(positions, default=None)


async def _commit_position(db: RequestExecutor) -> str | None:
    """The primary's WAL position after the request's commits; None when the primary cannot say.
    The mutations are committed by then, so losing the position must not fail their answer: the
    client's next read merely runs without it."""
    try:
        return await db.wal_position()
    except Exception as error:
        if not database_unavailable(error):
            raise
        log.warning("no WAL position after a commit: %r", error)
        return None


def _json_response(body: Any, *, status: int, media_type: str, headers: Mapping[str, str] | None = None) -> Response:
    content = orjson.dumps(body, default=str)
    return Response(content, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers)


class GraphQLHTTP:
    """The /graphql endpoint (an ASGI app, so it owns every method and answers 405 itself)."""

    def __init__(self, engine: Engine, bucket: CostBucket, documents: DocumentStore, *, graphiql: bool) -> None:
        self.engine = engine
        self.bucket = bucket
        self.documents = documents
        self.graphiql = graphiql
        self.tracing = request_tracing()

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        started = time.perf_counter()
        record = RequestRecord(
            request_id=request_id_from_scope(scope), client_request_id=client_request_id_from_scope(scope)
        )
        with self.tracing.span(request.headers) as span:
            try:
                response = await self._respond(request, record)
            except Exception:
                # A bug, never a bad input: the caller gets the request id, the log gets the trace.
                log.exception("unhandled error [request %s]", record.request_id)
                internal = RequestError(
                    RequestCode.INTERNAL_SERVER_ERROR,
                    "Internal server error.",
                    status=500,
                    extensions={"requestId": record.request_id},
                )
                response = self._refusal(internal, record)
            finally:
                elapsed = time.perf_counter() - started
                _account(request.method, record, elapsed)
                span.finish(
                    request_id=record.request_id,
                    operation=record.operation,
                    status=record.status,
                    code=record.code,
                    statements=record.statements,
                )
            await response(scope, receive, send)

    async def _respond(self, request: Request, record: RequestRecord) -> Response:
        accept = request.headers.get("accept")
        wants_page = request.method == "GET" and "query" not in request.query_params and "text/html" in (accept or "")
        if wants_page and self.graphiql:
            return graphiql_page()
        media_type = negotiate(accept)
        if media_type is None:
            refusal = RequestError(RequestCode.NOT_ACCEPTABLE, f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON}.", status=406)
            return self._refusal(refusal, record)
        record.media_type = media_type
        executor: RequestExecutor | None = None
        try:
            operations, batched = await read_requests(request, self.engine.limits)
            if request.state.runtime.replicas.replicas:
                record.read_after = read_after(request, operations)
            planned = [self._plan(operation, request) for operation in operations]
            record.operation = ",".join(p.prepared.operation_name or "anonymous" for p in planned)
            requested = sum(plan.cost for plan in planned)
            address = request.client.host if request.client else None
            # One round trip: the tenant named on the connection, the viewer, the throttle's take.
            signed_in = await authenticate(
                request.headers.get("authorization"), request.state.runtime, self.bucket, requested, address
            )
            executor, record.viewer = signed_in.db, signed_in.viewer
            bodies = await self._run_all(planned, requested, request, signed_in, record)
        except RequestError as refused:
            return self._refusal(refused, record)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("database unavailable [request %s]: %r", record.request_id, error)
            return self._refusal(_service_unavailable(), record)
        finally:
            if executor is not None:
                record.statements = executor.statements
                await executor.close()
                if executor.read_on is not None:
                    target = "primary" if executor.read_on.replica is None else "replica"
                    record_read_route(target=target, reason=executor.read_on.reason.value)
        body: Any = bodies if batched else bodies[0]
        headers = {READ_AFTER_HEADER: record.committed_at} if record.committed_at else None
        return _json_response(body, status=record.status, media_type=media_type, headers=headers)

    async def _run_all(
        self, planned: list[Planned], requested: int, request: Request, signed_in: SignedIn, record: RequestRecord
    ) -> list[dict[str, Any]]:
        """Each operation's response body, once the request's cost was granted."""
        viewer, throttle = signed_in.viewer, signed_in.throttle
        # Refused first: a request over its budget leaves nothing behind, not even a document in
        # the persisted-query cache every client shares.
        if throttle is not None and not throttle.granted:
            raise throttled(requested, throttle)
        for plan in planned:
            if plan.document.register_as is not None:
                self.documents.register(plan.document.register_as, plan.document.text, anonymous=viewer is None)
        runtime: Runtime = request.state.runtime
        replicated = bool(runtime.replicas.replicas)
        writes = any(plan.prepared.is_mutation for plan in planned)
        if replicated and not writes:
            await signed_in.db.read_from(
                runtime.replicas.route(runtime.pool, signed_in.db.tenant_setting, record.read_after)
            )
        bodies: list[dict[str, Any]] = []
        for plan in planned:
            body, actual = await self._run(plan, request, viewer, signed_in.db, record)
            bodies.append({**body, "extensions": {"cost": cost_extension(plan.cost, actual, throttle)}})
        if replicated and writes:
            # Read after every commit of the request: a replica at this position shows them all.
            record.committed_at = await _commit_position(signed_in.db)
            for plan, body in zip(planned, bodies, strict=True):
                if plan.prepared.is_mutation:
                    body["extensions"]["readAfter"] = record.committed_at
        return bodies

    def _plan(self, operation: GraphQLRequest, request: Request) -> Planned:
        check_strings(operation.variables, "variables")
        document = self.documents.resolve(operation.query, operation.extensions)
        prepared = self.engine.prepare(document.text, operation.operation_name)
        if prepared.is_subscription:
            raise RequestError(
                RequestCode.SUBSCRIPTION_NEEDS_WEBSOCKET,
                "Subscriptions stream over a websocket on /graphql (graphql-transport-ws), not over HTTP.",
            )
        if prepared.is_mutation and request.method == "GET":
            raise RequestError(
                RequestCode.METHOD_NOT_ALLOWED,
                "Mutations are sent with POST.",
                status=405,
                headers={"Allow": "POST"},
            )
        cost = self.engine.cost(prepared, operation.variables)
        return Planned(request=operation, prepared=prepared, cost=cost, document=document)

    async def _run(
        self,
        plan: Planned,
        request: Request,
        viewer: Principal | None,
        executor: RequestExecutor,
        record: RequestRecord,
    ) -> tuple[dict[str, Any], int]:
        """The operation's response body (errors masked) and its actual cost."""
        runtime: Runtime = request.state.runtime
        context = build_context(
            viewer=viewer,
            db=executor,
            processor=runtime.processor,
            request=request,
            request_id=record.request_id,
            client_request_id=record.client_request_id,
            batching=runtime.settings.dataloaders,
        )
        result, actual = await self.engine.run(plan.prepared, variables=plan.request.variables, context=context)
        formatted = format_result(result, request_id=record.request_id)
        if formatted.unavailable:
            raise _service_unavailable()
        if formatted.not_executed:
            raise RequestError(
                RequestCode.BAD_VARIABLES,
                "The variables do not fit the operation.",
                legacy_status=200,
                errors=formatted.body["errors"],
            )
        return formatted.body, actual

    def _refusal(self, refused: RequestError, record: RequestRecord) -> Response:
        legacy = record.media_type == JSON
        record.status = refused.legacy_status if legacy else refused.status
        record.code = refused.code.value
        body: dict[str, Any] = {"errors": refused.graphql_errors()}
        if refused.extensions:
            for error in body["errors"]:
                error["extensions"] = {**refused.extensions, **error.get("extensions", {})}
        return _json_response(body, status=record.status, media_type=record.media_type, headers=refused.headers)


def _account(method: str, record: RequestRecord, elapsed: float) -> None:
    """The one place a request is accounted for: its log line and its metrics (its span is
    finished beside). The line names the operation, never the document, its variables or the token."""
    viewer = record.viewer
    log.info(
        "%s %s %d %.1fms",
        method,
        record.operation or "-",
        record.status,
        elapsed * 1000,
        extra={
            "request_id": record.request_id,
            "client_request_id": record.client_request_id,
            "operation": record.operation,
            "status": record.status,
            "code": record.code,
            "duration_ms": round(elapsed * 1000, 3),
            "statements": record.statements,
            "viewer_id": str(viewer.user_id) if viewer else None,
            "tenant_id": str(viewer.tenant_id) if viewer else None,
        },
    )
    record_request(
        operation=record.operation,
        code=record.code,
        duration_seconds=elapsed,
        statements=record.statements,
    )
