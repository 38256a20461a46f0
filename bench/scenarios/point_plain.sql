-- Scenario 1, floor: point lookup with a hand-written tenant filter on the unprotected copy.
\set t :client_id % :tenants + 1
\set r random(1, :boards)
SELECT id, title FROM bench.boards_plain WHERE tenant_id = bench.tenant_id(:t) AND id = bench.board_id(:t, :r) \gset
