"""The principal of a request, read from the database once per request.

A principal is a user (``SignedInUser``) or an application acting with app roles and no user
(``SignedInApp``); ``Principal`` is either. A user's directory roles and every partner relationship
are never taken from the token: revoking a role or ending a relationship takes effect on the very
next request. An application's app roles are the token's (the identity provider's consent).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from purchasegraph.db.executor import Executor
from purchasegraph.identity import AppClaims, AppRole, Claims

# One statement: the user, their directory roles in their own tenant, and every delegated
# relationship of their tenant (partner side) while it is in force (relationship_in_force: active,
# and the app clock inside its dates). Whether the user may act on roles and grants at all (not as
# a guest, nor a disabled account) the policy decides (policy.acts_on_roles). The query is the SQL
# function principal_user, so the gateway's one-round-trip sign-in (sign_in_user) reads the same.
SELECT_SIGNED_IN_USER = "SELECT * FROM principal_user($1, $2)"


# One statement: the application's tenant and every active delegated relationship it holds as
# partner, on the same terms as a user's (SELECT_SIGNED_IN_USER): in force at the app clock.
SELECT_APP_TENANT = "SELECT * FROM principal_app($1)"


@dataclass(frozen=True)
class PartnerGrant:
    """The delegated-admin relationships in force the principal's tenant holds with one customer
    (policy.customer_grants says whether the principal acts through them)."""

    customer_tenant_id: uuid.UUID
    roles: frozenset[str]
    # When the reach ends: the latest end date of the relationships in force with the customer
    # (None only for a grant built without one, as tests do).
    ends_at: datetime.datetime | None = None


@dataclass(frozen=True)
class SignedInUser:
    """A signed-in user of a directory, with their directory roles and their tenant's grants."""

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


@dataclass(frozen=True)
class SignedInApp:
    """An application acting in its own tenant with its app roles, and for that tenant's customers
    through its active delegated relationships. It is nobody in the directory: no user id, no
    directory roles, no purchases, cards or licenses of its own."""

    app_id: uuid.UUID
    tenant_id: uuid.UUID
    app_roles: frozenset[AppRole]
    partner_grants: tuple[PartnerGrant, ...]

    @property
    def user_id(self) -> None:
        """No user: code that names "who" (logs, audit rows) records none rather than a made-up one."""
        return None


# The principal of a request; the policy module tells the two apart.
Principal: TypeAlias = SignedInUser | SignedInApp


async def load_signed_in_user(db: Executor, claims: Claims) -> SignedInUser | None:
    """The viewer named by verified claims, or None when the directory no longer has them."""
    row = await db.fetchrow(SELECT_SIGNED_IN_USER, claims.tenant_id, claims.user_id)
    return user_from_row(row) if row is not None else None


def user_from_row(row: Mapping[str, Any]) -> SignedInUser:
    """The viewer from a row of ``principal_user`` (or of a statement that returns its columns)."""
    return SignedInUser(
        user_id=row["id"],
        tenant_id=row["tenant_id"],
        display_name=row["display_name"],
        is_guest=row["user_type"] == "guest",
        account_enabled=row["account_enabled"],
        departed=row["departed_at"] is not None,
        roles=frozenset(row["roles"]),
        partner_grants=grants_by_customer(row["partner_grants"]),
    )


def grants_by_customer(rows: list[dict[str, Any]]) -> tuple[PartnerGrant, ...]:
    """One grant per customer: several active relationships with one customer add up their roles
    (GDAP allows several) and reach as far as the last of them ends, so the policy never depends on
    which one it happens to read first."""
    roles: dict[uuid.UUID, set[str]] = {}
    ends: dict[uuid.UUID, datetime.datetime] = {}
    for row in rows:
        customer = uuid.UUID(row["tenant_id"])
        roles.setdefault(customer, set()).update(row["roles"])
        if row.get("ends_at") is not None:
            # JSON renders a timestamptz in the session's zone: kept as the UTC instant asyncpg gives.
            ends_at = datetime.datetime.fromisoformat(row["ends_at"]).astimezone(datetime.UTC)
            ends[customer] = max(ends_at, ends.get(customer, ends_at))
    return tuple(PartnerGrant(customer, frozenset(r), ends.get(customer)) for customer, r in roles.items())


async def load_app(db: Executor, claims: AppClaims) -> SignedInApp | None:
    """The application named by verified claims, or None when its tenant is not one this service has."""
    row = await db.fetchrow(SELECT_APP_TENANT, claims.tenant_id)
    return app_from_row(row, claims) if row is not None else None


def app_from_row(row: Mapping[str, Any], claims: AppClaims) -> SignedInApp:
    """The application from a row of ``principal_app``: its grants are the directory's, its roles the token's."""
    return SignedInApp(
        app_id=claims.app_id,
        tenant_id=row["tenant_id"],
        app_roles=claims.roles,
        partner_grants=grants_by_customer(row["partner_grants"]),
    )


async def load_principal(db: Executor, claims: Claims | AppClaims) -> Principal | None:
    """The user or the application verified claims name; None when the directory has no such one."""
    if isinstance(claims, AppClaims):
        return await load_app(db, claims)
    return await load_signed_in_user(db, claims)
