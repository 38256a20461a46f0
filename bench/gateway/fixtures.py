"""Data and request files of bench/gateway.sh (standard library only).

Writes, for TENANTS tenants of BOARDS boards each (one owner per tenant, subject owner-<n>):
  setup.sql                      the rows, the unprotected copy public.bench_boards, grants
  point_repeated.tsv / list_repeated.tsv   one token per tenant, cycled: verified-token cache hits
  point_fresh.tsv / list_fresh.tsv         FRESH distinct tokens (each used once per run)
  point_unverified.tsv / list_unverified.tsv   X-Bench-Tenant-Id, no token
  point_postgrest.tsv / list_postgrest.tsv     the same, plus the PostgREST pattern's set_config
"""
import base64, hashlib, hmac, json, sys, time, uuid

out, secret, tenants, boards, fresh = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def token(sub, tenant, n):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "bench"}).encode())
    claims = b64(json.dumps({"sub": sub, "tenant": tenant, "iat": int(time.time()), "exp": int(time.time()) + 86400, "jti": n}).encode())
    signing = f"{header}.{claims}".encode()
    return f"{header}.{claims}.{b64(hmac.new(secret.encode(), signing, hashlib.sha256).digest())}"

rows = []
sql = ["BEGIN;"]
for t in range(tenants):
    tid, uid = uuid.uuid4(), uuid.uuid4()
    slug = f"bench-{t}"
    sql.append(f"INSERT INTO boards.tenants (id, slug, name) VALUES ('{tid}', '{slug}', 'Bench {t}');")
    sql.append(f"INSERT INTO boards.users (tenant_id, id, auth_subject, role) VALUES ('{tid}', '{uid}', 'owner-{t}', 'owner');")
    ids = [uuid.uuid4() for _ in range(boards)]
    values = ",".join(f"('{tid}', '{b}', '{uid}', 'Board {i} of {slug}', 'benchmark board', '{{\"theme\": \"dark\"}}')" for i, b in enumerate(ids))
    sql.append(f"INSERT INTO boards.boards (tenant_id, id, owner_id, title, description, settings) VALUES {values};")
    rows.append((slug, tid, ids))
sql.append("COMMIT;")
# The baseline's table: the same rows, no row-level security (created with auto_protect off).
sql.append("SET boards.auto_protect = off;")
sql.append("CREATE TABLE public.bench_boards AS SELECT * FROM boards.boards;")
sql.append("ALTER TABLE public.bench_boards ADD PRIMARY KEY (tenant_id, id);")
sql.append("GRANT SELECT ON public.bench_boards TO bench_app;")
sql.append("ANALYZE;")
open(f"{out}/setup.sql", "w").write("\n".join(sql) + "\n")

def write(name, lines):
    with open(f"{out}/{name}", "w") as f:
        for line in lines:
            f.write("\t".join(line) + "\n")

repeated = [token(f"owner-{t}", slug, 0) for t, (slug, _, _) in enumerate(rows)]
write("point_repeated.tsv", [(f"/api/boards/{ids[t % len(ids)]}", "Authorization", f"Bearer {repeated[t]}") for t, (slug, tid, ids) in enumerate(rows)])
write("list_repeated.tsv", [("/api/boards", "Authorization", f"Bearer {repeated[t]}") for t in range(tenants)])
write("point_unverified.tsv", [(f"/bench/unverified/boards/{ids[t % len(ids)]}", "X-Bench-Tenant-Id", str(tid)) for t, (slug, tid, ids) in enumerate(rows)])
write("list_unverified.tsv", [("/bench/unverified/boards", "X-Bench-Tenant-Id", str(tid)) for (slug, tid, ids) in rows])
write("point_postgrest.tsv", [(f"/bench/postgrest/boards/{ids[t % len(ids)]}", "X-Bench-Tenant-Id", str(tid)) for t, (slug, tid, ids) in enumerate(rows)])
write("list_postgrest.tsv", [("/bench/postgrest/boards", "X-Bench-Tenant-Id", str(tid)) for (slug, tid, ids) in rows])
point_fresh, list_fresh = [], []
for n in range(fresh):
    t = n % tenants
    slug, tid, ids = rows[t]
    tok = token(f"owner-{t}", slug, n + 1)
    point_fresh.append((f"/api/boards/{ids[n % len(ids)]}", "Authorization", f"Bearer {tok}"))
    list_fresh.append(("/api/boards", "Authorization", f"Bearer {tok}"))
write("point_fresh.tsv", point_fresh)
write("list_fresh.tsv", list_fresh)
