-- owner_invitation_pending: active tenants (of tenant $1, or all when NULL) with no owner yet
-- but an owner invitation that can still be accepted. An owner is on the way: the tenant is
-- not reported as without owner.
SELECT t.slug,
       pg_catalog.jsonb_build_object(
           'pending_owner_invitations', count(*),
           'first_expires_at', min(i.expires_at))
FROM boards.tenants t JOIN boards.invitations i ON i.tenant_id = t.id
WHERE ($1::uuid IS NULL OR t.id = $1) AND t.status = 'active' AND t.slug <> 'default'
  AND i.role = 'owner' AND i.revoked_at IS NULL
  AND i.accepted_at IS NULL AND i.expires_at > pg_catalog.now()
  AND NOT EXISTS (SELECT FROM boards.users u WHERE u.tenant_id = t.id AND u.role = 'owner')
GROUP BY t.slug
