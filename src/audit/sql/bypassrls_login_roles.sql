-- bypassrls_login_role: login roles (other than the bootstrap superuser) with SUPERUSER or
-- BYPASSRLS: whoever connects as one sees every tenant's rows.
SELECT r.rolname::text,
       pg_catalog.jsonb_build_object(
           'superuser', r.rolsuper,
           'bypassrls', r.rolbypassrls,
           'fix', pg_catalog.format(
               'ALTER ROLE %I NOSUPERUSER NOBYPASSRLS (or NOLOGIN); connect applications with a role that has neither',
               r.rolname))
FROM pg_catalog.pg_roles r
WHERE r.rolcanlogin AND (r.rolsuper OR r.rolbypassrls) AND r.oid <> 10
