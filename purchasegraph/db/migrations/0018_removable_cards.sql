-- A purchaser removes a saved card (removePaymentMethod): the gateway stamps its removed_at, and
-- nothing else of a card ever changes. The removal locks the card row (FOR UPDATE) while it moves
-- the subscriptions the card pays to another card; a payment choosing that card shares the lock
-- (FOR SHARE), so it waits and then finds the card gone. Both need an UPDATE privilege: on this
-- one column only.
GRANT UPDATE (removed_at) ON payment_methods TO purchasegraph_gateway;

-- The subscriptions a card pays, found when it is removed.
CREATE INDEX IF NOT EXISTS subscriptions_by_payment_method
    ON subscriptions (tenant_id, payment_method_id) WHERE payment_method_id IS NOT NULL;
