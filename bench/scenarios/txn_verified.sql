-- Scenario 2: per-transaction context from a verified token (algorithm in the token query), then the point lookup on the
-- protected table. Same token look-up as the baseline.
@PICK@
\set t :n % :tenants + 1
\set r random(1, :boards)
BEGIN;
SELECT tenant_id FROM boards_set_tenant_from_jwt((SELECT token FROM bench.tokens WHERE alg = '@ALG@' AND n = :n), NULL, true);
SELECT id, title FROM boards.boards WHERE id = bench.board_id(:t, :r) \gset
COMMIT;
