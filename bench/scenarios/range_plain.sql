-- Scenario 1, floor: 50-row range scan with a hand-written tenant filter on the unprotected copy.
\set t :client_id % :tenants + 1
\set r random(1, :boards - 49)
\set r2 :r + 49
SELECT id, title FROM bench.boards_plain WHERE tenant_id = bench.tenant_id(:t) AND id BETWEEN bench.board_id(:t, :r) AND bench.board_id(:t, :r2);
