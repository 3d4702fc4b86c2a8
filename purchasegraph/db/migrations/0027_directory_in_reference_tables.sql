-- The two keys that span every tenant move out of the tenant tables into small directory tables
-- of their own: a domain names one tenant in the whole system, and a sign-in name (compared in
-- lower case, as the identity provider compares it) names one user in the whole system. Once the
-- tenant tables are spread over servers by tenant, a server can only check keys that include the
-- tenant, so a key over all tenants has to live in a table every server holds whole (a Citus
-- reference table). The tenant tables keep their per-tenant keys.

CREATE TABLE tenant_directory (
    tenant_id      uuid PRIMARY KEY,
    primary_domain text NOT NULL UNIQUE CHECK (primary_domain = lower(primary_domain))
);

CREATE TABLE sign_in_names (
    upn_lower text PRIMARY KEY CHECK (upn_lower = lower(upn_lower)),
    tenant_id uuid NOT NULL REFERENCES tenant_directory (tenant_id),
    user_id   uuid NOT NULL,
    UNIQUE (tenant_id, user_id)
);

-- Whatever writes tenants or users (the demo writer, a test factory, an operator's psql), the
-- directory follows it in the same transaction, so the two never disagree. SECURITY DEFINER: the
-- directory holds every tenant's names and is the owner's alone (the gateway role gets no grant
-- on it). Search path pinned, as for every definer function here.
CREATE FUNCTION tenant_directory_follows_tenants() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_directory (tenant_id, primary_domain) VALUES (NEW.id, lower(NEW.primary_domain));
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE tenant_directory SET tenant_id = NEW.id, primary_domain = lower(NEW.primary_domain)
         WHERE tenant_id = OLD.id;
    ELSE
        DELETE FROM tenant_directory WHERE tenant_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION tenant_directory_follows_tenants() FROM PUBLIC;

CREATE FUNCTION sign_in_names_follow_users() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO sign_in_names (upn_lower, tenant_id, user_id)
        VALUES (lower(NEW.user_principal_name), NEW.tenant_id, NEW.id);
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE sign_in_names
           SET upn_lower = lower(NEW.user_principal_name), tenant_id = NEW.tenant_id, user_id = NEW.id
         WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    ELSE
        DELETE FROM sign_in_names WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id;
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION sign_in_names_follow_users() FROM PUBLIC;

-- What the database already holds, before the triggers take over.
INSERT INTO tenant_directory (tenant_id, primary_domain) SELECT id, lower(primary_domain) FROM tenants;
INSERT INTO sign_in_names (upn_lower, tenant_id, user_id)
SELECT lower(user_principal_name), tenant_id, id FROM users;

CREATE TRIGGER tenants_in_directory
    AFTER INSERT OR DELETE OR UPDATE OF id, primary_domain ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenant_directory_follows_tenants();
CREATE TRIGGER users_in_sign_in_names
    AFTER INSERT OR DELETE OR UPDATE OF tenant_id, id, user_principal_name ON users
    FOR EACH ROW EXECUTE FUNCTION sign_in_names_follow_users();

-- The global keys now live in the directory; within a tenant a sign-in name stays unique (and
-- indexed, for the look-up that joins the directory back to its user).
ALTER TABLE tenants DROP CONSTRAINT tenants_primary_domain_key;
DROP INDEX users_upn_key;
CREATE UNIQUE INDEX users_upn_in_tenant ON users (tenant_id, lower(user_principal_name));

-- A reference to another tenant (the partner of a relationship, the tenant an order or a
-- cancellation was made from) names it through the directory: a key into a table every server
-- holds, where a key into tenants would cross from one tenant's server to another's.
ALTER TABLE partner_relationships
    DROP CONSTRAINT partner_relationships_partner_tenant_id_fkey,
    ADD CONSTRAINT partner_relationships_partner_tenant_id_fkey
        FOREIGN KEY (partner_tenant_id) REFERENCES tenant_directory (tenant_id);
ALTER TABLE orders
    DROP CONSTRAINT orders_actor_tenant_id_fkey,
    ADD CONSTRAINT orders_actor_tenant_id_fkey
        FOREIGN KEY (actor_tenant_id) REFERENCES tenant_directory (tenant_id);
ALTER TABLE cancellation_requests
    DROP CONSTRAINT cancellation_requests_requested_by_tenant_id_fkey,
    ADD CONSTRAINT cancellation_requests_requested_by_tenant_id_fkey
        FOREIGN KEY (requested_by_tenant_id) REFERENCES tenant_directory (tenant_id);
