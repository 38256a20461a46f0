-- The error table of the README: for each error a client can meet, its message, DETAIL,
-- HINT and SQLSTATE (printed after each failing statement). Clients branch on the SQLSTATE.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET ROLE regress_app;
-- 28000 invalid_authorization_specification: the token does not verify.
SELECT boards_set_tenant_from_jwt(regress_token('expired'));
\echo :LAST_ERROR_SQLSTATE
SELECT boards_set_tenant_from_jwt(regress_token('forged'));
\echo :LAST_ERROR_SQLSTATE
SELECT boards_set_tenant_from_jwt(regress_token('unknown_kid'));
\echo :LAST_ERROR_SQLSTATE
SELECT boards_set_tenant_from_jwt('not-a-token');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_set_tenant_from_jwt(NULL);
\echo :LAST_ERROR_SQLSTATE
-- 22023 invalid_parameter_value: a malformed slug, in the token or in the X-Tenant header.
SELECT boards_set_tenant_from_jwt(regress_token('bad_slug'));
\echo :LAST_ERROR_SQLSTATE
SELECT boards_set_tenant_from_jwt(regress_token('acme_owner'), x_tenant => 'Bad_Slug!');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_has_role('king');
\echo :LAST_ERROR_SQLSTATE
-- 42704 undefined_object: the tenant named does not exist.
SELECT boards_set_tenant_from_jwt(regress_token('unknown_tenant'));
\echo :LAST_ERROR_SQLSTATE
-- 42501 insufficient_privilege: a subject naming a tenant it is not a member of.
SELECT boards_set_tenant_from_jwt(regress_token('acme_owner'), x_tenant => 'globex');
\echo :LAST_ERROR_SQLSTATE
-- 42501: administration is not for the application role.
SELECT boards_tenant_create('Evil', 'evil');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_jwt_add_key('evil', 'HS256', 'evil-secret-evil-secret-evil-secret-00');
\echo :LAST_ERROR_SQLSTATE
-- 42501: the manual check refuses a resource of another tenant.
SELECT tenant_slug FROM boards_set_tenant_from_jwt(regress_token('acme_owner'));
-- (The default tenant's id is fixed: 00000000-0000-0000-0000-000000000000.)
SELECT boards_ensure_tenant_isolation(boards_current_user_id(),
                                      '00000000-0000-0000-0000-000000000000', 'board');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_reset_tenant();
RESET ROLE;
-- 55000 object_not_in_prerequisite_state: a suspended tenant refuses contexts.
SELECT slug, status FROM boards_tenant_suspend('globex');
SET ROLE regress_app;
SELECT boards_set_tenant_from_jwt(regress_token('globex_owner'));
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT slug, status FROM boards_tenant_approve('globex');
-- 55000: the last owner can be neither removed nor demoted.
SELECT boards_tenant_remove_member('acme', 'acme-owner');
\echo :LAST_ERROR_SQLSTATE
-- 28000: registration needs an identity (boards_authenticate) first.
SELECT boards_tenant_register('New Startup Inc', 'founder@startup.example');
\echo :LAST_ERROR_SQLSTATE
-- 55000: registration outside multi-tenant mode.
SELECT boards_authenticate(regress_token('acme_owner'));
SELECT boards_tenant_register('New Startup Inc', 'owner@acme.example');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_reset_tenant();
-- 22004 null_value_not_allowed: multi-tenant mode on and the request names no tenant.
SET boards.multi_tenant_mode = on;
SELECT boards_set_tenant_from_jwt(regress_token('no_tenant'));
\echo :LAST_ERROR_SQLSTATE
-- 54000 program_limit_exceeded: the subject owns as many tenants as allowed.
SET boards.max_tenants_per_user = 1;
SELECT boards_authenticate(regress_token('acme_owner'));
SELECT boards_tenant_register('Second Acme', 'owner@acme.example');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_reset_tenant();
RESET boards.max_tenants_per_user;
RESET boards.multi_tenant_mode;
-- 23505 unique_violation: the name is taken.
SELECT boards_tenant_create('Acme again', 'acme');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_jwt_add_key('regress', 'HS256', 'another-secret-another-secret-another');
\echo :LAST_ERROR_SQLSTATE
-- 23505: a deleted tenant's slug stays reserved until released, and an admin is told so
-- (registration answers only "slug is not available").
SELECT count(*) AS tables_emptied FROM boards_tenant_delete('globex');
SELECT boards_tenant_create('Globex again', 'globex');
\echo :LAST_ERROR_SQLSTATE
SELECT boards_tenant_release_slug('globex') AS released;
SELECT slug FROM boards_tenant_create('Globex', 'globex');
SELECT boards_tenant_add_member('globex', 'globex-owner', 'owner') IS NOT NULL AS added;
-- 25006 read_only_sql_transaction: administration in a read-only transaction.
BEGIN READ ONLY;
SELECT boards_tenant_create('Read Only', 'read-only');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
