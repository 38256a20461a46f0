-- Scenario 1, reference: point lookup on the copy with a naive policy
-- USING (tenant_id = current_setting('app.tenant')::uuid); app.tenant set in the first transaction.
\set t :client_id % :tenants + 1
\if :ctx = 0
SELECT set_config('app.tenant', bench.tenant_id(:t)::text, false);
\set ctx 1
\endif
\set r random(1, :boards)
SELECT id, title FROM bench.boards_naive WHERE id = bench.board_id(:t, :r) \gset
