-- Live purchase events (purchasegraph/events/): every accepted change a subscriber may watch is
-- announced with pg_notify from the transaction that audits it. PostgreSQL delivers a
-- notification only when its transaction commits, so a change that rolls back (a refusal's
-- savepoint, a failed commit) announces nothing, and every listening gateway process hears each
-- committed one exactly once, in commit order.
--
-- The audit row is the event: unit_of_work.py writes one per outcome, the lifecycle sweep one
-- per renewal. Refusals (outcome 'refused') are not published.

-- Which audited actions are purchase events: purchases (a renewal charges like one), license
-- changes, policy changes, cancellations and their reversal, take-overs. Payment methods,
-- invoices, license requests and directory changes are not. One definition for the trigger
-- below and for the listener's catch-up after a reconnect (events/hub.py), so both agree.
CREATE FUNCTION purchase_event_published(a audit_events) RETURNS boolean
    LANGUAGE sql IMMUTABLE
AS $$
    SELECT a.outcome = 'accepted' AND a.action = ANY (ARRAY[
        'subscription.purchase', 'subscription.start_trial', 'subscription.renew',
        'subscription.add_licenses', 'subscription.remove_licenses', 'subscription.move_users',
        'license.assign', 'license.unassign',
        'self_service_policy.update',
        'subscription.cancel', 'subscription.request_cancellation', 'subscription.reactivate',
        'subscription.take_over'])
$$;

-- The notification: ids only, so it stays a few hundred bytes (pg_notify refuses 8000 and
-- more) and says nothing a subscriber's own scope would not show; the gateway reads the rest
-- under that scope. The purchaser is looked up here, in the writing transaction, so a
-- purchaser's own stream (mySubscriptionEvents) is filtered without a query per event.
-- Runs as the writer: for the gateway role that is under row-level security, which admits the
-- subscription since an accepted audit row is always of a tenant in the connection's reach.
CREATE FUNCTION purchase_event_notice(a audit_events) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT json_build_object(
        'id', a.id,
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

CREATE FUNCTION announce_purchase_event() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('purchasegraph_events', purchase_event_notice(NEW));
    RETURN NULL;
END;
$$;

-- AFTER, so the row is final (identity assigned, constraints checked); WHEN, so refusals and
-- unpublished actions never call the function.
CREATE TRIGGER audit_events_announce
    AFTER INSERT ON audit_events
    FOR EACH ROW WHEN (purchase_event_published(NEW))
    EXECUTE FUNCTION announce_purchase_event();

-- The listener's catch-up reads the events after the last one it heard (`id > $1`). The ids
-- grow with insertion order in an append-only table, which is what BRIN summarizes: a few
-- pages of index, next to nothing per insert, where a B-tree would be paid on every audit row.
CREATE INDEX audit_events_by_id ON audit_events USING brin (id);
