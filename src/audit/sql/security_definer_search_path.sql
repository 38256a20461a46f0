-- security_definer_search_path: SECURITY DEFINER functions (not the extension's) without a
-- pinned search_path in a schema an ordinary login role can use: whoever can put an object
-- earlier in that search_path runs code with the definer's rights.
SELECT p.oid::regprocedure::text,
       pg_catalog.jsonb_build_object(
           'owner', pg_catalog.pg_get_userbyid(p.proowner)::text,
           'schema', n.nspname::text,
           'fix', pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp',
                                    p.oid::regprocedure))
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND NOT EXISTS (SELECT FROM pg_catalog.unnest(p.proconfig) s
                  WHERE s LIKE 'search\_path=%')
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
      WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
        AND d.deptype = 'e' AND e.extname = 'boards_tenant')
  AND EXISTS (
      SELECT FROM pg_catalog.pg_roles l
      WHERE l.rolcanlogin AND NOT l.rolsuper
        AND NOT coalesce(pg_catalog.pg_has_role(l.oid, pg_catalog.to_regrole('boards_tenant_admin'), 'MEMBER'), false)
        AND pg_catalog.has_schema_privilege(l.oid, n.oid, 'USAGE'))
