-- Money counts whole days of UTC, whatever time zone a session runs in, and a billing period
-- starts where it really starts.

-- A card is good through the last day of its expiry month in UTC (until 23:59:59 UTC of that
-- day), on the app clock. 0009 took the date in the session's time zone: a session east of UTC
-- refused a card on its last evening, one west of it still took the card the next morning.
CREATE OR REPLACE FUNCTION card_expired(exp_year integer, exp_month integer) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT make_date(exp_year, exp_month, 1) + interval '1 month' <= (app_now() AT TIME ZONE 'UTC')::date
$$;

-- The billing period running at `at`, as UTC days [starts_on, ends_on): periods are counted back
-- from the end date in whole periods (a monthly subscription whose end date is months away),
-- and the first one starts when the term did. 0009's billing_period_end took a period's start
-- as its end minus one period, which is not the previous end: a monthly term from 31 January
-- to 28 February counted 31 days, a year from 29 February 2028 counted 366. No row once the
-- term has ended (a renewal not swept yet bills what follows). The arithmetic is on UTC wall
-- time, so month lengths do not depend on the session's time zone either.
CREATE FUNCTION billing_period(term_start timestamptz, expires_at timestamptz, period interval, at timestamptz)
    RETURNS TABLE (starts_on date, ends_on date) LANGUAGE sql STABLE AS $$
    SELECT GREATEST(utc_end - period * (k + 1), term_start AT TIME ZONE 'UTC')::date,
           (utc_end - period * k)::date
      FROM (SELECT expires_at AT TIME ZONE 'UTC' AS utc_end,
                   max(k) AS k
              FROM generate_series(0, 1200) AS k
             WHERE (expires_at AT TIME ZONE 'UTC') - period * k > (at AT TIME ZONE 'UTC')) AS running
     WHERE k IS NOT NULL
$$;

DROP FUNCTION billing_period_end(timestamptz, interval, timestamptz);
