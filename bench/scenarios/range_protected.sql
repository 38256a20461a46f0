-- Scenario 1: 50-row range scan on the protected table, session context as in point_protected.
\if :ctx = 0
SELECT (boards_set_tenant_from_jwt(token)).tenant_id FROM bench.tokens WHERE alg = 'HS256' AND n = :client_id;
\set ctx 1
\endif
\set t :client_id % :tenants + 1
\set r random(1, :boards - 49)
\set r2 :r + 49
SELECT id, title FROM boards.boards WHERE id BETWEEN bench.board_id(:t, :r) AND bench.board_id(:t, :r2);
