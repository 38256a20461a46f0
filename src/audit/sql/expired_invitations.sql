-- expired_invitations: invitations (of tenant $1, or all when NULL) that expired unaccepted
-- and nobody purged: they hold addresses that serve no purpose any more. At most $2 sample
-- ids per tenant.
SELECT t.slug,
       pg_catalog.jsonb_build_object(
           'expired', count(*),
           'sample_ids', pg_catalog.to_jsonb((pg_catalog.array_agg(i.id ORDER BY i.expires_at, i.id))[1:$2]))
FROM boards.tenants t JOIN boards.invitations i ON i.tenant_id = t.id
WHERE ($1::uuid IS NULL OR t.id = $1)
  AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at <= pg_catalog.now()
GROUP BY t.slug
