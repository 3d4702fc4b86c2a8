-- The status rule of 0023, with an end date that is no date: 0002's rule read `infinity` as a term
-- that never ends (its stored state) and `-infinity` as long over (deleted), where 0023's
-- subtraction fails ("cannot subtract infinite timestamps") and with it every statement reading
-- the status of such a row. `at` is still read once, so the rule stays inlined.
--
-- 0023 called its rule "unchanged in meaning": that holds in UTC, where every gateway connection
-- runs. In another session zone 0002's `expires_at + interval '30 days'` counted calendar days
-- there, so across a daylight-saving change its boundaries moved by the hour; this rule counts
-- 30 and 120 days of 86,400 s in every zone, so a status no longer depends on who asks.
CREATE OR REPLACE FUNCTION subscription_status(
    stored text, expires_at timestamptz, renews boolean, at timestamptz
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN stored = 'deleted' THEN 'deleted'
        WHEN expires_at = 'infinity' THEN stored
        WHEN expires_at = '-infinity' THEN 'deleted'
        -- 0: before the end date; 1: in the 30 days after it; 2: 30 to 120 days after; 3: later.
        ELSE CASE width_bucket(extract(epoch FROM at - expires_at)::float8, ARRAY[0, 2592000, 10368000]::float8[])
            WHEN 0 THEN stored
            WHEN 1 THEN CASE WHEN stored IN ('trial', 'active') AND renews THEN stored
                             WHEN stored = 'disabled' THEN 'disabled'
                             ELSE 'expired' END
            WHEN 2 THEN 'disabled'
            ELSE 'deleted'
        END
    END
$$;
