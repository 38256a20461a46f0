-- Slugs a tenant gave up by rename or deletion. A token stays valid after its tenant's slug
-- changed hands; if any new tenant could take the freed slug, that token would reach it (and
-- join it on first use). So a freed slug is reserved until an admin releases it explicitly.
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

-- Releases a reserved slug; true when there was a reservation. Only once no valid token names
-- the tenant that gave it up should an admin do this.
CREATE FUNCTION @extschema@.boards_tenant_release_slug(slug text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH released AS (DELETE FROM boards.reserved_slugs r WHERE r.slug = $1 RETURNING 1)
    SELECT EXISTS (SELECT FROM released)
$$;
REVOKE ALL ON FUNCTION @extschema@.boards_tenant_release_slug(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.boards_tenant_release_slug(text) TO boards_tenant_admin;
