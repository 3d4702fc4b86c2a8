-- What the purchase lifecycle (issue 3) needs beyond the model of 0001.

-- The application's clock. Normally now(); tests (and a replay tool) move time by setting
-- purchasegraph.now for their transaction, so reads and writes agree on "now".
CREATE FUNCTION app_now() RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT COALESCE(NULLIF(current_setting('purchasegraph.now', true), '')::timestamptz, now())
$$;

-- The status a subscription's dates put it in, whatever the last write said: reads never show a
-- state the dates have left. Expired for 30 days after the end date, then disabled for 90 days,
-- then deleted. A subscription that will renew (auto-renew with a card, or a trial with a card
-- that converts) stays in its state until the renewal sweep has charged it, for at most the
-- 30 days a failed renewal is retried.
CREATE FUNCTION subscription_status(
    stored text, expires_at timestamptz, renews boolean, at timestamptz
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN stored = 'deleted' THEN 'deleted'
        WHEN at < expires_at THEN stored
        WHEN stored IN ('trial', 'active') AND renews AND at < expires_at + interval '30 days' THEN stored
        WHEN at >= expires_at + interval '120 days' THEN 'deleted'
        WHEN at >= expires_at + interval '30 days' THEN 'disabled'
        WHEN stored = 'disabled' THEN 'disabled'
        ELSE 'expired'
    END
$$;

-- A mutation's result, kept so the same key from the same principal replays it and charges once.
CREATE TABLE idempotency_keys (
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    principal_id  uuid NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    operation     text NOT NULL,
    request_hash  text NOT NULL,
    response      jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, principal_id, key)
);
-- Kept at least 24 hours; a sweep may drop older ones.
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

ALTER TABLE audit_events
    ADD COLUMN outcome text NOT NULL DEFAULT 'accepted' CHECK (outcome IN ('accepted', 'refused')),
    ADD COLUMN error_codes text[] NOT NULL DEFAULT '{}';
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, occurred_at DESC, id DESC);

-- The status every read shows: the stored one, moved on by the dates at the app's clock. A trial
-- with a card converts at its end; a paid subscription with auto-renew and a card renews.
CREATE FUNCTION effective_status(s subscriptions) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT subscription_status(
        s.status, s.expires_at, s.payment_method_id IS NOT NULL AND (s.auto_renew OR s.is_trial), app_now())
$$;

ALTER TABLE cancellation_requests
    ADD COLUMN response_message text;
