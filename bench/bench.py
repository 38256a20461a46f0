#!/usr/bin/env python3
"""The boards_tenant benchmark suite. Run through bench/run.sh, which builds and
installs the release extension, starts a throwaway cluster and exports PGHOST/PGPORT/PGUSER.

Python 3 standard library, plus `cryptography` to sign RS256/ES256/EdDSA tokens with the test
harness's fixture keys. Talks to PostgreSQL through psql and pgbench only.
"""

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

import instructions

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KEYS = os.path.join(ROOT, "pgrx-tests", "fixtures", "keys")
SCENARIOS = os.path.join(HERE, "scenarios")
RESULTS = os.path.join(HERE, "results")
DB = "bench"
APP = "boards_app"
ADMIN = "boards_admin"

# Per tenant: 100 users, 500 boards, 200 board memberships, 200 generations = 1,000 rows.
SHAPE = {"users": 100, "boards": 500, "members": 200, "generations": 200}
ROWS_PER_TENANT = sum(SHAPE.values())
TOKEN_ALGS = ["HS256", "RS256", "ES256", "EdDSA"]
KIDS = {"HS256": "bench-hs256", "RS256": "bench-rs256", "ES256": "bench-es256", "EdDSA": "bench-eddsa"}
TOKEN_LIFETIME = 7 * 86400

TARGET_RLS = 0.97
TARGET_FRESH_HS256 = 0.90
TARGET_REPEATED = 0.98
# Instructions per transaction (callgrind) of a protected lookup over its floor's.
TARGET_RLS_INSTRUCTIONS = 1.03
TARGET_AUDIT_10M_S = 10.0
AUDIT_TARGET_ROWS = 10_000_000


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def parse_rows(text):
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad row count {text!r} (e.g. 1m, 10m, 200k)")
    mult = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    rows = int(float(m.group(1)) * mult)
    if rows < ROWS_PER_TENANT:
        raise argparse.ArgumentTypeError(f"at least {ROWS_PER_TENANT} rows")
    return rows


def human(n):
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


# ----------------------------------------------------------------------------------- psql


def psql(sql, user="postgres", db=DB, quiet=True, check=True):
    """Runs SQL through psql (unaligned, tuples only) and returns stdout."""
    cmd = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-At", "-U", user, "-d", db, "-f", "-"]
    if quiet:
        cmd.insert(1, "-q")
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f"psql as {user} failed ({p.returncode}):\n{p.stderr}\n--- SQL:\n{sql[:2000]}")
    return p.stdout


def lit(text):
    """A dollar-quoted SQL literal."""
    tag = "$k$"
    assert tag not in text
    return f"{tag}{text}{tag}"


# --------------------------------------------------------------------------------- tokens


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """Signs JWTs with the harness's fixture keys (pgrx-tests/fixtures/keys)."""

    def __init__(self, alg):
        self.alg = alg
        self.kid = KIDS[alg]
        header = {"alg": alg, "typ": "JWT", "kid": self.kid}
        self.header = b64url(json.dumps(header, separators=(",", ":")).encode())
        if alg == "HS256":
            with open(os.path.join(KEYS, "hmac_secret.txt"), "rb") as f:
                self.secret = f.read()
            return
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, padding

        name = {"RS256": "rsa", "ES256": "ec256", "EdDSA": "ed25519"}[alg]
        with open(os.path.join(KEYS, f"{name}_private.pem"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        self._hashes, self._padding, self._ec = hashes, padding, ec

    def sign(self, claims):
        payload = json.dumps(claims, separators=(",", ":"))
        signing_input = f"{self.header}.{b64url(payload.encode())}".encode()
        if self.alg == "HS256":
            sig = hmac.new(self.secret, signing_input, hashlib.sha256).digest()
        elif self.alg == "RS256":
            sig = self.key.sign(signing_input, self._padding.PKCS1v15(), self._hashes.SHA256())
        elif self.alg == "ES256":
            from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

            der = self.key.sign(signing_input, self._ec.ECDSA(self._hashes.SHA256()))
            r, s = decode_dss_signature(der)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:  # EdDSA
            sig = self.key.sign(signing_input)
        return f"{signing_input.decode()}.{b64url(sig)}", payload


def verification_material(alg):
    name = {"HS256": "hmac_secret.txt", "RS256": "rsa_public.pem", "ES256": "ec256_public.pem",
            "EdDSA": "ed25519_public.pem"}[alg]
    with open(os.path.join(KEYS, name)) as f:
        return f.read()


def mint_tokens(cfg, path):
    """Writes bench.tokens rows (COPY text format): alg, n, token, claims."""
    now = int(time.time())
    exp = now + TOKEN_LIFETIME
    count = 0
    with open(path, "w") as out:
        for alg in TOKEN_ALGS:
            signer = Signer(alg)
            started = time.time()
            for n in range(cfg.pool):
                t = n % cfg.tenants + 1
                # Every pool token is user 1's of its tenant (distinct jti): fresh tokens of
                # members a backend knows (the WARM tokens make it know them).
                claims = {"sub": "user-1", "tenant": f"bench-{t:05d}", "iat": now, "exp": exp,
                          "jti": f"{alg}-{n}"}
                token, payload = signer.sign(claims)
                out.write(f"{alg}\t{n}\t{token}\t{payload}\n")
                count += 1
            log(f"  minted {cfg.pool} {alg} tokens in {time.time() - started:.1f} s")
        signer = Signer("HS256")
        for n in range(min(cfg.pool, cfg.tenants)):
            token, payload = signer.sign({"sub": "user-1", "tenant": f"bench-{n % cfg.tenants + 1:05d}",
                                          "iat": now, "exp": exp, "jti": f"WARM-{n}"})
            out.write(f"WARM\t{n}\t{token}\t{payload}\n")
            count += 1
        for n in range(2 * cfg.mem_tokens):
            token, payload = signer.sign({"sub": f"mem-{n}", "iat": now, "exp": exp, "jti": f"MEM-{n}"})
            out.write(f"MEM\t{n}\t{token}\t{payload}\n")
            count += 1
        for n in range(cfg.reg_pool):
            token, payload = signer.sign({"sub": f"founder-{n}", "iat": now, "exp": exp, "jti": f"REG-{n}"})
            out.write(f"REG\t{n}\t{token}\t{payload}\n")
            count += 1
    return count


# ------------------------------------------------------------------------------- database


def setup_database(cfg, workdir):
    log("database, roles, extension, keys")
    psql(f"""
        CREATE DATABASE {DB};
        ALTER DATABASE {DB} SET boards.multi_tenant_mode = on;
    """, db="postgres")
    psql(f"""
        CREATE EXTENSION boards_tenant;                         -- creates the role boards_tenant_admin
        CREATE ROLE {APP} LOGIN;                                -- the API role: no superuser, no BYPASSRLS
        CREATE ROLE {ADMIN} LOGIN IN ROLE boards_tenant_admin;  -- operators (the audit)
    """)
    psql("".join(f"SELECT boards_jwt_add_key('{KIDS[a]}', '{a}', {lit(verification_material(a))});\n"
                 for a in TOKEN_ALGS), user=ADMIN)
    psql(open(os.path.join(HERE, "sql", "setup.sql")).read())

    generate(cfg, 1, cfg.tenants)

    log("copies of boards.boards: bench.boards_plain (no RLS), bench.boards_naive (naive policy)")
    psql("""
        SET boards.auto_protect = off;
        CREATE TABLE bench.boards_plain (LIKE boards.boards INCLUDING DEFAULTS INCLUDING INDEXES);
        INSERT INTO bench.boards_plain SELECT * FROM boards.boards;
        CREATE TABLE bench.boards_naive (LIKE boards.boards INCLUDING DEFAULTS INCLUDING INDEXES);
        INSERT INTO bench.boards_naive SELECT * FROM boards.boards;
        ALTER TABLE bench.boards_naive ENABLE ROW LEVEL SECURITY;
        ALTER TABLE bench.boards_naive FORCE ROW LEVEL SECURITY;
        CREATE POLICY naive ON bench.boards_naive
            USING (tenant_id = current_setting('app.tenant')::uuid);
        GRANT SELECT ON bench.boards_plain, bench.boards_naive TO boards_app;
    """)

    log(f"minting tokens ({cfg.pool} per algorithm, {2 * cfg.mem_tokens} for memory, {cfg.reg_pool} for registration)")
    path = os.path.join(workdir, "tokens.tsv")
    n = mint_tokens(cfg, path)
    psql(f"\\copy bench.tokens (alg, n, token, claims) FROM {shlex.quote(path)}\n"
         f"UPDATE bench.tokens SET t = n % {cfg.tenants} + 1, tenant_id = bench.tenant_id(n % {cfg.tenants} + 1)\n"
         f"WHERE alg IN ({', '.join(lit(a) for a in TOKEN_ALGS + ['WARM'])});\n")
    log(f"  loaded {n} tokens")
    os.unlink(path)

    log("VACUUM ANALYZE, CHECKPOINT")
    psql("VACUUM ANALYZE;\nCHECKPOINT;\n")


def generate(cfg, t_from, t_to):
    """Generates tenants t_from..t_to in batches (set-based SQL, one transaction per batch)."""
    started = time.time()
    batch = 250
    total = 0
    for a in range(t_from, t_to + 1, batch):
        b = min(a + batch - 1, t_to)
        out = psql(f"""
            SET session_replication_role = replica;
            SELECT bench.generate({a}, {b}, {SHAPE['users']}, {SHAPE['boards']},
                                  {SHAPE['members']}, {SHAPE['generations']});
        """)
        total += int(out.split()[-1])
        if (b - t_from + 1) % 2500 < batch or b == t_to:
            log(f"  tenants {t_from}..{b}: {total:,} rows, {time.time() - started:.0f} s")
    return total


def content_rows():
    out = psql("""
        SELECT (SELECT count(*) FROM boards.users) + (SELECT count(*) FROM boards.boards)
             + (SELECT count(*) FROM boards.board_members) + (SELECT count(*) FROM boards.generations);
    """)
    return int(out.strip())


# ------------------------------------------------------------------------------ sanity


def sanity_checks(cfg):
    """Fails the run unless every scenario's query returns what it should, as boards_app: a
    benchmark of a query that returns nothing (no context) would look fast and mean nothing."""
    log("sanity checks (as boards_app)")
    other = 2 if cfg.tenants > 1 else 1
    t1 = 1 % cfg.tenants + 1  # the tenant of token n = 1
    out = psql(f"""
        SELECT count(*) FROM boards.boards;
        SELECT tenant_slug FROM boards_set_tenant_from_jwt((SELECT token FROM bench.tokens WHERE alg = 'HS256' AND n = 0));
        SELECT count(*) FROM boards.boards WHERE id = bench.board_id(1, 7);
        SELECT count(*) FROM boards.boards WHERE id = bench.board_id({other}, 7);
        SELECT count(*) FROM boards.boards WHERE id BETWEEN bench.board_id(1, 1) AND bench.board_id(1, 50);
        SELECT count(*) FROM boards.boards;
        SELECT count(*) FROM bench.boards_plain WHERE tenant_id = bench.tenant_id(1) AND id BETWEEN bench.board_id(1, 1) AND bench.board_id(1, 50);
        SELECT set_config('app.tenant', bench.tenant_id(1)::text, false) IS NOT NULL;
        SELECT count(*) FROM bench.boards_naive WHERE id BETWEEN bench.board_id(1, 1) AND bench.board_id(1, 50);
        SELECT boards_reset_tenant();
        BEGIN;
        SELECT tenant_slug FROM boards_set_tenant_from_jwt((SELECT token FROM bench.tokens WHERE alg = 'EdDSA' AND n = 1), NULL, true);
        SELECT count(*) FROM boards.boards WHERE id = bench.board_id({t1}, 3);
        COMMIT;
        SELECT boards_current_tenant() IS NULL;
    """, user=APP).split("\n")
    got = [x for x in out if x != ""]
    want = ["0", "bench-00001", "1", "0" if other != 1 else "1", "50", str(SHAPE["boards"]), "50", "t", "50",
            f"bench-{t1:05d}", "1", "t"]
    if got != want:
        raise RuntimeError(f"sanity check failed:\n got  {got}\n want {want}")
    # The comparison tables must be what their labels say: the floor without row-level security
    # or a policy, the naive copy with only its own policy, neither protected by the extension.
    shape = psql("""
        SELECT c.relname, c.relrowsecurity, (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
               EXISTS (SELECT FROM boards.protected_tables r WHERE r.tbl = c.oid)
        FROM pg_class c WHERE c.oid IN ('bench.boards_plain'::regclass, 'bench.boards_naive'::regclass)
        ORDER BY 1;
    """).split()
    if shape != ["boards_naive|t|1|f", "boards_plain|f|0|f"]:
        raise RuntimeError(f"comparison tables are not as labelled: {shape}")
    admin = psql("SELECT count(*) FROM boards.boards;", user=ADMIN).strip()
    if admin != "0":
        raise RuntimeError(f"boards_admin sees {admin} boards without a context")
    log("  ok: no context = no rows; own tenant 1 row / 50-row range; other tenant 0 rows; local context ends at COMMIT")


def explain_plans(cfg):
    """EXPLAIN ANALYZE of the scenario 1 queries, as boards_app."""
    sql = """
        SELECT tenant_slug FROM boards_set_tenant_from_jwt((SELECT token FROM bench.tokens WHERE alg = 'HS256' AND n = 0));
        SELECT set_config('app.tenant', bench.tenant_id(1)::text, false);
        \\echo '--- protected point'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM boards.boards WHERE id = bench.board_id(1, 7);
        \\echo '--- floor point'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM bench.boards_plain WHERE tenant_id = bench.tenant_id(1) AND id = bench.board_id(1, 7);
        \\echo '--- naive point'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM bench.boards_naive WHERE id = bench.board_id(1, 7);
        \\echo '--- protected range'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM boards.boards WHERE id BETWEEN bench.board_id(1, 100) AND bench.board_id(1, 149);
        \\echo '--- floor range'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM bench.boards_plain WHERE tenant_id = bench.tenant_id(1) AND id BETWEEN bench.board_id(1, 100) AND bench.board_id(1, 149);
        \\echo '--- naive range'
        EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT id, title FROM bench.boards_naive WHERE id BETWEEN bench.board_id(1, 100) AND bench.board_id(1, 149);
    """
    return psql(sql, user=APP, quiet=False)


# ------------------------------------------------------------------------------ pgbench


class Script:
    def __init__(self, key, label, template, clients, subs=None, baseline=None, target=None,
                 group=None, user=APP):
        self.key, self.label, self.template = key, label, template
        self.clients, self.subs = clients, subs or {}
        self.baseline, self.target, self.group, self.user = baseline, target, group, user
        self.tps = []
        self.latency = []
        self.path = None

    def write(self, workdir):
        with open(os.path.join(SCENARIOS, self.template)) as f:
            text = f.read()
        for k, v in self.subs.items():
            text = text.replace(f"@{k}@", v)
        self.path = os.path.join(workdir, f"{self.key}.sql")
        with open(self.path, "w") as f:
            f.write(text)

    @property
    def median(self):
        return statistics.median(self.tps) if self.tps else None


def pgbench_cmd(cfg, script, length, clients=None):
    """The pgbench command line of a scenario; `length` is ["-T", seconds] or ["-t", count]."""
    clients = clients or script.clients
    threads = max(1, min(clients, os.cpu_count() or 1))
    return ["pgbench", "-n", "-M", cfg.protocol, "-c", str(clients), "-j", str(threads),
            *length, "-U", script.user, "-f", script.path,
            "-D", f"tenants={cfg.tenants}", "-D", f"boards={SHAPE['boards']}",
            "-D", f"pool={cfg.pool}", "-D", f"regpool={cfg.reg_pool}", "-D", "ctx=0", DB]


def pgbench(cfg, script, seconds):
    cmd = pgbench_cmd(cfg, script, ["-T", str(seconds)])
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout + p.stderr
    m = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out, re.M)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    aborted = "aborted" in out or "error" in out.lower() and "Run was aborted" in out
    if p.returncode != 0 or not m or aborted or (failed and int(failed.group(1)) > 0):
        raise RuntimeError(f"pgbench {script.key} failed ({p.returncode}):\n{' '.join(cmd)}\n{out}")
    lat = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    return float(m.group(1)), float(lat.group(1)) if lat else None


def count_instructions(cfg, groups, names):
    """Instructions per transaction of the scenarios of `names` (instructions.py), one client."""
    pgdata = os.environ.get("BENCH_PGDATA")
    if not pgdata:
        raise RuntimeError("BENCH_PGDATA not set (run through bench/run.sh)")
    scripts = [s for g in names for s in groups[g]]
    return instructions.measure(scripts, lambda s, n: pgbench_cmd(cfg, s, ["-t", str(n)], clients=1),
                                pgdata, log)


def run_group(cfg, name, scripts):
    """Runs the scripts of a group alternately: one warm-up pass, then cfg.rounds rounds of
    A B C ...; the median of the rounds is the result."""
    log(f"group {name}: {', '.join(s.key for s in scripts)}; warm-up {cfg.warmup} s each")
    for s in scripts:
        pgbench(cfg, s, cfg.warmup)
    for r in range(cfg.rounds):
        for s in scripts:
            tps, lat = pgbench(cfg, s, cfg.seconds)
            s.tps.append(tps)
            s.latency.append(lat)
        log(f"  round {r + 1}/{cfg.rounds}: " + ", ".join(f"{s.key} {s.tps[-1]:.0f}" for s in scripts))


# The context statement of txn_verified.sql, by form. "field": one field of the result in the
# select list (what the scenarios use); "record": the whole composite as one column; "from":
# the function in FROM with its columns listed, as the HTTP gateway sends it.
CONTEXT_CALLS = {
    "field": "SELECT (boards_set_tenant_from_jwt(token, NULL, true)).tenant_id, t FROM bench.tokens "
             "WHERE alg = '@ALG@' AND n = @PICK@",
    "record": "SELECT boards_set_tenant_from_jwt(token, NULL, true) AS context, t FROM bench.tokens "
              "WHERE alg = '@ALG@' AND n = @PICK@",
    "from": "SELECT c.tenant_id, c.tenant_slug, c.user_id, c.subject, c.source, k.t FROM bench.tokens k, "
            "boards_set_tenant_from_jwt(k.token, NULL, true) c WHERE k.alg = '@ALG@' AND k.n = @PICK@",
}


def verified(key, label, pick, alg, form="field", **kw):
    call = CONTEXT_CALLS[form].replace("@ALG@", alg).replace("@PICK@", pick)
    return Script(key, label, "txn_verified.sql", kw.pop("clients"), subs={"CONTEXT": call}, **kw)


def scenario_scripts(cfg):
    c = cfg.clients
    # Fresh: the next token of the pool, in order (a sequence shared by the clients), so no token
    # is presented twice before the whole pool (more than the 1,024-entry verified-token cache)
    # went by. Repeated: the client's own token.
    fresh = "(SELECT pg_catalog.nextval('bench.fresh_pick') % :pool)"
    repeated = ":client_id"
    groups = {
        "1-point": [
            Script("point_floor", "floor: hand filter, unprotected copy", "point_plain.sql", c),
            Script("point_protected", "protected (RLS + session context)", "point_protected.sql", c,
                   baseline="point_floor", target=TARGET_RLS),
            Script("point_naive", "naive policy (current_setting)", "point_naive.sql", c,
                   baseline="point_floor"),
            Script("point_sealed", "protected, sealed context (what another backend re-establishes)",
                   "point_sealed.sql", c, baseline="point_floor"),
        ],
        "1-range": [
            Script("range_floor", "floor: hand filter, unprotected copy", "range_plain.sql", c),
            Script("range_protected", "protected (RLS + session context)", "range_protected.sql", c,
                   baseline="range_floor", target=TARGET_RLS),
            Script("range_naive", "naive policy (current_setting)", "range_naive.sql", c,
                   baseline="range_floor"),
        ],
    }
    for mode, pick in (("fresh", fresh), ("repeated", repeated)):
        base = f"{mode}_postgrest"
        group = [Script(base, "PostgREST pattern: set_config(claims) + hand filter", "txn_postgrest.sql", c,
                        subs={"PICK": pick})]
        for alg in TOKEN_ALGS:
            if mode == "fresh":
                target = TARGET_FRESH_HS256 if alg == "HS256" else None
            else:
                target = TARGET_REPEATED
            group.append(verified(f"{mode}_{alg.lower()}", f"verified {alg}, is_local", pick, alg,
                                  clients=c, baseline=base, target=target))
        groups[f"2-{mode}"] = group
    groups["3-call-forms"] = [
        Script("forms_postgrest", "PostgREST pattern: set_config(claims) + hand filter", "txn_postgrest.sql", c,
               subs={"PICK": repeated}),
    ] + [verified(f"forms_{form}", f"repeated HS256, context call as {form}", repeated, "HS256", form,
                  clients=c, baseline="forms_postgrest") for form in CONTEXT_CALLS]
    groups["4-register"] = [
        Script("register_1", "registrations, 1 client", "register.sql", 1),
        Script("register_8", "registrations, 8 clients", "register.sql", 8),
    ]
    for g, scripts in groups.items():
        for s in scripts:
            s.group = g
    return groups


# ------------------------------------------------------------------------------- audit


def run_audit(cfg, rows):
    log(f"audit on {rows:,} rows (as boards_admin), {cfg.audit_runs} runs")
    times = []
    for _ in range(cfg.audit_runs):
        out = psql("\\timing on\nSELECT count(*) FROM boards_tenant_audit();\n", user=ADMIN)
        m = re.search(r"Time: ([\d.]+) ms", out)
        if not m:
            raise RuntimeError(f"no timing in psql output:\n{out}")
        times.append(float(m.group(1)) / 1000)
        log(f"  {times[-1]:.2f} s ({out.split()[0]} findings)")
    findings = psql("""
        SELECT severity || ' ' || check_name || coalesce(' ' || tenant_slug, '') || coalesce(' ' || object_name, '')
               || coalesce(' (' || (detail ->> 'rows') || ' rows)', '')
        FROM boards_tenant_audit() WHERE severity <> 'info' ORDER BY 1;
    """, user=ADMIN).strip().splitlines()
    med = statistics.median(times)
    return {"rows": rows, "times": times, "median": med, "rows_per_s": rows / med, "findings": findings}


# ------------------------------------------------------------------------------ memory


def memory_scenario(cfg):
    """VmRSS/RssAnon of one boards_app backend: before, after verifying mem_tokens distinct
    tokens, after another mem_tokens. Read from /proc/<pid>/status (we run as root)."""
    log(f"memory: one boards_app backend, 2 x {cfg.mem_tokens:,} distinct tokens")
    batch = 10_000
    lines = ["SELECT pg_backend_pid() AS pid \\gset", "\\setenv BENCH_PID :pid",
             "SELECT count(*) FROM bench.tokens WHERE alg = 'MEM' AND n < 0;"]
    status = "\\! echo '@@phase' $BENCH_PID; grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM):' /proc/$BENCH_PID/status"
    lines.append(status.replace("phase", "before"))
    for phase in range(2):
        for a in range(phase * cfg.mem_tokens, (phase + 1) * cfg.mem_tokens, batch):
            b = min(a + batch, (phase + 1) * cfg.mem_tokens)
            lines.append(f"SELECT count(boards_authenticate(token)) FROM bench.tokens "
                         f"WHERE alg = 'MEM' AND n >= {a} AND n < {b};")
        lines.append(status.replace("phase", f"after{phase + 1}"))
    out = psql("\n".join(lines) + "\n", user=APP)
    phases, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@@"):
            cur = line[2:].split()[0]
            phases[cur] = {}
        elif cur and ":" in line:
            k, v = line.split(":", 1)
            phases[cur][k] = int(v.split()[0])  # kB
    verified = sum(int(x) for x in out.splitlines() if x.strip().isdigit())
    if set(phases) != {"before", "after1", "after2"} or verified != 2 * cfg.mem_tokens:
        raise RuntimeError(f"memory scenario: unexpected output\n{out}")
    d1 = phases["after1"]["RssAnon"] - phases["before"]["RssAnon"]
    d2 = phases["after2"]["RssAnon"] - phases["after1"]["RssAnon"]
    limit = max(1024, d1 // 10)
    return {"phases": phases, "delta1_kb": d1, "delta2_kb": d2, "limit_kb": limit,
            "pass": d2 <= limit, "tokens": cfg.mem_tokens}


# ------------------------------------------------------------------- server cost per call


def call_cases(cfg):
    """(label, calls, SQL): server-side loops in one boards_app backend, one statement each.
    "fresh" cycles through the whole token pool in order (more tokens than the 1,024-entry
    verified-token cache holds, so every call misses it); the LATERAL ... OFFSET 0 keeps the
    planner from turning the loop inside out (which would repeat each token)."""
    reps_fast = max(1, 100_000 // cfg.pool)
    repeated = 100_000 if not cfg.quick else 20_000

    def fresh(expr, alg, reps):
        return (f"SELECT count(*) FROM (SELECT {expr} FROM generate_series(1, {reps}) g "
                f"CROSS JOIN LATERAL (SELECT token, claims FROM bench.tokens WHERE alg = '{alg}' AND g > 0 "
                f"ORDER BY n OFFSET 0) t) s;")

    def same(expr):
        return (f"SELECT count(*) FROM (SELECT {expr} FROM (SELECT token, claims FROM bench.tokens "
                f"WHERE alg = 'HS256' AND n = 0) t, generate_series(1, {repeated}) g) s;")

    setjwt = "(boards_set_tenant_from_jwt(t.token, NULL, true)).tenant_id"
    cases = [
        ("set_config('request.jwt.claims', claims, true), fresh claims", reps_fast * cfg.pool,
         fresh("set_config('request.jwt.claims', t.claims, true)", "HS256", reps_fast)),
        ("boards_authenticate(token, true), fresh HS256", reps_fast * cfg.pool,
         fresh("boards_authenticate(t.token, true)", "HS256", reps_fast)),
    ]
    for alg in TOKEN_ALGS:
        reps = reps_fast if alg == "HS256" else 1
        cases.append((f"boards_set_tenant_from_jwt(token, NULL, true), fresh {alg}", reps * cfg.pool,
                       fresh(setjwt, alg, reps)))
    cases += [
        ("set_config('request.jwt.claims', claims, true), repeated", repeated,
         same("set_config('request.jwt.claims', t.claims, true)")),
        ("boards_authenticate(token, true), repeated HS256", repeated, same("boards_authenticate(t.token, true)")),
        ("boards_set_tenant_from_jwt(token, NULL, true), repeated HS256", repeated, same(setjwt)),
        ("boards_current_tenant(), same context", repeated,
         f"SELECT count(boards_current_tenant()) FROM generate_series(1, {repeated});"),
        ("loop overhead: count(*) of the same rows, no call", repeated,
         f"SELECT count(*) FROM (SELECT token FROM bench.tokens WHERE alg = 'HS256' AND n = 0) t, "
         f"generate_series(1, {repeated}) g;"),
    ]
    return cases


def call_costs(cfg):
    """Server time per call of the context functions and of set_config (best of 3 runs)."""
    log("server time per call (one boards_app backend, best of 3)")
    prologue = ("SET jit = off;\n"  # the loops are costly enough to be JIT-compiled; the OLTP statements are not
                "SELECT tenant_id FROM boards_set_tenant_from_jwt("
                "(SELECT token FROM bench.tokens WHERE alg = 'HS256' AND n = 0));\n")
    out_rows = []
    for label, calls, sql in call_cases(cfg):
        out = psql(prologue + "\\timing on\n" + (sql + "\n") * 3, user=APP)
        times = [float(x) for x in re.findall(r"Time: ([\d.]+) ms", out)]
        best = min(times) / 1000
        out_rows.append((label, calls, best, best / calls * 1e6))
        log(f"  {label}: {best / calls * 1e6:.2f} us")
    return out_rows


# ----------------------------------------------------------------------------- profile


def enable_pg_stat_statements():
    """After the measurement (which runs without it): preload pg_stat_statements and restart."""
    pgdata = os.environ.get("BENCH_PGDATA")
    if not pgdata:
        log("BENCH_PGDATA not set: profiling without pg_stat_statements")
        return
    log("restarting the cluster with pg_stat_statements for the profiles")
    psql("ALTER SYSTEM SET shared_preload_libraries = 'boards_tenant', 'pg_stat_statements';", db="postgres")
    pg_ctl = os.path.join(subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"], capture_output=True, text=True).stdout.strip(),
                          "pg_ctl")
    cmd = [pg_ctl, "-D", pgdata, "-m", "fast", "-w", "-t", "120", "restart"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")


def perf_summary(data, title):
    """Inclusive (children) and self time by symbol of a perf.data file with call graphs."""
    out = [f"### {title}", "", "Inclusive time by symbol (callers included; unresolved addresses dropped):", "```"]
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--children", "--sort", "symbol",
                        "-g", "none", "--percent-limit", "1.5"], capture_output=True, text=True)
    rows = [re.sub(r"\s+-\s+-\s*$", "", l.rstrip()) for l in p.stdout.splitlines()
            if "%" in l and not l.startswith("#")]
    # Unresolved addresses (static functions of the stripped postgres binary) and the frames
    # every sample shares (main, PostgresMain, PortalRun, ...) say nothing.
    rows = [r for r in rows if not re.search(r"\] 0x[0-9a-f]+$", r) and float(r.split("%")[0]) < 96]
    out += [r[:170] for r in rows[:40]]
    out += ["```", "", "Self time by library:", "```"]
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso",
                        "-g", "none", "--percent-limit", "0.5"], capture_output=True, text=True)
    out += [re.sub(r"\s+-\s+-\s*$", "", l.rstrip()) for l in p.stdout.splitlines()
            if "%" in l and not l.startswith("#")][:10]
    out += ["```", "", "Self time by library and symbol:", "```"]
    p = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol",
                        "-g", "none", "--percent-limit", "1"], capture_output=True, text=True)
    rows = [l.rstrip() for l in p.stdout.splitlines() if "%" in l and not l.startswith("#")]
    out += [re.sub(r"\s+-\s+-\s*$", "", r)[:170] for r in rows[:30]]
    out += ["```", ""]
    return "\n".join(out)


def start_perf(pids, seconds, data):
    return subprocess.Popen(["perf", "record", "-F", "1999", "--call-graph", "dwarf,16384",
                             "-p", ",".join(str(p) for p in pids), "-o", data, "--", "sleep", str(seconds)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_loop(cfg, label, sql, workdir):
    """perf on the backend of a psql session running a server-side loop."""
    log(f"profiling loop: {label}")
    data = os.path.join(workdir, "perf-loop.data")
    script = ("SET jit = off;\nSELECT tenant_id FROM boards_set_tenant_from_jwt("
              "(SELECT token FROM bench.tokens WHERE alg = 'HS256' AND n = 0));\n"
              "SELECT pg_backend_pid() AS pid \\gset\n\\setenv BENCH_PID :pid\n"
              f"{sql}\n"  # warm
              f"\\! perf record -F 1999 --call-graph dwarf,16384 -p $BENCH_PID -o {data} -- sleep 3 "
              f">/dev/null 2>&1 & echo $! > {data}.pid; sleep 0.5\n"
              + (sql + "\n") * 8)
    psql(script, user=APP)
    with open(data + ".pid") as f:
        pid = int(f.read())
    os.unlink(data + ".pid")
    while True:  # perf (our child's child) finishes writing its file
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    text = perf_summary(data, f"server loop: {label}")
    os.unlink(data)
    return text


def profile_script(cfg, script, workdir, seconds):
    """perf on the pgbench clients' backends, and pg_stat_statements, for one scenario."""
    log(f"profiling {script.key} for {seconds} s")
    have_pgss = psql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements';").strip() == "1"
    if have_pgss:
        psql("SELECT pg_stat_statements_reset();")
    data = os.path.join(workdir, f"perf-{script.key}.data")
    bench = subprocess.Popen(pgbench_cmd(cfg, script, ["-T", str(seconds + 2)]),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pids = []
    for _ in range(50):
        time.sleep(0.1)
        pids = psql(f"SELECT pid FROM pg_stat_activity WHERE usename = '{script.user}' "
                    f"AND backend_type = 'client backend';").split()
        if len(pids) >= script.clients:
            break
    perf = start_perf(pids, seconds, data) if pids else None
    out, _ = bench.communicate()
    if perf:
        perf.wait()
    m = re.search(r"^tps = ([\d.]+)", out, re.M)
    report = [f"## {script.key}: {float(m.group(1)) if m else 0:.0f} TPS under perf (backends {', '.join(pids)})", ""]
    if perf and os.path.exists(data):
        report.append(perf_summary(data, f"pgbench {script.key}: the {script.clients} client backends"))
        os.unlink(data)
    if have_pgss:
        report.append("### pg_stat_statements (mean server time per statement)\n```")
        report.append(psql("""
            SELECT lpad(calls::text, 9) || lpad(round(mean_exec_time::numeric * 1000, 1)::text, 9) || ' us  '
                   || left(regexp_replace(query, '\\s+', ' ', 'g'), 130)
            FROM pg_stat_statements WHERE calls > 100 ORDER BY total_exec_time DESC LIMIT 8;
        """).rstrip())
        report.append("```\n")
    return "\n".join(report) + "\n"


# ------------------------------------------------------------------------------ report


def machine_info():
    info = {"nproc": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
        with open("/proc/meminfo") as f:
            kb = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
            info["ram"] = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    info["kernel"] = os.uname().release
    info["postgres"] = psql("SELECT version();", db="postgres").strip()
    info["settings"] = psql("""
        SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name)
        FROM pg_settings WHERE name IN ('shared_buffers', 'effective_cache_size', 'maintenance_work_mem',
              'max_connections', 'shared_preload_libraries', 'work_mem', 'fsync', 'synchronous_commit',
              'max_wal_size', 'jit');
    """, db="postgres").strip()
    libdir = subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--pkglibdir"], capture_output=True, text=True).stdout.strip()
    lib = os.path.join(libdir or "/usr/lib/postgresql/15/lib", "boards_tenant.so")
    try:
        with open(lib, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).digest()
        build = "matches no build in target/ (installed from elsewhere?)"
        for kind, rel in (("the release build", "target/release"), ("a DEBUG build", "target/debug"),
                          ("a DEBUG build (test harness)", "target/harness-install/debug")):
            cand = os.path.join(ROOT, rel, "libboards_tenant.so")
            if os.path.exists(cand) and os.path.getsize(cand) == len(data):
                with open(cand, "rb") as f:
                    if hashlib.sha256(f.read()).digest() == digest:
                        build = f"{kind} ({rel})"
                        break
        info["library"] = (f"{lib}, {len(data) / 1e6:.1f} MB, sha256 {hashlib.sha256(data).hexdigest()[:16]}, "
                           f"{build}")
    except OSError:
        info["library"] = lib
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src", "core", "sql"],
                               capture_output=True, text=True).stdout.strip()
        info["git"] = rev + (" + uncommitted changes in src/core/sql" if dirty else "")
    except OSError:
        info["git"] = "?"
    return info


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def build_report(cfg, res):
    by = {s.key: s for g in res["groups"].values() for s in g}
    m = res["machine"]
    out = [f"# boards_tenant benchmark, {res['date']}{' (--quick smoke test)' if cfg.quick else ''}", ""]
    out += [f"Command: `{cfg.command}`  ",
            f"Started {res['started']}, took {res['duration_min']:.1f} min. Commit {m.get('git')}.", "",
            "| machine | |", "| --- | --- |",
            f"| nproc | {m['nproc']} |", f"| CPU | {m.get('cpu')} |", f"| RAM | {m.get('ram')} |",
            f"| kernel | {m['kernel']} |", f"| PostgreSQL | {m['postgres']} |",
            f"| settings | {m['settings']} (set by run.sh: shared_buffers, effective_cache_size, maintenance_work_mem, max_connections, shared_preload_libraries; the rest are defaults) |",
            f"| extension library | {m['library']} |",
            f"| load average (1/5/15 min) | at start {res['load_start']}, at end {res['load_end']} "
            f"(a quiet machine reads ~0 at start; the run itself keeps ~{cfg.clients} busy) |", ""]
    out += [f"Data: {cfg.tenants:,} tenants x ({SHAPE['users']} users + {SHAPE['boards']} boards + "
            f"{SHAPE['members']} board_members + {SHAPE['generations']} generations) = "
            f"{res['rows']:,} content rows; copies `bench.boards_plain` / `bench.boards_naive` of "
            f"`boards.boards` ({cfg.tenants * SHAPE['boards']:,} rows each, same indexes).  ",
            f"pgbench: `-M {cfg.protocol}`, {cfg.clients} clients / {min(cfg.clients, m['nproc'])} threads "
            f"(registration: 1 and 8 clients), as `boards_app` (no superuser, no BYPASSRLS); "
            f"{cfg.rounds} rounds of {cfg.seconds} s per scenario after a {cfg.warmup} s warm-up, "
            f"scenarios of a group alternating (A B C A B C ...); the result is the median round.  ",
            f"Token pools: {cfg.pool:,} pre-minted tokens per algorithm (fresh = the next of the pool "
            f"in order, never one this backend verified: the verified-token cache holds 1,024; the "
            f"members they name are known to the backend, WARM tokens), repeated = one token per client.", ""]
    out += ["## Results", "",
            "| scenario | what | TPS per round | median TPS | ratio to baseline | target | result "
            "| instructions per transaction | instructions, ratio to baseline |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    counts = res.get("instructions") or {}
    for g, scripts in res["groups"].items():
        for s in scripts:
            ins = counts.get(s.key)
            ins_base = counts.get(s.baseline) if s.baseline else None
            ins_txt = f"{ins:,}" if ins else "—"
            if ins and ins_base:
                ins_ratio = ins / ins_base
                limit = TARGET_RLS_INSTRUCTIONS if s.target == TARGET_RLS else None
                ins_ratio_txt = f"{ins_ratio:.3f}x" + (f" (<= {limit:.2f}x: {verdict(ins_ratio <= limit)})"
                                                        if limit else "")
            else:
                ins_ratio_txt = "baseline" if s.baseline is None and ins else "—"
            rounds = " / ".join(f"{x:,.0f}" for x in s.tps)
            if s.baseline:
                ratio = s.median / by[s.baseline].median
                s.ratio = ratio
                rtxt = f"{ratio:.3f}x `{s.baseline}`"
            else:
                s.ratio = None
                rtxt = "baseline" if g != "4-register" else "—"
            tgt = f">= {s.target:.2f}x" if s.target else "—"
            verdict_txt = verdict(s.ratio >= s.target) if s.target else "—"
            out.append(f"| `{s.key}` | {s.label} | {rounds} | {s.median:,.0f} | {rtxt} | {tgt} | {verdict_txt} "
                       f"| {ins_txt} | {ins_ratio_txt} |")
    if counts:
        out += ["", f"Instructions per transaction: the cluster restarted under `valgrind --tool=callgrind`, each "
                f"scenario's script run by one pgbench client for {instructions.SHORT} and {instructions.LONG} "
                f"transactions, the difference of the two backends' totals divided by "
                f"{instructions.LONG - instructions.SHORT} (`bench/instructions.py`): deterministic to a fraction "
                f"of a per cent, and immune to the machine's load."]
    reg1, reg8 = by.get("register_1"), by.get("register_8")
    out += ["", f"Scenario 4, registration (`boards_authenticate` + `boards_tenant_register`, multi-tenant "
            f"mode, no sample data): **{reg1.median:,.0f}/s with 1 client, {reg8.median:,.0f}/s with 8 clients** "
            f"(no target).", ""]
    out += audit_section(res["audit"])
    mem = res["memory"]
    ph = mem["phases"]
    out += ["## Memory (scenario 5)", "",
            f"One `boards_app` backend calls `boards_authenticate` on {mem['tokens']:,} distinct HS256 tokens "
            f"(batches of 10,000 per statement), then on {mem['tokens']:,} more. Values from /proc/<pid>/status, kB. "
            "VmRSS also counts the shared buffers this backend touched (RssShmem: reading the token table); "
            "RssAnon is the backend's private memory, which is what a cache leak would grow, so the verdict "
            f"uses it: bounded if the second batch adds <= max(1 MiB, 10% of the first batch's growth).", "",
            "| phase | VmRSS | RssAnon | RssShmem | RssFile |", "| --- | --- | --- | --- | --- |"]
    for p, label in (("before", "before"), ("after1", f"after {mem['tokens']:,}"), ("after2", f"after {2 * mem['tokens']:,}")):
        v = ph[p]
        out.append(f"| {label} | {v['VmRSS']:,} | {v['RssAnon']:,} | {v.get('RssShmem', 0):,} | {v.get('RssFile', 0):,} |")
    out += ["", f"RssAnon growth: first batch {mem['delta1_kb']:,} kB, second batch {mem['delta2_kb']:,} kB "
            f"(limit {mem['limit_kb']:,} kB): {'bounded' if mem['pass'] else 'NOT bounded'} {verdict(mem['pass'])}.", ""]
    calls = {label: us for label, _, _, us in res["calls"]}
    out += ["## Server time per call", "",
            "One `boards_app` backend runs each function in a server-side loop (one statement, best of 3), "
            "so the figures exclude the network and the client: what the TPS ratios of scenario 2 are made of. "
            "Fresh = cycling through the whole token pool in order, so every call misses the 1,024-entry "
            "verified-token cache; repeated = one token. The loop itself costs the last row.", "",
            "| call | calls | total (s) | per call (µs) |", "| --- | --- | --- | --- |"]
    for label, n, total, us in res["calls"]:
        out.append(f"| `{label}` | {n:,} | {total:.3f} | {us:.2f} |")
    fresh_extra = calls["boards_set_tenant_from_jwt(token, NULL, true), fresh HS256"] - \
        calls["set_config('request.jwt.claims', claims, true), fresh claims"]
    rep_extra = calls["boards_set_tenant_from_jwt(token, NULL, true), repeated HS256"] - \
        calls["set_config('request.jwt.claims', claims, true), repeated"]
    fresh_tx = 1e6 * cfg.clients / by["fresh_postgrest"].median
    rep_tx = 1e6 * cfg.clients / by["repeated_postgrest"].median
    out += ["", f"So a verified context costs the server {fresh_extra:.1f} µs more per transaction than "
            f"`set_config` with a fresh HS256 token and {rep_extra:.1f} µs more with a repeated one. A PostgREST-pattern "
            f"transaction took {fresh_tx:.0f} µs (fresh) / {rep_tx:.0f} µs (repeated) of wall time per client in "
            f"this run ({cfg.clients} clients / median TPS), so the extra server time alone predicts "
            f"~{fresh_tx / (fresh_tx + fresh_extra):.2f}x and ~{rep_tx / (rep_tx + rep_extra):.2f}x "
            f"(on 2 cores, server CPU is also client CPU, so the real ratio is a little lower).", ""]
    out += ["## Plans (scenario 1, as boards_app with a session context)", "", "```", res["plans"].rstrip(), "```", ""]
    if res.get("profiles"):
        out += ["## Profiles", "", "Taken after the measurement, with the cluster restarted with "
                "pg_stat_statements preloaded: `perf record -F 1999 --call-graph dwarf` on the backends only "
                "(cpu-clock), so TPS under perf are lower than measured.", ""]
        out += res["profiles"]
    out += [f"Chart: [{os.path.basename(res['svg'])}]({os.path.basename(res['svg'])})", ""]
    return "\n".join(out)


def svg_chart(cfg, res, path):
    """Grouped bars of the ratios with the target lines; audit and memory panels beside."""
    groups = [(g, [s for s in scripts if s.baseline]) for g, scripts in res["groups"].items() if g != "4-register"]
    titles = {"1-point": "1 · point lookup", "1-range": "1 · 50-row range", "2-fresh": "2 · fresh token / txn",
              "2-repeated": "2 · repeated token / txn"}
    W, H = 1100, 500
    L, T, B = 60, 70, 120
    PW = 720  # ratio panel width
    ph = H - T - B
    ymax = max([1.1] + [s.ratio * 1.08 for _, ss in groups for s in ss])
    y = lambda v: T + ph - v / ymax * ph
    e = []
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">')
    e.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    title = f"boards_tenant benchmark {res['date']}{' (quick smoke test)' if cfg.quick else ''}"
    e.append(f'<text x="{L}" y="26" font-size="18" font-weight="bold">{esc(title)}</text>')
    e.append(f'<text x="{L}" y="46" fill="#555">TPS ratio to the baseline of the same run (median of {cfg.rounds} '
             f'alternating rounds, {cfg.clients} clients, {res["rows"]:,} rows). Green: meets target, red: misses, '
             f'blue: no target.</text>')
    # axes and grid
    step = 0.2 if ymax <= 1.6 else 0.5
    v = 0.0
    while v <= ymax + 1e-9:
        e.append(f'<line x1="{L}" x2="{L + PW}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
        e.append(f'<text x="{L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" fill="#555">{v:.1f}x</text>')
        v += step
    e.append(f'<line x1="{L}" x2="{L + PW}" y1="{y(1):.1f}" y2="{y(1):.1f}" stroke="#333" stroke-width="1.2"/>')
    e.append(f'<text x="{L + PW + 4}" y="{y(1) + 4:.1f}" fill="#333">1.0x = baseline</text>')
    nbars = sum(len(ss) for _, ss in groups)
    gap = 26
    bw = (PW - gap * (len(groups) + 1)) / max(nbars, 1)
    x = L + gap
    for g, ss in groups:
        gx0 = x
        for s in ss:
            color = "#4a78b5" if not s.target else ("#3a9a4a" if s.ratio >= s.target else "#d0443a")
            e.append(f'<rect x="{x + 3:.1f}" y="{y(s.ratio):.1f}" width="{bw - 6:.1f}" height="{y(0) - y(s.ratio):.1f}" fill="{color}"/>')
            top = min(y(s.ratio), y(s.target) if s.target else y(s.ratio))
            e.append(f'<text x="{x + bw / 2:.1f}" y="{top - 5:.1f}" text-anchor="middle" font-size="11">{s.ratio:.2f}</text>')
            name = s.key.split("_", 1)[1]
            e.append(f'<text x="{x + bw / 2:.1f}" y="{y(0) + 14:.1f}" text-anchor="middle" font-size="11">{esc(name)}</text>')
            if s.target:
                e.append(f'<line x1="{x + 1:.1f}" x2="{x + bw - 1:.1f}" y1="{y(s.target):.1f}" y2="{y(s.target):.1f}" '
                         f'stroke="#000" stroke-width="2" stroke-dasharray="5,3"/>')
            x += bw
        e.append(f'<text x="{(gx0 + x) / 2:.1f}" y="{y(0) + 32:.1f}" text-anchor="middle" font-weight="bold">{esc(titles.get(g, g))}</text>')
        tg = sorted({s.target for s in ss if s.target})
        if tg:
            e.append(f'<text x="{(gx0 + x) / 2:.1f}" y="{y(0) + 48:.1f}" text-anchor="middle" fill="#333" font-size="11">'
                     f'target {" / ".join(f"{t:.2f}x" for t in tg)} (dashed)</text>')
        x += gap
    e.append(f'<line x1="{L}" x2="{L}" y1="{T}" y2="{y(0):.1f}" stroke="#333"/>')
    e.append(f'<line x1="{L}" x2="{L + PW}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>')

    # right panels: audit seconds, memory RssAnon
    RX = L + PW + 110
    RW = W - RX - 20
    # audit
    aud = res["audit"]
    e.append(f'<text x="{RX}" y="{T - 6}" font-weight="bold">3 · audit time (s)</text>')
    ah = ph / 2 - 40
    amax = max([TARGET_AUDIT_10M_S * 1.15] + [a["median"] * 1.1 for a in aud])
    ay = lambda v: T + 10 + ah - v / amax * ah
    abw = RW / max(len(aud), 1)
    for i, a in enumerate(aud):
        ok = a["median"] <= TARGET_AUDIT_10M_S if a["rows"] >= AUDIT_TARGET_ROWS else None
        color = "#4a78b5" if ok is None else ("#3a9a4a" if ok else "#d0443a")
        ax = RX + i * abw
        e.append(f'<rect x="{ax + 8:.1f}" y="{ay(a["median"]):.1f}" width="{abw - 16:.1f}" height="{ay(0) - ay(a["median"]):.1f}" fill="{color}"/>')
        e.append(f'<text x="{ax + abw / 2:.1f}" y="{ay(a["median"]) - 4:.1f}" text-anchor="middle" font-size="11">{a["median"]:.2f} s</text>')
        e.append(f'<text x="{ax + abw / 2:.1f}" y="{ay(0) + 14:.1f}" text-anchor="middle" font-size="11">{human(a["rows"])} rows</text>')
    e.append(f'<line x1="{RX}" x2="{RX + RW}" y1="{ay(TARGET_AUDIT_10M_S):.1f}" y2="{ay(TARGET_AUDIT_10M_S):.1f}" stroke="#000" stroke-width="2" stroke-dasharray="5,3"/>')
    e.append(f'<text x="{RX + RW}" y="{ay(TARGET_AUDIT_10M_S) - 4:.1f}" text-anchor="end" font-size="11">target 10 s at 10M</text>')
    e.append(f'<line x1="{RX}" x2="{RX + RW}" y1="{ay(0):.1f}" y2="{ay(0):.1f}" stroke="#333"/>')
    # memory
    mem = res["memory"]
    MT = T + ph / 2 + 30
    e.append(f'<text x="{RX}" y="{MT - 6}" font-weight="bold">5 · backend RssAnon (MiB)</text>')
    vals = [(lbl, mem["phases"][p]["RssAnon"] / 1024) for p, lbl in
            (("before", "before"), ("after1", f"{human(mem['tokens'])}"), ("after2", f"{human(2 * mem['tokens'])}"))]
    mh = ph / 2 - 40
    mmax = max(v for _, v in vals) * 1.2
    my = lambda v: MT + 10 + mh - v / mmax * mh
    mbw = RW / 3
    for i, (lbl, v) in enumerate(vals):
        mx = RX + i * mbw
        color = "#3a9a4a" if mem["pass"] else "#d0443a"
        e.append(f'<rect x="{mx + 8:.1f}" y="{my(v):.1f}" width="{mbw - 16:.1f}" height="{my(0) - my(v):.1f}" fill="{color if i else "#999"}"/>')
        e.append(f'<text x="{mx + mbw / 2:.1f}" y="{my(v) - 4:.1f}" text-anchor="middle" font-size="11">{v:.1f}</text>')
        e.append(f'<text x="{mx + mbw / 2:.1f}" y="{my(0) + 14:.1f}" text-anchor="middle" font-size="11">{esc(lbl)}</text>')
    e.append(f'<line x1="{RX}" x2="{RX + RW}" y1="{my(0):.1f}" y2="{my(0):.1f}" stroke="#333"/>')
    e.append(f'<text x="{RX + RW / 2:.1f}" y="{my(0) + 28:.1f}" text-anchor="middle" fill="#555" font-size="11">tokens verified</text>')
    e.append(f'<text x="{RX}" y="{H - 20}" fill="#555" font-size="11">{"bounded" if mem["pass"] else "NOT bounded"}: '
             f'2nd batch adds {mem["delta2_kb"] / 1024:.2f} MiB</text>')
    e.append(f'<text x="{L}" y="{H - 20}" fill="#555" font-size="11">Registration (4): {res["reg"][0]:,.0f}/s with 1 client, '
             f'{res["reg"][1]:,.0f}/s with 8 clients.</text>')
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


# -------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=parse_rows, default=1_000_000, help="content rows (1m: 1,000 tenants)")
    ap.add_argument("--quick", action="store_true", help="tiny smoke test: 10 tenants, 10k rows, 3 s rounds")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=None, help="seconds per round (15; quick 3)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--protocol", default="prepared", choices=["simple", "extended", "prepared"])
    ap.add_argument("--no-audit-10m", action="store_true", help="do not grow the data to 10M rows for the audit")
    ap.add_argument("--profile", action="store_true", help="profile the scenarios that miss their target")
    ap.add_argument("--profile-all", action="store_true", help="profile every target scenario and its baseline")
    ap.add_argument("--command", default=" ".join(sys.argv))
    ap.add_argument("--no-instructions", action="store_true",
                    help="skip the instruction counts (callgrind, ~10 min)")
    ap.add_argument("--instructions-only", action="store_true",
                    help="only the instruction counts (no TPS rounds, audit, memory, registration)")
    ap.add_argument("--audit-only", action="store_true",
                    help="only the audit, on the --rows generated (e.g. --rows 10m)")
    ap.add_argument("--groups", default="1-point,1-range,2-fresh,2-repeated",
                    help="the scenario groups to time and count (comma-separated)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the .md and .svg of a run from its .json")
    cfg = ap.parse_args()
    if cfg.render:
        return render(cfg.render)
    if cfg.quick:
        cfg.rows = 10_000
        cfg.seconds = cfg.seconds or 3
        cfg.warmup = 1
        cfg.pool, cfg.mem_tokens, cfg.reg_pool = 2_000, 10_000, 200
        cfg.audit_sizes = [10_000, 100_000] if not cfg.no_audit_10m else [10_000]
    else:
        cfg.seconds = cfg.seconds or 15
        cfg.warmup = 5
        cfg.pool, cfg.mem_tokens, cfg.reg_pool = 20_000, 100_000, 2_000
        cfg.audit_sizes = [cfg.rows] + ([AUDIT_TARGET_ROWS] if cfg.rows < AUDIT_TARGET_ROWS and not cfg.no_audit_10m else [])
    cfg.audit_runs = 3
    cfg.tenants = cfg.rows // ROWS_PER_TENANT
    cfg.rows = cfg.tenants * ROWS_PER_TENANT
    if cfg.pool < cfg.clients:
        ap.error("more clients than tokens")

    started = time.time()
    res = {"date": dt.date.today().isoformat(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "load_start": loadavg()}
    os.makedirs(RESULTS, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="boards_bench.") as workdir:
        os.chmod(workdir, 0o755)
        setup_database(cfg, workdir)
        res["rows"] = content_rows()
        log(f"{res['rows']:,} content rows in {cfg.tenants:,} tenants")
        sanity_checks(cfg)
        res["plans"] = explain_plans(cfg)
        res["machine"] = machine_info()

        groups = scenario_scripts(cfg)
        for scripts in groups.values():
            for s in scripts:
                s.write(workdir)
        timed = [g for g in cfg.groups.split(",") if g]
        unknown = [g for g in timed if g not in groups]
        if unknown:
            raise SystemExit(f"unknown scenario group(s) {unknown}; known: {sorted(groups)}")
        if cfg.audit_only:
            res["audit"] = [run_audit(cfg, res["rows"])]
            write_audit_report(cfg, res)
            return
        if cfg.instructions_only:
            res["instructions"] = count_instructions(cfg, groups, timed)
            write_instructions_report(cfg, res, [s for g in timed for s in groups[g]])
            return
        for g in timed:
            run_group(cfg, g, groups[g])
        if not cfg.no_instructions:
            res["instructions"] = count_instructions(cfg, groups, timed)
        res["calls"] = call_costs(cfg)
        res["memory"] = memory_scenario(cfg)
        log(f"  RssAnon +{res['memory']['delta1_kb']} kB, then +{res['memory']['delta2_kb']} kB")
        res["audit"] = [run_audit(cfg, res["rows"])]
        grown = cfg.tenants
        for size in cfg.audit_sizes[1:]:
            log(f"growing the data to {size:,} rows for the audit")
            generate(cfg, grown + 1, size // ROWS_PER_TENANT)
            grown = size // ROWS_PER_TENANT
            psql("VACUUM ANALYZE;\nCHECKPOINT;\n")
            res["audit"].append(run_audit(cfg, content_rows()))
        # Last: every registration adds a tenant, which would change the audit's data.
        run_group(cfg, "4-register", groups["4-register"])
        res["reg"] = (groups["4-register"][0].median, groups["4-register"][1].median)
        # Only what ran: the report and the JSON have a row per timed scenario.
        res["groups"] = {g: groups[g] for g in [*timed, "4-register"]}

        profiles = []
        if cfg.profile or cfg.profile_all:
            by = {s.key: s for g in groups.values() for s in g}
            todo = []
            for s in by.values():
                if not s.target:
                    continue
                ratio = s.median / by[s.baseline].median
                if cfg.profile_all or ratio < s.target:
                    for k in (s.baseline, s.key):
                        if k not in todo:
                            todo.append(k)
            enable_pg_stat_statements()
            cases = {label: sql for label, _, sql in call_cases(cfg)}
            for label in ("boards_set_tenant_from_jwt(token, NULL, true), repeated HS256",
                          "boards_set_tenant_from_jwt(token, NULL, true), fresh HS256"):
                profiles.append(profile_loop(cfg, label, cases[label], workdir))
            for k in todo:
                profiles.append(profile_script(cfg, by[k], workdir, 5))
        res["profiles"] = profiles

    res["duration_min"] = (time.time() - started) / 60
    res["load_end"] = loadavg()
    write_results(cfg, res)


def audit_section(audits):
    """The report's audit table and the last run's findings."""
    out = ["## Audit (scenario 3)", "",
           "`SELECT count(*) FROM boards_tenant_audit()` as `boards_admin`, 3 runs.", "",
           "| content rows | runs (s) | median (s) | rows/s | target | result |", "| --- | --- | --- | --- | --- | --- |"]
    for a in audits:
        if a["rows"] >= AUDIT_TARGET_ROWS:
            tgt, v = f"<= {TARGET_AUDIT_10M_S:.0f} s at 10M", verdict(a["median"] <= TARGET_AUDIT_10M_S)
        else:
            tgt, v = "— (target is for 10M rows)", "—"
        out.append(f"| {a['rows']:,} | {' / '.join(f'{t:.2f}' for t in a['times'])} | {a['median']:.2f} | "
                   f"{a['rows_per_s']:,.0f} | {tgt} | {v} |")
    if audits:
        out += ["", "Findings other than `info` statistics, last run (expected: only the benchmark's own "
                "deliberately unprotected tables, the copies `bench.boards_plain` and `bench.boards_naive` "
                "and the token pool `bench.tokens`):", "```"]
        out += audits[-1]["findings"] or ["(none)"]
        out += ["```", ""]
    return out


def write_audit_report(cfg, res):
    """--audit-only: bench/results/<date>[-quick]-audit.md."""
    m = res["machine"]
    stem = res["date"] + ("-quick" if cfg.quick else "") + "-audit"
    out = [f"# boards_tenant audit, {res['date']}", "",
           f"Command: `{cfg.command}`. Commit {m.get('git')}. {m['postgres']}. "
           f"{cfg.tenants:,} tenants, {res['rows']:,} content rows. Load average at start "
           f"{res['load_start']}, at end {loadavg()}.", ""]
    out += audit_section(res["audit"])
    path = os.path.join(RESULTS, stem + ".md")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    log(f"wrote {path}")
    print("\n".join(out))


def write_instructions_report(cfg, res, scripts):
    """--instructions-only: bench/results/<date>[-quick]-instructions.md and .json."""
    counts = res["instructions"]
    stem = res["date"] + ("-quick" if cfg.quick else "") + "-instructions"
    m = res["machine"]
    out = [f"# boards_tenant instructions per transaction, {res['date']}", "",
           f"Command: `{cfg.command}`. Commit {m.get('git')}. {m['postgres']}. "
           f"{cfg.tenants:,} tenants, {res['rows']:,} content rows. One pgbench client (`-M {cfg.protocol}`) "
           f"per scenario under `valgrind --tool=callgrind`, {instructions.SHORT} and {instructions.LONG} "
           f"transactions, the difference per transaction (`bench/instructions.py`).", "",
           "| scenario | what | instructions per transaction | ratio to baseline | target |",
           "| --- | --- | --- | --- | --- |"]
    for s in scripts:
        base = counts.get(s.baseline) if s.baseline else None
        ratio = f"{counts[s.key] / base:.3f}x `{s.baseline}`" if base else "baseline"
        limit = TARGET_RLS_INSTRUCTIONS if s.target == TARGET_RLS else None
        tgt = f"<= {limit:.2f}x: {verdict(counts[s.key] / base <= limit)}" if limit and base else "—"
        out.append(f"| `{s.key}` | {s.label} | {counts[s.key]:,} | {ratio} | {tgt} |")
    path = os.path.join(RESULTS, stem)
    with open(path + ".md", "w") as f:
        f.write("\n".join(out) + "\n")
    with open(path + ".json", "w") as f:
        json.dump({"command": cfg.command, "machine": m, "instructions": counts}, f, indent=1)
    log(f"wrote {path}.md and .json")
    print("\n".join(out))


def write_results(cfg, res):
    stem = res["date"] + ("-quick" if cfg.quick else "")
    res["svg"] = os.path.join(RESULTS, stem + ".svg")
    md = build_report(cfg, res)  # also sets each scenario's ratio
    svg_chart(cfg, res, res["svg"])
    with open(os.path.join(RESULTS, stem + ".md"), "w") as f:
        f.write(md)
    raw = {k: v for k, v in res.items() if k not in ("groups", "svg")}
    raw["config"] = dict(vars(cfg))
    raw["groups"] = {g: [{"key": s.key, "label": s.label, "template": s.template, "clients": s.clients,
                          "subs": s.subs, "baseline": s.baseline, "target": s.target, "tps": s.tps,
                          "latency_ms": s.latency, "median": s.median, "ratio": s.ratio}
                         for s in scripts] for g, scripts in res["groups"].items()}
    with open(os.path.join(RESULTS, stem + ".json"), "w") as f:
        json.dump(raw, f, indent=1)
    log(f"wrote {os.path.join(RESULTS, stem)}.md, .svg and .json")
    print(md[md.index("## Results"):md.index("## Audit")])


def render(path):
    """Rewrites the .md and .svg of a run from its .json (after a change of the report code)."""
    with open(path) as f:
        raw = json.load(f)
    cfg = argparse.Namespace(**raw.pop("config"))
    groups = {}
    for g, scripts in raw.pop("groups").items():
        groups[g] = []
        for d in scripts:
            sc = Script(d["key"], d["label"], d["template"], d["clients"], subs=d["subs"],
                        baseline=d["baseline"], target=d["target"], group=g)
            sc.tps, sc.latency = d["tps"], d["latency_ms"]
            groups[g].append(sc)
    raw["groups"] = groups
    raw["reg"] = tuple(raw["reg"])
    write_results(cfg, raw)


if __name__ == "__main__":
    main()
