"""``orderBy`` of every connection: a list of (field, direction) a client picks from a whitelist.

Each entity's enum of keys (``SubscriptionOrderField``, ``InvoiceOrderField``, …) and input of one
key with its direction (``SubscriptionOrder``, …) are built from its entry in ``_KEYS``, which
names exactly the keys of its ``Sortable`` in ``db/ordering.py`` (checked at import), so a value
only selects one of our own SQL expressions. The engine appends the row's id in the direction of
the last key, which makes the order total and a cursor name one place in it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol, cast

import strawberry

from purchasegraph.db import ordering
from purchasegraph.db.ordering import Ordering, Sortable
from purchasegraph.described import DescribedEnum, graphql_enum

TIE = "The id always breaks ties, in the direction of the last key; a cursor only pages the order it came from."


@graphql_enum("Which way a key sorts.")
class OrderDirection(DescribedEnum):
    ASC = "ASC", "Smallest (earliest, A…Z) first."
    DESC = "DESC", "Largest (latest, Z…A) first."


@dataclass(frozen=True)
class _Keys:
    """How the schema speaks of one sortable's keys: "Keys {sorted_by} by.", "One sort key of {of}."."""

    sortable: Sortable
    of: str
    sorted_by: str
    meanings: dict[str, str]


_KEYS = (
    _Keys(
        ordering.SUBSCRIPTION,
        "subscriptions",
        "subscriptions sort",
        {
            "CREATED_AT": "When it was bought.",
            "EXPIRES_AT": "When its term ends.",
            "CANCELED_AT": "When it was canceled; never-canceled last.",
            "QUANTITY": "Licenses it holds.",
            "STATUS": "Its lifecycle status, by its stored name.",
        },
    ),
    _Keys(
        ordering.ORDER,
        "orders and purchases",
        "orders and purchases sort",
        {
            "CREATED_AT": "When the order was placed.",
            "QUANTITY_AFTER": "Licenses held after it.",
            "KIND": "What it did, by its stored name.",
        },
    ),
    _Keys(
        ordering.ASSIGNMENT,
        "license assignments",
        "license assignments sort",
        {
            "ASSIGNED_AT": "When the license was assigned.",
            "USER": "The user holding it (groups one user's licenses).",
        },
    ),
    _Keys(
        ordering.USER,
        "the directory",
        "the directory sorts",
        {
            "DISPLAY_NAME": "Display name.",
            "USER_PRINCIPAL_NAME": "Sign-in name.",
            "CREATED_AT": "When the account was created.",
            "DEPARTED_AT": "Day they left; those still here last.",
        },
    ),
    _Keys(
        ordering.INVOICE,
        "invoices",
        "invoices sort",
        {
            "PERIOD_START": "First day billed.",
            "DUE_DATE": "Day payment is due.",
            "PAID_AT": "When it was paid; unpaid last.",
        },
    ),
    _Keys(
        ordering.LICENSE_REQUEST,
        "license requests",
        "license requests sort",
        {"CREATED_AT": "When it was asked for.", "DECIDED_AT": "When it was decided; pending last."},
    ),
    _Keys(
        ordering.CANCELLATION_REQUEST,
        "cancellation requests",
        "cancellation requests sort",
        {"CREATED_AT": "When the admin asked.", "RESOLVED_AT": "When it was answered or closed; open last."},
    ),
    _Keys(
        ordering.AUDIT_EVENT,
        "audit events",
        "audit events sort",
        {"OCCURRED_AT": "When it happened.", "ACTION": "The mutation's name."},
    ),
    _Keys(ordering.NOTIFICATION, "notifications", "notifications sort", {"CREATED_AT": "When the viewer was told."}),
)

_FIELD = "The key."
_DIRECTION = "Which way it sorts; ascending unless given."


def _sort_key_input(keys: _Keys) -> type:
    """``{Entity}OrderField``, the enum of the keys, and ``{Entity}Order``, one key with its direction."""
    # The enum names the sortable's keys, no more and no fewer.
    assert set(keys.meanings) == set(keys.sortable.fields) - {ordering.ID}, keys.sortable.entity
    values = {name: strawberry.enum_value(name, description=text) for name, text in keys.meanings.items()}
    field_enum = strawberry.enum(
        cast(type[enum.Enum], enum.Enum(f"{keys.sortable.entity}OrderField", values)),
        description=f"Keys {keys.sorted_by} by.",
    )
    namespace = {
        "__annotations__": {"field": field_enum, "direction": OrderDirection},
        "field": strawberry.field(description=_FIELD),
        "direction": strawberry.field(default=OrderDirection.ASC, description=_DIRECTION),
    }
    key_input = type(f"{keys.sortable.entity}Order", (), namespace)
    return strawberry.input(key_input, description=f"One sort key of {keys.of}. {TIE}")


_SORT_KEY_INPUTS = {keys.sortable: _sort_key_input(keys) for keys in _KEYS}


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


def order_by_argument(sortable: Sortable) -> object:
    """The ``orderBy`` argument of a connection of this sortable's rows."""
    key_input = _SORT_KEY_INPUTS[sortable]
    return Annotated[list[key_input] | None, strawberry.argument(description=ORDER_BY)]  # type: ignore[valid-type]
