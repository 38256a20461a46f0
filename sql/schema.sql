-- boards_tenant schema: the Boards tables (schema "boards"), the extension's bookkeeping, the
-- admin role. Content tables are protected by boards_tenant_protect() at the end of the
-- extension script (sql/protect_builtin.sql), through the same code path as any app table.

-- The role the management functions are granted to. Roles are cluster-wide: an existing one
-- (from another database, or created by the operator beforehand) is reused as it is.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'boards_tenant_admin') THEN
        CREATE ROLE boards_tenant_admin NOLOGIN;
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS boards;
COMMENT ON SCHEMA boards IS 'Boards multi-tenant data, isolated per tenant by boards_tenant';
GRANT USAGE ON SCHEMA boards TO PUBLIC;

-- Tenants. The default tenant has a fixed id so that a dump restored into a fresh
-- CREATE EXTENSION keeps every reference to it valid.
CREATE TABLE boards.tenants (
    id          uuid        NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    slug        text        NOT NULL UNIQUE
                CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name        text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    status      text        NOT NULL DEFAULT 'active'
                CHECK (status IN ('active', 'pending_approval', 'suspended')),
    settings    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE boards.tenants IS 'One row per tenant; a tenant context sees only its own row';

INSERT INTO boards.tenants (id, slug, name)
VALUES ('00000000-0000-0000-0000-000000000000', 'default', 'Default');

-- Tenant membership: one row per (tenant, subject).
CREATE TABLE boards.users (
    tenant_id     uuid        NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    auth_provider text        NOT NULL DEFAULT 'jwt',
    auth_subject  text        NOT NULL CHECK (auth_subject <> ''),
    email         text,
    display_name  text,
    role          text        NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    metadata      jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, auth_subject)
);
-- Registration counts a subject's owned tenants across all tenants.
CREATE INDEX users_owner_subject_idx ON boards.users (auth_subject) WHERE role = 'owner';

CREATE TABLE boards.boards (
    tenant_id   uuid        NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    owner_id    uuid        NOT NULL,
    title       text        NOT NULL,
    description text,
    is_public   boolean     NOT NULL DEFAULT false,
    settings    jsonb       NOT NULL DEFAULT '{}',
    metadata    jsonb       NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES boards.users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX boards_owner_idx ON boards.boards (tenant_id, owner_id);

CREATE TABLE boards.board_members (
    tenant_id  uuid        NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL DEFAULT gen_random_uuid(),
    board_id   uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    role       text        NOT NULL DEFAULT 'viewer' CHECK (role IN ('viewer', 'editor', 'admin')),
    invited_by uuid,
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, board_id, user_id),
    FOREIGN KEY (tenant_id, board_id) REFERENCES boards.boards (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES boards.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, invited_by) REFERENCES boards.users (tenant_id, id)
);
CREATE INDEX board_members_user_idx ON boards.board_members (tenant_id, user_id);

CREATE TABLE boards.generations (
    tenant_id            uuid         NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    id                   uuid         NOT NULL DEFAULT gen_random_uuid(),
    board_id             uuid         NOT NULL,
    user_id              uuid         NOT NULL,
    generator_name       text         NOT NULL,
    artifact_type        text         NOT NULL
                         CHECK (artifact_type IN ('image', 'video', 'audio', 'text', 'lora', 'model')),
    input_params         jsonb        NOT NULL DEFAULT '{}',
    status               text         NOT NULL DEFAULT 'pending',
    storage_url          text,
    thumbnail_url        text,
    additional_files     jsonb        NOT NULL DEFAULT '[]',
    output_metadata      jsonb        NOT NULL DEFAULT '{}',
    parent_generation_id uuid,
    progress             numeric(5,2) NOT NULL DEFAULT 0,
    error_message        text,
    started_at           timestamptz,
    completed_at         timestamptz,
    created_at           timestamptz  NOT NULL DEFAULT now(),
    updated_at           timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, board_id) REFERENCES boards.boards (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES boards.users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, parent_generation_id) REFERENCES boards.generations (tenant_id, id)
);
CREATE INDEX generations_board_idx ON boards.generations (tenant_id, board_id);
CREATE INDEX generations_user_idx ON boards.generations (tenant_id, user_id);

-- Bookkeeping: readable by the admin role, never by the app role.
-- A kid is unique per issuer only (two identity providers may publish the same kid). issuer,
-- audiences and tenants bind a key (NULL: unbound); tenants holds ids, so a deleted tenant
-- leaves the key restricted to nothing rather than unrestricted. origin says who manages the
-- key: 'sync' keys belong to boards_jwt_sync_jwks, which never touches the others; retired_at
-- is when a synced key left its issuer's document (it verifies until the grace period ends).
CREATE TABLE boards.jwt_keys (
    kid        text        NOT NULL CHECK (kid <> ''),
    alg        text        NOT NULL,
    format     text        NOT NULL CHECK (format IN ('secret', 'pem', 'jwk')),
    material   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by name        NOT NULL DEFAULT current_user,
    issuer     text        CHECK (issuer <> ''),
    audiences  text[],
    tenants    uuid[],
    origin     text        NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'import', 'sync')),
    retired_at timestamptz
);
CREATE UNIQUE INDEX jwt_keys_issuer_kid ON boards.jwt_keys ((coalesce(issuer, '')), kid);
COMMENT ON TABLE boards.jwt_keys IS 'JWT verification keys; HMAC secrets are stored here, so only admins may read it';

CREATE TABLE boards.protected_tables (
    tbl           regclass    NOT NULL PRIMARY KEY,
    tenant_column name        NOT NULL,
    policy_name   name        NOT NULL,
    builtin       boolean     NOT NULL DEFAULT false,
    protected_at  timestamptz NOT NULL DEFAULT now(),
    protected_by  name        NOT NULL DEFAULT current_user
);
COMMENT ON TABLE boards.protected_tables IS 'Registry of tables protected by boards_tenant_protect()';

REVOKE ALL ON boards.jwt_keys, boards.protected_tables FROM PUBLIC;
GRANT SELECT ON boards.jwt_keys, boards.protected_tables TO boards_tenant_admin;

-- The app role reaches content through row-level security, never around it: the grants go to
-- PUBLIC because a role without a tenant context sees and writes nothing anyway.
GRANT SELECT ON boards.tenants TO PUBLIC;
GRANT SELECT, UPDATE (display_name, email, metadata, updated_at) ON boards.users TO PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON boards.boards, boards.board_members, boards.generations TO PUBLIC;

-- A tenant context sees its own tenant row only; managing tenants goes through the functions.
ALTER TABLE boards.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenants_own_row ON boards.tenants FOR SELECT
    USING (id = (SELECT @extschema@.boards_current_tenant()));

-- Keep tenant data in pg_dump output (extension tables are skipped unless registered here).
SELECT pg_catalog.pg_extension_config_dump('boards.tenants', $$WHERE slug <> 'default'$$);
SELECT pg_catalog.pg_extension_config_dump('boards.users', '');
SELECT pg_catalog.pg_extension_config_dump('boards.boards', '');
SELECT pg_catalog.pg_extension_config_dump('boards.board_members', '');
SELECT pg_catalog.pg_extension_config_dump('boards.generations', '');
SELECT pg_catalog.pg_extension_config_dump('boards.jwt_keys', '');
SELECT pg_catalog.pg_extension_config_dump('boards.protected_tables', 'WHERE NOT builtin');

-- Key material and the registry stay the admin role's whatever is granted on them (a careless
-- GRANT ... ON ALL TABLES IN SCHEMA boards): forced row-level security admits no row to a role
-- that is not the admin role or a member of it. The extension's own functions run as its
-- owner, a superuser, which row-level security does not bind. The DDL guard also revokes such
-- grants (src/grants.rs).
ALTER TABLE boards.jwt_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.jwt_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.jwt_keys
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
ALTER TABLE boards.protected_tables ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.protected_tables FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.protected_tables
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
