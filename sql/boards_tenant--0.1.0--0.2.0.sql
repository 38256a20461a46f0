-- boards_tenant 0.1.0 -> 0.2.0. OPEN: every change to the SQL surface made while 0.2.0 is the
-- next release goes here, in the order the changes land (README, "Upgrading"). The upgrade
-- test compares a database upgraded through this script with a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION boards_tenant UPDATE" to load this file. \quit

-- Key material and the registry stay the admin role's whatever is granted on them
-- (sql/schema.sql, src/grants.rs).
ALTER TABLE boards.jwt_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.jwt_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.jwt_keys
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
ALTER TABLE boards.protected_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.protected_tables FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.protected_tables
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));

-- Freed slugs are reserved (sql/reserved_slugs.sql, the same text).
CREATE TABLE boards.reserved_slugs (
    slug        text        NOT NULL PRIMARY KEY,
    tenant_id   uuid,
    reason      text        NOT NULL CHECK (reason IN ('renamed', 'deleted')),
    reserved_at timestamptz NOT NULL DEFAULT now(),
    reserved_by text
);
COMMENT ON TABLE boards.reserved_slugs IS 'Slugs freed by rename or deletion; no new tenant may take one until boards_tenant_release_slug()';
REVOKE ALL ON boards.reserved_slugs FROM PUBLIC;
GRANT SELECT ON boards.reserved_slugs TO boards_tenant_admin;
SELECT pg_catalog.pg_extension_config_dump('boards.reserved_slugs', '');

CREATE FUNCTION @extschema@.boards_tenant_release_slug(slug text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH released AS (DELETE FROM boards.reserved_slugs r WHERE r.slug = $1 RETURNING 1)
    SELECT EXISTS (SELECT FROM released)
$$;
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_release_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_release_slug(text) TO boards_tenant_admin;

-- Sensitive columns lose their planner statistics (sql/statistics.sql, the same text).
CREATE TABLE boards.sensitive_columns (
    tbl         regclass    NOT NULL,
    column_name name        NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, column_name)
);
COMMENT ON TABLE boards.sensitive_columns IS 'Columns of protected tables kept without planner statistics (boards_tenant_protect sensitive_columns)';
REVOKE ALL ON boards.sensitive_columns FROM PUBLIC;
GRANT SELECT ON boards.sensitive_columns TO boards_tenant_admin;
SELECT pg_catalog.pg_extension_config_dump('boards.sensitive_columns', '');

-- boards_tenant_protect gains sensitive_columns: a new signature, so drop and create it with
-- the grants and settings of a fresh install (sql/finalize.sql).
DROP FUNCTION @extschema@.boards_tenant_protect(regclass, name);
CREATE  FUNCTION @extschema@."boards_tenant_protect"(
	"tbl" regclass, /* RegClass */
	"tenant_column" name DEFAULT 'tenant_id', /* SqlName */
	"sensitive_columns" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_tenant_protect_with_statistics_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[]) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The sealed context, which another backend of the cluster verifies for itself (src/seal.rs).
CREATE  FUNCTION @extschema@."boards_context_seal"() RETURNS TEXT /* SqlResult < String > */
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_context_seal_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_context_seal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_context_seal() TO PUBLIC;
