"""graphql-transport-ws on /graphql: Strawberry speaks the protocol, the gateway's engine runs it.

Strawberry's ASGI view handles the websocket and the protocol's states (connection_init within
10 s, ack, ping/pong, subscribe/next/error/complete, the close codes). What it would execute is
replaced (``Subscriptions``): every document goes through the same ``Engine.prepare`` as over
HTTP (token, depth, alias and cost limits, validation, no introspection in production), only
subscription operations are run (queries and mutations belong to HTTP, with its audit), each
paying its cost from the principal's bucket as an HTTP request does (and a principal holds at
most ``MAX_SUBSCRIPTIONS_PER_PRINCIPAL`` live ones in a process, over however many sockets), a
message larger than an HTTP body may be closes the socket (1009), one that is not of the
protocol's shape closes it with 4400 (never an exception in the socket's task), trusted
documents are enforced when they are over HTTP (the protocol carries the full text, which must
then be one of the manifest), and errors that are not the API's own are masked with a request
id, as over HTTP.

The token comes in connection_init's payload, ``{"Authorization": "Bearer <token>"}`` (a browser
cannot set headers on a websocket). A missing or invalid token, or one naming a user the
directory no longer has or a disabled account, closes the socket with 4403 before anything is
acknowledged; the close reason is the ``TokenReason`` an HTTP 401 would carry in
``extensions.reason`` (``TOKEN_MISSING`` when connection_init has no token). Signing keys that
could not be fetched close it with 1013 Try Again Later instead (reason
``SIGNING_KEYS_UNAVAILABLE``): the token was not checked, so nothing is said against it.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Iterable
from json import JSONDecodeError
from typing import Any, cast

from graphql import ExecutionResult as CoreResult
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UNSET, UnsetType
from strawberry.utils.aio import aclosing

from purchasegraph.db.availability import database_unavailable
from purchasegraph.events.stream import SocketSession, StreamContext
from purchasegraph.gateway.authentication import (
    NO_PRINCIPAL,
    address_pays,
    bearer_token,
    refusal_reason,
    sign_in,
    unauthenticated,
)
from purchasegraph.gateway.documents import DocumentStore
from purchasegraph.gateway.execution import Engine
from purchasegraph.gateway.masking import masked
from purchasegraph.gateway.refusals import RequestCode, RequestError
from purchasegraph.gateway.request_parsing import check_strings
from purchasegraph.gateway.throttle import CostBucket, principal_of, throttled
from purchasegraph.identity import TokenReason

log = logging.getLogger("purchasegraph.events")

# A client needs a handful (one per tenant it watches); each costs a queue and a query per event.
MAX_SUBSCRIPTIONS_PER_CONNECTION = 10
# What a refused connect costs the address's bucket: a request's least.
CONNECT_COST = 1
# And a principal at most ten connections' worth in one process, however many sockets it opens:
# a subscription is paid for once, but holds its queue and reads anew at every event for hours.
MAX_SUBSCRIPTIONS_PER_PRINCIPAL = 100
CONNECTION_INIT_TIMEOUT = datetime.timedelta(seconds=10)
# RFC 6455 "Try Again Later": the database did not answer while the connection was checked.
TRY_AGAIN_LATER = 1013
# graphql-transport-ws "Forbidden": connection_init refused (its close reason says why).
FORBIDDEN = 4403
# RFC 6455 "Message Too Big": a message larger than an HTTP body may be.
MESSAGE_TOO_BIG = 1009
# graphql-transport-ws: a message of a type or shape the protocol does not define.
BAD_MESSAGE = 4400
# What the fields of a message must hold, where present (None is "absent" for the optional ones).
_OPTIONAL_OBJECT = (dict, type(None))
_SUBSCRIBE_PAYLOAD = {
    "query": (str,),
    "variables": _OPTIONAL_OBJECT,
    "operationName": (str, type(None)),
    "extensions": _OPTIONAL_OBJECT,
}

StreamResults = AsyncGenerator[ExecutionResult, None]


def refused(error: RequestError) -> PreExecutionError:
    """A refusal of the document, sent as the protocol's `error` message for the operation."""
    errors = [GraphQLError(e["message"], extensions=e.get("extensions")) for e in error.graphql_errors()]
    return PreExecutionError(data=None, errors=errors)


class Subscriptions:
    """What the protocol handler executes against, in place of a Strawberry schema: its
    ``stream`` is the one method the graphql-transport-ws handler calls."""

    def __init__(self, engine: Engine, documents: DocumentStore, bucket: CostBucket) -> None:
        self.engine = engine
        self.documents = documents
        self.bucket = bucket
        # Live subscriptions of this process per principal (principal_of), for the cap above.
        self._live: Counter[str] = Counter()

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResults:
        assert isinstance(context_value, SocketSession), "EventStreams.get_context makes the session"
        return self._results(query, variable_values, context_value, operation_name)

    async def _results(
        self, query: str | None, variables: dict[str, Any] | None, socket: SocketSession, operation_name: str | None
    ) -> StreamResults:
        engine = self.engine
        try:
            check_strings(variables, "variables")
            prepared = engine.prepare(self.documents.resolve(query, None).text, operation_name)
            if prepared.operation.operation is not OperationType.SUBSCRIPTION:
                raise RequestError(
                    RequestCode.METHOD_NOT_ALLOWED,
                    "Only subscriptions are served over the websocket; send queries and mutations over HTTP.",
                )
            cost = engine.cost(prepared, variables)
            principal = await self._admit(socket, cost)
        except RequestError as error:
            yield refused(error)
            return
        # Its own context: the operation's events swap the viewer and executor in it.
        context = StreamContext.open(socket)
        try:
            outcome = await engine.subscribe(prepared, variables=variables, context=context)
            if isinstance(outcome, CoreResult):  # refused when it started: the `error` message
                yield PreExecutionError(data=None, errors=_masked(outcome.errors, context))
                return
            async with aclosing(outcome) as results:
                try:
                    async for result in results:
                        yield ExecutionResult(data=result.data, errors=_masked(result.errors, context))
                except Exception as error:  # the stream ends: access ended, fell behind, a failure
                    wrapped = (
                        error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
                    )
                    yield ExecutionResult(data=None, errors=_masked([wrapped], context))
        finally:
            self._leave(principal)
            await context.release()

    async def _admit(self, socket: SocketSession, cost: int) -> str:
        """The principal, once its live subscriptions leave room for this one (held until ``_leave``)
        and the operation's cost is taken from its bucket, the one its HTTP requests pay from."""
        if socket.token is None:
            raise unauthenticated(TokenReason.MISSING, "Connect with a token first.")
        signed = await sign_in(socket.runtime, socket.token)
        try:
            principal = principal_of(signed.viewer, None)
            if self._live[principal] >= MAX_SUBSCRIPTIONS_PER_PRINCIPAL:
                raise RequestError(
                    RequestCode.TOO_MANY_SUBSCRIPTIONS,
                    f"You have {MAX_SUBSCRIPTIONS_PER_PRINCIPAL} live subscriptions: complete one first.",
                    extensions={"maximum": MAX_SUBSCRIPTIONS_PER_PRINCIPAL},
                )
            self._live[principal] += 1  # before the next await: concurrent subscribes count each other
            try:
                throttle = await self.bucket.take(signed.db, principal, cost)
            except BaseException:
                self._leave(principal)
                raise
        finally:
            await signed.db.close()
        if throttle is not None and not throttle.granted:
            self._leave(principal)
            raise throttled(cost, throttle)
        return principal

    def _leave(self, principal: str) -> None:
        self._live[principal] -= 1
        if self._live[principal] <= 0:
            del self._live[principal]


def _masked(errors: list[GraphQLError] | None, context: StreamContext) -> list[GraphQLError] | None:
    return [masked(error, context.request_id) for error in errors] if errors else None


def misshapen(message: object) -> str | None:
    """Why a decoded message is not one the protocol defines, or None. Strawberry's handler reads
    the fields as they should be (a string id as a dict key, the payload's query as a string):
    any other shape would end the socket's task with an exception instead of the protocol's 4400."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "A message is a JSON object with a string `type`."
    if "id" in message and not isinstance(message["id"], str):
        return "An operation `id` is a string."
    if message["type"] != "subscribe":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return "A subscribe message's `payload` is an object."
    for name, types in _SUBSCRIBE_PAYLOAD.items():
        if not isinstance(payload.get(name), types):
            return f"`payload.{name}` of a subscribe message has the wrong type."
    return None


class SizedMessages(ASGIWebSocketAdapter):
    """The websocket's messages, each at most as large as an HTTP body may be
    (``PURCHASEGRAPH_MAX_BODY_BYTES``); a larger one closes the socket with 1009 Message Too Big.
    ``serve`` also sets uvicorn's frame limit to it, so such a message is never even buffered.
    A message that is not JSON, or not of the protocol's shape (``misshapen``), closes it with 4400."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        view = cast(EventStreams, self.view)
        maximum = view.engine.limits.max_body_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > maximum or len(text.encode("utf-8", "surrogatepass")) > maximum:
                    await self.ws.close(code=MESSAGE_TOO_BIG, reason=f"A message may hold at most {maximum} bytes.")
                    return
                try:
                    message = view.decode_json(text)
                except (JSONDecodeError, RecursionError) as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
                    continue
                problem = misshapen(message)
                if problem is not None:
                    await self.ws.close(code=BAD_MESSAGE, reason=problem)
                    return
                yield message
        except KeyError as error:  # a binary frame: the protocol's handler closes with 4400
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass


class RefusedConnection(Exception):
    """connection_init refused for this reason. Not Strawberry's ``ConnectionRejectionError``,
    whose close reason is always "Forbidden": this one reaches ``Handler``, which says why."""

    def __init__(self, reason: TokenReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Handler(BaseGraphQLTransportWSHandler[SocketSession, None]):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        # The token's user is looked up while the connection is checked: a database that does
        # not answer is "try again", not "forbidden" and not a crash of the socket's task.
        try:
            await super().handle_connection_init(message)
        except RefusedConnection as refusal:
            # Keys that could not be fetched refuse nothing: the token was not checked, try again.
            code = TRY_AGAIN_LATER if refusal.reason is TokenReason.KEYS_UNAVAILABLE else FORBIDDEN
            await self.websocket.close(code=code, reason=refusal.reason.value)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("database unavailable while a websocket connected: %r", error)
            await self.websocket.close(code=TRY_AGAIN_LATER, reason="The database is unavailable; try again.")


class EventStreams(GraphQL[SocketSession, None]):
    """The websocket side of /graphql (app.py routes websocket scopes here, HTTP to GraphQLHTTP)."""

    graphql_transport_ws_handler_class = Handler
    websocket_adapter_class = SizedMessages

    def __init__(
        self, engine: Engine, documents: DocumentStore, bucket: CostBucket, allowed_origins: frozenset[str]
    ) -> None:
        self.engine = engine
        self.bucket = bucket
        super().__init__(
            # Duck-typed: the handler calls `stream` and nothing else of its schema.
            cast(BaseSchema, Subscriptions(engine, documents, bucket)),
            graphql_ide=None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
            # The pages HTTP's CORS lets in (gateway/cors.py): a handshake from another origin is
            # refused with 403 before anything else runs; same-origin pages and clients that send
            # no Origin (not browsers) are always let through to the token check.
            allowed_origins=sorted(allowed_origins),
        )

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> SocketSession:
        state = request.state
        return SocketSession(
            runtime=state.runtime, hub=state.events, address=request.client.host if request.client else None
        )

    async def on_ws_connect(self, context: SocketSession) -> UnsetType | dict[str, object] | None:
        """Accept the connection only with a valid token naming a principal that may sign in."""
        # connection_init's payload is ``{"Authorization": "Bearer <token>"}`` (the name in any case).
        named = [value for name, value in context.connection_params.items() if name.lower() == "authorization"]
        token = bearer_token(named[0]) if named else None
        if token is None:
            raise RefusedConnection(TokenReason.MALFORMED if named else TokenReason.MISSING)
        try:
            signed = await sign_in(context.runtime, token)
        except RequestError as refused:
            reason = refusal_reason(refused) or TokenReason.UNKNOWN_USER
            if reason in NO_PRINCIPAL:
                # As over HTTP: a token naming nobody pays from the address's bucket (a signing key
                # mints a subject per connection, never an address); an empty one refuses the same.
                with contextlib.suppress(RequestError):
                    await address_pays(context.runtime, self.bucket, CONNECT_COST, context.address)
            raise RefusedConnection(reason) from None
        await signed.db.close()
        context.token = token
        return cast(UnsetType, UNSET)
