-- boards_tenant 0.1.0 -> 0.2.0. OPEN: every change to the SQL surface made while 0.2.0 is the
-- next release goes here, in the order the changes land (README, "Upgrading"). The upgrade
-- test compares a database upgraded through this script with a fresh 0.2.0 install.
\echo Use "ALTER EXTENSION boards_tenant UPDATE" to load this file. \quit

-- Key material and the registry stay the admin role's whatever is granted on them
-- (sql/schema.sql, src/grants.rs).
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

-- Freed slugs are reserved (sql/reserved_slugs.sql, the same text).
CREATE TABLE boards.reserved_slugs (
    slug        text        NOT NULL PRIMARY KEY,
    tenant_id   uuid,
    reason      text        NOT NULL CHECK (reason IN ('renamed', 'deleted')),
    reserved_at timestamptz NOT NULL DEFAULT now(),
    reserved_by text
);
COMMENT ON TABLE boards.reserved_slugs IS 'Slugs freed by rename or deletion; no new tenant may take one until boards_tenant_release_slug()';
REVOKE ALL ON boards.reserved_slugs FROM PUBLIC;
GRANT SELECT ON boards.reserved_slugs TO boards_tenant_admin;
SELECT pg_catalog.pg_extension_config_dump('boards.reserved_slugs', '');

CREATE FUNCTION @extschema@.boards_tenant_release_slug(slug text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH released AS (DELETE FROM boards.reserved_slugs r WHERE r.slug = $1 RETURNING 1)
    SELECT EXISTS (SELECT FROM released)
$$;
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_release_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_release_slug(text) TO boards_tenant_admin;

-- Sensitive columns lose their planner statistics (sql/statistics.sql, the same text).
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

-- boards_tenant_protect gains sensitive_columns: a new signature, so drop and create it with
-- the grants and settings of a fresh install (sql/finalize.sql).
DROP FUNCTION @extschema@.boards_tenant_protect(regclass, name);
CREATE  FUNCTION @extschema@."boards_tenant_protect"(
	"tbl" regclass, /* RegClass */
	"tenant_column" name DEFAULT 'tenant_id', /* SqlName */
	"sensitive_columns" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_tenant_protect_with_statistics_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[]) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_tenant_protect(regclass, name, text[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- The sealed context, which another backend of the cluster verifies for itself (src/seal.rs).
CREATE  FUNCTION @extschema@."boards_context_seal"() RETURNS TEXT /* SqlResult < String > */
STRICT VOLATILE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_context_seal_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_context_seal() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_context_seal() TO PUBLIC;

-- Platform operators (the HTTP gateway's setup endpoints): sql/operators.sql as a fresh install
-- creates it, then the privileges sql/finalize.sql gives it.
-- Platform operators: the subjects (verified tokens) that may manage tenants through the
-- app role, e.g. over the HTTP gateway's /api/setup endpoints. The tenant management
-- functions stay granted to boards_tenant_admin only; the boards_operator_tenant_* functions
-- below are callable by anyone, run as the extension owner, and first check that the
-- verified subject of the caller's context (boards_authenticate or boards_set_tenant_from_jwt)
-- is an operator that an admin added with boards_operator_add. An operator row may be bound
-- to an issuer: then the token's "iss" must equal it.
CREATE TABLE boards.operators (
    subject  text        NOT NULL PRIMARY KEY CHECK (subject <> ''),
    issuer   text        CHECK (issuer <> ''),
    note     text,
    added_by name        NOT NULL DEFAULT current_user,
    added_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE boards.operators IS 'Subjects allowed to manage tenants through the boards_operator_tenant_* functions';
REVOKE ALL ON boards.operators FROM PUBLIC;
GRANT SELECT ON boards.operators TO boards_tenant_admin;
ALTER TABLE boards.operators ENABLE ROW LEVEL SECURITY;
ALTER TABLE boards.operators FORCE ROW LEVEL SECURITY;
CREATE POLICY admin_role_only ON boards.operators
    USING (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role('boards_tenant_admin', 'USAGE'));
SELECT pg_catalog.pg_extension_config_dump('boards.operators', '');

-- Admin role: manage the operators.
CREATE FUNCTION @extschema@.boards_operator_add(subject text, issuer text DEFAULT NULL, note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF $1 IS NULL OR $1 = '' THEN
        RAISE EXCEPTION 'subject must not be empty' USING ERRCODE = '22023';
    END IF;
    INSERT INTO boards.operators AS o (subject, issuer, note, added_by)
    VALUES ($1, NULLIF($2, ''), $3, session_user)
    ON CONFLICT ON CONSTRAINT operators_pkey
    DO UPDATE SET issuer = EXCLUDED.issuer, note = EXCLUDED.note,
                  added_by = EXCLUDED.added_by, added_at = now();
END
$$;

CREATE FUNCTION @extschema@.boards_operator_remove(subject text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM boards.operators o WHERE o.subject = $1;
    RETURN FOUND;
END
$$;

CREATE FUNCTION @extschema@.boards_operators() RETURNS SETOF boards.operators
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.operators ORDER BY subject
$$;

-- Anyone: is the caller's verified subject an operator?
CREATE FUNCTION @extschema@.boards_is_operator() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who text := @extschema@.boards_current_subject();
BEGIN
    RETURN who IS NOT NULL AND EXISTS (
        SELECT FROM boards.operators o
        WHERE o.subject = who
          AND (o.issuer IS NULL
               OR o.issuer = (@extschema@.boards_current_claims() OPERATOR(pg_catalog.->>) 'iss')));
END
$$;

-- The check every boards_operator_tenant_* function runs first: 28000 without a verified
-- subject, 42501 for a subject that is not an operator.
CREATE FUNCTION boards.require_operator() RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF @extschema@.boards_current_subject() IS NULL THEN
        RAISE EXCEPTION 'Authentication required'
            USING ERRCODE = '28000',
                  DETAIL = 'Tenant management requires a verified token of a platform operator';
    END IF;
    IF NOT @extschema@.boards_is_operator() THEN
        RAISE EXCEPTION 'Access denied'
            USING ERRCODE = '42501',
                  DETAIL = 'Tenant management is for platform operators only';
    END IF;
END
$$;

-- Anyone (checked): tenant management as an operator.
CREATE FUNCTION @extschema@.boards_operator_tenant_create(
    name text, slug text, settings jsonb DEFAULT '{}', include_sample_data boolean DEFAULT false
) RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_create($1, $2, $3, $4);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_list() RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_list();
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_get(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_get($1);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_update(
    slug text, name text DEFAULT NULL, new_slug text DEFAULT NULL, settings jsonb DEFAULT NULL
) RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_update($1, $2, $3, $4);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_approve(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_approve($1);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_suspend(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_suspend($1);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_delete(slug text)
RETURNS TABLE (table_name text, rows_deleted bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_delete($1);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_members(slug text)
RETURNS TABLE (user_id uuid, subject text, email text, display_name text, role text,
               created_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN QUERY SELECT * FROM @extschema@.boards_tenant_members($1);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_add_member(
    slug text, subject text, role text DEFAULT 'member', email text DEFAULT NULL,
    display_name text DEFAULT NULL
) RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    RETURN @extschema@.boards_tenant_add_member($1, $2, $3, $4, $5);
END
$$;

CREATE FUNCTION @extschema@.boards_operator_tenant_remove_member(slug text, subject text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.require_operator();
    PERFORM @extschema@.boards_tenant_remove_member($1, $2);
END
$$;

REVOKE ALL ON FUNCTION @extschema@.boards_operator_add(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_remove(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operators() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_is_operator() FROM PUBLIC;
REVOKE ALL ON FUNCTION boards.require_operator() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_create(text, text, jsonb, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_list() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_get(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_update(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_approve(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_suspend(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_delete(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_members(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_add_member(text, text, text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.boards_operator_tenant_remove_member(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_is_operator(),
    @extschema@.boards_operator_tenant_create(text, text, jsonb, boolean),
    @extschema@.boards_operator_tenant_list(),
    @extschema@.boards_operator_tenant_get(text),
    @extschema@.boards_operator_tenant_update(text, text, text, jsonb),
    @extschema@.boards_operator_tenant_approve(text),
    @extschema@.boards_operator_tenant_suspend(text),
    @extschema@.boards_operator_tenant_delete(text),
    @extschema@.boards_operator_tenant_members(text),
    @extschema@.boards_operator_tenant_add_member(text, text, text, text, text),
    @extschema@.boards_operator_tenant_remove_member(text, text)
TO PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_operator_add(text, text, text),
    @extschema@.boards_operator_remove(text),
    @extschema@.boards_operators()
TO boards_tenant_admin;

-- The context setters return one boards.tenant_context row instead of a set of OUT-parameter
-- rows (src/auth.rs: PostgreSQL rebuilt the OUT parameters' row descriptor from pg_proc twice
-- per call). Same columns, so SELECT ... FROM boards_set_tenant_from_jwt(...) reads the same.
CREATE TYPE boards.tenant_context AS (
    tenant_id   uuid,
    tenant_slug text,
    user_id     uuid,
    subject     text,
    source      text
);
COMMENT ON TYPE boards.tenant_context IS 'The context boards_set_tenant_from_jwt and boards_set_tenant installed';
DROP FUNCTION @extschema@.boards_set_tenant_from_jwt(text, text, boolean);
CREATE  FUNCTION @extschema@."boards_set_tenant_from_jwt"(
	"token" TEXT, /* Option < String > */
	"x_tenant" TEXT DEFAULT NULL, /* Option < String > */
	"is_local" bool DEFAULT false /* bool */
) RETURNS boards.tenant_context
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_set_tenant_from_jwt_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_set_tenant_from_jwt(text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_set_tenant_from_jwt(text, text, boolean) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_set_tenant_from_jwt(text, text, boolean) SECURITY DEFINER;
DROP FUNCTION @extschema@.boards_set_tenant(text, boolean);
CREATE  FUNCTION @extschema@."boards_set_tenant"(
	"slug" TEXT, /* Option < String > */
	"is_local" bool DEFAULT false /* bool */
) RETURNS boards.tenant_context
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_set_tenant_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_set_tenant(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_set_tenant(text, boolean) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_set_tenant(text, boolean)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Identity providers: issuer-bound, audience-bound and tenant-scoped keys, JWKS sync
-- (sql/schema.sql, src/keys.rs, src/jwks_sync.rs). A kid is unique per issuer only; the
-- existing keys stay unbound, managed by hand.
ALTER TABLE boards.jwt_keys DROP CONSTRAINT jwt_keys_pkey;
ALTER TABLE boards.jwt_keys
    ADD COLUMN issuer     text        CHECK (issuer <> ''),
    ADD COLUMN audiences  text[],
    ADD COLUMN tenants    uuid[],
    ADD COLUMN origin     text        NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'import', 'sync')),
    ADD COLUMN retired_at timestamptz;
CREATE UNIQUE INDEX jwt_keys_issuer_kid ON boards.jwt_keys ((coalesce(issuer, '')), kid);

-- New signatures: drop and create with the grants and settings of a fresh install
-- (sql/finalize.sql).
DROP FUNCTION @extschema@.boards_jwt_add_key(text, text, text);
DROP FUNCTION @extschema@.boards_jwt_import_jwks(jsonb);
DROP FUNCTION @extschema@.boards_jwt_remove_key(text);
DROP FUNCTION @extschema@.boards_jwt_keys();
CREATE  FUNCTION @extschema@."boards_jwt_add_key"(
	"kid" TEXT, /* String */
	"alg" TEXT, /* String */
	"key" TEXT, /* String */
	"issuer" TEXT DEFAULT NULL, /* Option < String > */
	"audiences" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenants" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_add_key_bound_wrapper';
CREATE  FUNCTION @extschema@."boards_jwt_import_jwks"(
	"jwks" jsonb, /* JsonB */
	"issuer" TEXT DEFAULT NULL, /* Option < String > */
	"audiences" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"tenants" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS INT /* SqlResult < i32 > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_import_jwks_bound_wrapper';
CREATE  FUNCTION @extschema@."boards_jwt_keys"() RETURNS TABLE (
	"kid" TEXT,  /* String */
	"alg" TEXT,  /* String */
	"format" TEXT,  /* String */
	"fingerprint" TEXT,  /* Option < String > */
	"created_at" timestamp with time zone,  /* Option < pgrx :: datum :: TimestampWithTimeZone > */
	"created_by" TEXT,  /* Option < String > */
	"issuer" TEXT,  /* Option < String > */
	"audiences" TEXT[],  /* :: std :: option :: Option < Vec < String > > */
	"tenants" TEXT[],  /* :: std :: option :: Option < Vec < String > > */
	"tenant_ids" uuid[],  /* :: std :: option :: Option < Vec < pgrx :: Uuid > > */
	"origin" TEXT,  /* String */
	"retired_at" timestamp with time zone  /* Option < pgrx :: datum :: TimestampWithTimeZone > */
)
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_keys_with_bindings_wrapper';
CREATE  FUNCTION @extschema@."boards_jwt_remove_key"(
	"kid" TEXT, /* String */
	"issuer" TEXT DEFAULT NULL /* Option < String > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_remove_key_bound_wrapper';
CREATE  FUNCTION @extschema@."boards_jwt_restrict_key"(
	"kid" TEXT, /* String */
	"tenants" TEXT[], /* :: std :: option :: Option < Vec < Option < String > > > */
	"issuer" TEXT DEFAULT NULL /* Option < String > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_restrict_key_wrapper';
CREATE  FUNCTION @extschema@."boards_jwt_sync_jwks"(
	"jwks" jsonb, /* JsonB */
	"issuer" TEXT, /* String */
	"audiences" TEXT[] DEFAULT NULL, /* :: std :: option :: Option < Vec < Option < String > > > */
	"grace" interval DEFAULT '1 day', /* pgrx :: datum :: Interval */
	"tenants" TEXT[] DEFAULT NULL /* :: std :: option :: Option < Vec < Option < String > > > */
) RETURNS TABLE (
	"kid" TEXT,  /* String */
	"action" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_jwt_sync_jwks_wrapper';
REVOKE ALL ON FUNCTION
    @extschema@.boards_jwt_add_key(text, text, text, text, text[], text[]),
    @extschema@.boards_jwt_import_jwks(jsonb, text, text[], text[]),
    @extschema@.boards_jwt_remove_key(text, text),
    @extschema@.boards_jwt_restrict_key(text, text[], text),
    @extschema@.boards_jwt_sync_jwks(jsonb, text, text[], interval, text[]),
    @extschema@.boards_jwt_keys()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    @extschema@.boards_jwt_add_key(text, text, text, text, text[], text[]),
    @extschema@.boards_jwt_import_jwks(jsonb, text, text[], text[]),
    @extschema@.boards_jwt_remove_key(text, text),
    @extschema@.boards_jwt_restrict_key(text, text[], text),
    @extschema@.boards_jwt_sync_jwks(jsonb, text, text[], interval, text[]),
    @extschema@.boards_jwt_keys()
TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_jwt_add_key(text, text, text, text, text[], text[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.boards_jwt_import_jwks(jsonb, text, text[], text[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.boards_jwt_remove_key(text, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.boards_jwt_restrict_key(text, text[], text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.boards_jwt_sync_jwks(jsonb, text, text[], interval, text[])
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.boards_jwt_keys()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Members, roles and invitations: revocation that sticks, roles in policies, invitations. The tables
-- and the caller's block check as sql/membership.sql creates them, the trigger and privileges
-- of sql/finalize.sql, and the new functions of src/roles.rs, src/members.rs,
-- src/invitations.rs and src/blocks.rs.

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

REVOKE ALL ON FUNCTION boards.caller_subject_blocked(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION boards.caller_subject_blocked(text) TO PUBLIC;
CREATE TRIGGER subject_blocks_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON boards.subject_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION boards.table_changed();

CREATE  FUNCTION @extschema@."boards_current_role"() RETURNS TEXT /* SqlResult < Option < String > > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_current_role_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_current_role() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_current_role() TO PUBLIC;

CREATE  FUNCTION @extschema@."boards_has_role"(
	"min_role" TEXT /* Option < String > */
) RETURNS bool /* SqlResult < bool > */
STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_has_role_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_has_role(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_has_role(text) TO PUBLIC;

CREATE  FUNCTION @extschema@."boards_member_list"() RETURNS TABLE (
	"user_id" uuid,  /* Option < pgrx :: Uuid > */
	"subject" TEXT,  /* Option < String > */
	"email" TEXT,  /* Option < String > */
	"display_name" TEXT,  /* Option < String > */
	"role" TEXT,  /* Option < String > */
	"created_at" timestamp with time zone  /* Option < TimestampWithTimeZone > */
)
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_member_list_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_member_list() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_member_list() TO PUBLIC;
ALTER FUNCTION @extschema@.boards_member_list()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_member_set_role"(
	"subject" TEXT, /* Option < String > */
	"role" TEXT /* Option < String > */
) RETURNS TEXT /* SqlResult < String > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_member_set_role_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_member_set_role(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_member_set_role(text, text) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_member_set_role(text, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_member_remove"(
	"subject" TEXT /* Option < String > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_member_remove_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_member_remove(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_member_remove(text) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_member_remove(text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_invitation_create"(
	"email" TEXT, /* Option < String > */
	"role" TEXT DEFAULT 'member', /* Option < String > */
	"expires_in" interval DEFAULT '7 days' /* Option < Interval > */
) RETURNS TABLE (
	"invitation_id" uuid,  /* pgrx :: Uuid */
	"secret" TEXT,  /* String */
	"expires_at" timestamp with time zone  /* TimestampWithTimeZone */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_invitation_create_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_invitation_create(text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_invitation_create(text, text, interval) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_invitation_create(text, text, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_invitation_list"() RETURNS TABLE (
	"invitation_id" uuid,  /* Option < pgrx :: Uuid > */
	"email" TEXT,  /* Option < String > */
	"role" TEXT,  /* Option < String > */
	"status" TEXT,  /* Option < String > */
	"created_by" TEXT,  /* Option < String > */
	"created_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"expires_at" timestamp with time zone,  /* Option < TimestampWithTimeZone > */
	"accepted_by" TEXT  /* Option < String > */
)
STRICT STABLE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_invitation_list_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_invitation_list() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_invitation_list() TO PUBLIC;
ALTER FUNCTION @extschema@.boards_invitation_list()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_invitation_revoke"(
	"invitation_id" uuid /* Option < pgrx :: Uuid > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_invitation_revoke_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_invitation_revoke(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_invitation_revoke(uuid) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_invitation_revoke(uuid)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_invitation_accept"(
	"secret" TEXT /* Option < String > */
) RETURNS TABLE (
	"tenant_id" uuid,  /* pgrx :: Uuid */
	"tenant_slug" TEXT,  /* String */
	"user_id" uuid,  /* pgrx :: Uuid */
	"role" TEXT  /* String */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_invitation_accept_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_invitation_accept(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_invitation_accept(text) TO PUBLIC;
ALTER FUNCTION @extschema@.boards_invitation_accept(text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_subject_block"(
	"subject" TEXT, /* Option < String > */
	"reason" TEXT DEFAULT NULL /* Option < String > */
) RETURNS VOID /* SqlResult < () > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_subject_block_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_subject_block(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_subject_block(text, text) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_subject_block(text, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_subject_unblock"(
	"subject" TEXT /* Option < String > */
) RETURNS bool /* SqlResult < bool > */
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_subject_unblock_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_subject_unblock(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_subject_unblock(text) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_subject_unblock(text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_tenant_invite_owner"(
	"slug" TEXT, /* Option < String > */
	"email" TEXT, /* Option < String > */
	"expires_in" interval DEFAULT '7 days' /* Option < Interval > */
) RETURNS TABLE (
	"invitation_id" uuid,  /* pgrx :: Uuid */
	"secret" TEXT,  /* String */
	"expires_at" timestamp with time zone  /* TimestampWithTimeZone */
)
VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_tenant_invite_owner_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_invite_owner(text, text, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_invite_owner(text, text, interval) TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_tenant_invite_owner(text, text, interval)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CREATE  FUNCTION @extschema@."boards_tenant_purge_invitations"() RETURNS bigint /* SqlResult < i64 > */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'boards_tenant_purge_invitations_wrapper';
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_purge_invitations() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_purge_invitations() TO boards_tenant_admin;
ALTER FUNCTION @extschema@.boards_tenant_purge_invitations()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;


-- DDL at PostgreSQL's own cost. The ddl_command_end trigger fires only for the
-- commands that can create or change a table, policy, grant, view, rule or trigger, and the
-- sql_drop trigger calls into the library, which looks only at what was dropped. An event
-- trigger cannot be altered to add a filter: both are dropped and created again exactly as a
-- fresh install creates them (sql/finalize.sql).
CREATE FUNCTION boards."on_sql_drop_internal"() RETURNS VOID
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'on_sql_drop_internal_wrapper';
REVOKE ALL ON FUNCTION boards.on_sql_drop_internal() FROM PUBLIC;
ALTER FUNCTION boards.on_sql_drop_internal()
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE OR REPLACE FUNCTION boards.sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM boards.on_sql_drop_internal();
END
$$;
DROP EVENT TRIGGER boards_tenant_ddl_command_end;
DROP EVENT TRIGGER boards_tenant_sql_drop;
CREATE EVENT TRIGGER boards_tenant_ddl_command_end ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE',
                 'CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'GRANT',
                 'CREATE VIEW', 'ALTER VIEW', 'CREATE MATERIALIZED VIEW',
                 'ALTER MATERIALIZED VIEW', 'REFRESH MATERIALIZED VIEW',
                 'CREATE RULE', 'CREATE TRIGGER', 'ALTER TRIGGER',
                 'CREATE SCHEMA', 'CREATE EXTENSION', 'ALTER EXTENSION')
    EXECUTE FUNCTION boards.ddl_command_end();
CREATE EVENT TRIGGER boards_tenant_sql_drop ON sql_drop EXECUTE FUNCTION boards.sql_drop();

-- The functions anyone may call keep PostgreSQL's default ACL (proacl NULL), as a fresh install
-- leaves them (sql/finalize.sql says why: an explicit ACL costs every statement that calls them
-- ~1,500 instructions more in the executor's EXECUTE check). 0.1.0 gave them REVOKE ALL FROM
-- PUBLIC + GRANT EXECUTE TO PUBLIC, which grants the same; no GRANT or REVOKE returns an ACL to
-- NULL, so the catalog row is reset directly, and only where the ACL grants exactly the default
-- (a function whose privileges an administrator changed keeps them), with its initial-privileges
-- record, which a default ACL does not have (pg_dump then sees no change to restore).
WITH defaulted AS (
    SELECT p.oid
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
        AND d.objid = p.oid AND d.deptype = 'e'
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'boards_tenant'
    WHERE p.proacl IS NOT NULL
      AND p.proacl OPERATOR(pg_catalog.@>) pg_catalog.acldefault('f', p.proowner)
      AND pg_catalog.acldefault('f', p.proowner) OPERATOR(pg_catalog.@>) p.proacl
), reset AS (
    UPDATE pg_catalog.pg_proc p SET proacl = NULL FROM defaulted WHERE p.oid = defaulted.oid
    RETURNING p.oid
)
DELETE FROM pg_catalog.pg_init_privs i
USING reset
WHERE i.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND i.objoid = reset.oid
  AND i.objsubid = 0;
