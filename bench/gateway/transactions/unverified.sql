-- The gateway's unverified baseline, as pgbench sends it: BEGIN, the hand-filtered query, COMMIT.
BEGIN;
SELECT id, tenant_id, owner_id, title, description, is_public, settings, metadata, created_at, updated_at FROM public.bench_boards WHERE tenant_id = :tid AND id = :bid;
COMMIT;
