-- A purchase event's number is its place in its own tenant's audit log (tenant_seq, from 0015),
-- not the audit row's global id: the global id would tell a subscriber how many events other
-- tenants recorded between two of its own. The hub keeps the global id for de-duplication and
-- catch-up, which never leave the gateway.
CREATE OR REPLACE FUNCTION purchase_event_notice(a audit_events) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'id', a.id,
        'seq', a.tenant_seq,
        'tenant_id', a.tenant_id,
        'action', a.action,
        'target_type', a.target_type,
        'target_id', left(a.target_id, 200),
        'subscription_id', s.id,
        'product_id', COALESCE(s.product_id, left(a.details ->> 'product_id', 64)),
        'purchaser_id', s.purchaser_user_id,
        'actor_user_id', a.actor_user_id,
        'actor_tenant_id', a.actor_tenant_id,
        'occurred_at', a.occurred_at)::text
      FROM (SELECT) AS one
      LEFT JOIN subscriptions s
        ON s.tenant_id = a.tenant_id
       AND s.id = CASE WHEN a.target_type = 'Subscription'
                        AND a.target_id ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                       THEN a.target_id::uuid END
$$;
