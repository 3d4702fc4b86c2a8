-- Money and lifecycle: who a renewal bills, card expiry on the app clock, prorated charges, and
-- at most one open cancellation request per subscription.

-- A card is good through the last day of its expiry month, judged on the app clock's date (never
-- the machine's), both when it is saved and whenever it is charged.
CREATE FUNCTION card_expired(exp_year integer, exp_month integer) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT make_date(exp_year, exp_month, 1) + interval '1 month' <= app_now()::date
$$;

-- Whether a subscription renews at its end date. Whoever controls it decides who pays:
-- - its purchaser: with auto-renew (or a trial that converts) and a card, charged to that card;
--   never once the purchaser left the organization: it runs to its end date and then expires;
-- - the admins, after taking it over: with auto-renew, billed centrally (no card is charged).
-- Subscriptions bought centrally are renewed outside the gateway, as they are bought.
CREATE FUNCTION subscription_renews(s subscriptions) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN s.channel <> 'self_service' THEN false
        WHEN s.controlled_by = 'admins' THEN s.auto_renew
        ELSE s.payment_method_id IS NOT NULL AND (s.auto_renew OR s.is_trial)
             AND NOT EXISTS (SELECT 1 FROM users u
                              WHERE u.tenant_id = s.tenant_id AND u.id = s.purchaser_user_id
                                AND u.departed_at IS NOT NULL)
    END
$$;

-- The status every read shows (0002), with the renewal rule above.
CREATE OR REPLACE FUNCTION effective_status(s subscriptions) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT subscription_status(s.status, s.expires_at, subscription_renews(s), app_now())
$$;

-- The end of the billing period running at `at`: the subscription's end date, or for a term that
-- is billed in shorter periods (a monthly subscription whose end date is months away) the end of
-- the period containing `at`, counted back from the end date in whole periods.
CREATE FUNCTION billing_period_end(expires_at timestamptz, period interval, at timestamptz)
    RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT COALESCE(min(expires_at - period * k), expires_at)
      FROM generate_series(0, 1200) AS k
     WHERE expires_at - period * k > at
$$;

-- An admin asks a purchaser to cancel once: a second request waits for the first to be answered.
CREATE UNIQUE INDEX cancellation_requests_one_pending
    ON cancellation_requests (tenant_id, subscription_id) WHERE status = 'pending';
