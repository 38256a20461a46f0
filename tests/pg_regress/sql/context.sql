-- The tenant context, as the application role sees it: set from a verified token, read by
-- the boards_current_* functions, cleared by boards_reset_tenant.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET ROLE regress_app;
-- Without a context every reader gives NULL.
SELECT boards_current_tenant() IS NULL AS no_tenant, boards_current_tenant_slug() AS slug,
       boards_current_subject() AS subject, boards_current_role() AS role;
-- A token naming its tenant in the "tenant" claim: the row says which tenant, who, and how
-- the tenant was found (source).
SELECT tenant_slug, subject, source FROM boards_set_tenant_from_jwt(regress_token('acme_owner'));
SELECT boards_current_tenant_slug() AS slug, boards_current_subject() AS subject,
       boards_current_role() AS role, boards_has_role('admin') AS at_least_admin,
       boards_current_claims() ->> 'tenant' AS tenant_claim,
       boards_current_tenant() = (SELECT id FROM boards.tenants WHERE slug = 'acme') AS tenant_id_matches,
       boards_current_user_id() IS NOT NULL AS has_user;
-- Another token replaces the context.
SELECT tenant_slug, subject, source FROM boards_set_tenant_from_jwt(regress_token('globex_owner'));
-- Reset clears it.
SELECT boards_reset_tenant();
SELECT boards_current_tenant_slug() AS slug, boards_current_subject() AS subject;
-- is_local => true: the context lasts until the end of the transaction (for poolers).
BEGIN;
SELECT tenant_slug FROM boards_set_tenant_from_jwt(regress_token('acme_owner'), is_local => true);
SELECT boards_current_tenant_slug() AS inside;
COMMIT;
SELECT boards_current_tenant_slug() AS after_commit;
-- boards_authenticate sets only the identity (for registration) and returns the subject.
SELECT boards_authenticate(regress_token('acme_owner'));
SELECT boards_current_subject() AS subject, boards_current_tenant_slug() AS slug;
SELECT boards_reset_tenant();
RESET ROLE;
-- Trusted jobs (administrators) set a context by slug, with no subject.
SELECT tenant_slug, subject, source FROM boards_set_tenant('globex');
SELECT boards_current_tenant_slug() AS slug, boards_current_subject() AS subject;
SELECT boards_reset_tenant();
