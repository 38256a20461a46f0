-- Scenario 2: per-transaction context from a verified token (algorithm in the token query), then the point lookup on the
-- protected table. The token look-up has the baseline's shape: one call in the select list of
-- the same index scan of bench.tokens, which also gives the token's tenant number t (@CONTEXT@:
-- bench.py's CONTEXT_CALLS, the select-list form unless the scenario compares call forms).
-- First transaction of each client: one context per member the pool's tokens name (alg WARM,
-- other tokens of the same subjects), so every measured transaction finds its membership
-- cached, as a backend serving active users does; the pool's own tokens stay unverified here.
\if :ctx = 0
SELECT count(boards_set_tenant_from_jwt(token, NULL, true)) FROM bench.tokens WHERE alg = 'WARM';
\set ctx 1
\endif
\set r random(1, :boards)
BEGIN;
@CONTEXT@ \gset
SELECT id, title FROM boards.boards WHERE id = bench.board_id(:t, :r) \gset
COMMIT;
