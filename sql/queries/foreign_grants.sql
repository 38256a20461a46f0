-- Privileges on the extension's own tables beyond what the extension granted: held by a role
-- other than the table's owner and the admin role boards_tenant_admin, and not among the
-- table's (or column's) initial privileges, which PostgreSQL records in pg_init_privs while
-- the extension script runs. A careless `GRANT ... ON ALL TABLES IN SCHEMA boards` lands here:
-- INSERT on boards.jwt_keys would let the grantee install a signing key of its own, TRUNCATE
-- on boards.tenants would wipe every tenant, TRIGGER would run its code on every key change.
-- Columns: table (regclass as text), grantee (quoted, or PUBLIC), privilege, column (or NULL).
WITH tables AS (
    SELECT c.oid, c.relacl, c.relowner
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'boards_tenant'
    JOIN pg_catalog.pg_class c ON c.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
      AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.deptype = 'e' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
), held AS (
    SELECT t.oid, t.relowner, 0 AS attnum, NULL::name AS attname, a.grantee, a.privilege_type
    FROM tables t, pg_catalog.aclexplode(t.relacl) a
    UNION ALL
    SELECT t.oid, t.relowner, att.attnum, att.attname, a.grantee, a.privilege_type
    FROM tables t
    JOIN pg_catalog.pg_attribute att ON att.attrelid = t.oid AND att.attnum > 0
                                    AND NOT att.attisdropped AND att.attacl IS NOT NULL,
         pg_catalog.aclexplode(att.attacl) a
)
SELECT h.oid::pg_catalog.regclass::text,
       CASE WHEN h.grantee = 0 THEN 'PUBLIC'
            ELSE pg_catalog.quote_ident(r.rolname::text) END,
       h.privilege_type,
       pg_catalog.quote_ident(h.attname::text)
FROM held h
LEFT JOIN pg_catalog.pg_roles r ON r.oid = h.grantee
WHERE h.grantee <> h.relowner
  AND r.rolname IS DISTINCT FROM 'boards_tenant_admin'
  AND NOT EXISTS (
      SELECT FROM pg_catalog.pg_init_privs i, pg_catalog.aclexplode(i.initprivs) ia
      WHERE i.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND i.objoid = h.oid AND i.objsubid = h.attnum
        AND ia.grantee = h.grantee AND ia.privilege_type = h.privilege_type)
ORDER BY 1, 2, 3, 4
