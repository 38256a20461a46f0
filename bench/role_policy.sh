#!/bin/bash
# What a role policy costs: count(*) over 200,000 rows of one tenant, as the app role, with only
# the tenant policy (docs_plain) and with a RESTRICTIVE (SELECT boards_has_role('member')) policy
# on top (docs_role), three runs each. Needs the extension installed into PG_CONFIG's tree.
set -euo pipefail
cd "$(dirname "$0")/.."
chosen=${PG_CONFIG:?set PG_CONFIG to the pg_config of the tree the extension is installed in}
source scripts/lib.sh   # selects a default PostgreSQL: choose the given one again
use_pg "$("$chosen" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')" "$chosen"
trap stop_cluster EXIT
start_cluster
PSQL="$("$PG_CONFIG" --bindir)/psql -X -q -v ON_ERROR_STOP=1"
SECRET=measure-secret-measure-secret-measure-secret
$PSQL <<SQL
CREATE EXTENSION boards_tenant;
CREATE ROLE app LOGIN;
SELECT boards_jwt_add_key('m', 'HS256', '$SECRET');
SELECT * FROM boards_tenant_create('Acme', 'acme');
SELECT boards_tenant_add_member('acme', 'mia', 'member');
CREATE TABLE docs_plain (tenant_id uuid, id int, body text, PRIMARY KEY (tenant_id, id));
CREATE TABLE docs_role (tenant_id uuid, id int, body text, PRIMARY KEY (tenant_id, id));
SELECT boards_tenant_protect('docs_plain');
SELECT boards_tenant_protect('docs_role');
CREATE POLICY read_members ON docs_role AS RESTRICTIVE FOR SELECT USING ((SELECT boards_has_role('member')));
INSERT INTO docs_plain SELECT (SELECT id FROM boards.tenants WHERE slug='acme'), g, 'x' FROM generate_series(1,200000) g;
INSERT INTO docs_role SELECT * FROM docs_plain;
GRANT SELECT ON docs_plain, docs_role TO app;
ANALYZE;
SQL
TOKEN=$(python3 - "$SECRET" <<'PY'
import base64, hmac, hashlib, json, sys, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b'=').decode()
h = b(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "m"}).encode())
p = b(json.dumps({"sub": "mia", "tenant": "acme", "iat": int(time.time()), "exp": int(time.time()) + 3600}).encode())
s = b(hmac.new(sys.argv[1].encode(), f"{h}.{p}".encode(), hashlib.sha256).digest())
print(f"{h}.{p}.{s}")
PY
)
PGUSER=app $PSQL <<SQL
SELECT tenant_slug FROM boards_set_tenant_from_jwt('$TOKEN');
SELECT boards_current_role();
\timing on
SELECT count(*) FROM docs_plain;
SELECT count(*) FROM docs_role;
SELECT count(*) FROM docs_plain;
SELECT count(*) FROM docs_role;
SELECT count(*) FROM docs_plain;
SELECT count(*) FROM docs_role;
\timing off
EXPLAIN (COSTS OFF) SELECT count(*) FROM docs_role;
SQL
