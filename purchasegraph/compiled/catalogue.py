"""The catalogue's rule-bearing reads: ``Product.availability(market:)`` in the statement, and the
anonymous root ``checkoutEligibility`` beside it.

Availability is read under lists (``products``), where nothing can be resolved beside the
statement, so its rules are carried into SQL as data, never restated: the eligibility module's
``market_reasons`` is evaluated here, in Python, for the asked market and every combination of
what a product row holds (its family, whether it is offered self-service, whether it is sold
there), and the statement looks its row's answer up in that table.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from graphql import FieldNode

from purchasegraph.compiled.declines import NotCompilable, Reason
from purchasegraph.compiled.emitter import Beside, Emitter, beside_info, beside_selection
from purchasegraph.compiled.objects import NULL
from purchasegraph.compiled.sql import enum_names, literal
from purchasegraph.context import Context
from purchasegraph.db.queries.products import SOLD_SELF_SERVICE_IN_MARKET
from purchasegraph.eligibility import MarketFacts, market_reasons
from purchasegraph.policy import Scope
from purchasegraph.resolvers import catalogue as catalogue_resolvers
from purchasegraph.schema.viewer import product_key


def _reason_table(e: Emitter, market: str) -> str:
    """``market_reasons`` for ``market`` and every product row it can meet, keyed as ``_row_key``
    renders a row: ``family|self_service|sold`` with PostgreSQL's boolean text."""
    names = enum_names(e._schema, "EligibilityReason")
    table = {}
    for family, offered, sold in itertools.product(
        enum_names(e._schema, "ProductFamily"), (True, False), (True, False)
    ):
        facts = MarketFacts(market=market, product_family=family, product_self_service=offered, sold_in_market=sold)
        key = f"{family}|{str(offered).lower()}|{str(sold).lower()}"
        table[key] = [names[reason.value] for reason in market_reasons(facts)]
    # As text, cast in SQL: the pool's jsonb codec would encode a string parameter once more.
    return f"({e._param(json.dumps(table, sort_keys=True), 'text')})::jsonb"


def product_availability(e: Emitter, node: FieldNode, a: str, scope: Scope, path: tuple[str, ...]) -> str:
    """``Product.availability(market:)`` of the product row ``a``, sold there or not by the
    predicate the resolver's loader reads."""
    raw = e._argument(node, "market")
    if not isinstance(raw, str):
        raise NotCompilable(Reason.INVALID_INPUT, "availability(market:)")
    if node.selection_set is None:
        raise NotCompilable(Reason.FIELD, "ProductAvailability without selection")
    market = raw.upper()
    reasons_sql: list[str] = []

    def reasons() -> str:
        """Built once, when a field reads it: a parameter the statement never reads has no type."""
        if not reasons_sql:
            sold = SOLD_SELF_SERVICE_IN_MARKET.format(p=a, market=e._param(market, "text"))
            key = f"{a}.family || '|' || {a}.self_service::text || '|' || ({sold})::text"
            reasons_sql.append(f"({_reason_table(e, market)} -> ({key}))")
        return reasons_sql[0]

    pairs = []
    for child in e._fields(node.selection_set, "ProductAvailability"):
        name = child.name.value
        if name == "__typename":
            value = literal("ProductAvailability")
        elif name == "market":
            value = e._param(market, "text")
        elif name == "available":
            value = f"({reasons()} = '[]'::jsonb)"
        elif name == "reasons":
            value = f"{reasons()}::json"
        else:
            raise NotCompilable(Reason.FIELD, f"ProductAvailability.{name}")
        pairs.append((e._key(child), value))
    return e._object(pairs)


def checkout_eligibility(e: Emitter, node: FieldNode, path: tuple[str, ...]) -> str:
    """``Query.checkoutEligibility``: rules in Python (``purchasegraph.checkout``), so resolved
    beside the statement by the very resolver function the schema runs."""
    email, raw_product = e._argument(node, "email"), e._argument(node, "productId")
    if not isinstance(email, str) or not isinstance(raw_product, str):
        raise NotCompilable(Reason.INVALID_INPUT, "checkoutEligibility arguments")
    product_id = product_key(raw_product)
    reasons = enum_names(e._schema, "CheckoutEligibilityReason")
    selection = beside_selection(e, node, "CheckoutEligibility", ("canContinue", "reasons", "message"))

    async def resolve(context: Context) -> Any:
        answer = await catalogue_resolvers.checkout_eligibility(beside_info(context), email, product_id)
        return selection(
            {
                "canContinue": answer.can_continue,
                "reasons": [reasons[reason.value] for reason in answer.reasons],
                "message": answer.message,
            }
        )

    e._state.beside.append(Beside(path, resolve))
    return NULL  # the key keeps its place; run_compiled puts the value there
