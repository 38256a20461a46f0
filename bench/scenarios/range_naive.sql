-- Scenario 1, reference: 50-row range scan on the naive-policy copy.
\set t :client_id % :tenants + 1
\if :ctx = 0
SELECT set_config('app.tenant', bench.tenant_id(:t)::text, false);
\set ctx 1
\endif
\set r random(1, :boards - 49)
\set r2 :r + 49
SELECT id, title FROM bench.boards_naive WHERE id BETWEEN bench.board_id(:t, :r) AND bench.board_id(:t, :r2);
