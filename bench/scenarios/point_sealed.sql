-- Scenario 1, sealed: the point lookup with the context another backend re-establishes from a
-- sealed value (README, "Scale-out"): the client's first transaction verifies its token and
-- seals the context, which then ends at COMMIT; from there on the session carries only the
-- sealed value, as a Citus worker backend would, and every policy read verifies it.
\if :ctx = 0
BEGIN;
SELECT (boards_set_tenant_from_jwt(token, NULL, true)).tenant_id FROM bench.tokens WHERE alg = 'HS256' AND n = :client_id;
SELECT boards_context_seal() AS seal \gset
COMMIT;
SELECT set_config('boards.sealed_context', :seal, false);
\set ctx 1
\endif
\set t :client_id % :tenants + 1
\set r random(1, :boards)
SELECT id, title FROM boards.boards WHERE id = bench.board_id(:t, :r) \gset
