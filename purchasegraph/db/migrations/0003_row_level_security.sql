-- Row-level security: a second wall behind the scope every query function applies in SQL
-- (README, Authorization). Should a resolver ever ask for another tenant's rows, the database
-- returns none and refuses to write them.
--
-- The gateway's request connections run as purchasegraph_gateway (db/pool.py sets the role at
-- connect) and name the tenant they act for in the setting purchasegraph.tenant_id
-- (db/executor.py, RequestExecutor). The owner role (migrations, seed, lifecycle sweep, CLI
-- look-ups) works across tenants on purpose and bypasses these policies: RLS is not FORCEd.

-- Roles are cluster-wide and several databases may share one server (the tests create one per
-- run), so the role is created only where it is missing. No login of its own: the gateway logs
-- in as the owner and takes this role at connect, which a superuser may always do and anyone
-- else only as a member allowed to SET it. (From PostgreSQL 16 a non-superuser's CREATE ROLE
-- leaves it ADMIN of the new role but not such a member, hence the GRANT to itself.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'purchasegraph_gateway') THEN
        CREATE ROLE purchasegraph_gateway NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        BEGIN
            EXECUTE format('GRANT purchasegraph_gateway TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            -- Made by someone else, who must grant it to this login; connecting says if not.
            NULL;
        END;
    END IF;
END
$$;

-- What the gateway reads and writes, and nothing more: no DELETE anywhere (the sweep purges,
-- as the owner), no schema_migrations, and audit_events append-only as 0001 promised.
GRANT USAGE ON SCHEMA public TO purchasegraph_gateway;
GRANT SELECT ON tenants, products, product_prices, directory_roles, partner_relationships
    TO purchasegraph_gateway;
GRANT SELECT, UPDATE ON users TO purchasegraph_gateway;
GRANT SELECT, INSERT ON payment_methods, orders, notifications, audit_events TO purchasegraph_gateway;
GRANT SELECT, INSERT, UPDATE ON self_service_policies, subscriptions, license_assignments, invoices,
    cancellation_requests, license_requests, idempotency_keys TO purchasegraph_gateway;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO purchasegraph_gateway;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO purchasegraph_gateway;

-- The tenant a connection acts for; NULL when it names none (anonymous, or a pooled
-- connection between requests: asyncpg's RESET ALL leaves the setting '').
CREATE FUNCTION purchasegraph_tenant() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('purchasegraph.tenant_id', true), '')::uuid
$$;

-- The tenants a connection reaches: the one it acts for, plus every customer that tenant holds
-- an active delegated relationship with (the test viewer.py's SELECT_VIEWER makes: status
-- active and now() inside its dates). No tenant named: no tenant at all. SECURITY DEFINER
-- because it reads partner_relationships past their own policy; its search path is pinned so
-- no caller can shadow what it reads. PL/pgSQL rather than SQL: a SQL function with a SET
-- clause is never inlined and plans its body again in every statement (0.1 ms per table a
-- statement reads, measured), where PL/pgSQL keeps its plan for the session (0.01 ms).
CREATE FUNCTION purchasegraph_reach() RETURNS uuid[]
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    acting constant uuid := purchasegraph_tenant();
BEGIN
    IF acting IS NULL THEN
        RETURN '{}';
    END IF;
    RETURN acting || ARRAY(
        SELECT p.tenant_id FROM partner_relationships p
         WHERE p.partner_tenant_id = acting
           AND p.status = 'active' AND now() >= p.starts_at AND now() < p.ends_at);
END
$$;
-- A definer function is only for the roles it is meant for.
REVOKE EXECUTE ON FUNCTION purchasegraph_reach() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION purchasegraph_reach() TO purchasegraph_gateway;

-- One rule for every tenant-owned table, for reading and for writing. The sub-select makes the
-- reach an InitPlan: computed once per statement, then an indexable tenant_id = ANY(array). The
-- cast is needed: `= ANY ((SELECT ...))` alone would compare with each row of the sub-select.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON users
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE directory_roles ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON directory_roles
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE partner_relationships ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON partner_relationships
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));
-- The partner side reads the relationships it holds: that is how a partner's viewer learns
-- which customers it acts for.
CREATE POLICY partner_side ON partner_relationships FOR SELECT
    USING (partner_tenant_id = (SELECT purchasegraph_tenant()));
-- And no more than its own: a partner never learns of its customer's other partners (as in GDAP,
-- db/queries/partners.py), although the reach would show it all of the customer's rows. A
-- restrictive policy is ANDed with the two above.
CREATE POLICY own_side_only ON partner_relationships AS RESTRICTIVE
    USING ((SELECT purchasegraph_tenant()) IN (tenant_id, partner_tenant_id));

ALTER TABLE self_service_policies ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON self_service_policies
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE payment_methods ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON payment_methods
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON subscriptions
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON orders
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE license_assignments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON license_assignments
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON invoices
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE cancellation_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON cancellation_requests
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE license_requests ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON license_requests
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON notifications
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON audit_events
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));
-- A refusal is audited in the tenant the request named even when it is outside the actor's
-- reach, so that tenant's record shows who tried (commerce/unit_of_work.py, _audit). The gateway
-- may append such a row and only such a row: a refusal whose actor is of the connection's own
-- tenant. It reads none of them back.
CREATE POLICY refusals_by_own_actors ON audit_events FOR INSERT
    WITH CHECK (outcome = 'refused' AND actor_tenant_id = (SELECT purchasegraph_tenant()));

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON idempotency_keys
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));
