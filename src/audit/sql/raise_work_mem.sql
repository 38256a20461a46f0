-- Raises work_mem to $1 for the rest of the transaction, never lowers it: the audit's hash
-- joins and aggregates run over whole tables.
SELECT pg_catalog.set_config('work_mem', $1, true)
WHERE pg_catalog.pg_size_bytes(pg_catalog.current_setting('work_mem'))
      < pg_catalog.pg_size_bytes($1)
