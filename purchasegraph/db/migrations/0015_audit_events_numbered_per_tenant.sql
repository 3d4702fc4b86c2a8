-- An audit event's place among its tenant's events, as a number only that tenant counts.
--
-- Tenant.auditEvents sorts newest first, (occurred_at DESC, id DESC): the events of one
-- transaction share occurred_at, and among them the later-written comes first. Its keyset
-- cursor carries the tie-breaker's value, and audit_events.id is one identity for every tenant,
-- so two of a tenant's cursors told how many events other tenants recorded in between.
--
-- tenant_seq is the tie-breaker instead: 1, 2, 3, … over one tenant's events in the order they
-- were written, so a cursor holds a count of rows the reader of that trail pages through anyway.
-- A random per-row uuid would hide as much, but it cannot keep "later-written first" among
-- equal timestamps; ranking rows at read time is not an index seek. id stays, internal: the
-- event feed's catch-up and its BRIN index read it (0005).
--
-- A BEFORE INSERT trigger numbers every row from a counter row per tenant, whoever inserts it
-- (the gateway, the lifecycle sweep, the seed) and whatever tenant_seq it names. It updates the
-- counter, whose row lock is held until commit: two transactions writing events for one tenant
-- take numbers in turn, never the same one, and the numbers become visible in order. Under READ
-- COMMITTED (the application's level) the second waits, then counts on from the first's number;
-- under REPEATABLE READ it gets a serialization failure to retry. The wait is short: a
-- mutation's audit row is its last write before the commit (commerce/unit_of_work.py), and a
-- transaction writes one (the sweep's too), so no lock is taken after it and none can deadlock.
-- Within a transaction rows are numbered in the order written, as the identity numbered them,
-- so the order is the same as (occurred_at DESC, id DESC); only two transactions of one tenant
-- with the very same occurred_at (to the microsecond) are ordered by who took a number first,
-- where the identity ordered them by who asked for an id first.
--
-- The counters are their own table, written only by the triggers' definer. The gateway may read
-- them under row-level security, its reach only, as every tenant table (a column of tenants,
-- which it reads for every tenant, would show them all).

CREATE TABLE audit_event_counters (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    last_seq  bigint NOT NULL
);
-- Like every table with a tenant_id (0003): the gateway reads what it reaches, and writes none.
GRANT SELECT ON audit_event_counters TO purchasegraph_gateway;
ALTER TABLE audit_event_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_reach ON audit_event_counters
    USING (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]))
    WITH CHECK (tenant_id = ANY ((SELECT purchasegraph_reach())::uuid[]));

ALTER TABLE audit_events ADD COLUMN tenant_seq bigint;

-- Existing rows, numbered per tenant in the order they were written (their ids). The table is
-- append-only, so its guard steps aside for this one statement; and the NOT VALID bounds of 0010
-- would refuse the update of an older row longer than they allow, so they go and come back as
-- they were (still NOT VALID: older rows stay as written).
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_target_id_bounded,
    DROP CONSTRAINT audit_events_request_id_bounded,
    DROP CONSTRAINT audit_events_client_request_id_bounded;
UPDATE audit_events e SET tenant_seq = n.seq
  FROM (SELECT tenant_id, id, row_number() OVER (PARTITION BY tenant_id ORDER BY id) AS seq
          FROM audit_events) n
 WHERE e.tenant_id = n.tenant_id AND e.id = n.id;
ALTER TABLE audit_events
    ADD CONSTRAINT audit_events_target_id_bounded CHECK (length(target_id) <= 256) NOT VALID,
    ADD CONSTRAINT audit_events_request_id_bounded CHECK (length(request_id) <= 128) NOT VALID,
    ADD CONSTRAINT audit_events_client_request_id_bounded CHECK (length(client_request_id) <= 128) NOT VALID;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;
ALTER TABLE audit_events ALTER COLUMN tenant_seq SET NOT NULL;

-- Every tenant has its counter from the start, so an event only ever moves one: a tenant's first
-- event (a refusal, say) writes its audit row and nothing else, as any event does.
INSERT INTO audit_event_counters (tenant_id, last_seq)
SELECT t.id, COALESCE((SELECT max(e.tenant_seq) FROM audit_events e WHERE e.tenant_id = t.id), 0)
  FROM tenants t;

CREATE FUNCTION audit_event_counter_of_new_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    INSERT INTO audit_event_counters (tenant_id, last_seq) VALUES (NEW.id, 0);
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_event_counter_of_new_tenant() FROM PUBLIC;
CREATE TRIGGER tenants_audit_event_counter
    AFTER INSERT ON tenants
    FOR EACH ROW EXECUTE FUNCTION audit_event_counter_of_new_tenant();

-- SECURITY DEFINER: the counters are the owner's alone. Search path pinned, as in 0003. No
-- counter means no such tenant: refused as the foreign key refused it before this trigger.
CREATE FUNCTION audit_events_number_in_tenant() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    UPDATE audit_event_counters SET last_seq = last_seq + 1 WHERE tenant_id = NEW.tenant_id
    RETURNING last_seq INTO NEW.tenant_seq;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_events.tenant_id names no tenant' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION audit_events_number_in_tenant() FROM PUBLIC;
CREATE TRIGGER audit_events_number
    BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_number_in_tenant();

-- The trail's keyset order, whole: a page past a cursor is one index seek. Unique, so the order
-- is total within a tenant whatever the timestamps. It replaces 0002's (…, id DESC).
CREATE UNIQUE INDEX audit_events_by_tenant_keyset ON audit_events (tenant_id, occurred_at DESC, tenant_seq DESC);
DROP INDEX audit_events_by_tenant;
