-- The foreign keys between registry tables, with their column names in key order. Partition
-- clones of a key (conparentid <> 0) are checked through the partitioned table.
SELECT con.conname::text, con.conrelid, con.confrelid,
       ARRAY(SELECT a.attname::text
             FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord),
       ARRAY(SELECT a.attname::text
             FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_catalog.pg_attribute a
               ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord)
FROM pg_catalog.pg_constraint con
WHERE con.contype = 'f' AND con.conparentid = 0
  AND con.conrelid IN (SELECT tbl FROM boards.protected_tables)
  AND con.confrelid IN (SELECT tbl FROM boards.protected_tables)
ORDER BY con.conrelid::regclass::text, con.conname
