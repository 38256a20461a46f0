-- The caller's value of setting $1, put back when the audit is done.
SELECT pg_catalog.current_setting($1)
