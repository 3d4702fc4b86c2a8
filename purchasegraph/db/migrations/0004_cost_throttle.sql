-- The cost throttle's leaky buckets, one per principal (a user of a tenant, or an anonymous
-- client address). Kept in PostgreSQL so every gateway replica draws on the same bucket: a
-- client spreading its requests over replicas gets no more than one replica would give it.
-- No tenant_id column on purpose: a bucket belongs to a caller, not to a tenant's data, and it
-- holds nothing but a number and a time.
CREATE TABLE throttle_buckets (
    principal  text PRIMARY KEY,
    available  double precision NOT NULL,
    granted    boolean NOT NULL,
    updated_at timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE ON throttle_buckets TO purchasegraph_gateway;
