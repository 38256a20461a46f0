-- Whether the audit's role sees every tenant's rows (superuser or BYPASSRLS): under row level
-- security the data checks would see one tenant and report the rest clean.
SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user
