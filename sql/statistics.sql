-- Columns whose planner statistics boards_tenant_protect(..., sensitive_columns => ...) dropped:
-- the audit reports one that has statistics again (check sensitive_column_statistics).
CREATE TABLE boards.sensitive_columns (
    tbl         regclass    NOT NULL,
    column_name name        NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tbl, column_name)
);
COMMENT ON TABLE boards.sensitive_columns IS 'Columns of protected tables kept without planner statistics (boards_tenant_protect sensitive_columns)';
REVOKE ALL ON boards.sensitive_columns FROM PUBLIC;
GRANT SELECT ON boards.sensitive_columns TO boards_tenant_admin;
SELECT pg_catalog.pg_extension_config_dump('boards.sensitive_columns', '');
