"""What a live subscription runs with: its websocket's token, and a context renewed per event.

An HTTP request reads its viewer once and holds one pool connection until it answers. A
subscription may live for hours, so it does neither: between events it holds no connection,
and for each event it verifies the token again (it may have expired), reads the viewer and
their roles and partner grants again (they may have been revoked), and gets fresh loaders (a
cached row must not outlive the event it was read for). The event is then read exactly as a
request by that viewer would read it, under row-level security for the viewer's tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from purchasegraph.context import Context
from purchasegraph.db.executor import RequestExecutor
from purchasegraph.db.loaders import Loaders
from purchasegraph.events.hub import EventHub
from purchasegraph.gateway.authentication import signed_in
from purchasegraph.gateway.refusals import RequestError
from purchasegraph.identity import InvalidToken, TokenReason
from purchasegraph.runtime import Runtime
from purchasegraph.viewer import Viewer


class StreamError(GraphQLError):
    """Why a subscription is refused or ended; ``extensions.code`` says which, stably."""

    def __init__(self, code: str, message: str, *, reason: str | None = None) -> None:
        super().__init__(message, extensions={"code": code} if reason is None else {"code": code, "reason": reason})
        self.code = code


def token_expired(reason: TokenReason = TokenReason.EXPIRED) -> StreamError:
    return StreamError(
        "UNAUTHENTICATED", "The token is no longer valid (expired?); connect again with a new one.", reason=reason.value
    )


def bearer_token(params: dict[str, Any]) -> str | None:
    """The token of a connection_init payload ``{"Authorization": "Bearer <token>"}`` (any case)."""
    value = next((v for k, v in params.items() if k.lower() == "authorization"), None)
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Connection:
    """One websocket. ``connection_params`` is set by the protocol handler from connection_init;
    ``token`` once the transport has verified it and found its user."""

    runtime: Runtime
    hub: EventHub
    connection_params: dict[str, Any] = field(default_factory=dict)
    token: str | None = None


@dataclass
class StreamContext(Context):
    """The context of one subscription operation; ``refresh`` starts an event, ``release`` ends it.

    One per operation (never shared between a websocket's subscriptions): it changes between
    events, and an operation's events are executed one after another.
    """

    connection: Connection = field(kw_only=True)
    _executor: RequestExecutor | None = field(default=None, kw_only=True)

    @classmethod
    def open(cls, connection: Connection) -> StreamContext:
        runtime = connection.runtime
        # Never used before `refresh` replaces it (and it acquires nothing until a statement).
        idle = RequestExecutor(runtime.pool, tenant_id=None, acquire_timeout=runtime.settings.acquire_timeout)
        return cls(
            viewer=None,
            db=idle,
            loaders=Loaders(idle, batching=runtime.settings.dataloaders),
            processor=runtime.processor,
            connection=connection,
        )

    @property
    def hub(self) -> EventHub:
        return self.connection.hub

    async def refresh(self) -> Viewer | None:
        """The viewer as the database has them now, on a fresh executor; None if they are gone or
        may no longer sign in (a disabled account)."""
        await self.release()
        runtime = self.connection.runtime
        if self.connection.token is None:
            raise token_expired(TokenReason.MISSING)
        try:
            claims = await runtime.verifier.verify_principal(self.connection.token)
        except InvalidToken as invalid:
            if invalid.reason is TokenReason.KEYS_UNAVAILABLE:  # not the token's fault: try again
                raise StreamError(
                    "SERVICE_UNAVAILABLE",
                    "The signing keys could not be fetched to check the token; subscribe again shortly.",
                    reason=invalid.reason.value,
                ) from None
            raise token_expired(invalid.reason) from None
        executor = RequestExecutor(
            runtime.pool, tenant_id=claims.tenant_id, acquire_timeout=runtime.settings.acquire_timeout
        )
        self._executor = executor
        self.db = executor
        self.loaders = Loaders(executor, batching=runtime.settings.dataloaders)
        self._scopes = {}
        self.request_id = uuid.uuid4().hex
        self.viewer = None
        try:
            self.viewer = await signed_in(executor, claims)
        except RequestError:
            return None  # gone from the directory, or disabled: signed in to nothing any more
        return self.viewer

    async def release(self) -> None:
        """Give the event's pool connection back: nothing is held while waiting for the next."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await executor.close()
