-- The admin's worklists: date filters on subscriptions and purchases, and cancellation requests
-- as first-class objects.

-- "Expiring before a date": a range scan of a tenant's subscriptions by renewal date.
CREATE INDEX IF NOT EXISTS subscriptions_by_expiry ON subscriptions (tenant_id, expires_at, id);

-- A cancellation request ends in one of three ways: the purchaser accepts (and the subscription
-- is canceled), declines, or it is closed without their answer because the admins took control
-- of the subscription. Nothing ever wrote 'withdrawn'; a row that has it is closed.
ALTER TABLE cancellation_requests DROP CONSTRAINT IF EXISTS cancellation_requests_status_check;
UPDATE cancellation_requests SET status = 'closed', resolved_at = COALESCE(resolved_at, created_at)
 WHERE status = 'withdrawn';
ALTER TABLE cancellation_requests
    ADD CONSTRAINT cancellation_requests_status_check
    CHECK (status IN ('pending', 'accepted', 'declined', 'closed'));

-- The tenant's list, newest first (the one-open-request rule is the partial unique index
-- cancellation_requests_one_pending of migration 0009).
CREATE INDEX IF NOT EXISTS cancellation_requests_by_tenant
    ON cancellation_requests (tenant_id, created_at DESC, id);

-- The tenant's bills, newest first (Tenant.invoices, filtered by status and due date).
CREATE INDEX IF NOT EXISTS invoices_by_tenant ON invoices (tenant_id, period_start DESC, id);
