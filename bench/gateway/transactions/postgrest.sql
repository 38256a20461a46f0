-- PostgREST's pattern: the claims set per transaction (no verification), then the hand-filtered query.
BEGIN;
SELECT set_config('request.jwt.claims', :token, true);
SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at FROM public.bench_boards WHERE tenant_id = :tid AND id = :bid;
COMMIT;
