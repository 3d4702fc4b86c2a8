-- Less per request (issue 12): a read request used to wait on PostgreSQL five times (tenant
-- set-up, viewer, throttle, read, reset). The first three become one statement: a sign-in
-- function names the tenant the connection acts for, reads the principal under that tenant's
-- row-level security and takes the request's cost from its throttle bucket.

-- A bucket is a number and a time, rewritten by every request: a logged write with a WAL flush
-- on every read bought nothing a bucket needs. Unlogged, a take writes no WAL (and commits
-- without a flush); a crash empties the table, and every bucket starts again full. Gateway
-- replicas still share one row per principal, taken in turns under its row lock: exact, as before.
ALTER TABLE throttle_buckets SET UNLOGGED;

-- Refill since the last take (capped at the maximum: $2), then take the cost ($3) if it fits;
-- $4 is the restore rate per second, and 0 (throttling off) takes nothing and returns no row.
CREATE FUNCTION throttle_take(principal text, maximum float8, cost float8, rate float8)
    RETURNS TABLE (available float8, granted boolean)
    LANGUAGE sql VOLATILE
AS $$
INSERT INTO throttle_buckets AS b (principal, available, granted, updated_at)
SELECT $1, CASE WHEN $3 <= $2 THEN $2 - $3 ELSE $2 END, $3 <= $2, clock_timestamp()
 WHERE $4 > 0
ON CONFLICT (principal) DO UPDATE SET
    available = CASE
        WHEN LEAST($2, b.available + $4 * extract(epoch FROM clock_timestamp() - b.updated_at)) >= $3
        THEN LEAST($2, b.available + $4 * extract(epoch FROM clock_timestamp() - b.updated_at)) - $3
        ELSE LEAST($2, b.available + $4 * extract(epoch FROM clock_timestamp() - b.updated_at))
    END,
    granted = LEAST($2, b.available + $4 * extract(epoch FROM clock_timestamp() - b.updated_at)) >= $3,
    updated_at = clock_timestamp()
RETURNING b.available, b.granted
$$;

-- The user a token names: their directory roles in their own tenant, and every delegated
-- relationship of their tenant in force (partner side). Guests and disabled accounts act for no
-- customer. Runs as the caller, under row-level security: only the tenant the connection names.
CREATE FUNCTION principal_user(tenant uuid, user_id uuid)
    RETURNS TABLE (tenant_id uuid, id uuid, display_name text, user_type text, account_enabled boolean,
                   departed_at date, roles text[], partner_grants json)
    LANGUAGE sql STABLE
AS $$
SELECT u.tenant_id, u.id, u.display_name, u.user_type, u.account_enabled, u.departed_at,
       COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM directory_roles r
                  WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id), '{}') AS roles,
       COALESCE((SELECT json_agg(json_build_object('tenant_id', p.tenant_id, 'roles', p.roles)
                                 ORDER BY p.tenant_id)
                   FROM partner_relationships p
                  WHERE p.partner_tenant_id = u.tenant_id
                    AND relationship_in_force(p.status, p.starts_at, p.ends_at)
                    AND u.user_type = 'member' AND u.account_enabled), '[]') AS partner_grants
  FROM users u
 WHERE u.tenant_id = $1 AND u.id = $2
$$;

-- The tenant an application's token names, and every relationship it holds as partner in force.
CREATE FUNCTION principal_app(tenant uuid)
    RETURNS TABLE (tenant_id uuid, partner_grants json)
    LANGUAGE sql STABLE
AS $$
SELECT t.id AS tenant_id,
       COALESCE((SELECT json_agg(json_build_object('tenant_id', p.tenant_id, 'roles', p.roles)
                                 ORDER BY p.tenant_id)
                   FROM partner_relationships p
                  WHERE p.partner_tenant_id = t.id
                    AND relationship_in_force(p.status, p.starts_at, p.ends_at)), '[]') AS partner_grants
  FROM tenants t
 WHERE t.id = $1
$$;

-- The request's opening statements, one per kind of principal. Each names its tenant ($1, ''
-- for none) on the connection first, session-wide (the request's later statements read it),
-- and only then reads: PL/pgSQL plans the read after the setting is made, so row-level
-- security sees it. The cost is taken only from a principal the directory has (no row, no
-- take), and commits without waiting for a WAL flush (transaction-local: this statement only).
CREATE FUNCTION sign_in_user(tenant text, user_id uuid, principal text, maximum float8, cost float8, rate float8)
    RETURNS TABLE (tenant_id uuid, id uuid, display_name text, user_type text, account_enabled boolean,
                   departed_at date, roles text[], partner_grants json, available float8, granted boolean)
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('purchasegraph.tenant_id', $1, false), set_config('synchronous_commit', 'off', true);
    RETURN QUERY
        SELECT v.*, t.available, t.granted
          FROM principal_user($1::uuid, $2) v
          LEFT JOIN LATERAL throttle_take($3, $4, $5, $6) t ON true;
END
$$;

CREATE FUNCTION sign_in_app(tenant text, principal text, maximum float8, cost float8, rate float8)
    RETURNS TABLE (tenant_id uuid, partner_grants json, available float8, granted boolean)
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('purchasegraph.tenant_id', $1, false), set_config('synchronous_commit', 'off', true);
    RETURN QUERY
        SELECT a.*, t.available, t.granted
          FROM principal_app($1::uuid) a
          LEFT JOIN LATERAL throttle_take($2, $3, $4, $5) t ON true;
END
$$;

-- No principal: no tenant, and the bucket of the client's address. Always one row.
CREATE FUNCTION sign_in_anonymous(tenant text, principal text, maximum float8, cost float8, rate float8)
    RETURNS TABLE (available float8, granted boolean)
    LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM set_config('purchasegraph.tenant_id', $1, false), set_config('synchronous_commit', 'off', true);
    RETURN QUERY
        SELECT t.available, t.granted FROM (SELECT 1) one LEFT JOIN LATERAL throttle_take($2, $3, $4, $5) t ON true;
END
$$;
