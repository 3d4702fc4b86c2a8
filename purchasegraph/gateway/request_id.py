"""Every response carries an ``X-Request-Id``: the caller's, when it is a sane token, else a new one.

The same id is in the request's log line, in any masked internal error and in audit rows,
so a support ticket quoting it leads straight to the stack trace.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
# Kept in the scope itself: lifespan `state` may be one dict shared by every request.
SCOPE_KEY = "purchasegraph.request_id"


def well_formed(value: str) -> bool:
    return 8 <= len(value) <= 128 and all(c.isascii() and (c.isalnum() or c in "-_.:") for c in value)


def request_id_from_scope(scope: Scope) -> str:
    request_id = scope.get(SCOPE_KEY)
    if request_id is None:
        given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == HEADER.encode()), "")
        request_id = scope[SCOPE_KEY] = given if well_formed(given) else uuid.uuid4().hex
    return str(request_id)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from_scope(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
