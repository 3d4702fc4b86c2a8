"""``orderBy`` of every connection: a list of (field, direction) a client picks from a whitelist.

Each entity's enum names exactly the keys of its ``Sortable`` in ``db/ordering.py`` (checked at
import), so a value only selects one of our own SQL expressions. The engine appends the row's id
in the direction of the last key, which makes the order total and a cursor name one place in it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

import strawberry

from purchasegraph.db import ordering
from purchasegraph.db.ordering import Ordering, Sortable

TIE = "The id always breaks ties, in the direction of the last key; a cursor only pages the order it came from."


@strawberry.enum(description="Which way a key sorts.")
class OrderDirection(enum.Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest (earliest, A…Z) first.")
    DESC = strawberry.enum_value("DESC", description="Largest (latest, Z…A) first.")


@strawberry.enum(description="Keys subscriptions sort by.")
class SubscriptionOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When it was bought.")
    EXPIRES_AT = strawberry.enum_value("EXPIRES_AT", description="When its term ends.")
    CANCELED_AT = strawberry.enum_value("CANCELED_AT", description="When it was canceled; never-canceled last.")
    QUANTITY = strawberry.enum_value("QUANTITY", description="Licenses it holds.")
    STATUS = strawberry.enum_value("STATUS", description="Its lifecycle status, by its stored name.")


@strawberry.enum(description="Keys orders and purchases sort by.")
class OrderOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When the order was placed.")
    QUANTITY_AFTER = strawberry.enum_value("QUANTITY_AFTER", description="Licenses held after it.")
    KIND = strawberry.enum_value("KIND", description="What it did, by its stored name.")


@strawberry.enum(description="Keys license assignments sort by.")
class AssignmentOrderField(enum.Enum):
    ASSIGNED_AT = strawberry.enum_value("ASSIGNED_AT", description="When the license was assigned.")
    USER = strawberry.enum_value("USER", description="The user holding it (groups one user's licenses).")


@strawberry.enum(description="Keys the directory sorts by.")
class UserOrderField(enum.Enum):
    DISPLAY_NAME = strawberry.enum_value("DISPLAY_NAME", description="Display name.")
    USER_PRINCIPAL_NAME = strawberry.enum_value("USER_PRINCIPAL_NAME", description="Sign-in name.")
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When the account was created.")
    DEPARTED_AT = strawberry.enum_value("DEPARTED_AT", description="Day they left; those still here last.")


@strawberry.enum(description="Keys invoices sort by.")
class InvoiceOrderField(enum.Enum):
    PERIOD_START = strawberry.enum_value("PERIOD_START", description="First day billed.")
    DUE_DATE = strawberry.enum_value("DUE_DATE", description="Day payment is due.")
    PAID_AT = strawberry.enum_value("PAID_AT", description="When it was paid; unpaid last.")


@strawberry.enum(description="Keys license requests sort by.")
class LicenseRequestOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When it was asked for.")
    DECIDED_AT = strawberry.enum_value("DECIDED_AT", description="When it was decided; pending last.")


@strawberry.enum(description="Keys cancellation requests sort by.")
class CancellationRequestOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When the admin asked.")
    RESOLVED_AT = strawberry.enum_value("RESOLVED_AT", description="When it was answered or closed; open last.")


@strawberry.enum(description="Keys audit events sort by.")
class AuditEventOrderField(enum.Enum):
    OCCURRED_AT = strawberry.enum_value("OCCURRED_AT", description="When it happened.")
    ACTION = strawberry.enum_value("ACTION", description="The mutation's name.")


@strawberry.enum(description="Keys notifications sort by.")
class NotificationOrderField(enum.Enum):
    CREATED_AT = strawberry.enum_value("CREATED_AT", description="When the viewer was told.")


_FIELD = "The key."
_DIRECTION = "Which way it sorts; ascending unless given."


@strawberry.input(description=f"One sort key of subscriptions. {TIE}")
class SubscriptionOrder:
    field: SubscriptionOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of orders and purchases. {TIE}")
class OrderOrder:
    field: OrderOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of license assignments. {TIE}")
class AssignmentOrder:
    field: AssignmentOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of the directory. {TIE}")
class UserOrder:
    field: UserOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of invoices. {TIE}")
class InvoiceOrder:
    field: InvoiceOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of license requests. {TIE}")
class LicenseRequestOrder:
    field: LicenseRequestOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of cancellation requests. {TIE}")
class CancellationRequestOrder:
    field: CancellationRequestOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of audit events. {TIE}")
class AuditEventOrder:
    field: AuditEventOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


@strawberry.input(description=f"One sort key of notifications. {TIE}")
class NotificationOrder:
    field: NotificationOrderField = strawberry.field(description=_FIELD)
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description=_DIRECTION)


ORDER_BY = "Sort keys, first one first; absent or empty keeps the default order named above."


class _Order(Protocol):
    @property
    def field(self) -> enum.Enum: ...

    @property
    def direction(self) -> OrderDirection: ...


def resolve(sortable: Sortable, order_by: Sequence[_Order] | None) -> Ordering:
    """The ``Ordering`` an ``orderBy`` argument asks for."""
    if not order_by:
        return sortable.ordering(None)
    return sortable.ordering([(o.field.name, o.direction is OrderDirection.DESC) for o in order_by])


# The enums name the sortables' keys, no more and no fewer.
for _enum, _sortable in (
    (SubscriptionOrderField, ordering.SUBSCRIPTION),
    (OrderOrderField, ordering.ORDER),
    (AssignmentOrderField, ordering.ASSIGNMENT),
    (UserOrderField, ordering.USER),
    (InvoiceOrderField, ordering.INVOICE),
    (LicenseRequestOrderField, ordering.LICENSE_REQUEST),
    (AuditEventOrderField, ordering.AUDIT_EVENT),
    (CancellationRequestOrderField, ordering.CANCELLATION_REQUEST),
    (NotificationOrderField, ordering.NOTIFICATION),
):
    assert {m.name for m in _enum} == set(_sortable.fields) - {ordering.ID}, _enum
