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
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from purchasegraph.compiled import run_compiled
from purchasegraph.context import build_context
from purchasegraph.db.availability import database_unavailable
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.gateway.actual_cost import METER, NodeMeter
from purchasegraph.gateway.authentication import authenticate
from purchasegraph.gateway.documents import DocumentStore, Resolved
from purchasegraph.gateway.execution import Engine, Prepared, format_result
from purchasegraph.gateway.refusals import RequestCode, RequestError, malformed
from purchasegraph.gateway.request_id import client_request_id_from_scope, request_id_from_scope
from purchasegraph.gateway.strings import storable
from purchasegraph.gateway.throttle import (
    CostBucket,
    ThrottleStatus,
    anonymous_principal,
    app_principal,
    user_principal,
)
from purchasegraph.graphiql import graphiql_page
from purchasegraph.observability.metrics import DISABLED, RESOLVERS, record_read, record_request
from purchasegraph.observability.tracing import request_tracing
from purchasegraph.runtime import Runtime
from purchasegraph.viewer import Viewer

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
ALLOWED_METHODS = "GET, POST"

log = logging.getLogger("purchasegraph.request")


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header; None when neither JSON type is acceptable."""
    if accept is None or not accept.strip():
        return JSON  # the spec's rule for clients that say nothing
    best: tuple[float, int, str] | None = None
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media == GRAPHQL_RESPONSE_JSON:
            candidate = (quality, 2, GRAPHQL_RESPONSE_JSON)
        elif media == JSON:
            candidate = (quality, 1, JSON)
        elif media in ("application/*", "*/*"):
            candidate = (quality, 0, JSON)
        else:
            continue
        if quality > 0 and (best is None or candidate[:2] > best[:2]):
            best = candidate
    return best[2] if best is not None else None


@dataclass
class Params:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


def _json_object(value: str | None, name: str) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        raise malformed(f"`{name}` must be a JSON object.") from None
    if parsed is not None and not isinstance(parsed, dict):
        raise malformed(f"`{name}` must be a JSON object.")
    return parsed


def params_from_mapping(body: Any) -> Params:
    if not isinstance(body, dict):
        raise malformed("The request body must be a JSON object with a `query`.")
    query, variables = body.get("query"), body.get("variables")
    operation_name, extensions = body.get("operationName"), body.get("extensions")
    if query is not None and not isinstance(query, str):
        raise malformed("`query` must be a string.")
    if variables is not None and not isinstance(variables, dict):
        raise malformed("`variables` must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise malformed("`operationName` must be a string.")
    if extensions is not None and not isinstance(extensions, dict):
        raise malformed("`extensions` must be an object.")
    return Params(query, variables, operation_name, extensions)


def params_from_query_string(request: Request) -> Params:
    q = request.query_params
    return Params(
        query=q.get("query"),
        variables=_json_object(q.get("variables"), "variables"),
        operation_name=q.get("operationName") or None,
        extensions=_json_object(q.get("extensions"), "extensions"),
    )


async def read_body(request: Request, max_bytes: int) -> bytes:
    too_large = RequestError(
        RequestCode.REQUEST_TOO_LARGE,
        f"The request body is larger than {max_bytes} bytes.",
        extensions={"maximum": max_bytes},
    )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def check_content_type(header: str | None) -> None:
    media, *params = (p.strip().lower() for p in (header or "").split(";"))
    if media != JSON:
        raise RequestError(
            RequestCode.UNSUPPORTED_MEDIA_TYPE,
            "POST a JSON body with `Content-Type: application/json`.",
            status=415,
        )
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise RequestError(RequestCode.UNSUPPORTED_MEDIA_TYPE, "The body must be UTF-8.", status=415)


@dataclass
class Outcome:
    """What one request did, for its response and its log line."""

    request_id: str
    # The X-Request-Id the client sent (a sane one), kept beside the gateway's own.
    client_request_id: str | None = None
    media_type: str = JSON
    status: int = 200
    operation: str | None = None
    statements: int = 0
    viewer: Viewer | None = None
    code: str | None = None


def check_strings(value: Any, where: str) -> None:
    """Refuse, as the caller's mistake, any string the database could not store or compare."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not storable(item):
                raise malformed(f"`{where}` holds a string with NUL or an unpaired surrogate.")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


@dataclass
class Planned:
    """One operation of the request, checked and costed, ready to run."""

    params: Params
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


def _json_response(body: Any, *, status: int, media_type: str, headers: Mapping[str, str] | None = None) -> Response:
    content = orjson.dumps(body, default=str)
    return Response(content, status_code=status, media_type=f"{media_type}; charset=utf-8", headers=headers)


def principal_of(viewer: Viewer | None, address: str | None) -> str:
    """Whose bucket pays: the signed-in user of their tenant, or the application of its tenant (one
    bucket per app and tenant, apart from any user's), else the client's address. HTTP requests
    and websocket operations of one principal pay from the same bucket."""
    from purchasegraph.viewer import AppViewer

    if isinstance(viewer, AppViewer):
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
    wait = throttle.retry_after(requested)
    return RequestError(
        RequestCode.THROTTLED,
        f"This request costs {requested} points and {throttle.currently_available} are available; "
        f"retry in {wait} s or ask for less.",
        status=429,
        headers={"Retry-After": str(wait)},
        extensions={"cost": cost_extension(requested, 0, throttle)},
    )


class GraphQLHTTP:
    """The /graphql endpoint (an ASGI app, so it owns every method and answers 405 itself)."""

    def __init__(self, engine: Engine, bucket: CostBucket, documents: DocumentStore, *, graphiql: bool) -> None:
        self.engine = engine
        self.bucket = bucket
        self.documents = documents
        self.graphiql = graphiql
        self.tracing = request_tracing()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        started = time.perf_counter()
        outcome = Outcome(
            request_id=request_id_from_scope(scope), client_request_id=client_request_id_from_scope(scope)
        )
        with self.tracing.span(request.headers) as span:
            try:
                response = await self._respond(request, outcome)
            except Exception:
                # A bug, never a bad input: the caller gets the request id, the log gets the trace.
                log.exception("unhandled error [request %s]", outcome.request_id)
                response = self._refusal(
                    RequestError(
                        RequestCode.INTERNAL_SERVER_ERROR,
                        "Internal server error.",
                        status=500,
                        extensions={"requestId": outcome.request_id},
                    ),
                    outcome,
                )
            finally:
                # The one place a request is accounted for: its log line, its metrics, its span.
                # The line names the operation, never the document, its variables or the token.
                elapsed = time.perf_counter() - started
                viewer = outcome.viewer
                log.info(
                    "%s %s %d %.1fms",
                    request.method,
                    outcome.operation or "-",
                    outcome.status,
                    elapsed * 1000,
                    extra={
                        "request_id": outcome.request_id,
                        "client_request_id": outcome.client_request_id,
                        "operation": outcome.operation,
                        "status": outcome.status,
                        "code": outcome.code,
                        "duration_ms": round(elapsed * 1000, 3),
                        "statements": outcome.statements,
                        "viewer_id": str(viewer.user_id) if viewer else None,
                        "tenant_id": str(viewer.tenant_id) if viewer else None,
                    },
                )
                record_request(
                    operation=outcome.operation,
                    code=outcome.code,
                    duration_seconds=elapsed,
                    statements=outcome.statements,
                )
                span.finish(
                    request_id=outcome.request_id,
                    operation=outcome.operation,
                    status=outcome.status,
                    code=outcome.code,
                    statements=outcome.statements,
                )
            await response(scope, receive, send)

    async def _respond(self, request: Request, outcome: Outcome) -> Response:
        accept = request.headers.get("accept")
        wants_page = request.method == "GET" and "query" not in request.query_params and "text/html" in (accept or "")
        if wants_page and self.graphiql:
            return graphiql_page()
        media_type = negotiate(accept)
        if media_type is None:
            refusal = RequestError(RequestCode.NOT_ACCEPTABLE, f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON}.", status=406)
            return self._refusal(refusal, outcome)
        outcome.media_type = media_type
        runtime: Runtime = request.state.runtime
        executor: RequestExecutor | None = None
        try:
            batch, batched = await self._read_params(request)
            planned = [self._plan(params, request) for params in batch]
            outcome.operation = ",".join(p.prepared.operation_name or "anonymous" for p in planned)
            requested = sum(plan.cost for plan in planned)
            address = request.client.host if request.client else None
            # One round trip: the tenant named on the connection, the viewer, the throttle's take.
            signed_in = await authenticate(
                request.headers.get("authorization"), runtime, self.bucket, requested, address
            )
            viewer, executor, throttle = signed_in.viewer, signed_in.db, signed_in.throttle
            outcome.viewer = viewer
            # Refused first: a request over its budget leaves nothing behind, not even a document in
            # the persisted-query cache every client shares.
            if throttle is not None and not throttle.granted:
                raise throttled(requested, throttle)
            for plan in planned:
                if plan.document.register_as is not None:
                    self.documents.register(plan.document.register_as, plan.document.text, anonymous=viewer is None)
            bodies: list[dict[str, Any]] = []
            for plan in planned:
                result = await self._run(plan, request, runtime, viewer, executor, outcome)
                result["extensions"] = {"cost": cost_extension(plan.cost, result.pop("_actual_cost"), throttle)}
                bodies.append(result)
        except RequestError as refused:
            return self._refusal(refused, outcome)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("database unavailable [request %s]: %r", outcome.request_id, error)
            return self._refusal(_service_unavailable(), outcome)
        finally:
            if executor is not None:
                outcome.statements = executor.statements
                await executor.close()
        body: Any = bodies if batched else bodies[0]
        return _json_response(body, status=outcome.status, media_type=media_type)

    async def _read_params(self, request: Request) -> tuple[list[Params], bool]:
        """The operations of the request, and whether it was a batch (a JSON array)."""
        limits = self.engine.limits
        if request.method == "GET":
            return [params_from_query_string(request)], False
        if request.method != "POST":
            raise RequestError(
                RequestCode.METHOD_NOT_ALLOWED,
                "Use GET for queries or POST.",
                status=405,
                headers={"Allow": ALLOWED_METHODS},
            )
        check_content_type(request.headers.get("content-type"))
        raw = await read_body(request, limits.max_body_bytes)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise RequestError(RequestCode.BAD_REQUEST, "The request body is not valid JSON.") from None
        if not isinstance(body, list):
            return [params_from_mapping(body)], False
        if limits.max_batch <= 1:
            raise RequestError(RequestCode.BATCHING_DISABLED, "Batched requests are turned off; send one operation.")
        if not body or len(body) > limits.max_batch:
            raise RequestError(
                RequestCode.BATCH_LIMIT_EXCEEDED,
                f"A batch holds 1 to {limits.max_batch} operations.",
                extensions={"maximum": limits.max_batch},
            )
        return [params_from_mapping(item) for item in body], True

    def _plan(self, params: Params, request: Request) -> Planned:
        check_strings(params.variables, "variables")
        document = self.documents.resolve(params.query, params.extensions)
        prepared = self.engine.prepare(document.text, params.operation_name)
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
        cost = self.engine.cost(prepared, params.variables)
        return Planned(params=params, prepared=prepared, cost=cost, document=document)

    async def _run(
        self,
        plan: Planned,
        request: Request,
        runtime: Runtime,
        viewer: Viewer | None,
        executor: RequestExecutor,
        outcome: Outcome,
    ) -> dict[str, Any]:
        context = build_context(
            viewer=viewer,
            db=executor,
            processor=runtime.processor,
            request=request,
            request_id=outcome.request_id,
            client_request_id=outcome.client_request_id,
            batching=runtime.settings.dataloaders,
        )
        if runtime.settings.compiled_reads and not plan.prepared.is_mutation:
            compiled = await run_compiled(
                self.engine.schema, plan.prepared.document, plan.prepared.operation, plan.params.variables, context
            )
            if compiled is not None:
                return {"data": compiled.data, "_actual_cost": 1 + compiled.nodes}
        elif not plan.prepared.is_mutation:
            record_read(path=RESOLVERS, reason=DISABLED)
        meter = NodeMeter()
        token = METER.set(meter)
        try:
            result = await self.engine.execute(plan.prepared, variables=plan.params.variables, context=context)
        finally:
            METER.reset(token)
        formatted = format_result(result, request_id=outcome.request_id)
        if formatted.unavailable:
            raise _service_unavailable()
        if formatted.not_executed:
            raise RequestError(
                RequestCode.BAD_VARIABLES,
                "The variables do not fit the operation.",
                legacy_status=200,
                errors=formatted.body["errors"],
            )
        return {**formatted.body, "_actual_cost": 1 + meter.nodes}

    def _refusal(self, refused: RequestError, outcome: Outcome) -> Response:
        legacy = outcome.media_type == JSON
        outcome.status = refused.legacy_status if legacy else refused.status
        outcome.code = refused.code.value
        body: dict[str, Any] = {"errors": refused.graphql_errors()}
        if refused.extensions:
            for error in body["errors"]:
                error["extensions"] = {**refused.extensions, **error.get("extensions", {})}
        return _json_response(body, status=outcome.status, media_type=outcome.media_type, headers=refused.headers)
