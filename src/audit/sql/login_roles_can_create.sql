-- login_role_can_create: ordinary login roles (not administrators) that own a schema or may
-- create in one or in the database: they can plant functions or triggers that other
-- tenants' sessions run (a same-named function first in search_path).
SELECT r.rolname::text,
       pg_catalog.jsonb_build_object(
           'schemas', pg_catalog.to_jsonb(ARRAY(
               SELECT n.nspname::text FROM pg_catalog.pg_namespace n
               WHERE (n.nspowner = r.oid
                      OR pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE'))
                 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname !~ '^pg_(toast|temp)'
               ORDER BY 1)),
           'create_on_database',
               pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CREATE'),
           'search_path_settings', pg_catalog.to_jsonb(ARRAY(
               SELECT cfg FROM pg_catalog.pg_db_role_setting s, unnest(s.setconfig) cfg
               WHERE s.setrole = r.oid AND cfg LIKE 'search_path=%')),
           'fix', pg_catalog.format(
               'If %I is what the API connects as: REVOKE CREATE ON SCHEMA ... / ON DATABASE FROM %I, move the schemas it owns to another role, ALTER ROLE %I RESET search_path',
               r.rolname, r.rolname, r.rolname))
FROM pg_catalog.pg_roles r
WHERE r.rolcanlogin AND NOT r.rolsuper AND NOT r.rolbypassrls
  AND NOT pg_catalog.pg_has_role(r.oid, 'boards_tenant_admin', 'MEMBER')
  AND (pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'CREATE')
       OR EXISTS (
           SELECT FROM pg_catalog.pg_namespace n
           WHERE (n.nspowner = r.oid
                  OR pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE'))
             AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname !~ '^pg_(toast|temp)'))
