"""Every request gets the gateway's own id, sent back as ``X-Request-Id``.

That id is in the request's log line, in any masked internal error and in audit rows, so a
support ticket quoting it leads straight to the stack trace. A client may send an
``X-Request-Id`` of its own to correlate with its logs: when it is a sane token it is kept
beside ours (log line, audit rows) and echoed as ``X-Client-Request-Id``, but it never stands in
for ours, so no caller can make its requests carry another request's id.
"""

from __future__ import annotations

import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

HEADER = "x-request-id"
# Kept in the scope itself: lifespan `state` may be one dict shared by every request.
SCOPE_KEY = "purchasegraph.request_id"


def well_formed(value: str) -> bool:
    return 8 <= len(value) <= 128 and all(c.isascii() and (c.isalnum() or c in "-_.:") for c in value)


def request_id_from_scope(scope: AsgiScope) -> str:
    """The gateway's own id for the request, minted once."""
    request_id = scope.get(SCOPE_KEY)
    if request_id is None:
        request_id = scope[SCOPE_KEY] = uuid.uuid4().hex
    return str(request_id)


def client_request_id_from_scope(scope: AsgiScope) -> str | None:
    """The X-Request-Id the client sent, when it is a sane token; else None."""
    given = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == HEADER.encode()), "")
    return given if well_formed(given) else None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from_scope(scope)
        client_request_id = client_request_id_from_scope(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-Id"] = request_id
                if client_request_id is not None:
                    headers["X-Client-Request-Id"] = client_request_id
            await send(message)

        await self.app(scope, receive, send_with_id)
