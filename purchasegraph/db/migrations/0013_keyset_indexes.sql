-- Keyset pages (issue 12) seek past a cursor along an index of the connection's whole default
-- order, tie-breaking id included. License requests had (tenant_id, created_at DESC) only, so a
-- page past a cursor sorted every request of the tenant with the same creation time by id.
CREATE INDEX license_requests_by_tenant_keyset ON license_requests (tenant_id, created_at DESC, id);
DROP INDEX license_requests_by_tenant;
