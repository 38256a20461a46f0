-- dangerous_grant: TRIGGER or REFERENCES (table or column) on protected tables held by roles
-- other than the owner, superusers and boards_tenant_admin: a trigger observes other
-- tenants' rows, a foreign key probes them. REFERENCES only probes (milder).
WITH g AS (
    SELECT c.oid AS rel, a.privilege_type, a.grantee, NULL::text AS col
    FROM boards.protected_tables r
    JOIN pg_catalog.pg_class c ON c.oid = r.tbl
    CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) a
    WHERE a.privilege_type IN ('TRIGGER', 'REFERENCES')
    UNION ALL
    SELECT c.oid, a.privilege_type, a.grantee, att.attname::text
    FROM boards.protected_tables r
    JOIN pg_catalog.pg_class c ON c.oid = r.tbl
    JOIN pg_catalog.pg_attribute att
      ON att.attrelid = c.oid AND att.attnum > 0 AND NOT att.attisdropped
    CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
    WHERE a.privilege_type = 'REFERENCES'),
d AS (
    SELECT g.rel, g.privilege_type, g.col,
           CASE WHEN g.grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)::text) END AS who
    FROM g JOIN pg_catalog.pg_class c ON c.oid = g.rel
    WHERE g.grantee <> c.relowner
      AND (g.grantee = 0
           OR NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = g.grantee))
      AND g.grantee IS DISTINCT FROM pg_catalog.to_regrole('boards_tenant_admin')::oid)
SELECT d.rel::regclass::text,
       pg_catalog.jsonb_build_object(
           'privilege', d.privilege_type,
           'grantees', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(d.who)) x ORDER BY 1)),
           'columns', pg_catalog.to_jsonb(ARRAY(SELECT DISTINCT x FROM pg_catalog.unnest(pg_catalog.array_agg(d.col)) x WHERE x IS NOT NULL ORDER BY 1)),
           'fix', pg_catalog.format('REVOKE %s ON %s FROM %s', d.privilege_type, d.rel::regclass,
                      (SELECT pg_catalog.string_agg(DISTINCT x, ', ') FROM pg_catalog.unnest(pg_catalog.array_agg(d.who)) x))),
       d.privilege_type <> 'TRIGGER' AS milder
FROM d
GROUP BY d.rel, d.privilege_type
