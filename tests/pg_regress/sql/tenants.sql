-- Tenant management (administrators: a superuser or a member of boards_tenant_admin).
-- Ids and timestamps are generated, so the output shows slugs, names, statuses and settings.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- The default tenant exists from the start, with the fixed id of sql/schema.sql.
SELECT id, slug, name, status FROM boards_tenant_list() ORDER BY slug;
-- Create returns the new tenant; settings are a jsonb object.
SELECT slug, name, status, settings, member_count
  FROM boards_tenant_create('Acme Corp', 'acme', '{"plan": "pro"}');
SELECT slug, name, status, settings, member_count FROM boards_tenant_create('Globex', 'globex');
SELECT slug, name, status FROM boards_tenant_create('Initrode', 'initrode');
-- Update merges settings into the existing ones, and can rename.
SELECT slug, name, settings FROM boards_tenant_update('acme', name => 'Acme Corporation',
                                                      settings => '{"seats": 10}');
SELECT slug, name, status FROM boards_tenant_get('acme');
-- Suspend and approve change the status; a suspended tenant refuses every context.
SELECT slug, status FROM boards_tenant_suspend('initrode');
SELECT slug, status FROM boards_tenant_approve('initrode');
-- Members: add_member returns the user id (generated), members lists them.
SELECT boards_tenant_add_member('acme', 'acme-owner', 'owner', 'owner@acme.example') IS NOT NULL
  AS added;
SELECT boards_tenant_add_member('globex', 'globex-owner', 'owner') IS NOT NULL AS added;
SELECT boards_tenant_add_member('acme', 'acme-member') IS NOT NULL AS added;
SELECT subject, email, role FROM boards_tenant_members('acme') ORDER BY subject;
SELECT slug, member_count FROM boards_tenant_list() ORDER BY slug;
-- Removing a member who is not the last owner works.
SELECT boards_tenant_remove_member('acme', 'acme-member');
-- Delete removes the tenant and its rows in every protected table, and reserves its slug;
-- release_slug frees it again.
SELECT table_name, rows_deleted FROM boards_tenant_delete('initrode') ORDER BY 1;
SELECT boards_tenant_release_slug('initrode') AS released;
SELECT boards_tenant_release_slug('initrode') AS released_twice;
SELECT slug FROM boards_tenant_list() ORDER BY slug;
