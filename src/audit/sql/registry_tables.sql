-- The registry's tables that still exist, with what the data checks generate SQL from: the
-- name, kind, tenant column, the primary key without the tenant column (the row id in
-- samples) and every column.
SELECT c.oid, c.oid::regclass::text,
       pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname),
       c.relkind::text, n.nspname::text, c.relname::text, r.builtin,
       r.tenant_column::text,
       ARRAY(SELECT a.attname::text
             FROM pg_catalog.pg_index i
             CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE i.indrelid = c.oid AND i.indisprimary
               AND a.attname <> r.tenant_column
             ORDER BY k.ord),
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
FROM boards.protected_tables r
JOIN pg_catalog.pg_class c ON c.oid = r.tbl
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
ORDER BY 2
