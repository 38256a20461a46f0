-- Row-level security seen as a tenant: each context sees and writes only its own rows,
-- no context sees none, and a write into another tenant is refused.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- Tenant ids by slug, for the attacks below (the application role sees only its own
-- tenant in boards.tenants).
CREATE TABLE regress_tenant_ids AS SELECT slug, id FROM boards.tenants;
GRANT SELECT ON regress_tenant_ids TO regress_app;
SET ROLE regress_app;
-- acme writes two notes; tenant_id defaults to boards_current_tenant().
SELECT tenant_slug FROM boards_set_tenant_from_jwt(regress_token('acme_owner'));
INSERT INTO notes (id, body) VALUES (1, 'acme plan'), (2, 'acme budget');
-- globex writes one.
SELECT tenant_slug FROM boards_set_tenant_from_jwt(regress_token('globex_owner'));
INSERT INTO notes (id, body) VALUES (1, 'globex secret');
-- Each context sees only its own rows.
SELECT id, body FROM notes ORDER BY id;
SELECT tenant_slug FROM boards_set_tenant_from_jwt(regress_token('acme_owner'));
SELECT id, body FROM notes ORDER BY id;
-- Naming the other tenant's id finds nothing, for reads, updates and deletes alike.
SELECT count(*) FROM notes WHERE tenant_id = (SELECT id FROM regress_tenant_ids WHERE slug = 'globex');
UPDATE notes SET body = 'pwned' WHERE tenant_id = (SELECT id FROM regress_tenant_ids WHERE slug = 'globex');
DELETE FROM notes WHERE tenant_id = (SELECT id FROM regress_tenant_ids WHERE slug = 'globex');
-- Writing a row into the other tenant is refused (WITH CHECK), inserting or moving one.
INSERT INTO notes (tenant_id, id, body)
  VALUES ((SELECT id FROM regress_tenant_ids WHERE slug = 'globex'), 9, 'planted');
\echo :LAST_ERROR_SQLSTATE
UPDATE notes SET tenant_id = (SELECT id FROM regress_tenant_ids WHERE slug = 'globex') WHERE id = 1;
\echo :LAST_ERROR_SQLSTATE
-- The Boards tables are protected the same way.
INSERT INTO boards.boards (owner_id, title) VALUES (boards_current_user_id(), 'Roadmap');
SELECT title FROM boards.boards ORDER BY title;
-- Without a context: no rows at all.
SELECT boards_reset_tenant();
SELECT count(*) AS visible_notes FROM notes;
SELECT count(*) AS visible_boards FROM boards.boards;
INSERT INTO notes (id, body) VALUES (3, 'orphan');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- As superuser (who bypasses RLS), every row is still as written.
SELECT t.slug, n.id, n.body FROM notes n JOIN boards.tenants t ON t.id = n.tenant_id
 ORDER BY t.slug, n.id;
