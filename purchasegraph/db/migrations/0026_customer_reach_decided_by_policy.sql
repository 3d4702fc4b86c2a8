-- Which relationships reach a customer is decided once, in the policy module: a user's grants are
-- every relationship in force of their tenant (relationship_in_force, the rule's one statement),
-- and policy.customer_grants gives them no customer when they are a guest or a disabled account.
-- principal_user keeps its signature and columns; only the guest/disabled filter leaves it.
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
                    AND relationship_in_force(p.status, p.starts_at, p.ends_at)), '[]') AS partner_grants
  FROM users u
 WHERE u.tenant_id = $1 AND u.id = $2
$$;
