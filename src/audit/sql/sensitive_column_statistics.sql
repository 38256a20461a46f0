-- sensitive_column_statistics: columns registered as sensitive (boards.sensitive_columns)
-- that have planner statistics again or can gather them (a statistics target, gathered
-- rows, extended statistics): EXPLAIN estimates reveal them to every tenant.
SELECT s.tbl::regclass::text || '.' || pg_catalog.quote_ident(s.column_name::text),
       pg_catalog.jsonb_build_object(
           'statistics_target', a.attstattarget,
           'gathered', EXISTS (SELECT FROM pg_catalog.pg_statistic st
                               WHERE st.starelid = s.tbl AND st.staattnum = a.attnum),
           'extended_statistics', ARRAY(
               SELECT x.stxname::text FROM pg_catalog.pg_statistic_ext x
               WHERE x.stxrelid = s.tbl AND a.attnum = ANY (x.stxkeys::int2[])),
           'fix', pg_catalog.format(
               'SELECT boards_tenant_protect(%L, sensitive_columns => ARRAY[%L])',
               s.tbl::regclass::text, s.column_name))
FROM boards.sensitive_columns s
JOIN pg_catalog.pg_attribute a
  ON a.attrelid = s.tbl AND a.attname = s.column_name AND a.attnum > 0
     AND NOT a.attisdropped
WHERE a.attstattarget <> 0
   OR EXISTS (SELECT FROM pg_catalog.pg_statistic st
              WHERE st.starelid = s.tbl AND st.staattnum = a.attnum)
   OR EXISTS (SELECT FROM pg_catalog.pg_statistic_ext x
              WHERE x.stxrelid = s.tbl AND a.attnum = ANY (x.stxkeys::int2[]))
