"""Which browser pages on other origins may call the API: CORS over HTTP, the Origin check on websockets.

One setting decides both (``Settings.allowed_origins``, from ``PURCHASEGRAPH_CORS_ORIGINS``): a
page that may POST a query may also open the subscription socket, and one that may not gets
neither. Credentials are bearer tokens the page sets itself, never cookies, so the API never sends
``Access-Control-Allow-Credentials``: no origin, allowed or not, rides on a signed-in browser.

The middleware is the outermost layer of the app, so a preflight is answered before anything
else runs: no token lookup, no SQL, no cost taken from any bucket. Every other response of the
API passes through it on the way out, refusals included, so a page can read its 401 or 429 (and
the ``Retry-After`` and ``X-Request-Id`` it needs to retry or report it). Only the API's path
answers CORS (``API_PATHS``): the rest of the app stays same-origin.
See https://fetch.spec.whatwg.org/#http-cors-protocol.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from purchasegraph.gateway.request_parsing import ALLOWED_METHODS

# Beyond the CORS-safelisted ones (Accept, Content-Type with a form type...): the bearer token,
# JSON bodies, the request id a client correlates its logs with, the client identity Apollo
# Client sends when given a name and version, the CSRF-prevention headers Apollo's links add,
# W3C trace context (the gateway continues a trace it is given), and the WAL position a read
# must see (X-Read-After, sent back from a mutation's response).
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Request-Id",
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "traceparent",
    "tracestate",
    "X-Read-After",
)
# What a page's script may read of a response besides the safelisted ones: the ids to quote in a
# support ticket, how long to wait after a 429 or 503, and the WAL position a mutation's commit
# reached (for the next read's X-Read-After).
EXPOSED_HEADERS = ("X-Request-Id", "X-Client-Request-Id", "Retry-After", "X-Read-After")
# Seconds a browser may reuse a preflight's answer (Chromium caps it at 7200); ten minutes keeps
# a changed setting from lingering in browsers for long.
PREFLIGHT_MAX_AGE = 600


# The only path pages on other origins may read: the API. Not `/` (in development the demo page,
# which lists every demo actor's token: readable from any origin, any site a developer visits
# could sign in as them), nor GraphiQL's assets, /metrics or the health checks.
API_PATHS = frozenset({"/graphql"})


def _route_path(scope: AsgiScope) -> str:
    """The path the router matches: without the ``root_path`` a proxy mounts the app under."""
    path, root = str(scope["path"]), str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(f"{root}/") else path


class Cors(CORSMiddleware):
    """Starlette's CORS for the API's path only, with an allowed preflight answered ``204 No
    Content`` (it answers ``200 OK`` with a body); a refused one stays ``400`` with the reason, and
    no ``Access-Control-Allow-Origin``, which is what the browser acts on. Every other path is
    left as the same-origin policy has it: no CORS header, and a preflight is that path's 405."""

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _route_path(scope) not in API_PATHS:
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 200:
            return answer
        headers = {
            name: value for name, value in answer.headers.items() if name not in ("content-length", "content-type")
        }
        return Response(status_code=204, headers=headers)


def cors(allowed_origins: frozenset[str]) -> Middleware:
    """The app's CORS layer for these origins (``{"*"}`` for any, empty for none)."""
    return Middleware(
        Cors,
        allow_origins=sorted(allowed_origins),
        allow_methods=[method.strip() for method in ALLOWED_METHODS.split(",")],
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE,
    )
