-- A normalised snapshot of everything the extension owns or shapes, one line per fact, in a
-- stable order: what an upgraded database must share with a fresh install (and a restored
-- dump with its original). Object identities are names, never oids; privileges are sorted
-- (aclitem arrays keep grant order, which an upgrade may not reproduce).
--
-- Covered: the extension row and its config-dump registrations; every member object
-- (functions with their full definition, volatility, SECURITY DEFINER, SET clauses, ACL and
-- initial privileges; types; schemas; event triggers; relations); for every member relation
-- and every table in the protected-table registry: columns (order, type, nullability,
-- default, ACL, statistics target), constraints, indexes, policies, triggers, RLS flags,
-- reloptions and ACL.
WITH ext AS (
    SELECT oid, extversion, extrelocatable, extconfig, extcondition
    FROM pg_catalog.pg_extension WHERE extname = 'boards_tenant'
), members AS (
    SELECT d.classid, d.objid
    FROM pg_catalog.pg_depend d, ext
    WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
    SELECT objid AS oid FROM members WHERE classid = 'pg_catalog.pg_class'::pg_catalog.regclass
    UNION
    SELECT tbl::pg_catalog.oid FROM boards.protected_tables
), snapshot(kind, name, fact) AS (
    SELECT 'extension', 'boards_tenant',
           pg_catalog.format('version=%s relocatable=%s', extversion, extrelocatable)
    FROM ext
    UNION ALL
    SELECT 'config_dump', c.relid::pg_catalog.regclass::text, coalesce(c.cond, '')
    FROM ext, LATERAL ROWS FROM (pg_catalog.unnest(ext.extconfig), pg_catalog.unnest(ext.extcondition))
         AS c(relid, cond)
    UNION ALL
    SELECT 'function', p.oid::pg_catalog.regprocedure::text,
           pg_catalog.format('acl=%s%s init=%s def=%s',
               CASE WHEN p.proacl IS NULL THEN 'default:' ELSE '' END,
               (SELECT pg_catalog.string_agg(x, ',' ORDER BY x) FROM (
                   SELECT pg_catalog.format('%s:%s:%s', coalesce(r.rolname, 'PUBLIC'),
                                            a.privilege_type, a.is_grantable) AS x
                   FROM pg_catalog.aclexplode(coalesce(p.proacl,
                            pg_catalog.acldefault('f', p.proowner))) a
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee) s),
               (SELECT pg_catalog.string_agg(x, ',' ORDER BY x) FROM (
                   SELECT pg_catalog.format('%s:%s', coalesce(r.rolname, 'PUBLIC'),
                                            a.privilege_type) AS x
                   FROM pg_catalog.pg_init_privs i,
                        LATERAL pg_catalog.aclexplode(i.initprivs) a
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
                   WHERE i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                     AND i.objoid = p.oid AND i.objsubid = 0) s),
               pg_catalog.pg_get_functiondef(p.oid))
    FROM pg_catalog.pg_proc p
    JOIN members m ON m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND m.objid = p.oid
    WHERE p.prokind IN ('f', 'p')
    UNION ALL
    SELECT 'type', t.oid::pg_catalog.regtype::text,
           pg_catalog.format('type=%s attrs=%s', t.typtype,
               (SELECT pg_catalog.string_agg(
                           pg_catalog.format('%s %s', a.attname,
                                             pg_catalog.format_type(a.atttypid, a.atttypmod)),
                           ', ' ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))
    FROM pg_catalog.pg_type t
    JOIN members m ON m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass AND m.objid = t.oid
    UNION ALL
    SELECT 'schema', n.nspname::text,
           pg_catalog.format('acl=%s', (
               SELECT pg_catalog.string_agg(x, ',' ORDER BY x) FROM (
                   SELECT pg_catalog.format('%s:%s', coalesce(r.rolname, 'PUBLIC'),
                                            a.privilege_type) AS x
                   FROM pg_catalog.aclexplode(coalesce(n.nspacl,
                            pg_catalog.acldefault('n', n.nspowner))) a
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee) s))
    FROM pg_catalog.pg_namespace n
    JOIN members m ON m.classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
                  AND m.objid = n.oid
    UNION ALL
    SELECT 'event_trigger', e.evtname::text,
           pg_catalog.format('event=%s tags=%s function=%s enabled=%s', e.evtevent,
                             pg_catalog.array_to_string(e.evttags, ','),
                             e.evtfoid::pg_catalog.regprocedure, e.evtenabled)
    FROM pg_catalog.pg_event_trigger e
    JOIN members m ON m.classid = 'pg_catalog.pg_event_trigger'::pg_catalog.regclass
                  AND m.objid = e.oid
    UNION ALL
    SELECT 'relation', c.oid::pg_catalog.regclass::text,
           pg_catalog.format('kind=%s rls=%s forced=%s options=%s member=%s acl=%s', c.relkind,
               c.relrowsecurity, c.relforcerowsecurity,
               pg_catalog.array_to_string(c.reloptions, ','),
               EXISTS (SELECT FROM members m
                       WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
                         AND m.objid = c.oid),
               (SELECT pg_catalog.string_agg(x, ',' ORDER BY x) FROM (
                   SELECT pg_catalog.format('%s:%s', coalesce(r.rolname, 'PUBLIC'),
                                            a.privilege_type) AS x
                   FROM pg_catalog.aclexplode(coalesce(c.relacl,
                            pg_catalog.acldefault('r', c.relowner))) a
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee) s))
    FROM pg_catalog.pg_class c JOIN rels USING (oid)
    UNION ALL
    SELECT 'column', pg_catalog.format('%s.%s', a.attrelid::pg_catalog.regclass, a.attname),
           pg_catalog.format('position=%s type=%s not_null=%s default=%s statistics=%s acl=%s',
               pg_catalog.row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
               pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attstattarget,
               (SELECT pg_catalog.string_agg(x, ',' ORDER BY x) FROM (
                   SELECT pg_catalog.format('%s:%s', coalesce(r.rolname, 'PUBLIC'),
                                            ae.privilege_type) AS x
                   FROM pg_catalog.aclexplode(a.attacl) ae
                   LEFT JOIN pg_catalog.pg_roles r ON r.oid = ae.grantee) s))
    FROM pg_catalog.pg_attribute a
    JOIN rels ON rels.oid = a.attrelid
    JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint', pg_catalog.format('%s.%s', co.conrelid::pg_catalog.regclass, co.conname),
           pg_catalog.pg_get_constraintdef(co.oid)
    FROM pg_catalog.pg_constraint co JOIN rels ON rels.oid = co.conrelid
    UNION ALL
    SELECT 'index', pg_catalog.format('%s.%s', i.indrelid::pg_catalog.regclass,
                                      i.indexrelid::pg_catalog.regclass),
           pg_catalog.pg_get_indexdef(i.indexrelid)
    FROM pg_catalog.pg_index i JOIN rels ON rels.oid = i.indrelid
    UNION ALL
    SELECT 'policy', pg_catalog.format('%s.%s', p.polrelid::pg_catalog.regclass, p.polname),
           pg_catalog.format('cmd=%s permissive=%s roles=%s using=%s check=%s', p.polcmd,
               p.polpermissive,
               (SELECT pg_catalog.string_agg(coalesce(r.rolname, 'PUBLIC'), ','
                                             ORDER BY 1)
                FROM pg_catalog.unnest(p.polroles) AS pr(oid)
                LEFT JOIN pg_catalog.pg_roles r ON r.oid = pr.oid),
               pg_catalog.pg_get_expr(p.polqual, p.polrelid),
               pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_catalog.pg_policy p JOIN rels ON rels.oid = p.polrelid
    UNION ALL
    SELECT 'trigger', pg_catalog.format('%s.%s', t.tgrelid::pg_catalog.regclass, t.tgname),
           pg_catalog.format('%s enabled=%s', pg_catalog.pg_get_triggerdef(t.oid), t.tgenabled)
    FROM pg_catalog.pg_trigger t JOIN rels ON rels.oid = t.tgrelid
    WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 'comment', pg_catalog.format('%s %s', d.classoid::pg_catalog.regclass,
               pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid)),
           d.description
    FROM pg_catalog.pg_description d
    JOIN members m ON m.classid = d.classoid AND m.objid = d.objoid
)
SELECT kind, name, fact FROM snapshot ORDER BY kind, name, fact;
