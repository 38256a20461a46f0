-- Membership bookkeeping (src/blocks.rs, src/invitations.rs): blocks that make a removal stick
-- against just-in-time membership, platform-wide blocks of a subject, and invitations. Only the
-- extension's functions touch these tables: the app role has no privilege on them, and forced
-- row-level security admits no row to anyone but the admin role whatever is granted.

-- A subject removed from a tenant: just-in-time membership refuses them there until an admin
-- re-adds them (boards_tenant_add_member) or they accept an invitation.
CREATE TABLE boards.member_blocks (
    tenant_id  uuid        NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    subject    text        NOT NULL CHECK (subject <> ''),
    reason     text,
    blocked_by text,
    blocked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, subject)
);
COMMENT ON TABLE boards.member_blocks IS 'Subjects removed from a tenant; just-in-time membership refuses them there';

-- A subject blocked platform-wide: every context for it is refused, sessions already set included.
CREATE TABLE boards.subject_blocks (
    subject    text        NOT NULL PRIMARY KEY CHECK (subject <> ''),
    reason     text,
    blocked_by text,
    blocked_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE boards.subject_blocks IS 'Subjects refused every tenant context (boards_subject_block)';

-- Invitations: only the SHA-256 of the one-time secret is stored.
CREATE TABLE boards.invitations (
    tenant_id     uuid        NOT NULL REFERENCES boards.tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL DEFAULT gen_random_uuid(),
    email         text        NOT NULL CHECK (email <> '' AND email = lower(btrim(email))),
    role          text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    secret_sha256 bytea       NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    accepted_at   timestamptz,
    accepted_by   text,
    PRIMARY KEY (tenant_id, id)
);
COMMENT ON TABLE boards.invitations IS 'Invitations to a tenant; the secret itself is never stored';
CREATE INDEX invitations_pending_owner_idx ON boards.invitations (tenant_id)
    WHERE role = 'owner' AND revoked_at IS NULL AND accepted_at IS NULL;

REVOKE ALL ON boards.member_blocks, boards.subject_blocks, boards.invitations FROM PUBLIC;
GRANT SELECT ON boards.member_blocks, boards.subject_blocks, boards.invitations TO boards_tenant_admin;
ALTER TABLE boards.member_blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.member_blocks FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.member_blocks
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
ALTER TABLE boards.subject_blocks ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.subject_blocks FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.subject_blocks
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
ALTER TABLE boards.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.invitations
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
SELECT pg_catalog.pg_extension_config_dump('boards.member_blocks', '');
SELECT pg_catalog.pg_extension_config_dump('boards.subject_blocks', '');
SELECT pg_catalog.pg_extension_config_dump('boards.invitations', '');

-- Is the caller's own verified subject blocked? For the context check, which runs as the
-- caller (src/blocks.rs); NULL (read as blocked) for any other subject, so it reveals nothing
-- about others.
CREATE FUNCTION boards.caller_subject_blocked(subject text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN $1 IS DISTINCT FROM @extschema@.boards_current_subject() THEN NULL
                ELSE EXISTS (SELECT FROM boards.subject_blocks b WHERE b.subject = $1) END
$$;
