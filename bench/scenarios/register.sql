-- Scenario 4: self-service registration. A subject token (random from the REG pool) sets the
-- identity for the transaction, then registers an organisation with a random name.
\set n random(0, :regpool - 1)
\set x random(1, 999999999)
BEGIN;
SELECT boards_authenticate((SELECT token FROM bench.tokens WHERE alg = 'REG' AND n = :n), true);
SELECT boards_tenant_register('Bench Org ' || :x, 'admin@bench-reg.example', NULL, NULL, NULL, false) ->> 'tenant_slug' AS slug \gset
COMMIT;
