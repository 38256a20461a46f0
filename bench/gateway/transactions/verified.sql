-- The gateway's verified request (repeated token): the context call as the gateway sends it, then the protected query.
BEGIN;
SELECT (public.boards_set_tenant_from_jwt(:token, NULL, is_local => true)).tenant_id;
SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at FROM boards.boards WHERE id = :bid;
COMMIT;
