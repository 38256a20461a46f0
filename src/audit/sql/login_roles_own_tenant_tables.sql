-- login_role_owns_tenant_table: protected tables whose owner an ordinary login role is (or
-- can become): an owner can alter the table and read every tenant's rows through DDL.
SELECT c.oid::regclass::text,
       pg_catalog.jsonb_build_object(
           'owner', pg_catalog.pg_get_userbyid(c.relowner)::text,
           'login_roles', pg_catalog.to_jsonb(pg_catalog.array_agg(l.rolname::text ORDER BY l.rolname)),
           'fix', pg_catalog.format(
               'ALTER TABLE %s OWNER TO a NOLOGIN role that no login role is a member of',
               c.oid::regclass))
FROM boards.protected_tables r
JOIN pg_catalog.pg_class c ON c.oid = r.tbl
JOIN pg_catalog.pg_roles l
  ON l.rolcanlogin AND NOT l.rolsuper
     AND pg_catalog.pg_has_role(l.oid, c.relowner, 'MEMBER')
GROUP BY c.oid, c.relowner
