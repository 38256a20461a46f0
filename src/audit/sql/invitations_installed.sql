-- Whether boards.invitations exists (a database still at 0.1.0 has none).
SELECT pg_catalog.to_regclass('boards.invitations') IS NOT NULL
