-- Sets setting $1 to $2 until the end of the transaction.
SELECT pg_catalog.set_config($1, $2, true)
