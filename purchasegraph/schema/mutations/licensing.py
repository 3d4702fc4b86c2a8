"""Who holds a license: assigning and taking back, moving users, and asking the admins for one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence
from typing import Annotated, Any, Protocol

import strawberry

from purchasegraph.commerce import licensing
from purchasegraph.commerce.unit_of_work import Work
from purchasegraph.context import Info
from purchasegraph.schema.ids import Ref, product_key
from purchasegraph.schema.mutations import ProductIdArg, SubscriptionIdArg, Target, mutate, sent, sent_if
from purchasegraph.schema.payloads import LicenseRequestPayload, MoveUsersPayload, SubscriptionPayload

UserIdsArg = Annotated[list[strawberry.ID], strawberry.argument(description="Users (User IDs), at most 20.")]
RequestIdArg = Annotated[strawberry.ID, strawberry.argument(description="LicenseRequest ID.")]


@strawberry.mutation(description="Assign licenses to users of the same tenant: all of them or none.")
async def assign_licenses(info: Info, subscription_id: SubscriptionIdArg, user_ids: UserIdsArg) -> SubscriptionPayload:
    return await _for_users(info, subscription_id, user_ids, "license.assign", licensing.assign_licenses)


@strawberry.mutation(description="Take licenses back from users.")
async def unassign_licenses(
    info: Info, subscription_id: SubscriptionIdArg, user_ids: UserIdsArg
) -> SubscriptionPayload:
    return await _for_users(info, subscription_id, user_ids, "license.unassign", licensing.unassign_licenses)


class UsersChange(Protocol):
    def __call__(
        self, work: Work, *, subscription_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> Awaitable[dict[str, Any]]: ...


async def _for_users(
    info: Info, subscription_id: str, user_ids: Sequence[str], action: str, change: UsersChange
) -> SubscriptionPayload:
    subscription = sent(info, subscription_id, "Subscription", "subscriptionId")
    users = _users(info, user_ids, "userIds")
    return await mutate(
        info,
        SubscriptionPayload,
        action=action,
        on=subscription,
        refs=users,
        operation=lambda work: change(work, subscription_id=subscription.id, user_ids=[u.id for u in users]),
    )


def _users(info: Info, values: Sequence[str], field: str) -> list[Ref]:
    return [sent(info, value, "User", field, str(i)) for i, value in enumerate(values)]


@strawberry.mutation(description="Ask the admins for a product your organization blocks (for you and colleagues).")
async def request_license(
    info: Info,
    product_id: ProductIdArg,
    for_user_ids: Annotated[
        list[strawberry.ID] | None, strawberry.argument(description="Colleagues who need it too (User IDs).")
    ] = None,
) -> LicenseRequestPayload:
    key = product_key(product_id)
    users = _users(info, for_user_ids or [], "forUserIds")
    return await mutate(
        info,
        LicenseRequestPayload,
        action="license_request.create",
        on=Target("Product", key),
        refs=users,
        operation=lambda work: licensing.request_license(work, product_id=key, for_user_ids=[u.id for u in users]),
    )


@strawberry.mutation(description="Admins: move every user of a taken-over subscription to another, then cancel it.")
async def move_users(
    info: Info, from_subscription_id: SubscriptionIdArg, to_subscription_id: SubscriptionIdArg
) -> MoveUsersPayload:
    source = sent(info, from_subscription_id, "Subscription", "fromSubscriptionId")
    target = sent(info, to_subscription_id, "Subscription", "toSubscriptionId").within(source)
    return await mutate(
        info,
        MoveUsersPayload,
        action="subscription.move_users",
        on=source,
        refs=[target],
        operation=lambda work: licensing.move_users(work, from_subscription_id=source.id, to_subscription_id=target.id),
    )


@strawberry.mutation(
    description="Admins: approve a license request. Naming a subscription (central, or one the admins "
    "took control of, of the product asked for) also assigns everyone the request is for, in the same "
    "transaction: refused with NO_LICENSES_LEFT, nothing written, when it has too few free licenses. "
    "Everyone the request is for is notified."
)
async def approve_license_request(
    info: Info,
    request_id: RequestIdArg,
    assign_from_subscription_id: Annotated[
        strawberry.ID | None,
        strawberry.argument(description="The subscription (Subscription ID) to assign from; null: approve only."),
    ] = None,
) -> LicenseRequestPayload:
    return await _decide(info, request_id, approve=True, assign_from=assign_from_subscription_id)


@strawberry.mutation(description="Admins: deny a license request.")
async def deny_license_request(info: Info, request_id: RequestIdArg) -> LicenseRequestPayload:
    return await _decide(info, request_id, approve=False)


async def _decide(
    info: Info, request_id: str, *, approve: bool, assign_from: str | None = None
) -> LicenseRequestPayload:
    request = sent(info, request_id, "LicenseRequest", "requestId")
    source = sent_if(info, assign_from, "Subscription", "assignFromSubscriptionId")
    # A subscription of another tenant than the request's is outside it: not found, like none.
    source = source.within(request) if source else None
    return await mutate(
        info,
        LicenseRequestPayload,
        action="license_request.approve" if approve else "license_request.deny",
        on=request,
        refs=[source],
        operation=lambda work: licensing.decide_license_request(
            work, request_id=request.id, approve=approve, assign_from=source.id if source else None
        ),
    )
