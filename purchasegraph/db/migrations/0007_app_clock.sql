-- The app clock is the only clock every date rule reads.
--
-- app_now() is now() moved by two settings: purchasegraph.now (a fixed instant, set by tests
-- and a replay tool for one transaction) or else purchasegraph.clock_offset (an interval the
-- whole process runs shifted by: PURCHASEGRAPH_TODAY sets it, so a server or the test suite can
-- live on a chosen date at the real time of day).
CREATE OR REPLACE FUNCTION app_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('purchasegraph.now', true), '')::timestamptz,
                    now() + COALESCE(NULLIF(current_setting('purchasegraph.clock_offset', true), '')::interval,
                                     interval '0'))
$$;

-- Whether a delegated relationship is in force: active, and the app clock inside its dates.
-- The one statement of the rule; the viewer's grants, a customer's relationship list and the
-- row-level security reach below all ask it. A plain SQL function, so the planner inlines it.
CREATE FUNCTION relationship_in_force(status text, starts_at timestamptz, ends_at timestamptz)
    RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT status = 'active' AND app_now() >= starts_at AND app_now() < ends_at
$$;

CREATE OR REPLACE FUNCTION purchasegraph_reach() RETURNS uuid[]
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
           AND relationship_in_force(p.status, p.starts_at, p.ends_at));
END
$$;
