-- boards_tenant benchmark: schema "bench" (id functions, data generator, token table, the
-- unprotected and naive copies of boards.boards). Run as a superuser in the benchmark database
-- by bench/bench.py, after CREATE EXTENSION boards_tenant.
\set ON_ERROR_STOP 1

-- The copies below have a tenant_id uuid column: keep the extension from protecting them.
SET boards.auto_protect = off;

CREATE SCHEMA bench;
GRANT USAGE ON SCHEMA bench TO PUBLIC;

-- Deterministic ids from (tenant number, row number), so pgbench scripts can name rows.
-- IMMUTABLE SQL functions: inlined and constant-folded when called with constants, so the
-- protected and the unprotected scenarios pay the same (nothing) for them. The row number is
-- the low 48 bits, so the ids of one tenant sort by row number: a range of row numbers is a
-- range of ids (the 50-row range scan).
CREATE FUNCTION bench.uuid_of(t int, kind text, r int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (lpad(to_hex(t), 8, '0') || '-' || kind || '-4000-8000-' || lpad(to_hex(r), 12, '0'))::uuid;

CREATE FUNCTION bench.tenant_id(t int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN bench.uuid_of(t, '7e00', 0);
CREATE FUNCTION bench.user_id(t int, u int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN bench.uuid_of(t, '05e0', u);
CREATE FUNCTION bench.board_id(t int, r int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN bench.uuid_of(t, 'b0a0', r);
CREATE FUNCTION bench.member_id(t int, m int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN bench.uuid_of(t, 'b0e0', m);
CREATE FUNCTION bench.generation_id(t int, g int) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN bench.uuid_of(t, '9e00', g);
CREATE FUNCTION bench.slug(t int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 'bench-' || lpad(t::text, 5, '0');

-- Pre-minted tokens (bench/bench.py signs them with the harness's fixture keys) and, for the
-- PostgREST pattern, the JSON of their claims and the tenant id an application would take
-- from them (the floor binds it as a parameter). alg: HS256, RS256, ES256, EdDSA (tenant
-- tokens), WARM (HS256 tokens of the same members, to warm a backend's membership cache), MEM
-- (HS256 identity tokens for the memory scenario), REG (registration subjects). t is the
-- tenant's number (for bench.board_id), tenant_id its id.
CREATE TABLE bench.tokens (
    alg       text NOT NULL,
    n         int  NOT NULL,
    token     text NOT NULL,
    claims    text NOT NULL,
    t         int,
    tenant_id uuid,
    PRIMARY KEY (alg, n)
);
GRANT SELECT ON bench.tokens TO PUBLIC;
-- The fresh-token scenarios take the pool's tokens in order from this sequence.
CREATE SEQUENCE bench.fresh_pick;
GRANT USAGE ON SEQUENCE bench.fresh_pick TO PUBLIC;

-- One set-based pass per table for tenants t_from..t_to: per tenant `users` users (user 1 is
-- the owner), `boards_n` boards, `members` board memberships, `generations` generations.
-- The caller sets session_replication_role = replica (bulk load without per-row foreign key
-- triggers; the data is consistent by construction and the isolation audit checks it).
CREATE FUNCTION bench.generate(t_from int, t_to int, users int, boards_n int, members int,
                               generations int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
    total bigint := 0;
BEGIN
    IF members > boards_n OR generations > boards_n THEN
        RAISE EXCEPTION 'members and generations must not exceed boards';
    END IF;
    INSERT INTO boards.tenants (id, slug, name, created_by)
    SELECT bench.tenant_id(t), bench.slug(t), 'Bench tenant ' || t, 'bench'
    FROM generate_series(t_from, t_to) t;

    INSERT INTO boards.users (tenant_id, id, auth_subject, email, display_name, role)
    SELECT bench.tenant_id(t), bench.user_id(t, u), 'user-' || u,
           'user' || u || '@' || bench.slug(t) || '.example', 'User ' || u,
           CASE WHEN u = 1 THEN 'owner' ELSE 'member' END
    FROM generate_series(t_from, t_to) t, generate_series(1, users) u;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;

    INSERT INTO boards.boards (tenant_id, id, owner_id, title, description, is_public, created_at)
    SELECT bench.tenant_id(t), bench.board_id(t, r), bench.user_id(t, (r - 1) % users + 1),
           'Board ' || r, 'Benchmark board ' || r || ' of tenant ' || t, r % 10 = 0,
           timestamptz '2026-01-01' + r * interval '1 minute'
    FROM generate_series(t_from, t_to) t, generate_series(1, boards_n) r;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;

    INSERT INTO boards.board_members (tenant_id, id, board_id, user_id, role, invited_by)
    SELECT bench.tenant_id(t), bench.member_id(t, m), bench.board_id(t, m),
           bench.user_id(t, m % users + 1), (ARRAY['viewer', 'editor', 'admin'])[m % 3 + 1],
           bench.user_id(t, 1)
    FROM generate_series(t_from, t_to) t, generate_series(1, members) m;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;

    INSERT INTO boards.generations (tenant_id, id, board_id, user_id, generator_name,
                                    artifact_type, input_params, status, storage_url, progress,
                                    started_at, completed_at)
    SELECT bench.tenant_id(t), bench.generation_id(t, g), bench.board_id(t, g),
           bench.user_id(t, (g - 1) % users + 1), 'flux-pro',
           (ARRAY['image', 'video', 'audio', 'text'])[g % 4 + 1],
           jsonb_build_object('prompt', 'benchmark prompt ' || g, 'seed', g),
           'completed', 'https://cdn.example/' || t || '/' || g || '.png', 100,
           timestamptz '2026-01-01', timestamptz '2026-01-01' + interval '20 seconds'
    FROM generate_series(t_from, t_to) t, generate_series(1, generations) g;
    GET DIAGNOSTICS n = ROW_COUNT; total := total + n;
    RETURN total;
END
$$;
