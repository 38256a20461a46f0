-- boards_ensure_tenant_isolation: the seed's manual check. The wrapper runs as the caller so
-- a table named as resource type resolves in the caller's search_path; the check itself runs
-- as the extension owner (boards.ensure_tenant_isolation_internal, src/isolation.rs).
CREATE FUNCTION @extschema@.boards_ensure_tenant_isolation(
    user_id uuid, tenant_id uuid, resource_type text, resource_id uuid DEFAULT NULL
) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    named regclass;
BEGIN
    IF resource_type NOT IN ('board', 'generation', 'user', 'board_member') THEN
        BEGIN
            named := pg_catalog.to_regclass(resource_type);
        EXCEPTION WHEN invalid_name OR syntax_error THEN
            named := NULL;  -- not a table name: the check reports an unknown resource type
        END;
    END IF;
    PERFORM boards.ensure_tenant_isolation_internal($1, $2, $3, $4, named::oid);
END
$$;
