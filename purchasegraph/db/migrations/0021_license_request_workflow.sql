-- License requests as a workflow, notifications with read state.
--
-- One pending request per user and product: a second one would only ask the admins the same
-- question twice. Requests written before this rule may hold duplicates; of each group the oldest
-- stays pending and the later ones are closed as denied, with no decider and decided when asked
-- (nobody decided them, and the oldest still carries the question).
UPDATE license_requests r
   SET status = 'denied', decided_at = r.created_at
 WHERE r.status = 'pending'
   AND EXISTS (SELECT 1 FROM license_requests o
                WHERE o.tenant_id = r.tenant_id AND o.requester_user_id = r.requester_user_id
                  AND o.product_id = r.product_id AND o.status = 'pending'
                  AND (o.created_at, o.id) < (r.created_at, r.id));
CREATE UNIQUE INDEX license_requests_one_pending
    ON license_requests (tenant_id, requester_user_id, product_id) WHERE status = 'pending';

-- The subscription an approval assigned its users from; NULL for an approval alone or a denial.
ALTER TABLE license_requests ADD COLUMN assigned_from_subscription_id uuid;

-- A notification is marked read by its user (markNotificationsRead): the gateway may set read_at
-- and nothing else of it.
GRANT UPDATE (read_at) ON notifications TO purchasegraph_gateway;
CREATE INDEX notifications_unread_by_user ON notifications (tenant_id, user_id, created_at DESC)
    WHERE read_at IS NULL;
