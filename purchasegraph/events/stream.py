"""What a live subscription runs with: its websocket's token, and a context renewed per event.

An HTTP request reads its viewer once and holds one pool connection until it answers. A
subscription may live for hours, so it does neither: between events it holds no connection,
and for each event it verifies the token again (it may have expired), reads the viewer and
their roles and partner grants again (they may have been revoked), and gets fresh loaders (a
cached row must not outlive the event it was read for). The event is then read exactly as a
request by that viewer would read it, under row-level security for the viewer's tenant.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from purchasegraph.context import Context
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.loaders import Loaders
from purchasegraph.events.hub import EventHub
from purchasegraph.gateway.authentication import PRINCIPAL_REFUSED, refusal_reason, sign_in
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.identity import TokenReason
from purchasegraph.principals import Principal
from purchasegraph.runtime import Runtime


class StreamCode(enum.StrEnum):
    """``extensions.code`` of a subscription refused or ended."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    NOT_FOUND = "NOT_FOUND"
    NOT_AUTHORIZED = "NOT_AUTHORIZED"
    SUBSCRIPTION_TRANSPORT = "SUBSCRIPTION_TRANSPORT"
    ACCESS_ENDED = "ACCESS_ENDED"
    FELL_BEHIND = "FELL_BEHIND"
    SHUTTING_DOWN = "SHUTTING_DOWN"


class StreamError(GraphQLError):
    """Why a subscription is refused or ended; ``extensions.code`` says which, stably."""

    def __init__(self, code: StreamCode, message: str, *, reason: TokenReason | None = None) -> None:
        extensions = {"code": code.value} if reason is None else {"code": code.value, "reason": reason.value}
        super().__init__(message, extensions=extensions)
        self.code = code


def token_expired(reason: TokenReason = TokenReason.EXPIRED) -> StreamError:
    return StreamError(
        StreamCode.UNAUTHENTICATED,
        "The token is no longer valid (expired?); connect again with a new one.",
        reason=reason,
    )


@dataclass
class SocketSession:
    """One websocket's session. ``connection_params`` is set by the protocol handler from connection_init;
    ``token`` once the transport has verified it and found its user."""

    runtime: Runtime
    hub: EventHub
    connection_params: dict[str, Any] = field(default_factory=dict)
    token: str | None = None
    # The client's address, whose throttle bucket pays for a connect refused for naming nobody.
    address: str | None = None


@dataclass
class StreamContext(Context):
    """The context of one subscription operation; ``refresh`` starts an event, ``release`` ends it.

    One per operation (never shared between a websocket's subscriptions): it changes between
    events, and an operation's events are executed one after another.
    """

    socket: SocketSession = field(kw_only=True)
    _executor: RequestExecutor | None = field(default=None, kw_only=True)

    @classmethod
    def open(cls, socket: SocketSession) -> StreamContext:
        runtime = socket.runtime
        # Never used before `refresh` replaces it (and it acquires nothing until a statement).
        idle = RequestExecutor(runtime.pool, tenant_id=None, acquire_timeout=runtime.settings.acquire_timeout)
        return cls(
            viewer=None,
            db=idle,
            loaders=Loaders(idle, batching=runtime.settings.dataloaders),
            processor=runtime.processor,
            socket=socket,
        )

    @property
    def hub(self) -> EventHub:
        return self.socket.hub

    async def refresh(self) -> Principal | None:
        """The viewer as the database has them now, on a fresh executor; None if they are gone or
        may no longer sign in (a disabled account)."""
        await self.release()
        if self.socket.token is None:
            raise token_expired(TokenReason.MISSING)
        self._scopes = {}
        self.request_id = uuid.uuid4().hex
        self.viewer = None
        try:
            signed = await sign_in(self.socket.runtime, self.socket.token)
        except RequestError as refused:
            reason = refusal_reason(refused) or TokenReason.EXPIRED
            if reason is TokenReason.KEYS_UNAVAILABLE:  # not the token's fault: try again
                raise StreamError(
                    StreamCode.SERVICE_UNAVAILABLE,
                    "The signing keys could not be fetched to check the token; subscribe again shortly.",
                    reason=reason,
                ) from None
            if reason not in PRINCIPAL_REFUSED:
                raise token_expired(reason) from None
            return None  # gone from the directory, or disabled: signed in to nothing any more
        self._executor = signed.db
        self.db = signed.db
        self.loaders = Loaders(signed.db, batching=self.socket.runtime.settings.dataloaders)
        self.viewer = signed.viewer
        return self.viewer

    async def release(self) -> None:
        """Give the event's pool connection back: nothing is held while waiting for the next."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await executor.close()
