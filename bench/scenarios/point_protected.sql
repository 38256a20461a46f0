-- Scenario 1: point lookup on the protected table; session context set in the first
-- transaction of each client (token n = client_id, whose tenant is client_id % tenants + 1).
\if :ctx = 0
SELECT (boards_set_tenant_from_jwt(token)).tenant_id FROM bench.tokens WHERE alg = 'HS256' AND n = :client_id;
\set ctx 1
\endif
\set t :client_id % :tenants + 1
\set r random(1, :boards)
SELECT id, title FROM boards.boards WHERE id = bench.board_id(:t, :r) \gset
