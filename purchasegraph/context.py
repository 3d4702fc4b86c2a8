"""The typed per-request context every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import strawberry
from starlette.requests import Request

from purchasegraph.db.executor import Executor
from purchasegraph.db.loaders import Loaders
from purchasegraph.payments import PaymentProcessor, SandboxProcessor
from purchasegraph.policy import Scope, scope_for
from purchasegraph.principals import Principal


@dataclass
class Context:
    # The principal: a user or an application (``purchasegraph.principals``); None when anonymous.
    viewer: Principal | None
    db: Executor
    loaders: Loaders
    processor: PaymentProcessor = field(default_factory=SandboxProcessor)
    # The gateway's own id for the request (logs, masked errors, audit rows) ...
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # ... and the X-Request-Id the client sent, when it is a sane token: recorded, never trusted.
    client_request_id: str | None = None
    request: Request | None = None
    _scopes: dict[uuid.UUID, Scope] = field(default_factory=dict)

    def scope_of(self, tenant_id: uuid.UUID) -> Scope:
        """The viewer's scope in a tenant, decided once per request by the policy module."""
        scope = self._scopes.get(tenant_id)
        if scope is None:
            scope = self._scopes[tenant_id] = scope_for(self.viewer, tenant_id)
        return scope


def build_context(
    *,
    viewer: Principal | None,
    db: Executor,
    processor: PaymentProcessor | None = None,
    request: Request | None = None,
    request_id: str | None = None,
    client_request_id: str | None = None,
    batching: bool = True,
) -> Context:
    return Context(
        viewer=viewer,
        db=db,
        loaders=Loaders(db, batching=batching),
        processor=processor if processor is not None else SandboxProcessor(),
        request_id=request_id or uuid.uuid4().hex,
        client_request_id=client_request_id,
        request=request,
    )


Info = strawberry.Info[Context, None]
