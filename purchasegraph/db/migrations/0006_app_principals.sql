-- Applications as principals (app-only tokens: an application of a tenant with app roles, no
-- user; purchasegraph/identity.py, policy.py). Every mutation is audited naming its actor, and an
-- application is nobody in the directory, so its events name it here instead: actor_user_id is
-- NULL, actor_tenant_id is the application's tenant as for any actor, and on_behalf_of_tenant_id
-- the customer a partner's application acted for.
--
-- A GUID, as Azure AD's application (client) ids are and as the gateway verifies them; no
-- foreign key, since applications are registered with the identity provider, not in this
-- database. Adding a nullable column rewrites no row, so the append-only trigger (0001) is not
-- involved, and the gateway's table-wide INSERT grant (0003) covers it.
ALTER TABLE audit_events ADD COLUMN actor_app_id uuid;

-- One actor per event: a user or an application, never both (a row naming both would let one of
-- them hide behind the other). Rows before this migration name no application.
ALTER TABLE audit_events
    ADD CONSTRAINT audit_events_one_actor CHECK (actor_user_id IS NULL OR actor_app_id IS NULL);

-- The row-level security policy refusals_by_own_actors (0003) needs no change: it admits a
-- refusal whose actor_tenant_id is the connection's own tenant, which for an application is the
-- tenant its token names, exactly as for a user.
