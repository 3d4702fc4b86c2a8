-- The partner's fleet (issue 13): a principal's grants say when each customer's reach ends. The
-- two principal functions of migration 0014 are rewritten with the same signatures, each grant
-- now carrying its relationship's end date beside its roles; which relationships count is still
-- relationship_in_force alone (migration 0007), the one statement of the rule.
CREATE OR REPLACE FUNCTION principal_user(tenant uuid, user_id uuid)
    RETURNS TABLE (tenant_id uuid, id uuid, display_name text, user_type text, account_enabled boolean,
                   departed_at date, roles text[], partner_grants json)
    LANGUAGE sql STABLE
AS $$
SELECT u.tenant_id, u.id, u.display_name, u.user_type, u.account_enabled, u.departed_at,
       COALESCE((SELECT array_agg(r.role ORDER BY r.role) FROM directory_roles r
                  WHERE r.tenant_id = u.tenant_id AND r.user_id = u.id), '{}') AS roles,
       COALESCE((SELECT json_agg(json_build_object('tenant_id', p.tenant_id, 'roles', p.roles,
                                                   'ends_at', p.ends_at)
                                 ORDER BY p.tenant_id)
                   FROM partner_relationships p
                  WHERE p.partner_tenant_id = u.tenant_id
                    AND relationship_in_force(p.status, p.starts_at, p.ends_at)
                    AND u.user_type = 'member' AND u.account_enabled), '[]') AS partner_grants
  FROM users u
 WHERE u.tenant_id = $1 AND u.id = $2
$$;

CREATE OR REPLACE FUNCTION principal_app(tenant uuid)
    RETURNS TABLE (tenant_id uuid, partner_grants json)
    LANGUAGE sql STABLE
AS $$
SELECT t.id AS tenant_id,
       COALESCE((SELECT json_agg(json_build_object('tenant_id', p.tenant_id, 'roles', p.roles,
                                                   'ends_at', p.ends_at)
                                 ORDER BY p.tenant_id)
                   FROM partner_relationships p
                  WHERE p.partner_tenant_id = t.id
                    AND relationship_in_force(p.status, p.starts_at, p.ends_at)), '[]') AS partner_grants
  FROM tenants t
 WHERE t.id = $1
$$;
