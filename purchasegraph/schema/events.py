"""Live events: the subscription root, named EventStream (`Subscription` is a product subscription).

Served over graphql-transport-ws on /graphql only (purchasegraph/events/transport.py). Access
is checked twice: when a subscription starts, which refuses it with an error as a query of the
same data would be refused, and for every event, with the viewer read from the database again,
so a revoked role, an ended partner relationship or an expired token ends the stream before
the next event is delivered.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated

import strawberry

from purchasegraph.context import Info
from purchasegraph.db.queries import subscriptions
from purchasegraph.events.hub import Feed, FeedEnded, Interest, Notice
from purchasegraph.events.stream import StreamCode, StreamContext, StreamError
from purchasegraph.observability.metrics import subscription_ended, subscription_started
from purchasegraph.policy import Decision, may_follow_events, reaches_service_data
from purchasegraph.principals import Principal, SignedInApp
from purchasegraph.schema.catalogue import Product, load_product
from purchasegraph.schema.directory import User, load_actor
from purchasegraph.schema.ids import decode_uuid
from purchasegraph.schema.purchases import Subscription, load_subscription


@strawberry.type(
    description="A committed change to a tenant's purchases. Only ids travel with it; "
    "its fields are read when it is delivered, under your access at that moment."
)
class PurchaseEvent:
    event_id: strawberry.ID = strawberry.field(
        description="Its number in the tenant's audit log; unique within the tenant."
    )
    action: str = strawberry.field(
        description="What happened, as the audit log names it: subscription.purchase, license.assign, "
        "self_service_policy.update, subscription.cancel, subscription.take_over, …"
    )
    tenant_id: strawberry.ID = strawberry.field(description="The tenant it happened in (directory id).")
    occurred_at: datetime.datetime = strawberry.field(description="When it was recorded.")
    outcome: str = strawberry.field(
        description="Always `accepted`: refused and rolled-back changes are never published."
    )
    tenant_uuid: strawberry.Private[uuid.UUID]
    subscription_id: strawberry.Private[uuid.UUID | None]
    product_id: strawberry.Private[str | None]
    actor_user_id: strawberry.Private[uuid.UUID | None]
    actor_tenant_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_notice(cls, notice: Notice) -> PurchaseEvent:
        return cls(
            event_id=strawberry.ID(str(notice.sequence)),
            action=notice.action,
            tenant_id=strawberry.ID(str(notice.tenant_id)),
            occurred_at=notice.occurred_at,
            outcome="accepted",
            tenant_uuid=notice.tenant_id,
            subscription_id=notice.subscription_id,
            product_id=notice.product_id,
            actor_user_id=notice.actor_user_id,
            actor_tenant_id=notice.actor_tenant_id,
        )

    @strawberry.field(
        description="The subscription it changed, as it is now; null for a policy change, "
        "or when your access does not reach it."
    )
    async def subscription(self, info: Info) -> Subscription | None:
        return await load_subscription(info, self.tenant_uuid, self.subscription_id)

    @strawberry.field(description="The product: the subscription's, or the one whose policy changed.")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.product_id) if self.product_id is not None else None

    @strawberry.field(
        description="Who did it; null for the renewal sweep, or an actor your access does not reach (a partner's user)."
    )
    async def actor(self, info: Info) -> User | None:
        return await load_actor(info, self.tenant_uuid, self.actor_tenant_id, self.actor_user_id)


TenantIdArg = Annotated[strawberry.ID, strawberry.argument(description="UUID or Tenant ID.")]
# Whether the viewer, as just read again, may still receive the stream's events.
StillAllowed = Callable[[StreamContext, Principal | None], StreamError | None]
# Whether one event reaches the viewer at all (their scope may reach the tenant, not the object).
Visible = Callable[[StreamContext, Notice], Awaitable[bool]]


@strawberry.type(
    name="EventStream",
    description='Live events, over graphql-transport-ws on /graphql with `{"Authorization": "Bearer <token>"}` '
    "as the connection_init payload. Access is checked when a subscription starts and again for every event.",
)
class EventStream:
    @strawberry.subscription(
        description="Every purchase, license change, policy change, cancellation and take-over in a tenant, "
        "as each commits. For the tenant's admins and readers and its active partners; the stream ends "
        "with an error when that access does."
    )
    async def purchase_events(self, info: Info, tenant_id: TenantIdArg) -> AsyncIterator[PurchaseEvent]:
        stream = stream_of(info)
        tenant = decode_uuid(str(tenant_id), "Tenant")
        if tenant is None:
            raise StreamError(StreamCode.NOT_FOUND, "No such tenant.")
        # Listening before the check: nothing committed after it is missed.
        feed = stream.hub.subscribe(Interest(tenant_id=tenant))
        return await _start(stream, feed, _whole_tenant(tenant))

    @strawberry.subscription(
        description="Events on the subscriptions you purchased: licenses, cancellation, take-over, renewal."
    )
    async def my_subscription_events(self, info: Info) -> AsyncIterator[PurchaseEvent]:
        stream = stream_of(info)
        try:
            viewer = await stream.refresh()
        finally:
            await stream.release()
        if viewer is None:
            raise _user_gone()
        if isinstance(viewer, SignedInApp) or viewer.user_id is None:
            raise StreamError(
                StreamCode.NOT_AUTHORIZED, "Applications purchase nothing: subscribe to purchaseEvents instead."
            )
        feed = stream.hub.subscribe(Interest(tenant_id=viewer.tenant_id, purchaser_id=viewer.user_id))

        def still_allowed(context: StreamContext, current: Principal | None) -> StreamError | None:
            return _user_gone() if current is None else None

        return await _start(stream, feed, still_allowed, _subscription_in_scope)


def stream_of(info: Info) -> StreamContext:
    context = info.context
    if not isinstance(context, StreamContext):
        raise StreamError(StreamCode.SUBSCRIPTION_TRANSPORT, "Subscribe over graphql-transport-ws on /graphql.")
    return context


def _whole_tenant(tenant_id: uuid.UUID) -> StillAllowed:
    """Whoever ``policy.may_follow_events`` allows in the tenant, asked again before every event."""

    def still_allowed(context: StreamContext, viewer: Principal | None) -> StreamError | None:
        if viewer is None:
            return _user_gone()
        decision = may_follow_events(context.scope_of(tenant_id))
        if decision is Decision.ALLOWED:
            return None
        if decision is Decision.NOT_AUTHORIZED:
            return StreamError(
                StreamCode.NOT_AUTHORIZED, "A tenant's events are for its admins and readers and its active partners."
            )
        return StreamError(StreamCode.NOT_FOUND, "No such tenant.")

    return still_allowed


def _user_gone() -> StreamError:
    return StreamError(
        StreamCode.UNAUTHENTICATED, "The token names a user this directory no longer has, or a disabled account."
    )


def _access_ended(refusal: StreamError) -> StreamError:
    return StreamError(StreamCode.ACCESS_ENDED, f"Your access to these events ended: {refusal.message}")


async def _everything(stream: StreamContext, notice: Notice) -> bool:
    return True


# Events about a subscription's licenses: its service data, which a DISABLED one keeps for admins.
LICENSE_ACTIONS = frozenset({"license.assign", "license.unassign", "subscription.move_users"})


async def _subscription_in_scope(stream: StreamContext, notice: Notice) -> bool:
    """The event's subscription as the viewer's queries would find it (a purchaser keeps a DISABLED
    one's billing record, so its events too), except that an event about its licenses needs its
    assignments in reach as well, as `Subscription.assignments` does."""
    if notice.subscription_id is None:
        return False
    scope = stream.scope_of(notice.tenant_id)
    row = await stream.loaders.by_id(subscriptions.fetch_subscriptions_by_id, scope).load(notice.subscription_id)
    if row is None:
        return False
    return notice.action not in LICENSE_ACTIONS or reaches_service_data(scope, status=row["status"])


async def _start(
    stream: StreamContext, feed: Feed, still_allowed: StillAllowed, visible: Visible = _everything
) -> AsyncIterator[PurchaseEvent]:
    """Refuse now (an error instead of a stream) or hand graphql-core the stream of events."""
    try:
        viewer = await stream.refresh()
        refusal = still_allowed(stream, viewer)
    except BaseException:
        feed.close()
        raise
    finally:
        await stream.release()
    if refusal is not None:
        feed.close()
        raise refusal
    return _deliver(stream, feed, still_allowed, visible)


async def _deliver(
    stream: StreamContext, feed: Feed, still_allowed: StillAllowed, visible: Visible
) -> AsyncGenerator[PurchaseEvent, None]:
    """Each event authorized on its own; its pool connection held only while it is executed.
    Counted in ``purchasegraph_subscriptions_active`` from its first read to its end."""
    subscription_started()
    try:
        while True:
            try:
                notice = await anext(feed)
            except FeedEnded as ended:
                raise _feed_ended(ended) from None
            refusal = still_allowed(stream, await stream.refresh())
            if refusal is not None:
                raise _access_ended(refusal)
            if not await visible(stream, notice):
                await stream.release()
                continue
            yield PurchaseEvent.from_notice(notice)
            # Resumed once graphql-core has executed the event's selection.
            await stream.release()
    finally:
        subscription_ended()
        feed.close()
        await stream.release()


def _feed_ended(ended: FeedEnded) -> StreamError:
    if ended.reason == FeedEnded.FELL_BEHIND:
        return StreamError(
            StreamCode.FELL_BEHIND, "Events arrived faster than this subscription read them; subscribe again."
        )
    return StreamError(StreamCode.SHUTTING_DOWN, "The server is restarting; subscribe again.")
