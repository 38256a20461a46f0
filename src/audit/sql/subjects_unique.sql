-- Whether table $1 has a valid, total unique index on (a subset of) its tenant column $2 and
-- auth_subject: then duplicate subjects are impossible and the scan for them is skipped.
SELECT EXISTS (
    SELECT FROM pg_catalog.pg_index i
    WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid
      AND i.indpred IS NULL AND i.indexprs IS NULL
      AND NOT EXISTS (
          SELECT FROM pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
          LEFT JOIN pg_catalog.pg_attribute a
            ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE k.ord <= i.indnkeyatts
            AND a.attname IS DISTINCT FROM $2
            AND a.attname IS DISTINCT FROM 'auth_subject'))
