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
