"""The floor: the purchase graph of workloads 2 and 3 from one hand-written SQL statement.

A minimal Starlette endpoint with no GraphQL at all: PostgreSQL builds the very JSON
purchasegraph answers (same fields, same order, same scope rules), and Python passes the text
through. It is what a Python service over this database can reach; purchasegraph is measured
against it. It checks no token: the scope comes in the request body.

    python bench/floor.py --database-url URL --port 8101
    POST /graph {"tenantId": "...", "purchaserId": null | "...",
                 "afterCreatedAt": null | "<ISO time>", "afterId": null | "..."}

The after key (the created_at and id of the row before the page) reads a later page the way a
keyset cursor does, so the floor is also the limit for workload 5 (page 2): the bench reads the
key from the database, since the floor issues no cursors.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# Global IDs as purchasegraph issues them: base64url("Type:tenant:id") without padding.
GLOBAL_ID = """rtrim(translate(replace(encode(convert_to({type} || ':' || {tenant} || ':' || {id}, 'UTF8'),
                'base64'), E'\\n', ''), '+/', '-_'), '=')"""

# The scope rules are purchasegraph/policy.py's: a purchaser sees the subscriptions they bought,
# DISABLED ones too, but not the licenses (service data) of a DISABLED one.
# $1 tenant, $2 purchaser (NULL: the whole tenant, as an admin sees it), $3 and $4 the sort key
# (created_at, id) the page starts after (NULL: the first page).
PURCHASE_GRAPH = f"""
WITH visible AS (
    SELECT s.* FROM subscriptions s
     WHERE s.tenant_id = $1
       AND ($2::uuid IS NULL OR s.purchaser_user_id = $2::uuid)
), page AS (
    SELECT * FROM visible
     WHERE $3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid)
     ORDER BY created_at, id LIMIT 50
)
SELECT json_build_object('data', json_build_object('tenant', json_build_object(
    'name', t.name,
    'subscriptions', json_build_object(
        'totalCount', (SELECT count(*) FROM visible),
        'nodes', COALESCE((
            SELECT json_agg(json_build_object(
                'id', {GLOBAL_ID.format(type="'Subscription'", tenant="s.tenant_id", id="s.id")},
                'status', upper(effective_status(s)),
                'quantity', s.quantity,
                'product', json_build_object('productId', p.id, 'name', p.name),
                'purchaser', (SELECT json_build_object('displayName', u.display_name,
                                                        'userPrincipalName', u.user_principal_name)
                                FROM users u WHERE u.tenant_id = s.tenant_id AND u.id = s.purchaser_user_id),
                'orders', json_build_object('nodes', COALESCE((
                    SELECT json_agg(json_build_object(
                        'kind', upper(o.kind), 'quantityDelta', o.quantity_delta,
                        'total', json_build_object('amount', o.total::text, 'currency', o.currency))
                        ORDER BY o.created_at DESC, o.id)
                      FROM (SELECT * FROM orders o WHERE o.tenant_id = s.tenant_id AND o.subscription_id = s.id
                             ORDER BY o.created_at DESC, o.id LIMIT 5) o), '[]'::json)),
                'assignments', json_build_object('nodes', COALESCE((
                    SELECT json_agg(json_build_object('user', json_build_object(
                        'displayName', u.display_name, 'userPrincipalName', u.user_principal_name))
                        ORDER BY a.assigned_at, a.id)
                      FROM (SELECT * FROM license_assignments a
                             WHERE a.tenant_id = s.tenant_id AND a.subscription_id = s.id AND a.removed_at IS NULL
                               AND ($2::uuid IS NULL OR effective_status(s) <> 'disabled')
                             ORDER BY a.assigned_at, a.id LIMIT 25) a
                      JOIN users u ON u.tenant_id = a.tenant_id AND u.id = a.user_id), '[]'::json))
            ) ORDER BY s.created_at, s.id)
              FROM page s JOIN products p ON p.id = s.product_id), '[]'::json)
    ))))::text
  FROM tenants t WHERE t.id = $1
"""


def create_floor_app(database_url: str) -> Starlette:
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(database_url, min_size=2, max_size=10)
        try:
            yield
        finally:
            await pool.close()

    async def graph(request: Request) -> Response:
        body = json.loads(await request.body())
        purchaser = uuid.UUID(body["purchaserId"]) if body.get("purchaserId") else None
        after_at = datetime.fromisoformat(body["afterCreatedAt"]) if body.get("afterCreatedAt") else None
        after_id = uuid.UUID(body["afterId"]) if body.get("afterId") else None
        assert pool is not None
        text = await pool.fetchval(PURCHASE_GRAPH, uuid.UUID(body["tenantId"]), purchaser, after_at, after_id)
        return Response(text or '{"data":{"tenant":null}}', media_type="application/json")

    return Starlette(routes=[Route("/graph", graph, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    uvicorn.run(create_floor_app(args.database_url), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
