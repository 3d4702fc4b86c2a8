"""Authorization, decided in one place.

``scope_for(viewer, tenant_id)`` answers "what may this viewer see of tenant T?" as a value.
Query functions take that value and turn it into SQL conditions; no resolver asks about roles.

- ADMIN (global or billing admin of T), READER (global reader of T) and PARTNER (member of a
  tenant with an active delegated relationship to T) see the whole tenant.
- MEMBER sees their own rows: what they bought, the assignments on it, the licenses assigned to
  them, and the directory of T (to pick whom to assign).
- GUEST sees the licenses assigned to them and themselves, nothing else of T (a member turned
  guest keeps seeing what they bought: the purchase predicates match the viewer in every scope).
- Anyone else sees nothing; an object they ask for does not exist for them.
- A disabled account (a user who left is disabled) signs in to nothing: authentication refuses
  it (``may_sign_in``), whatever its roles. A user acts on their directory roles and on their
  tenant's relationships only as an enabled member (``acts_on_roles``): a guest holding a role
  gets a guest's scope, and acts for no customer.

Applications (app-only tokens: no user) act in their own tenant with their app roles, and in a
customer's only through an active delegated relationship, with the least of what the app role and
the relationship's grant allow:

- ``SelfServicePurchase.Read.All``: READER of the whole tenant, like a global reader. Through a
  relationship it needs a grant with a reader or admin role.
- ``Policy.ReadWrite.AllowSelfServicePurchase``: the tenant and its self-service policies, read
  and changed, nothing else. Through a relationship, changing them needs a grant that may govern
  (global admin); a grant that only reads leaves the policies readable.
- An application never buys, assigns, takes over, cancels or administers: it has no user to be a
  purchaser, and app roles grant no admin action. An expired relationship or an unrelated tenant
  gives it nothing, exactly as for a user.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from purchasegraph.identity import AppRole
from purchasegraph.principals import PartnerGrant, Principal, SignedInApp, SignedInUser

ADMIN_ROLES = frozenset({"global_admin", "billing_admin"})
READER_ROLES = frozenset({"global_reader"})
# Who keeps the directory (marks a user departed, reinstates them): global admins only. As in
# Microsoft 365, a billing admin manages billing, not users.
USER_ADMIN_ROLES = frozenset({"global_admin"})
# What a delegated relationship must grant before its partner may take admin actions; changing
# policies and taking over need a global-admin grant.
PARTNER_WRITE_ROLES = ADMIN_ROLES
PARTNER_GOVERN_ROLES = frozenset({"global_admin"})
# What a relationship must grant before a partner's application reads the customer's tenant.
PARTNER_READ_ROLES = ADMIN_ROLES | READER_ROLES


class AppPower(enum.Enum):
    """What an application may do in a tenant, the terms app roles and relationships are met in."""

    READ_TENANT = "read_tenant"  # the whole tenant, as a global reader sees it
    READ_POLICIES = "read_policies"
    WRITE_POLICIES = "write_policies"


APP_ROLE_POWERS: dict[AppRole, frozenset[AppPower]] = {
    AppRole.READ_ALL: frozenset({AppPower.READ_TENANT, AppPower.READ_POLICIES}),
    AppRole.POLICY_READ_WRITE: frozenset({AppPower.READ_POLICIES, AppPower.WRITE_POLICIES}),
}


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
    # Admin actions: set for admins and for partners whose grant includes an admin role.
    can_administer: bool = False
    # Policy changes and take-over: admins of the tenant, partners only with a global-admin grant.
    can_govern: bool = False
    # Directory upkeep (departures, reinstatements): global admins of the tenant, partners only
    # with a global-admin grant.
    manages_users: bool = False
    # For PARTNER access, the partner's own tenant: a partner sees its own relationship with the
    # customer, never the customer's relationships with other partners. Also set for a partner's
    # application acting through the relationship (its access is READER).
    partner_tenant_id: uuid.UUID | None = None
    # The application acting, when the principal is one (viewer_id is then None): it never buys,
    # assigns or administers, whatever it sees.
    app_id: uuid.UUID | None = None
    # An application's reach into the self-service policies, beyond what `access` shows: an app
    # with only Policy.ReadWrite sees the tenant and its policies and nothing else of it. Users
    # see policies through whole-tenant access and change them through `can_govern`.
    reads_policies: bool = False
    writes_policies: bool = False

    @property
    def sees_anything(self) -> bool:
        return self.access is not None or self.reads_policies

    @property
    def sees_policies(self) -> bool:
        """The tenant's self-service policies: whole-tenant viewers, and applications allowed them."""
        return self.whole_tenant or self.reads_policies

    @property
    def whole_tenant(self) -> bool:
        return self.access in WHOLE_TENANT_ACCESS

    @property
    def sees_directory(self) -> bool:
        """Members see their tenant's users, to choose whom to assign a license to."""
        return self.whole_tenant or self.access is Access.MEMBER


def may_sign_in(principal: Principal) -> bool:
    """A disabled account signs in to nothing, as Azure AD refuses it: a user who left the
    organization, or whose account an admin disabled, is refused at authentication like a user the
    directory does not have — over HTTP, at a websocket's connect and before every event. What they
    bought runs to term: that rule is about the subscription, not the person. An application signs
    in with its token (its tenant is checked when it is loaded)."""
    return isinstance(principal, SignedInApp) or principal.can_sign_in


def acts_on_roles(viewer: SignedInUser) -> bool:
    """Whether a user's directory roles and their tenant's partner relationships count: only for an
    enabled member. A guest holding an admin role gets a guest's scope and acts for no customer; a
    disabled account (refused at sign-in anyway) has no power. ACTS_ON_ROLES is the rule in SQL."""
    return not viewer.is_guest and viewer.account_enabled


# A directory user `{u}` who acts on their roles (``acts_on_roles``), for statements that find the
# tenant's admins: an enabled member who has not left (a departure disables the account).
ACTS_ON_ROLES = "({u}.user_type = 'member' AND {u}.account_enabled AND {u}.departed_at IS NULL)"


def customer_grants(principal: Principal) -> tuple[PartnerGrant, ...]:
    """The relationships in force through which the principal reaches customers: its tenant's, for
    an application and for a user who acts on roles; none for a guest or a disabled account."""
    if isinstance(principal, SignedInUser) and not acts_on_roles(principal):
        return ()
    return principal.partner_grants


def nothing(tenant_id: uuid.UUID) -> Scope:
    return Scope(tenant_id=tenant_id, access=None, viewer_id=None)


def scope_for(viewer: Principal | None, tenant_id: uuid.UUID) -> Scope:
    if viewer is None:
        return nothing(tenant_id)
    if isinstance(viewer, SignedInApp):
        return _app_scope(viewer, tenant_id)
    if viewer.tenant_id == tenant_id:
        return _home_scope(viewer)
    for grant in customer_grants(viewer):
        if grant.customer_tenant_id == tenant_id:
            return Scope(
                tenant_id=tenant_id,
                access=Access.PARTNER,
                viewer_id=viewer.user_id,
                can_administer=bool(grant.roles & PARTNER_WRITE_ROLES),
                can_govern=bool(grant.roles & PARTNER_GOVERN_ROLES),
                manages_users=bool(grant.roles & USER_ADMIN_ROLES),
                partner_tenant_id=viewer.tenant_id,
            )
    return nothing(tenant_id)


def _app_scope(app: SignedInApp, tenant_id: uuid.UUID) -> Scope:
    """The app's roles at home; in a customer's tenant, the least of its roles and the grant."""
    powers: frozenset[AppPower] = frozenset().union(*(APP_ROLE_POWERS[role] for role in app.app_roles))
    partner_tenant_id = None
    if app.tenant_id != tenant_id:
        grant = next((g for g in customer_grants(app) if g.customer_tenant_id == tenant_id), None)
        if grant is None:
            return nothing(tenant_id)
        powers &= _grant_powers(grant.roles)
        partner_tenant_id = app.tenant_id
    if not powers:
        return nothing(tenant_id)
    return Scope(
        tenant_id=tenant_id,
        access=Access.READER if AppPower.READ_TENANT in powers else None,
        viewer_id=None,
        partner_tenant_id=partner_tenant_id,
        app_id=app.app_id,
        reads_policies=AppPower.READ_POLICIES in powers,
        writes_policies=AppPower.WRITE_POLICIES in powers,
    )


def _grant_powers(roles: frozenset[str]) -> frozenset[AppPower]:
    """What a relationship's grant lets a partner's application do: read with a reader or admin
    role (admins see the whole tenant), change policies only with one that may govern (global admin)."""
    powers: set[AppPower] = set()
    if roles & PARTNER_READ_ROLES:
        powers |= {AppPower.READ_TENANT, AppPower.READ_POLICIES}
    if roles & PARTNER_GOVERN_ROLES:
        powers.add(AppPower.WRITE_POLICIES)
    return frozenset(powers)


def _home_scope(viewer: SignedInUser) -> Scope:
    if viewer.is_guest:
        return Scope(tenant_id=viewer.tenant_id, access=Access.GUEST, viewer_id=viewer.user_id)
    roles = viewer.roles if acts_on_roles(viewer) else frozenset()
    if roles & ADMIN_ROLES:
        return Scope(
            viewer.tenant_id,
            Access.ADMIN,
            viewer.user_id,
            can_administer=True,
            can_govern=True,
            manages_users=bool(roles & USER_ADMIN_ROLES),
        )
    if roles & READER_ROLES:
        return Scope(viewer.tenant_id, Access.READER, viewer.user_id)
    return Scope(viewer.tenant_id, Access.MEMBER, viewer.user_id)


def own_billing_scope(viewer: Principal | None) -> Scope | None:
    """My bills and my cards (``Principal.invoices``, ``Principal.paymentMethods``): lists of the
    signed-in user's own, in their home tenant. The scope is their real one there (what a bill's
    subscription shows follows it); the lists narrow it with ``own_only``. An application (no user)
    and an anonymous caller have none."""
    if not isinstance(viewer, SignedInUser):
        return None
    return _home_scope(viewer)


def own_notifications_scope(viewer: Principal | None) -> Scope | None:
    """``Principal.notifications``: the signed-in user's own, in their home tenant, whatever their role
    (NOTIFICATION_VISIBLE with ``own_only``); an application and an anonymous caller have none."""
    if not isinstance(viewer, SignedInUser):
        return None
    return _home_scope(viewer)


def own_only(scope: Scope) -> bool:
    """What fills ``{whole}`` of INVOICE_VISIBLE in the lists of ``own_billing_scope``: never the
    whole tenant. They hold what bills the viewer, exactly as a purchaser's invoice scope reads,
    whatever else their role shows them: an admin's bills are their own purchases' bills, not the
    tenant's; a guest keeps the bills of what they bought as a member. (Cards need no narrowing:
    PAYMENT_METHOD_VISIBLE has no whole-tenant way in.)"""
    return False


def tenants_in_reach(viewer: Principal | None) -> list[Scope]:
    """Every tenant the viewer may act on, home first, with the access that decides it."""
    if viewer is None:
        return []
    if isinstance(viewer, SignedInApp):
        candidates = [viewer.tenant_id, *(g.customer_tenant_id for g in customer_grants(viewer))]
        return [s for s in (scope_for(viewer, t) for t in candidates) if s.sees_anything]
    scopes = [_home_scope(viewer)]
    scopes += [scope_for(viewer, g.customer_tenant_id) for g in customer_grants(viewer)]
    return scopes


@dataclass(frozen=True)
class Reach:
    """A tenant in the principal's reach: the scope that decides what it sees there and, for a
    customer, the grant of the relationships in force that open it (None at home)."""

    scope: Scope
    grant: PartnerGrant | None

    @property
    def at_home(self) -> bool:
        return self.grant is None


def reach_of(viewer: Principal | None) -> list[Reach]:
    """``tenants_in_reach`` with each customer's grant, in the order ``accessibleTenants`` pages
    them: the home tenant first, then the customers by directory id. Users and applications alike:
    an application's home is listed only where its app roles see something."""
    if viewer is None:
        return []
    grants = {g.customer_tenant_id: g for g in customer_grants(viewer)}
    reach = [
        Reach(scope, None if scope.tenant_id == viewer.tenant_id else grants[scope.tenant_id])
        for scope in tenants_in_reach(viewer)
    ]
    return sorted(reach, key=lambda r: (not r.at_home, r.scope.tenant_id))


# -- What a scope reaches, as SQL -------------------------------------------------------------
# Every read path builds its statements from these fragments: the queries of db/queries (lists,
# objects by id), the rows a mutation locks (commerce/records.py) and the compiled read path
# (compiled/compiler.py). A visibility rule is written once, here. Each fragment is a template:
# `{whole}` and `{viewer}` stand for the scope's whole-tenant flag and viewer id (parameters of
# the statement), `{s}`, `{a}`, `{i}`, `{r}`, `{e}` for the aliases of the rows it filters.

# A subscription, and with it its order history: whole-tenant viewers see every one, a purchaser
# what they bought, in every status. A DISABLED subscription keeps its billing record for its
# purchaser (status, orders, invoices: they pay it and may reactivate it); only its service data
# is for admins (ASSIGNMENT_VISIBLE).
SUBSCRIPTION_VISIBLE = "({whole} OR {s}.purchaser_user_id = {viewer})"

# A license assignment of subscription `{s}`, the service data: whole-tenant viewers see every
# one; the subscription's purchaser and the license's holder see it only while the subscription
# is not DISABLED (then its users lose sight of it, and only admins reach its assignments).
ASSIGNMENT_VISIBLE = (
    "({whole} OR (effective_status({s}) <> 'disabled'"
    " AND ({s}.purchaser_user_id = {viewer} OR {a}.user_id = {viewer})))"
)

# An invoice: whole-tenant viewers see every one; otherwise only the user it bills (its purchaser
# is the one billed and responsible for payment), whatever the subscription's status.
INVOICE_VISIBLE = "({whole} OR {i}.billed_user_id = {viewer})"

# A license request is kept 12 months: past that it is gone for everyone, in the list, by id and
# for the admins who would decide it. Within them, admins see every request, a member their own
# and those that name them among the colleagues it is for (they are told of it and of its decision).
LICENSE_REQUEST_VISIBLE = (
    "({r}.created_at > app_now() - interval '12 months'"
    " AND ({whole} OR {r}.requester_user_id = {viewer} OR {viewer} = ANY({r}.for_user_ids)))"
)


# A cancellation request `{c}` (an admin asks the purchaser of a self-service subscription to cancel
# it): seen wherever its subscription is (SUBSCRIPTION_VISIBLE), by whole-tenant viewers and by the
# purchaser asked; `{j}` is a spare alias for that subscription.
CANCELLATION_REQUEST_VISIBLE = (
    "({whole} OR EXISTS (SELECT 1 FROM subscriptions {j} WHERE {j}.tenant_id = {c}.tenant_id"
    " AND {j}.id = {c}.subscription_id AND {j}.purchaser_user_id = {viewer}))"
)
# A notification `{n}`: only ever its own user's, whatever else the scope sees (`{tenant}` and
# `{user}` the signed-in user's tenant and id; an application has none and sees none).
NOTIFICATION_VISIBLE = "({n}.tenant_id = {tenant} AND {n}.user_id = {user})"


# A directory user: viewers who see the directory (whole-tenant viewers and members) see every
# user of the tenant; anyone else (a guest) only themselves. `{directory}` is the scope's
# `sees_directory`, `{u}` the user row.
USER_VISIBLE = "({directory} OR {u}.id = {viewer})"

# A card on file: only its owner, whatever else the scope sees (admins never see a purchaser's card).
PAYMENT_METHOD_VISIBLE = "({pm}.owner_user_id = {viewer})"

# A customer's delegated-admin relationship `{p}`: whole-tenant viewers see them, but a partner (or a
# partner's application) only its own, never the customer's other partners. `{partner}` is the
# scope's `partner_tenant_id`.
PARTNER_RELATIONSHIP_VISIBLE = "({whole} AND ({partner} IS NULL OR {p}.partner_tenant_id = {partner}))"

# Whether a relationship `{p}` is in force now: active, and the app clock inside its dates. The
# SQL function relationship_in_force is the rule's one statement; the principal's grants and the
# row-level security reach call it in the database, this fragment everywhere else.
RELATIONSHIP_IN_FORCE = "relationship_in_force({p}.status, {p}.starts_at, {p}.ends_at)"


def reaches_service_data(scope: Scope, *, status: str) -> bool:
    """ASSIGNMENT_VISIBLE for one subscription the viewer sees, where no SQL is at hand (a license
    change on it, an event about its licenses): admins always, anyone else not once it is DISABLED."""
    return scope.whole_tenant or status != "disabled"


# -- The audit trail ------------------------------------------------------------------------


def sees_audit(scope: Scope) -> bool:
    """The audit trail is for the tenant's admins and its active partners (AUDIT_VISIBLE)."""
    return scope.can_administer or scope.access is Access.PARTNER


# The audit trail, for statements that page it: `{whole}` is ``sees_audit``, and the viewer must be
# a signed-in user (`{viewer}` their id): an application reads none of it, whatever it reads of the
# tenant.
AUDIT_VISIBLE = "({whole} AND {viewer} IS NOT NULL)"


# Who acted, in an audit row `{e}` of the tenant: a partner never learns of the customer's other
# partners (as `partnerRelationships` hides them), so an actor from a tenant other than the
# customer and the partner itself is shown as "another organization" with no ids. `{partner}` is
# the viewer's partner tenant (audit_partner): NULL for the tenant's own admins, who see all.
# `sees_actor` is the same rule for the actors of order lines and live events.
AUDIT_ACTOR_VISIBLE = (
    "({partner} IS NULL OR {e}.actor_tenant_id IS NULL"
    " OR {e}.actor_tenant_id = {e}.tenant_id OR {e}.actor_tenant_id = {partner})"
)
# What the trail shows in place of an actor the viewer may not know.
HIDDEN_ACTOR_NAME = "Another organization"


def audit_partner(scope: Scope) -> uuid.UUID | None:
    """The partner tenant whose view of the trail AUDIT_ACTOR_VISIBLE narrows; None for the tenant's own."""
    return scope.partner_tenant_id if scope.access is Access.PARTNER else None


def sees_actor(scope: Scope, actor_tenant_id: uuid.UUID | None) -> bool:
    """AUDIT_ACTOR_VISIBLE where no SQL is at hand: whether the viewer may learn who acted on an
    object of the scope's tenant (an order line's actor, a live event's). Actors of the tenant itself
    and the sweep (no tenant) always; a viewer from outside it (a partner's user or application) also
    those of its own organization, never the customer's other partners; of the tenant's own viewers,
    only those who see its partner relationships (admins, readers) learn that a partner acted.
    Where it is allowed, the actor is still shown only as far as the viewer's scope reaches them."""
    if actor_tenant_id is None or actor_tenant_id == scope.tenant_id:
        return True
    if scope.partner_tenant_id is not None:
        return actor_tenant_id == scope.partner_tenant_id
    return scope.whole_tenant


def audit_tenant(scope: Scope, principal: Principal) -> uuid.UUID:
    """Where a mutation is audited: in the tenant it named when the principal reaches that tenant,
    else in the principal's own tenant. Never decided on whether the named tenant exists: where a
    refusal lands must not tell an outsider that a tenant (or anything in it) is there."""
    return scope.tenant_id if scope.sees_anything else principal.tenant_id


class Decision(enum.Enum):
    """The answer to "may this viewer change that?"; the names are the refusal codes."""

    ALLOWED = "allowed"
    NOT_FOUND = "not_found"  # outside the viewer's reach: it looks like it does not exist
    NOT_AUTHORIZED = "not_authorized"  # visible, but the viewer's role only reads
    NOT_IN_CONTROL = "not_in_control"  # governed by the purchaser, or by admins after a take-over


def may_buy(scope: Scope) -> Decision:
    """Self-service buying happens in one's own tenant; partners never buy for a customer. An
    application is nobody's purchaser: refused where it sees the tenant, not found elsewhere (a
    partner's app in a customer's tenant, like the partner's users)."""
    if scope.app_id is not None:
        at_home = scope.partner_tenant_id is None
        return Decision.NOT_AUTHORIZED if scope.sees_anything and at_home else Decision.NOT_FOUND
    if scope.access in {Access.MEMBER, Access.ADMIN, Access.READER, Access.GUEST}:
        return Decision.ALLOWED  # guests are then refused by eligibility, with its reason code
    return Decision.NOT_FOUND


def _allowed_or_refused(allowed: bool, scope: Scope) -> Decision:
    """An action allowed to some of those who see the tenant: the others who see it are refused by
    their role; to anyone else the tenant (and whatever was named in it) is not there."""
    if allowed:
        return Decision.ALLOWED
    return Decision.NOT_AUTHORIZED if scope.sees_anything else Decision.NOT_FOUND


def may_administer(scope: Scope) -> Decision:
    """Admin actions: global and billing admins, partners whose grant includes an admin role."""
    return _allowed_or_refused(scope.can_administer, scope)


def may_govern(scope: Scope) -> Decision:
    """Take-over: admins of the tenant; a partner only with a global-admin grant. Never an
    application: no app role governs subscriptions."""
    return _allowed_or_refused(scope.can_govern, scope)


def may_set_policy(scope: Scope) -> Decision:
    """Self-service policies: whoever governs the tenant, and an application holding
    Policy.ReadWrite.AllowSelfServicePurchase here (through a relationship: with a global-admin grant)."""
    return _allowed_or_refused(scope.can_govern or scope.writes_policies, scope)


def may_manage_users(scope: Scope) -> Decision:
    """Marking a user departed and reinstating them: the tenant's global admins, and partners whose
    grant includes global admin. Billing admins and readers see the directory and are refused; an
    application keeps no directory. That nobody marks themselves, and that the tenant keeps an
    enabled global admin, the operation checks on the rows it locks (commerce/governance.py)."""
    return _allowed_or_refused(scope.manages_users, scope)


def may_follow_events(scope: Scope) -> Decision:
    """A tenant's live events: its admins and readers and its active partners, whoever sees the
    whole tenant. A member or a guest is refused; anyone else finds no such tenant. Checked when the
    stream starts and again before every event."""
    return _allowed_or_refused(scope.whole_tenant, scope)


def may_handle_billing(scope: Scope, *, billed_user_id: uuid.UUID | None) -> Decision:
    """A card on a subscription and a bill to pay are their purchaser's own: the purchaser is the
    one billed and responsible for payment, whoever governs the subscription."""
    return _only_the_user(scope, billed_user_id)


def may_manage_subscription(scope: Scope, *, controlled_by: str, purchaser_id: uuid.UUID | None) -> Decision:
    """Who changes a subscription's licenses and life: its purchaser while they control it,
    the tenant's admins once it is central or taken over. Never an application: it is
    no purchaser and no admin, so whoever may only look gets the reader's answer."""
    if scope.app_id is not None:
        return Decision.NOT_AUTHORIZED if scope.whole_tenant else Decision.NOT_FOUND
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


def may_answer_cancellation(scope: Scope, *, purchaser_id: uuid.UUID | None) -> Decision:
    """A cancellation request is answered by the purchaser it asks, and by no one else."""
    return _only_the_user(scope, purchaser_id)


def _only_the_user(scope: Scope, user_id: uuid.UUID | None) -> Decision:
    """What is one user's own to act on: only that user, in their own tenant. Whole-tenant viewers
    (admins, readers, partners, applications) see it and are refused; anyone else finds nothing."""
    at_home = scope.partner_tenant_id is None  # set for partners' users and applications alike
    if scope.viewer_id is not None and user_id == scope.viewer_id and at_home:
        return Decision.ALLOWED
    return Decision.NOT_AUTHORIZED if scope.whole_tenant else Decision.NOT_FOUND
