"""What every mutation does: refuse the ids that name nothing, run one unit of work, build the payload.

The mutations themselves live by commerce area (``purchasing``, ``licensing``, ``billing``,
``governance``) and only translate: GraphQL input → the objects its ids name → an operation of
``purchasegraph.commerce`` → a payload. Who may do what is decided by ``purchasegraph.policy``
inside the operations; refusals come back as ``userErrors`` with stable codes.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, Self, TypeVar

import strawberry

from purchasegraph.commerce.codes import ErrorCode
from purchasegraph.commerce.unit_of_work import Idempotency, Operation, Work, refuse, run
from purchasegraph.context import Info
from purchasegraph.schema.ids import Ref, decode_ref
from purchasegraph.schema.payloads import SubscriptionPayload, UserError, user_errors

# The longest reason or message a person writes to another (see ``free_text``).
FREE_TEXT_LENGTH = 1000

SubscriptionIdArg = Annotated[strawberry.ID, strawberry.argument(description="The subscription (Subscription ID).")]
ProductIdArg = Annotated[strawberry.ID, strawberry.argument(description="Commerce product id or Product ID.")]
UserIdArg = Annotated[strawberry.ID, strawberry.argument(description="The user (User ID).")]
KeyArg = Annotated[
    str, strawberry.argument(description="Same key, same request: charged once. 1 to 255 characters (a UUID will do).")
]


class Payload(Protocol):
    def __init__(self, *, user_errors: list[UserError]) -> None: ...

    @classmethod
    async def built(cls, info: Info, data: dict[str, Any], tenant_id: uuid.UUID) -> Self: ...


P = TypeVar("P", bound=Payload)


@dataclass(frozen=True)
class Target:
    """What a mutation acts on, as its audit row names it; in the caller's own tenant unless one is given."""

    type_name: str
    id: uuid.UUID | str
    tenant_id: uuid.UUID | None = None


def sent(info: Info, value: str, type_name: str, *field: str) -> Ref:
    """The object an id argument names; a raw UUID is taken as one of the caller's own tenant."""
    viewer = info.context.viewer
    return decode_ref(value, type_name, viewer.tenant_id if viewer is not None else None, *field)


def sent_if(info: Info, value: str | None, type_name: str, *field: str) -> Ref | None:
    """``sent`` for an optional id argument: None when the argument was left out."""
    return None if value is None else sent(info, value, type_name, *field)


async def mutate(
    info: Info,
    payload: type[P],
    *,
    action: str,
    on: Ref | Target,
    operation: Operation,
    refs: Sequence[Ref | None] = (),
    texts: Mapping[str, str] | None = None,
    idempotency: Idempotency | None = None,
) -> P:
    """Run ``operation`` on ``on`` as one unit of work and build ``payload`` from what it changed.

    Refused before the operation runs, and audited like any refusal: the first id among ``on``
    and ``refs`` that names nothing (not found; audited in the caller's tenant under the id as
    sent, as it names nothing to audit against), then a free text of ``texts`` (argument name →
    text) longer than a person writes.
    """
    unknown = next((r for r in (on, *refs) if isinstance(r, Ref) and r.key is None), None)
    overlong = next((name for name, text in (texts or {}).items() if len(text) > FREE_TEXT_LENGTH), None)
    if unknown is not None:
        on, idempotency = Target(unknown.type_name, unknown.sent), None
        operation = _refusing(ErrorCode.NOT_FOUND, f"No such {unknown.what}.", *unknown.field)
    elif overlong is not None:
        operation = _refusing(
            ErrorCode.INVALID_INPUT, f"`{overlong}` holds at most {FREE_TEXT_LENGTH} characters.", overlong
        )
    target = on if isinstance(on, Target) else Target(on.type_name, on.id, on.tenant_id)
    outcome = await run(
        info.context,
        action=action,
        tenant_id=target.tenant_id,
        target_type=target.type_name,
        target_id=target.id,
        operation=operation,
        idempotency=idempotency,
    )
    viewer = info.context.viewer
    if outcome.problems or viewer is None:
        return payload(user_errors=user_errors(outcome.problems))
    return await payload.built(info, outcome.data, target.tenant_id or viewer.tenant_id)


def _refusing(code: ErrorCode, message: str, *field: str) -> Operation:
    async def operation(work: Work) -> dict[str, Any]:
        raise refuse(code, message, *field)

    return operation


class SubscriptionChange(Protocol):
    """An operation of ``purchasegraph.commerce`` on one subscription (its other arguments bound)."""

    def __call__(self, work: Work, *, subscription_id: uuid.UUID) -> Awaitable[dict[str, Any]]: ...


async def change_subscription(
    info: Info,
    subscription_id: str,
    action: str,
    change: SubscriptionChange,
    *,
    texts: Mapping[str, str] | None = None,
    idempotency: Idempotency | None = None,
) -> SubscriptionPayload:
    """A change to the one subscription ``subscriptionId`` names."""
    subscription = sent(info, subscription_id, "Subscription", "subscriptionId")
    return await mutate(
        info,
        SubscriptionPayload,
        action=action,
        on=subscription,
        operation=lambda work: change(work, subscription_id=subscription.id),
        texts=texts,
        idempotency=idempotency,
    )


def free_text(description: str) -> Any:
    """A free-text argument: a reason or message a person writes to another, stored, sent on and shown."""
    return strawberry.argument(description=f"{description} At most {FREE_TEXT_LENGTH:,} characters.")
