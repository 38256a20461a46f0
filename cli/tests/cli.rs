//! The `boards-tenant` binary, run as a user would run it, against a throwaway cluster of the
//! harness (one fresh database per test).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use boards_tenant_harness::{error_text, Cluster, TestDb, ADMIN_ROLE, APP_ROLE};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_boards-tenant");

/// Connection variables of the test process's environment: none may leak into a run.
const CONNECTION_VARS: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGAPPNAME",
    "PGOPTIONS",
    "PGCONNECT_TIMEOUT",
];

/// The outcome of one run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    /// The stdout as one JSON document (serde_json refuses anything after it).
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }

    /// Exit code 1, nothing on stdout, `error: ` first on stderr, and this SQLSTATE.
    #[track_caller]
    fn failed_with(&self, sqlstate: &str) {
        assert_eq!(self.code, Some(1), "expected exit code 1: {self:#?}");
        assert!(self.stdout.is_empty(), "stdout must be empty: {self:#?}");
        assert!(self.stderr.starts_with("error: "), "{self:#?}");
        assert!(
            self.stderr.contains(&format!("(SQLSTATE {sqlstate})")),
            "expected SQLSTATE {sqlstate}: {self:#?}"
        );
    }
}

/// The binary with a clean connection environment and no terminal on stdin.
fn command() -> Command {
    let mut cmd = Command::new(BIN);
    for var in CONNECTION_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn run(cmd: &mut Command) -> Run {
    let output = cmd.output().expect("running boards-tenant");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `boards-tenant --database-url <url> <args>`.
fn cli_as(url: &str, args: &[&str]) -> Run {
    run(command().arg("--database-url").arg(url).args(args))
}

/// As `boards_admin`, a member of the admin role (no superuser).
fn cli(db: &TestDb, args: &[&str]) -> Run {
    cli_as(&db.url(ADMIN_ROLE), args)
}

/// `args` with `--output-format json`, parsed.
#[track_caller]
fn cli_json(db: &TestDb, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output-format", "json"]);
    cli(db, &all).ok().json()
}

fn create(db: &TestDb, name: &str, slug: &str, extra: &[&str]) -> Value {
    let mut args = vec!["tenant", "create", "--name", name, "--slug", slug];
    args.extend(extra);
    cli_json(db, &args)
}

/// One bigint from a query run as superuser.
fn count(db: &TestDb, sql: &str, param: &str) -> i64 {
    db.superuser()
        .query_one(sql, &[&param])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

fn tenant_rows(db: &TestDb, table: &str, slug: &str) -> i64 {
    count(
        db,
        &format!(
            "SELECT count(*) FROM {table} x JOIN boards.tenants t ON t.id = x.tenant_id \
             WHERE t.slug = $1"
        ),
        slug,
    )
}

fn tenant_exists(db: &TestDb, slug: &str) -> bool {
    count(
        db,
        "SELECT count(*) FROM boards.tenants WHERE slug = $1",
        slug,
    ) == 1
}

fn slugs(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|t| t["slug"].as_str().expect("a slug"))
        .collect()
}

#[test]
fn create_with_sample_data_creates_real_rows() {
    let db = Cluster::shared().create_database();
    let tenant = create(
        &db,
        "Acme Corp",
        "acme-corp",
        &[
            "--sample-data",
            "--settings",
            r#"{"admin_email": "admin@acme-corp.example"}"#,
        ],
    );
    assert_eq!(tenant["slug"], "acme-corp");
    assert_eq!(tenant["name"], "Acme Corp");
    assert_eq!(tenant["status"], "active");
    assert_eq!(
        tenant["settings"]["admin_email"], "admin@acme-corp.example",
        "{tenant}"
    );
    assert!(tenant["id"].is_string(), "{tenant}");
    for table in [
        "boards.users",
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        assert!(
            tenant_rows(&db, table, "acme-corp") >= 1,
            "no sample row in {table}"
        );
    }

    // Without --sample-data: no content.
    create(&db, "Bare", "bare", &[]);
    assert_eq!(tenant_rows(&db, "boards.boards", "bare"), 0);
    assert_eq!(tenant_rows(&db, "boards.generations", "bare"), 0);
}

#[test]
fn table_output_of_create_and_list() {
    let db = Cluster::shared().create_database();
    let out = cli(
        &db,
        &["tenant", "create", "--name", "Acme Corp", "--slug", "acme"],
    )
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.len() >= 3, "{out:#?}");
    assert!(lines[0].starts_with("id "), "header first: {out:#?}");
    assert!(lines[0].contains("  slug  "), "{out:#?}");
    assert!(
        lines[1].chars().all(|c| c == '-' || c == ' '),
        "separator: {out:#?}"
    );
    assert!(lines[2].contains("acme") && lines[2].contains("Acme Corp"));

    let out = cli(&db, &["tenant", "list"]).ok();
    assert!(out.stdout.lines().any(|l| l.contains(" acme ")), "{out:#?}");
    assert!(out.stdout.trim_end().ends_with("rows)"), "{out:#?}");
}

#[test]
fn list_and_get_as_json() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme Corp", "acme", &[]);
    create(&db, "Beta", "beta", &[]);
    let list = cli_json(&db, &["tenant", "list"]);
    let listed = slugs(&list);
    assert!(
        listed.contains(&"acme") && listed.contains(&"beta"),
        "{list}"
    );
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted, "ordered by slug");

    for args in [
        &["tenant", "get", "beta"][..],
        &["tenant", "get", "--slug", "beta"][..],
    ] {
        let tenant = cli_json(&db, args);
        assert!(tenant.is_object(), "{tenant}");
        assert_eq!(tenant["slug"], "beta");
        assert_eq!(tenant["name"], "Beta");
    }
    cli(&db, &["tenant", "get", "nope"]).failed_with("42704");
}

#[test]
fn update_renames_and_merges_settings() {
    let db = Cluster::shared().create_database();
    create(
        &db,
        "Old",
        "old-slug",
        &["--settings", r#"{"a": 1, "b": 1}"#],
    );
    let tenant = cli_json(
        &db,
        &[
            "tenant",
            "update",
            "old-slug",
            "--name",
            "New Name",
            "--new-slug",
            "new-slug",
            "--settings",
            r#"{"b": 2, "c": 3}"#,
        ],
    );
    assert_eq!(tenant["name"], "New Name");
    assert_eq!(tenant["slug"], "new-slug");
    assert_eq!(tenant["settings"], json!({"a": 1, "b": 2, "c": 3}));
    assert!(!tenant_exists(&db, "old-slug"));
    cli(&db, &["tenant", "get", "old-slug"]).failed_with("42704");

    // Only a name: the rest stays.
    let tenant = cli_json(
        &db,
        &["tenant", "update", "--slug", "new-slug", "--name", "N2"],
    );
    assert_eq!(tenant["name"], "N2");
    assert_eq!(tenant["settings"], json!({"a": 1, "b": 2, "c": 3}));
}

#[test]
fn duplicate_slug_is_an_error() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "dup-slug", &[]);
    let out = cli(
        &db,
        &["tenant", "create", "--name", "Other", "--slug", "dup-slug"],
    );
    out.failed_with("23505");
    assert!(out.stderr.contains("dup-slug"), "{out:#?}");
}

#[test]
fn invalid_slug_is_an_error() {
    let db = Cluster::shared().create_database();
    let out = cli(
        &db,
        &["tenant", "create", "--name", "X", "--slug", "Not Valid!"],
    );
    out.failed_with("22023");
}

#[test]
fn delete_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let db = Cluster::shared().create_database();
    create(&db, "Keep", "keep-me", &["--sample-data"]);
    for args in [
        &["tenant", "delete", "keep-me"][..],
        &[
            "tenant",
            "delete",
            "--slug",
            "keep-me",
            "--output-format",
            "json",
        ][..],
    ] {
        let out = cli(&db, args);
        assert_eq!(out.code, Some(1), "{out:#?}");
        assert!(out.stdout.is_empty(), "{out:#?}");
        assert!(out.stderr.starts_with("error: "), "{out:#?}");
        assert!(out.stderr.contains("--yes"), "{out:#?}");
    }
    assert!(tenant_exists(&db, "keep-me"));
    assert!(tenant_rows(&db, "boards.boards", "keep-me") >= 1);
}

/// `boards-tenant <args>` on a pseudo-terminal (util-linux `script`, which Debian always has),
/// typing `input`. The program's stdout and stderr both arrive on script's stdout.
fn on_a_terminal(url: &str, args: &str, input: &str) -> Run {
    use std::io::Write;
    let mut cmd = Command::new("script");
    for var in CONNECTION_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .args([
            "-q",
            "-e",
            "-c",
            &format!("\"$BOARDS_TENANT_BIN\" {args}"),
            "/dev/null",
        ])
        .env("DATABASE_URL", url)
        .env("BOARDS_TENANT_BIN", BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running script(1) from util-linux");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("typing");
    let output = child.wait_with_output().expect("script(1)");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn delete_asks_on_a_terminal() {
    let db = Cluster::shared().create_database();
    create(&db, "Asked", "asked", &[]);
    let url = db.url(ADMIN_ROLE);
    let out = on_a_terminal(&url, "tenant delete asked", "n\n");
    assert!(
        out.stdout
            .contains("Delete tenant 'asked' and all its data? [y/N]"),
        "{out:#?}"
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(tenant_exists(&db, "asked"));
    let out = on_a_terminal(&url, "tenant delete asked", "y\n");
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(out.stdout.contains("boards.tenants"), "{out:#?}");
    assert!(!tenant_exists(&db, "asked"));
}

#[test]
fn delete_with_yes_removes_the_tenant_and_its_rows() {
    let db = Cluster::shared().create_database();
    create(&db, "Gone", "gone", &["--sample-data"]);
    create(&db, "Stays", "stays", &["--sample-data"]);
    let tenant_id = cli_json(&db, &["tenant", "get", "gone"])["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let deleted = cli_json(&db, &["tenant", "delete", "gone", "--yes"]);
    let rows = deleted.as_array().expect("an array of deleted counts");
    assert!(
        rows.iter().any(|r| r["table_name"]
            .as_str()
            .is_some_and(|t| t.contains("tenants"))),
        "{deleted}"
    );
    assert!(!tenant_exists(&db, "gone"));
    for table in ["boards.users", "boards.boards", "boards.generations"] {
        let left = count(
            &db,
            &format!("SELECT count(*) FROM {table} WHERE tenant_id::text = $1"),
            &tenant_id,
        );
        assert_eq!(left, 0, "{table} still has rows of the deleted tenant");
    }
    assert!(tenant_exists(&db, "stays"));
    assert!(tenant_rows(&db, "boards.boards", "stays") >= 1);
    cli(&db, &["tenant", "delete", "gone", "--yes"]).failed_with("42704");
}

#[test]
fn approve_and_suspend_change_the_status() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &[]);
    let status = |db: &TestDb| -> String {
        db.superuser()
            .query_one("SELECT status FROM boards.tenants WHERE slug = 'acme'", &[])
            .unwrap_or_else(|e| panic!("{}", error_text(&e)))
            .get(0)
    };
    let tenant = cli_json(&db, &["tenant", "suspend", "acme"]);
    assert_eq!(tenant["status"], "suspended");
    assert_eq!(status(&db), "suspended");
    let tenant = cli_json(&db, &["tenant", "approve", "--slug", "acme"]);
    assert_eq!(tenant["status"], "active");
    assert_eq!(status(&db), "active");
    cli(&db, &["tenant", "suspend", "nope"]).failed_with("42704");
}

#[test]
fn members_add_list_remove_and_the_last_owner_stays() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &[]);
    let owner = cli_json(
        &db,
        &[
            "tenant",
            "members",
            "add",
            "acme",
            "--subject",
            "auth0|owner",
            "--role",
            "owner",
            "--email",
            "owner@acme.example",
            "--display-name",
            "The Owner",
        ],
    );
    assert_eq!(owner["subject"], "auth0|owner");
    assert_eq!(owner["role"], "owner");
    assert!(owner["user_id"].is_string(), "{owner}");
    let member = cli_json(
        &db,
        &[
            "tenant",
            "members",
            "add",
            "--slug",
            "acme",
            "--subject",
            "bob",
        ],
    );
    assert_eq!(member["role"], "member");

    let list = cli_json(&db, &["tenant", "members", "list", "acme"]);
    let members = list.as_array().expect("an array");
    let find = |subject: &str| members.iter().find(|m| m["subject"] == subject).cloned();
    let listed_owner = find("auth0|owner").expect("the owner is listed");
    assert_eq!(listed_owner["role"], "owner");
    assert_eq!(listed_owner["email"], "owner@acme.example");
    assert_eq!(listed_owner["display_name"], "The Owner");
    assert_eq!(listed_owner["user_id"], owner["user_id"]);
    assert_eq!(find("bob").expect("bob is listed")["role"], "member");

    // Table form.
    let out = cli(&db, &["tenant", "members", "list", "acme"]).ok();
    assert!(out.stdout.contains("auth0|owner"), "{out:#?}");

    let removed = cli_json(
        &db,
        &["tenant", "members", "remove", "acme", "--subject", "bob"],
    );
    assert_eq!(removed["removed"], true);
    let list = cli_json(&db, &["tenant", "members", "list", "acme"]);
    assert!(
        !list
            .as_array()
            .expect("an array")
            .iter()
            .any(|m| m["subject"] == "bob"),
        "{list}"
    );

    let out = cli(
        &db,
        &[
            "tenant",
            "members",
            "remove",
            "acme",
            "--subject",
            "auth0|owner",
        ],
    );
    out.failed_with("55000");
    let list = cli_json(&db, &["tenant", "members", "list", "acme"]);
    assert!(
        list.as_array()
            .expect("an array")
            .iter()
            .any(|m| m["subject"] == "auth0|owner"),
        "the last owner must stay: {list}"
    );
    cli(
        &db,
        &["tenant", "members", "remove", "acme", "--subject", "nobody"],
    )
    .failed_with("42704");
}

#[test]
fn the_app_role_is_denied() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &[]);
    let app = db.url(APP_ROLE);
    for args in [
        &["tenant", "list"][..],
        &["tenant", "get", "acme"][..],
        &["tenant", "create", "--name", "Evil", "--slug", "evil"][..],
        &["tenant", "suspend", "acme"][..],
        &["tenant", "delete", "acme", "--yes"][..],
        &[
            "tenant",
            "members",
            "add",
            "acme",
            "--subject",
            "eve",
            "--role",
            "owner",
        ][..],
        &["tenant", "audit"][..],
        &["tenant", "audit", "--output-format", "json"][..],
    ] {
        cli_as(&app, args).failed_with("42501");
    }
    assert!(tenant_exists(&db, "acme"));
    assert!(!tenant_exists(&db, "evil"));
}

#[test]
fn audit_json_is_the_audit_document() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &["--sample-data"]);
    let out = cli(&db, &["tenant", "audit", "--output-format", "json"]);
    assert_eq!(out.code, Some(0), "a clean database: {out:#?}");
    let doc = out.json();
    assert!(doc["audit_timestamp"].is_string(), "{doc}");
    assert!(doc["summary"].is_object(), "{doc}");
    assert_eq!(doc["tenant_slug"], Value::Null);

    for flag in ["--tenant-slug", "--slug"] {
        let doc = cli_json(&db, &["tenant", "audit", flag, "acme"]);
        assert_eq!(doc["tenant_slug"], "acme", "{doc}");
        assert!(doc["audit_timestamp"].is_string(), "{doc}");
    }
    cli(&db, &["tenant", "audit", "--tenant-slug", "nope"]).failed_with("42704");
}

/// The column spans of a table, from its separator line.
fn column_starts(separator: &str) -> Vec<usize> {
    let chars: Vec<char> = separator.chars().collect();
    (0..chars.len())
        .filter(|&i| chars[i] == '-' && (i == 0 || chars[i - 1] == ' '))
        .collect()
}

#[test]
fn audit_table_is_aligned_grouped_and_exits_3_on_critical() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &["--sample-data"]);
    create(&db, "Beta", "beta", &["--sample-data"]);

    // Nothing critical or high (sample tenants have no owner, a medium finding): exit 0 and
    // a summary line.
    let out = cli(&db, &["tenant", "audit"]);
    assert_eq!(out.code, Some(0), "{out:#?}");
    assert!(
        out.stdout
            .lines()
            .last()
            .is_some_and(|l| l.contains(": 0 critical, 0 high, ") && l.ends_with(" low")),
        "{out:#?}"
    );

    // A tenant table nobody protected (auto-protection off): a critical finding.
    db.superuser()
        .batch_execute(
            "SET boards.auto_protect = off; CREATE TABLE public.leaky (id int, tenant_id uuid)",
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let out = cli(&db, &["tenant", "audit"]);
    assert_eq!(out.code, Some(3), "critical violation: {out:#?}");
    assert!(out.stderr.is_empty(), "{out:#?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("severity"), "{out:#?}");
    let starts = column_starts(lines[1]);
    assert_eq!(starts.len(), 5, "five columns: {out:#?}");
    let body: Vec<&str> = lines[2..]
        .iter()
        .copied()
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!body.is_empty(), "{out:#?}");
    for line in lines[..1].iter().chain(&body) {
        let chars: Vec<char> = line.chars().collect();
        for &start in &starts[1..] {
            // Every column begins at the same place: two spaces before it, in every line
            // (an empty cell at the end of a line is trimmed).
            if chars.len() > start {
                assert_eq!(
                    (chars[start - 2], chars[start - 1]),
                    (' ', ' '),
                    "misaligned at {start}: {line:?}\n{}",
                    out.stdout
                );
            }
        }
    }
    // Grouped by severity, critical first.
    let order = ["critical", "high", "medium", "low", "info"];
    let ranks: Vec<usize> = body
        .iter()
        .map(|l| {
            let severity = l.split_whitespace().next().unwrap_or_default();
            order
                .iter()
                .position(|s| *s == severity)
                .unwrap_or_else(|| panic!("unknown severity in {l:?}"))
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{out:#?}");
    assert!(body[0].starts_with("critical"), "{out:#?}");
    assert!(
        body.iter()
            .any(|l| l.contains("public.leaky") || l.contains("leaky")),
        "{out:#?}"
    );
    let summary = lines.last().copied().unwrap_or_default();
    let critical = body.iter().filter(|l| l.starts_with("critical")).count();
    assert!(
        summary.contains(&format!("{critical} critical,")) && summary.contains(" violation"),
        "{summary:?}"
    );

    // The JSON form exits 3 too.
    let out = cli(&db, &["tenant", "audit", "--output-format", "json"]);
    assert_eq!(out.code, Some(3), "{out:#?}");
    assert!(out.json()["summary"]["critical"].as_u64().unwrap_or(0) >= 1);
}

#[test]
fn json_stdout_is_pure_for_every_command() {
    let db = Cluster::shared().create_database();
    let commands: &[&[&str]] = &[
        &[
            "tenant",
            "create",
            "--name",
            "Acme",
            "--slug",
            "acme",
            "--sample-data",
        ],
        &[
            "tenant",
            "create",
            "--name",
            "Beta",
            "--slug",
            "beta",
            "--settings",
            "{}",
        ],
        &["tenant", "list"],
        &["tenant", "get", "acme"],
        &["tenant", "update", "beta", "--settings", r#"{"x": true}"#],
        &["tenant", "suspend", "beta"],
        &["tenant", "approve", "beta"],
        &[
            "tenant",
            "members",
            "add",
            "acme",
            "--subject",
            "o",
            "--role",
            "owner",
        ],
        &["tenant", "members", "add", "acme", "--subject", "m"],
        &["tenant", "members", "list", "acme"],
        &["tenant", "members", "remove", "acme", "--subject", "m"],
        &["tenant", "audit"],
        &["tenant", "audit", "--tenant-slug", "acme"],
        &["tenant", "delete", "beta", "--yes"],
    ];
    for args in commands {
        // The global flag before the subcommand, too.
        let out = cli_as(
            &db.url(ADMIN_ROLE),
            &[&["--output-format", "json"][..], args].concat(),
        )
        .ok();
        let value = out.json();
        assert!(value.is_object() || value.is_array(), "{args:?}: {value}");
    }
}

fn socket_dir(db: &TestDb) -> PathBuf {
    db.cluster()
        .data_dir()
        .parent()
        .expect("the cluster directory")
        .join("sock")
}

#[test]
fn pg_variables_are_used() {
    let db = Cluster::shared().create_database();
    create(&db, "Acme", "acme", &[]);
    let port = db.cluster().port().to_string();
    let with_env = |host: &str, user: &str, dbname: &str| {
        run(command()
            .env("PGHOST", host)
            .env("PGPORT", &port)
            .env("PGUSER", user)
            .env("PGDATABASE", dbname)
            .env("PGAPPNAME", "cli-test")
            .args(["tenant", "list", "--output-format", "json"]))
    };
    // TCP.
    let out = with_env(db.cluster().host(), ADMIN_ROLE, db.name()).ok();
    assert!(slugs(&out.json()).contains(&"acme"), "{out:#?}");
    // A unix socket directory.
    let sock = socket_dir(&db);
    let out = with_env(&sock.display().to_string(), ADMIN_ROLE, db.name()).ok();
    assert!(slugs(&out.json()).contains(&"acme"), "{out:#?}");
    // They are really read: another user is denied, another database does not exist.
    with_env(db.cluster().host(), APP_ROLE, db.name()).failed_with("42501");
    with_env(db.cluster().host(), ADMIN_ROLE, "no_such_db").failed_with("3D000");
    // PGSSLMODE=disable is fine.
    let out = run(command()
        .env("PGHOST", db.cluster().host())
        .env("PGPORT", &port)
        .env("PGUSER", ADMIN_ROLE)
        .env("PGDATABASE", db.name())
        .env("PGSSLMODE", "disable")
        .args(["tenant", "get", "acme"]))
    .ok();
    assert!(out.stdout.contains("acme"), "{out:#?}");
    // The URL's parts win over the variables; missing parts come from them.
    let out = run(command()
        .env("DATABASE_URL", db.url(ADMIN_ROLE))
        .env("PGUSER", APP_ROLE)
        .env("PGDATABASE", "no_such_db")
        .args(["tenant", "list"]))
    .ok();
    assert!(out.stdout.contains("acme"), "{out:#?}");
    let out = run(command()
        .env("PGPORT", &port)
        .env("PGUSER", ADMIN_ROLE)
        .args([
            "--database-url",
            &format!("postgresql://{}/{}", db.cluster().host(), db.name()),
            "tenant",
            "list",
        ]))
    .ok();
    assert!(out.stdout.contains("acme"), "{out:#?}");
}

// Failures that need no server.

#[test]
fn invalid_settings_fail_before_connecting() {
    // Nothing listens on port 1: a connection attempt would fail differently.
    let url = "postgresql://nobody@127.0.0.1:1/nothing";
    for bad in ["{not json", "[1, 2]"] {
        for args in [
            &[
                "tenant",
                "create",
                "--name",
                "X",
                "--slug",
                "x",
                "--settings",
                bad,
            ][..],
            &["tenant", "update", "x", "--settings", bad][..],
        ] {
            let out = cli_as(url, args);
            assert_eq!(out.code, Some(1), "{out:#?}");
            assert!(out.stderr.starts_with("error: --settings"), "{out:#?}");
            assert!(!out.stderr.contains("connect"), "{out:#?}");
            assert!(out.stdout.is_empty());
        }
    }
}

#[test]
fn connection_failures_are_clean_errors() {
    let out = cli_as(
        "postgresql://nobody@127.0.0.1:1/nothing",
        &["tenant", "list"],
    );
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.starts_with("error: could not connect to "),
        "{out:#?}"
    );
    assert!(!out.stderr.contains("panicked"), "{out:#?}");

    let out = run(command()
        .env("PGSSLMODE", "require")
        .args(["tenant", "list"]));
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("PGSSLMODE=require"), "{out:#?}");
    assert!(out.stderr.contains("TLS"), "{out:#?}");

    let out = run(command()
        .env("PGPORT", "not-a-port")
        .args(["tenant", "list"]));
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(out.stderr.contains("PGPORT"), "{out:#?}");

    let out = cli_as("postgresql://u:pw@h:badport/d", &["tenant", "list"]);
    assert_eq!(out.code, Some(1), "{out:#?}");
    assert!(
        out.stderr.starts_with("error: invalid database URL"),
        "{out:#?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["tenant", "get"][..],
        &["tenant", "get", "a", "--slug", "b"][..],
        &["tenant", "update", "a"][..],
        &["tenant", "create", "--slug", "x"][..],
        &[
            "tenant",
            "members",
            "add",
            "a",
            "--subject",
            "s",
            "--role",
            "god",
        ][..],
        &["tenant", "list", "--output-format", "xml"][..],
        &["tenant", "frobnicate"][..],
    ] {
        let out = run(command().args(args));
        assert_eq!(out.code, Some(2), "{args:?}: {out:#?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:#?}");
    }
    let out = run(command().arg("--help")).ok();
    assert!(out.stdout.contains("Exit codes"), "{out:#?}");
}
