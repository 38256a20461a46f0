-- unprotected_tenant_table: ordinary and partitioned tables with a tenant_id column that are
-- not in the registry or have row level security off: nothing isolates their rows. The
-- extension's own bookkeeping tables are exempt. $1 is the extension's schema, quoted.
SELECT c.oid::regclass::text,
       pg_catalog.jsonb_build_object(
           'registered', r.tbl IS NOT NULL,
           'rls_enabled', c.relrowsecurity,
           'rls_forced', c.relforcerowsecurity,
           'partition_of', (SELECT i.inhparent::regclass::text
                            FROM pg_catalog.pg_inherits i
                            WHERE i.inhrelid = c.oid LIMIT 1),
           'fix', pg_catalog.format('SELECT %s.boards_tenant_protect(%L)',
                                    $1::text, c.oid::regclass::text))
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_attribute a
  ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0
     AND NOT a.attisdropped
LEFT JOIN boards.protected_tables r ON r.tbl = c.oid
WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_toast'
  AND (r.tbl IS NULL OR NOT c.relrowsecurity)
  -- the extension's bookkeeping tables
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
      WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
        AND d.deptype = 'e' AND e.extname = 'boards_tenant' AND r.tbl IS NULL)
