-- Whether a subscription's purchaser has left the organization, kept on the subscription itself.
--
-- The renewal rule (0009: a self-service subscription does not renew on a departed purchaser's
-- card) looked the purchaser up with a sub-select, which kept `subscription_renews` and with it
-- `effective_status` from being inlined into the statements that call them: every status read
-- went through the SQL-function executor, about 20 µs a row (a page of 250 filtered by status:
-- 5 ms). With the fact on the row both are plain expressions the planner inlines.
-- Triggers keep it true whoever writes: a departure or reinstatement (users.departed_at), and a
-- subscription inserted or given to another purchaser.
ALTER TABLE subscriptions ADD COLUMN purchaser_departed boolean NOT NULL DEFAULT false;

UPDATE subscriptions s SET purchaser_departed = true
  FROM users u
 WHERE u.tenant_id = s.tenant_id AND u.id = s.purchaser_user_id AND u.departed_at IS NOT NULL;

CREATE FUNCTION subscription_purchaser_departed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.purchaser_departed := NEW.purchaser_user_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM users u
         WHERE u.tenant_id = NEW.tenant_id AND u.id = NEW.purchaser_user_id AND u.departed_at IS NOT NULL);
    RETURN NEW;
END
$$;

CREATE TRIGGER subscriptions_purchaser_departed
    BEFORE INSERT OR UPDATE OF purchaser_user_id ON subscriptions
    FOR EACH ROW EXECUTE FUNCTION subscription_purchaser_departed();

CREATE FUNCTION user_departure_to_subscriptions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE subscriptions SET purchaser_departed = (NEW.departed_at IS NOT NULL)
     WHERE tenant_id = NEW.tenant_id AND purchaser_user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_departure_to_subscriptions
    AFTER UPDATE OF departed_at ON users
    FOR EACH ROW WHEN (OLD.departed_at IS DISTINCT FROM NEW.departed_at)
    EXECUTE FUNCTION user_departure_to_subscriptions();

-- 0009's rule, reading the fact from the row.
CREATE OR REPLACE FUNCTION subscription_renews(s subscriptions) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN s.channel <> 'self_service' THEN false
        WHEN s.controlled_by = 'admins' THEN s.auto_renew
        ELSE s.payment_method_id IS NOT NULL AND (s.auto_renew OR s.is_trial) AND NOT s.purchaser_departed
    END
$$;

-- 0002's status rule, unchanged in meaning, with the instant `at` read once: the planner inlines
-- a SQL function only if an argument as costly as `app_now()` appears once in its body, and the
-- old body compared `at` four times, so every status was a function call (about 6 µs a row, 1.4
-- µs inlined). The day counts are exact (30 and 120 days of 86,400 s): every connection of the
-- gateway runs in UTC, where `+ interval '30 days'` meant the same.
CREATE OR REPLACE FUNCTION subscription_status(
    stored text, expires_at timestamptz, renews boolean, at timestamptz
) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN stored = 'deleted' THEN 'deleted'
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
