-- The id of the tenant with slug $1: the audit of one tenant filters by id.
SELECT id FROM boards.tenants WHERE slug = $1
