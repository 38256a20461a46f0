-- setting_privilege_granted: SET or ALTER SYSTEM on boards.* settings granted to roles that
-- are not superusers (pg_parameter_acl, PostgreSQL 15 on): they can weaken isolation.
WITH g AS (
    SELECT pa.parname::text AS parname, a.privilege_type,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)::text) END AS who
    FROM pg_catalog.pg_parameter_acl pa
    CROSS JOIN LATERAL pg_catalog.aclexplode(pa.paracl) a
    WHERE pa.parname LIKE 'boards.%'
      AND (a.grantee = 0
           OR NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.grantee)))
SELECT g.parname,
       pg_catalog.jsonb_build_object(
           'grantees', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(g.who)) x ORDER BY 1)),
           'privileges', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(g.privilege_type)) x ORDER BY 1)),
           'fix', pg_catalog.format('REVOKE ALL ON PARAMETER %s FROM %s', g.parname,
                      (SELECT pg_catalog.string_agg(DISTINCT x, ', ') FROM pg_catalog.unnest(pg_catalog.array_agg(g.who)) x)))
FROM g
GROUP BY g.parname
