"""Authorization, decided in one place.

``scope_for(viewer, tenant_id)`` answers "what may this viewer see of tenant T?" as a value.
Query functions take that value and turn it into SQL conditions; no resolver asks about roles.

- ADMIN (global or billing admin of T), READER (global reader of T) and PARTNER (member of a
  tenant with an active delegated relationship to T) see the whole tenant.
- MEMBER sees their own rows: what they bought, the assignments on it, the licenses assigned to
  them, and the directory of T (to pick whom to assign).
- GUEST sees the licenses assigned to them and themselves, nothing else of T.
- Anyone else sees nothing; an object they ask for does not exist for them.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from purchasegraph.viewer import Viewer

ADMIN_ROLES = frozenset({"global_admin", "billing_admin"})
READER_ROLES = frozenset({"global_reader"})
# What a delegated relationship must grant before its partner may change things (issue 3 uses it);
# policies and take-over need global admin (rule 12).
PARTNER_WRITE_ROLES = ADMIN_ROLES
PARTNER_GOVERN_ROLES = frozenset({"global_admin"})


class Access(enum.Enum):
    ADMIN = "admin"
    READER = "reader"
    PARTNER = "partner"
    MEMBER = "member"
    GUEST = "guest"


WHOLE_TENANT_ACCESS = frozenset({Access.ADMIN, Access.READER, Access.PARTNER})


@dataclass(frozen=True)
class Scope:
    """What one viewer may see of one tenant; hashable, so loaders can be keyed by it."""

    tenant_id: uuid.UUID
    access: Access | None
    viewer_id: uuid.UUID | None
    # Admin actions (issue 3): set for admins and for partners whose grant includes an admin role.
    can_administer: bool = False
    # Policy changes and take-over: admins of the tenant, partners only with a global-admin grant.
    can_govern: bool = False
    # For PARTNER access, the partner's own tenant: a partner sees its own relationship with the
    # customer, never the customer's relationships with other partners.
    partner_tenant_id: uuid.UUID | None = None

    @property
    def sees_anything(self) -> bool:
        return self.access is not None

    @property
    def whole_tenant(self) -> bool:
        return self.access in WHOLE_TENANT_ACCESS

    @property
    def sees_directory(self) -> bool:
        """Members see their tenant's users, to choose whom to assign a license to."""
        return self.whole_tenant or self.access is Access.MEMBER


def nothing(tenant_id: uuid.UUID) -> Scope:
    return Scope(tenant_id=tenant_id, access=None, viewer_id=None)


def scope_for(viewer: Viewer | None, tenant_id: uuid.UUID) -> Scope:
    if viewer is None:
        return nothing(tenant_id)
    if viewer.tenant_id == tenant_id:
        return _home_scope(viewer)
    for grant in viewer.partner_grants:
        if grant.customer_tenant_id == tenant_id:
            return Scope(
                tenant_id=tenant_id,
                access=Access.PARTNER,
                viewer_id=viewer.user_id,
                can_administer=bool(grant.roles & PARTNER_WRITE_ROLES),
                can_govern=bool(grant.roles & PARTNER_GOVERN_ROLES),
                partner_tenant_id=viewer.tenant_id,
            )
    return nothing(tenant_id)


def _home_scope(viewer: Viewer) -> Scope:
    if viewer.is_guest:
        return Scope(tenant_id=viewer.tenant_id, access=Access.GUEST, viewer_id=viewer.user_id)
    # A disabled account keeps its own rows visible but loses directory roles' powers.
    if viewer.account_enabled and viewer.roles & ADMIN_ROLES:
        return Scope(viewer.tenant_id, Access.ADMIN, viewer.user_id, can_administer=True, can_govern=True)
    if viewer.account_enabled and viewer.roles & READER_ROLES:
        return Scope(viewer.tenant_id, Access.READER, viewer.user_id)
    return Scope(viewer.tenant_id, Access.MEMBER, viewer.user_id)


def tenants_in_reach(viewer: Viewer | None) -> list[Scope]:
    """Every tenant the viewer may act on, home first, with the access that decides it."""
    if viewer is None:
        return []
    scopes = [_home_scope(viewer)]
    scopes += [scope_for(viewer, g.customer_tenant_id) for g in viewer.partner_grants]
    return scopes


class Decision(enum.Enum):
    """The answer to "may this viewer change that?"; the names are the refusal codes."""

    ALLOWED = "allowed"
    NOT_FOUND = "not_found"  # outside the viewer's reach: it looks like it does not exist
    NOT_AUTHORIZED = "not_authorized"  # visible, but the viewer's role only reads
    NOT_IN_CONTROL = "not_in_control"  # governed by the purchaser, or by admins after a take-over


def may_buy(scope: Scope) -> Decision:
    """Self-service buying happens in one's own tenant; partners never buy for a customer."""
    if scope.access in {Access.MEMBER, Access.ADMIN, Access.READER, Access.GUEST}:
        return Decision.ALLOWED  # guests are then refused by eligibility, with its reason code
    return Decision.NOT_FOUND


def may_administer(scope: Scope) -> Decision:
    """Admin actions: global and billing admins, partners whose grant includes an admin role."""
    if scope.can_administer:
        return Decision.ALLOWED
    return Decision.NOT_AUTHORIZED if scope.sees_anything else Decision.NOT_FOUND


def may_govern(scope: Scope) -> Decision:
    """Policies and take-over: admins of the tenant; a partner only with a global-admin grant."""
    if scope.can_govern:
        return Decision.ALLOWED
    return Decision.NOT_AUTHORIZED if scope.sees_anything else Decision.NOT_FOUND


def may_manage_subscription(scope: Scope, *, controlled_by: str, purchaser_id: uuid.UUID | None) -> Decision:
    """Who changes a subscription's licenses and life: its purchaser while they control it,
    the tenant's admins once it is central or taken over (rule 10)."""
    is_purchaser = scope.sees_anything and purchaser_id is not None and scope.viewer_id == purchaser_id
    if controlled_by == "purchaser":
        if is_purchaser and scope.access is not Access.PARTNER:
            return Decision.ALLOWED
        if scope.whole_tenant:
            return Decision.NOT_IN_CONTROL if scope.can_administer else Decision.NOT_AUTHORIZED
        return Decision.NOT_FOUND
    if scope.can_administer:
        return Decision.ALLOWED
    if scope.whole_tenant:
        return Decision.NOT_AUTHORIZED
    return Decision.NOT_IN_CONTROL if is_purchaser else Decision.NOT_FOUND
