-- Scenario 2: per-transaction context from a verified token (algorithm in the token query), then the point lookup on the
-- protected table. The token look-up has the baseline's shape: one call in the select list of
-- the same index scan of bench.tokens.
@PICK@
\set t :n % :tenants + 1
\set r random(1, :boards)
BEGIN;
SELECT (boards_set_tenant_from_jwt(token, NULL, true)).tenant_id FROM bench.tokens WHERE alg = '@ALG@' AND n = :n \gset
SELECT id, title FROM boards.boards WHERE id = bench.board_id(:t, :r) \gset
COMMIT;
