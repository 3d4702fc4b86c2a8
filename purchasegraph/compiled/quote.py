"""``Query.quote``: its rules live in Python (eligibility and ``commerce.pricing``), so it is
resolved beside the compiled statement by the resolver itself and serialized for the selection."""

from __future__ import annotations

import enum
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import strawberry
from graphql import FieldNode

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Beside, Emitter, beside_info
from purchasegraph.compiled.objects import NULL
from purchasegraph.context import Context
from purchasegraph.schema.enums import BillingFrequency
from purchasegraph.schema.quote import resolve_quote

# The fields of each type under ``quote``: GraphQL name → (attribute, its object type or None).
TYPES: dict[str, dict[str, tuple[str, str | None]]] = {
    "QuoteResult": {"quote": ("quote", "Quote"), "userErrors": ("user_errors", "UserError")},
    "Quote": {
        "productId": ("product_id", None),
        "quantity": ("quantity", None),
        "billingFrequency": ("billing_frequency", None),
        "unitPrice": ("unit_price", "Money"),
        "total": ("total", "Money"),
    },
    "Money": {"amount": ("amount", None), "currency": ("currency", None)},
    "UserError": {"code": ("code", None), "field": ("field", None), "message": ("message", None)},
}

Serializer = Callable[[Any], Any]


def quote(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    product_id, quantity = e._argument(node, "productId"), e._argument(node, "quantity")
    if not isinstance(product_id, str) or not isinstance(quantity, int) or isinstance(quantity, bool):
        raise NotCompilable(Reason.INVALID_INPUT, "quote arguments")
    frequency = _frequency(e._argument(node, "billingFrequency"))
    serialize = _serializer(e, node, "QuoteResult")

    async def resolve(context: Context) -> Any:
        return serialize(await resolve_quote(beside_info(context), strawberry.ID(product_id), quantity, frequency))

    e._state.beside.append(Beside(path, resolve))
    return NULL  # the key keeps its place; run_compiled puts the value there


def _frequency(raw: Any) -> BillingFrequency:
    """The argument as a literal (its GraphQL name) or a coerced variable (the enum or its value)."""
    if raw is None:
        return BillingFrequency.MONTHLY
    if isinstance(raw, BillingFrequency):
        return raw
    if isinstance(raw, str) and raw in BillingFrequency.__members__:
        return BillingFrequency[raw]
    try:
        return BillingFrequency(raw)
    except ValueError as exc:
        raise NotCompilable(Reason.ARGUMENT, "quote(billingFrequency:)") from exc


def _serializer(e: Emitter, node: FieldNode, type_name: str) -> Serializer:
    """How the resolver's object becomes the response for this selection, as GraphQL serializes
    it: enums by name, decimals as strings, nulls kept."""
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, f"{type_name} without selection")
    fields = TYPES[type_name]
    plan: list[tuple[str, str | None, str | None, Serializer | None]] = []
    for child in e._fields(node.selection_set, type_name):
        name = child.name.value
        if name == "__typename":
            plan.append((e._key(child), None, type_name, None))
            continue
        if name not in fields or child.arguments:
            raise NotCompilable(Reason.FIELD, f"{type_name}.{name}")
        attribute, child_type = fields[name]
        nested = _serializer(e, child, child_type) if child_type is not None else None
        plan.append((e._key(child), attribute, None, nested))

    def serialize(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return [serialize(item) for item in value]
        out = {}
        for key, attribute, typename, nested in plan:
            if attribute is None:
                out[key] = typename
                continue
            item = getattr(value, attribute)
            out[key] = nested(item) if nested is not None else _scalar(item)
        return out

    return serialize


def _scalar(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    return value
