-- Scenario 1, floor: 50-row range scan with a hand-written tenant filter on the unprotected
-- copy, the tenant id a bound parameter (fetched once per client, as an application holds it).
\set t :client_id % :tenants + 1
\if :ctx = 0
SELECT bench.tenant_id(:t) AS tid \gset
\set ctx 1
\endif
\set r random(1, :boards - 49)
\set r2 :r + 49
SELECT id, title FROM bench.boards_plain WHERE tenant_id = :tid AND id BETWEEN bench.board_id(:t, :r) AND bench.board_id(:t, :r2);
