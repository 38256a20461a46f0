-- Scenario 1, floor: point lookup with a hand-written tenant filter on the unprotected copy,
-- the tenant id a bound parameter (fetched once per client, as an application holds it).
\set t :client_id % :tenants + 1
\if :ctx = 0
SELECT bench.tenant_id(:t) AS tid \gset
\set ctx 1
\endif
\set r random(1, :boards)
SELECT id, title FROM bench.boards_plain WHERE tenant_id = :tid AND id = bench.board_id(:t, :r) \gset
