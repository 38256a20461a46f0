-- global_unique_key: unique indexes of protected tables without the tenant column among
-- their key columns: a key collision reveals whether another tenant has a value.
SELECT c.oid::regclass::text,
       pg_catalog.jsonb_build_object(
           'index', i.indexrelid::regclass::text,
           'constraint', con.conname::text,
           'definition', pg_catalog.pg_get_indexdef(i.indexrelid),
           'tenant_column', r.tenant_column::text,
           'fix', pg_catalog.format(
               'Recreate %s with %I as its first key column (a unique key without it reveals whether another tenant has a value)',
               coalesce('constraint ' || pg_catalog.quote_ident(con.conname), 'index ' || i.indexrelid::regclass::text),
               r.tenant_column))
FROM boards.protected_tables r
JOIN pg_catalog.pg_class c ON c.oid = r.tbl
JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisunique
LEFT JOIN pg_catalog.pg_constraint con
  ON con.conindid = i.indexrelid AND con.conrelid = c.oid AND con.contype IN ('p', 'u')
WHERE NOT EXISTS (
    SELECT FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
    JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
    WHERE k.ord <= i.indnkeyatts AND a.attname = r.tenant_column)
