-- boards_tenant end to end, as the README's command A runs it: psql connected as a superuser
-- to a throwaway cluster. Each \connect switches to the role an actor really uses.
\set ON_ERROR_STOP 1
\pset footer off

\echo
\echo '==================== 1. Install: the extension, the roles, multi-tenant mode'
CREATE EXTENSION boards_tenant;
-- pgcrypto only mints the demo's tokens below; in production an identity provider signs them.
CREATE EXTENSION pgcrypto;
CREATE ROLE boards_app LOGIN;                              -- what the API layer connects as
CREATE ROLE boards_admin LOGIN IN ROLE boards_tenant_admin; -- operators and the CLI
ALTER DATABASE postgres SET boards.multi_tenant_mode = on;
ALTER DATABASE postgres SET boards.frontend_base_url = 'https://boards.example.com';
SELECT name, setting FROM pg_settings WHERE name LIKE 'boards.%' ORDER BY name;

-- An HS256 signer, standing in for the identity provider: schema demo, usable by the admin
-- only (the app role must never mint tokens). A token carries `iat`, the time it is minted:
-- just-in-time membership accepts only tokens issued after the tenant was created.
CREATE SCHEMA demo;
GRANT USAGE ON SCHEMA demo TO boards_admin;
CREATE FUNCTION demo.b64url(b bytea) RETURNS text LANGUAGE sql AS
$$ SELECT translate(rtrim(encode(b, 'base64'), '='), E'+/\n', '-_') $$;
CREATE FUNCTION demo.token(claims jsonb) RETURNS text LANGUAGE sql AS $$
    WITH t AS (
        SELECT demo.b64url(convert_to('{"alg":"HS256","typ":"JWT","kid":"idp-2026"}', 'utf8'))
               || '.' ||
               demo.b64url(convert_to(
                   (claims || jsonb_build_object(
                       'iat', floor(extract(epoch FROM clock_timestamp()))::int,
                       'exp', floor(extract(epoch FROM clock_timestamp()))::int + 3600))::text,
                   'utf8')) AS signing_input)
    SELECT signing_input || '.' ||
           demo.b64url(public.hmac(signing_input, 'demo-secret-for-the-readme-do-not-use-0123', 'sha256'))
    FROM t
$$;

\echo
\echo '==================== 2. The admin installs the key and creates tenants (with sample data)'
\connect - boards_admin
SELECT boards_jwt_add_key('idp-2026', 'HS256', 'demo-secret-for-the-readme-do-not-use-0123');
SELECT kid, alg, format, fingerprint FROM boards_jwt_keys();
SELECT slug, status, member_count
FROM boards_tenant_create('Acme Corp', 'acme-corp', '{"email_domains": ["acme-corp.com"]}', true);
SELECT slug, status, member_count FROM boards_tenant_create('Globex', 'globex', '{}', true);
SELECT slug, name, status, member_count FROM boards_tenant_list();
SELECT id AS globex_id FROM boards_tenant_get('globex') \gset

\echo '-- The identity provider signs the users' tokens (after the tenants exist: see demo.token)'
SELECT demo.token('{"sub": "alice", "tenant": "acme-corp", "email": "alice@acme-corp.com"}') AS alice \gset
SELECT demo.token('{"sub": "bob", "org": "Globex"}') AS bob \gset
SELECT demo.token('{"sub": "carol", "email": "carol@acme-corp.com", "email_verified": true}') AS carol \gset
SELECT demo.token('{"sub": "dave", "email": "ceo@new-startup.com", "email_verified": true}') AS dave \gset
SELECT demo.token('{"sub": "mallory", "tenant": "globex"}') || 'x' AS forged \gset

\echo
\echo '==================== 3. The API layer connects as boards_app and sets the tenant from each token'
\connect - boards_app
\echo '-- Alice: claim "tenant": "acme-corp" (she joins acme-corp on first use)'
SELECT * FROM boards_set_tenant_from_jwt(:'alice');
SELECT b.title, u.display_name AS owner FROM boards.boards b JOIN boards.users u ON u.id = b.owner_id;
INSERT INTO boards.boards (owner_id, title) VALUES (boards_current_user_id(), 'Acme launch plan');
SELECT title FROM boards.boards ORDER BY title;
SELECT slug FROM boards.tenants;

\echo '-- Bob: claim "org": "Globex" (normalised to the slug globex)'
SELECT tenant_slug, source FROM boards_set_tenant_from_jwt(:'bob');
SELECT title FROM boards.boards ORDER BY title;

\echo '-- Carol: no tenant claim, a verified address at a domain acme-corp lists'
SELECT tenant_slug, source FROM boards_set_tenant_from_jwt(:'carol');

\echo '-- Per transaction (what a transaction-pooling PgBouncer needs): is_local => true'
BEGIN;
SELECT tenant_slug FROM boards_set_tenant_from_jwt(:'bob', is_local => true);
SELECT count(*) AS globex_boards FROM boards.boards;
COMMIT;
SELECT boards_current_tenant_slug() AS after_commit_back_to_the_session_tenant;

\echo
\echo '==================== 4. What a tenant cannot do (each ERROR below is the point)'
\set ON_ERROR_STOP 0
SELECT tenant_slug FROM boards_set_tenant_from_jwt(:'alice');
\echo '-- an X-Tenant header for a tenant Alice does not belong to'
SELECT * FROM boards_set_tenant_from_jwt(:'alice', x_tenant => 'globex');
\echo '-- an X-Tenant header in the wrong format'
SELECT * FROM boards_set_tenant_from_jwt(:'alice', x_tenant => 'Globex Inc');
\echo '-- a tampered token'
SELECT * FROM boards_set_tenant_from_jwt(:'forged');
\echo '-- writing a row into another tenant'
INSERT INTO boards.boards (tenant_id, owner_id, title)
VALUES (:'globex_id', boards_current_user_id(), 'planted');
\echo '-- forging the context, switching it off, wiping the table'
SET boards.context = '{"tenant_slug": "globex"}';
SET boards.multi_tenant_mode = off;
TRUNCATE boards.boards;
ALTER TABLE boards.boards DISABLE ROW LEVEL SECURITY;
\echo '-- no context at all: nothing to see, nothing to write'
SELECT boards_reset_tenant();
SELECT count(*) AS boards_without_a_context FROM boards.boards;
INSERT INTO boards.boards (owner_id, title) VALUES (gen_random_uuid(), 'nobody''s');
\set ON_ERROR_STOP 1

\echo
\echo '==================== 5. Self-service registration (the seed example)'
SELECT boards_authenticate(:'dave');
SELECT jsonb_pretty(boards_tenant_register(
    organization_name => 'New Startup Inc', admin_email => 'ceo@new-startup.com',
    use_case => 'AI content creation for marketing', organization_size => 'small'));
SELECT tenant_slug, source FROM boards_set_tenant_from_jwt(:'dave', x_tenant => 'new-startup');

\echo
\echo '==================== 6. Application tables: auto-protected; single-tenant tables migrated'
\connect - postgres
CREATE TABLE public.notes (tenant_id uuid NOT NULL, id uuid DEFAULT gen_random_uuid(), body text,
                           PRIMARY KEY (tenant_id, id));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO boards_app;
CREATE TABLE public.legacy_docs (id serial PRIMARY KEY, title text);
INSERT INTO public.legacy_docs (title) VALUES ('Q1 report'), ('Onboarding guide'), ('Pricing');
GRANT SELECT ON public.legacy_docs TO boards_app;
\connect - boards_admin
SELECT boards_tenant_migrate_table('public.legacy_docs') AS rows_moved_to_default;
SELECT table_name, rls_enabled, rls_forced, policy_ok, tenant_index, problems
FROM boards_tenant_protected_tables();
\connect - boards_app
SELECT tenant_slug FROM boards_set_tenant_from_jwt(:'alice');
INSERT INTO public.notes (body) VALUES ('acme only');
SELECT body FROM public.notes;
SELECT count(*) AS legacy_docs_seen_by_acme FROM public.legacy_docs;
SELECT tenant_slug FROM boards_set_tenant_from_jwt(:'bob');
SELECT count(*) AS notes_seen_by_globex FROM public.notes;

\echo
\echo '==================== 7. The isolation audit (also: boards-tenant tenant audit)'
\connect - boards_admin
SELECT severity, check_name, object_name, tenant_slug
FROM boards_tenant_audit() WHERE severity <> 'info' ORDER BY 1, 2;
SELECT tenant_slug, detail FROM boards_tenant_audit() WHERE check_name = 'tenant_statistics' ORDER BY 1;
