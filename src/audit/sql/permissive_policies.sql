-- permissive_policy_or: the extra permissive policies policy::states() named (relations $1,
-- policy names $2, pairwise). PostgreSQL ORs permissive policies with the tenant policy, so
-- each widens what a tenant sees; one whose expression is just `true` opens the table to
-- every tenant, any other only widens it (milder).
SELECT p.polrelid::regclass::text,
       pg_catalog.jsonb_build_object(
           'policy', p.polname::text,
           'command', CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT'
                          WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           'roles', pg_catalog.to_jsonb(ARRAY(
               SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.pg_get_userbyid(r)::text END
               FROM pg_catalog.unnest(p.polroles) r ORDER BY 1)),
           'using', pg_catalog.pg_get_expr(p.polqual, p.polrelid),
           'with_check', pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid),
           'fix', pg_catalog.format('DROP POLICY %I ON %s (or recreate it AS RESTRICTIVE)',
                                    p.polname, p.polrelid::regclass)),
       (pg_catalog.pg_get_expr(p.polqual, p.polrelid) = 'true'
        OR (p.polqual IS NULL
            AND pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) = 'true'))
           IS NOT TRUE AS milder
FROM pg_catalog.pg_policy p
JOIN ROWS FROM (pg_catalog.unnest($1::oid[]), pg_catalog.unnest($2::text[])) f(rel, name)
  ON f.rel = p.polrelid AND f.name = p.polname::text
WHERE p.polpermissive
