-- view_without_security_invoker: views (directly or through other views) over protected
-- tables that run with their owner's rights, and materialized views over them that other
-- roles may read (they store every tenant's rows). Only a plain view owned by an ordinary
-- role is milder: its owner's rights are still under row level security.
WITH RECURSIVE deps (view_oid, base) AS (
    SELECT rw.ev_class, d.refobjid
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass
      AND d.refclassid = 'pg_catalog.pg_class'::regclass
      AND d.refobjid IN (SELECT tbl FROM boards.protected_tables)
      AND rw.ev_class <> d.refobjid
    UNION
    SELECT rw.ev_class, deps.base
    FROM deps
    JOIN pg_catalog.pg_depend d
      ON d.refobjid = deps.view_oid
         AND d.classid = 'pg_catalog.pg_rewrite'::regclass
         AND d.refclassid = 'pg_catalog.pg_class'::regclass
    JOIN pg_catalog.pg_rewrite rw ON rw.oid = d.objid
    WHERE rw.ev_class <> d.refobjid),
v AS (
    SELECT c.oid, c.relkind, c.relowner, o.rolsuper, o.rolbypassrls,
           coalesce((SELECT pg_catalog.bool_or(pg_catalog.split_part(opt, '=', 2)::boolean)
                     FROM pg_catalog.unnest(c.reloptions) opt
                     WHERE pg_catalog.split_part(opt, '=', 1) = 'security_invoker'), false)
               AS security_invoker,
           ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                      ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
                 FROM pg_catalog.aclexplode(coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner))) a
                 WHERE a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
                 ORDER BY 1) AS readers,
           ARRAY(SELECT DISTINCT d.base::regclass::text FROM deps d
                 WHERE d.view_oid = c.oid ORDER BY 1) AS tables
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_roles o ON o.oid = c.relowner
    WHERE c.oid IN (SELECT view_oid FROM deps) AND c.relkind IN ('v', 'm'))
SELECT v.oid::regclass::text,
       pg_catalog.jsonb_build_object(
           'kind', CASE v.relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END,
           'owner', pg_catalog.pg_get_userbyid(v.relowner)::text,
           'owner_bypasses_rls', v.rolsuper OR v.rolbypassrls,
           'readable_by', pg_catalog.to_jsonb(v.readers),
           'tables', pg_catalog.to_jsonb(v.tables),
           'fix', CASE WHEN v.relkind = 'm'
                       THEN pg_catalog.format('REVOKE SELECT ON %s FROM %s (a materialized view stores every tenant''s rows; serve it per tenant through a security_invoker view over a protected table instead)',
                                              v.oid::regclass, pg_catalog.array_to_string(v.readers, ', '))
                       ELSE pg_catalog.format('ALTER VIEW %s SET (security_invoker = true)', v.oid::regclass) END),
       (v.relkind = 'm' OR v.rolsuper OR v.rolbypassrls) IS NOT TRUE AS milder
FROM v
WHERE (v.relkind = 'v' AND NOT v.security_invoker)
   OR (v.relkind = 'm' AND pg_catalog.cardinality(v.readers) > 0)
