"""The typed per-request context every resolver receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import strawberry
from starlette.requests import Request

from purchasegraph.db.executor import Executor
from purchasegraph.db.loaders import Loaders
from purchasegraph.policy import Scope, scope_for
from purchasegraph.viewer import Viewer


@dataclass
class Context:
    viewer: Viewer | None
    db: Executor
    loaders: Loaders
    request: Request | None = None
    _scopes: dict[uuid.UUID, Scope] = field(default_factory=dict)

    def scope_of(self, tenant_id: uuid.UUID) -> Scope:
        """The viewer's scope in a tenant, decided once per request by the policy module."""
        scope = self._scopes.get(tenant_id)
        if scope is None:
            scope = self._scopes[tenant_id] = scope_for(self.viewer, tenant_id)
        return scope


def build_context(*, viewer: Viewer | None, db: Executor, request: Request | None = None) -> Context:
    return Context(viewer=viewer, db=db, loaders=Loaders(db), request=request)


Info = strawberry.Info[Context, None]
