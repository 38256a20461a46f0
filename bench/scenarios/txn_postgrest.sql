-- Scenario 2, baseline: the PostgREST pattern. The JWT was verified outside the database (not
-- measured); the transaction sets the claims and runs the point lookup with a hand filter on
-- the unprotected copy, the tenant id (which the application read from the claims) a bound
-- parameter. @PICK@ is the token: fresh (the next of the pool, in order) or repeated.
\set r random(1, :boards)
BEGIN;
SELECT set_config('request.jwt.claims', claims, true) AS claims, tenant_id AS tid, t FROM bench.tokens WHERE alg = 'HS256' AND n = @PICK@ \gset
SELECT id, title FROM bench.boards_plain WHERE tenant_id = :tid AND id = bench.board_id(:t, :r) \gset
COMMIT;
