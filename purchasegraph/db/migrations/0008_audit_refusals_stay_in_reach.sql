-- A refusal is audited where the caller reaches: in the tenant the request named when the caller's
-- scope reaches it, else in the caller's own tenant (policy.audit_tenant). Where a refusal lands
-- must not tell an outsider whether a tenant, or anything in it, exists; so the gateway no longer
-- writes into a tenant outside its reach at all, and the one exception 0003 made for it goes.
DROP POLICY refusals_by_own_actors ON audit_events;
