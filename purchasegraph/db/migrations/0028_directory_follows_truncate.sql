-- The directory follows TRUNCATE too. Row triggers (0027) do not fire on TRUNCATE, so emptying
-- tenants or users left their names in the reference tables: a relationship could then name a
-- tenant that is gone, and a sign-in name stayed taken by nobody. A statement-level trigger
-- empties the matching reference table in the same transaction.
CREATE FUNCTION directory_follows_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        -- TRUNCATE tenants needs CASCADE, which empties users too: their names go first, since
        -- they reference the directory's tenants.
        DELETE FROM sign_in_names;
        DELETE FROM tenant_directory;
    ELSE
        DELETE FROM sign_in_names;
    END IF;
    RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION directory_follows_truncate() FROM PUBLIC;

CREATE TRIGGER tenants_truncated_from_directory
    AFTER TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION directory_follows_truncate();
CREATE TRIGGER users_truncated_from_sign_in_names
    AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION directory_follows_truncate();
