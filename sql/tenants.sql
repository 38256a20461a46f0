-- Tenant management: one row type for every function that returns tenants, and thin SQL
-- wrappers over the boards.tenant_*_internal functions (src/tenants.rs) that do the work.

CREATE TYPE boards.tenant_info AS (
    id           uuid,
    slug         text,
    name         text,
    status       text,
    settings     jsonb,
    created_by   text,
    created_at   timestamptz,
    updated_at   timestamptz,
    member_count bigint
);

-- VOLATILE: it must see the row the internal function just wrote in the same statement.
CREATE FUNCTION boards.tenant_info(tenant_id uuid) RETURNS SETOF boards.tenant_info
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    SELECT t.id, t.slug, t.name, t.status, t.settings, t.created_by, t.created_at, t.updated_at,
           (SELECT count(*) FROM boards.users u WHERE u.tenant_id = t.id)
    FROM boards.tenants t
    WHERE t.id = $1
$$;

CREATE FUNCTION @extschema@.boards_tenant_create(
    name text, slug text, settings jsonb DEFAULT '{}', include_sample_data boolean DEFAULT false
) RETURNS SETOF boards.tenant_info
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.tenant_info(boards.tenant_create_internal($1, $2, $3, $4))
$$;

CREATE FUNCTION @extschema@.boards_tenant_list() RETURNS SETOF boards.tenant_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT i.* FROM boards.tenants t, boards.tenant_info(t.id) i ORDER BY t.slug
$$;

CREATE FUNCTION @extschema@.boards_tenant_get(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.tenant_info(boards.tenant_id_internal($1))
$$;

CREATE FUNCTION @extschema@.boards_tenant_update(
    slug text, name text DEFAULT NULL, new_slug text DEFAULT NULL, settings jsonb DEFAULT NULL
) RETURNS SETOF boards.tenant_info
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.tenant_info(boards.tenant_update_internal($1, $2, $3, $4))
$$;

CREATE FUNCTION @extschema@.boards_tenant_approve(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.tenant_info(boards.tenant_set_status_internal($1, 'active'))
$$;

CREATE FUNCTION @extschema@.boards_tenant_suspend(slug text) RETURNS SETOF boards.tenant_info
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM boards.tenant_info(boards.tenant_set_status_internal($1, 'suspended'))
$$;
