-- The isolation audit on a database with planted mistakes: which checks fire, at which
-- severity. Objects are named; ids are not printed.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- A clean start: the protected tables raise nothing above info.
SELECT check_name, severity, object_name FROM boards_tenant_audit()
 WHERE severity <> 'info' ORDER BY check_name, object_name;
-- Planted: RLS switched off on one table, a dropped tenant policy on another, a broad
-- TRUNCATE and a TRIGGER grant (both taken back at once by the DDL guard, so the audit
-- never sees them), a view
-- running with its (superuser) owner's rights, a permissive USING (true) policy, and a
-- table with a tenant_id column created while auto-protection was off.
CREATE TABLE audit_rls_off (tenant_id uuid NOT NULL DEFAULT boards_current_tenant(), v int);
CREATE TABLE audit_no_policy (tenant_id uuid NOT NULL DEFAULT boards_current_tenant(), v int);
CREATE TABLE audit_open (tenant_id uuid NOT NULL DEFAULT boards_current_tenant(), v int);
SET boards.auto_protect = off;
CREATE TABLE audit_unprotected (tenant_id uuid, v int);
RESET boards.auto_protect;
ALTER TABLE audit_rls_off DISABLE ROW LEVEL SECURITY;
DROP POLICY boards_tenant_isolation ON audit_no_policy;
GRANT TRUNCATE ON notes TO regress_app;
GRANT TRIGGER ON notes TO regress_app;
CREATE VIEW notes_view AS SELECT * FROM notes;
CREATE POLICY everything ON audit_open USING (true);
SELECT check_name, severity, object_name FROM boards_tenant_audit()
 WHERE severity <> 'info' ORDER BY check_name, object_name;
