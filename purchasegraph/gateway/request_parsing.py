"""An HTTP request to /graphql read into the operations it asks for (``gateway/http.py`` says
which requests are taken), refused before any document is parsed when it is not of that shape."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from purchasegraph.gateway.refusals import RequestCode, RequestError, malformed
from purchasegraph.gateway.strings import storable
from purchasegraph.settings import QueryLimits

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
ALLOWED_METHODS = "GET, POST"


@dataclass
class GraphQLRequest:
    """One operation a request asks for: its document (or none, for a persisted query's hash),
    variables, operation name and extensions."""

    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None


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


async def read_requests(request: Request, limits: QueryLimits) -> tuple[list[GraphQLRequest], bool]:
    """The operations of the request, and whether it was a batch (a JSON array)."""
    if request.method == "GET":
        return [request_from_query_string(request)], False
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
        return [request_from_mapping(body)], False
    if limits.max_batch <= 1:
        raise RequestError(RequestCode.BATCHING_DISABLED, "Batched requests are turned off; send one operation.")
    if not body or len(body) > limits.max_batch:
        raise RequestError(
            RequestCode.BATCH_LIMIT_EXCEEDED,
            f"A batch holds 1 to {limits.max_batch} operations.",
            extensions={"maximum": limits.max_batch},
        )
    return [request_from_mapping(item) for item in body], True


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


def request_from_mapping(body: Any) -> GraphQLRequest:
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
    return GraphQLRequest(query, variables, operation_name, extensions)


def request_from_query_string(request: Request) -> GraphQLRequest:
    q = request.query_params
    return GraphQLRequest(
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
