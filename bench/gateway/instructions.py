"""Instructions per gateway request, the noise-free figure beside bench/gateway.sh's requests
per second: the server's instructions only (callgrind, bench/instructions.py's method: a short
and a long run per scenario, the difference divided by the difference of their request
counts), through the gateway's real protocol (pipelined BEGIN + SET LOCAL, typed statements
with the statement cache, COMMIT), one pooled connection.

    python3 bench/gateway/instructions.py WORK GATEWAY DATABASE_URL PGDATA

WORK holds fixtures.py's request files. Scenarios, for both endpoints: unverified (the
hand-written filter), postgrest (plus the set_config statement), repeated (one tenant's token),
alternating (two tenants' tokens in turn: what a pooled connection serving many tenants
pays), fresh (a new token every request).
"""

import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import instructions  # noqa: E402

work, gateway, database_url, pgdata = sys.argv[1:5]
client = os.path.join(os.path.dirname(os.path.abspath(__file__)), "client.py")


def request_file(endpoint, kind):
    """The request file of a scenario; repeated and alternating take one and two tenants' lines."""
    source = {"alternating": "repeated"}.get(kind, kind)
    lines = open(os.path.join(work, f"{endpoint}_{source}.tsv")).readlines()
    keep = {"repeated": 1, "alternating": 2}.get(kind, len(lines))
    if len(lines) < keep:
        sys.exit(f"{endpoint}_{kind} needs {keep} tenants (--tenants)")
    path = os.path.join(work, f"instructions_{endpoint}_{kind}.tsv")
    with open(path, "w") as f:
        f.writelines(lines[:keep])
    return path


kinds = ["unverified", "postgrest", "repeated", "alternating", "fresh"]
scenarios = [types.SimpleNamespace(key=f"{e}_{k}", file=request_file(e, k)) for e in ("point", "list") for k in kinds]
counts = instructions.measure(
    scenarios, lambda s, n: [sys.executable, client, gateway, database_url, s.file, str(n)], pgdata,
    lambda msg: print(msg, file=sys.stderr))
print()
print("Server instructions per request (callgrind; one connection; the short and long runs' "
      f"difference over {instructions.LONG - instructions.SHORT} requests):")
print()
print("| endpoint | unverified | + PostgREST's set_config | verified, repeated | verified, two tenants alternating | verified, fresh | unverified ÷ repeated | unverified ÷ alternating | unverified ÷ fresh |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for e, name in (("point", "GET /api/boards/{id}"), ("list", "GET /api/boards")):
    c = {k: counts[f"{e}_{k}"] for k in kinds}
    u = c["unverified"]
    print(f"| {name} | {u:,} | {c['postgrest']:,} | {c['repeated']:,} | {c['alternating']:,} | {c['fresh']:,} | "
          f"{u / c['repeated']:.3f} | {u / c['alternating']:.3f} | {u / c['fresh']:.3f} |")
