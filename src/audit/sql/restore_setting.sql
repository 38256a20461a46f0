-- Puts the caller's value $2 of setting $1 back, touching only what the audit changed.
SELECT pg_catalog.set_config($1, $2, true)
WHERE pg_catalog.current_setting($1) IS DISTINCT FROM $2
