"""The principal of a request, read from the database once per request.

Roles and partner relationships are never taken from the token: revoking a role or ending a
relationship takes effect on the very next request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from purchasegraph.db.executor import Executor
from purchasegraph.identity import Claims

# One statement: the user, their directory roles in their own tenant, and every active
# delegated relationship of their tenant (partner side). Guests and disabled accounts act for
# no customer; a relationship counts only while its status is active and now() is inside it.
SELECT_VIEWER = """
SELECT u.tenant_id, u.id, u.display_name, u.user_type, u.account_enabled, u.departed_at,
       COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM directory_roles r
                  WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id), '{}') AS roles,
       COALESCE((SELECT json_agg(json_build_object('tenant_id', p.tenant_id, 'roles', p.roles)
                                 ORDER BY p.tenant_id)
                   FROM partner_relationships p
                  WHERE p.partner_tenant_id = u.tenant_id
                    AND p.status = 'active' AND now() >= p.starts_at AND now() < p.ends_at
                    AND u.user_type = 'member' AND u.account_enabled), '[]') AS partner_grants
  FROM users u
 WHERE u.tenant_id = $1 AND u.id = $2
"""


@dataclass(frozen=True)
class PartnerGrant:
    """An active delegated-admin relationship the viewer's tenant holds with a customer."""

    customer_tenant_id: uuid.UUID
    roles: frozenset[str]


@dataclass(frozen=True)
class Viewer:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    display_name: str
    is_guest: bool
    account_enabled: bool
    departed: bool
    roles: frozenset[str]
    partner_grants: tuple[PartnerGrant, ...]

    @property
    def can_sign_in(self) -> bool:
        """An enabled account of someone who has not left the organization."""
        return self.account_enabled and not self.departed


async def load_viewer(db: Executor, claims: Claims) -> Viewer | None:
    """The viewer named by verified claims, or None when the directory no longer has them."""
    row = await db.fetchrow(SELECT_VIEWER, claims.tenant_id, claims.user_id)
    if row is None:
        return None
    return Viewer(
        user_id=row["id"],
        tenant_id=row["tenant_id"],
        display_name=row["display_name"],
        is_guest=row["user_type"] == "guest",
        account_enabled=row["account_enabled"],
        departed=row["departed_at"] is not None,
        roles=frozenset(row["roles"]),
        partner_grants=tuple(
            PartnerGrant(uuid.UUID(g["tenant_id"]), frozenset(g["roles"])) for g in row["partner_grants"]
        ),
    )
