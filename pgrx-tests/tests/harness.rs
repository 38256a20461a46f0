//! Self-tests of the harness: clusters, roles, test databases, connections and test keys behave
//! as documented.

use std::os::unix::fs::MetadataExt;

use boards_tenant_harness::{
    error_text, jwt, Cluster, ClusterOptions, TestDb, ADMIN_GROUP_ROLE, ADMIN_ROLE, APP_ROLE,
    SUPERUSER,
};
use postgres::Client;

fn text(client: &mut Client, sql: &str) -> String {
    client
        .query_one(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

fn shared_db() -> TestDb<'static> {
    Cluster::shared().create_database()
}

#[test]
fn connections_act_as_their_roles() {
    let db = shared_db();
    let sql = "SELECT current_user || ' ' || current_database() || ' ' || \
               current_setting('is_superuser')";
    let name = db.name().to_owned();
    assert_eq!(
        text(&mut db.superuser(), sql),
        format!("{SUPERUSER} {name} on")
    );
    assert_eq!(text(&mut db.app(), sql), format!("{APP_ROLE} {name} off"));
    assert_eq!(
        text(&mut db.admin(), sql),
        format!("{ADMIN_ROLE} {name} off")
    );
}

#[test]
fn roles_have_the_documented_attributes() {
    let db = shared_db();
    let mut su = db.superuser();
    let attrs = |su: &mut Client, role: &str| -> String {
        su.query_one(
            "SELECT format('login=%s super=%s bypassrls=%s createdb=%s createrole=%s', \
                    rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole) \
             FROM pg_catalog.pg_roles WHERE rolname = $1",
            &[&role],
        )
        .unwrap_or_else(|e| panic!("role {role}: {}", error_text(&e)))
        .get(0)
    };
    assert_eq!(
        attrs(&mut su, APP_ROLE),
        "login=t super=f bypassrls=f createdb=f createrole=f"
    );
    assert!(attrs(&mut su, ADMIN_ROLE).starts_with("login=t super=f bypassrls=f"));
    assert!(attrs(&mut su, ADMIN_GROUP_ROLE).starts_with("login=f super=f"));

    let member = |su: &mut Client, role: &str| -> bool {
        su.query_one(
            "SELECT pg_catalog.pg_has_role($1, $2, 'MEMBER')",
            &[&role, &ADMIN_GROUP_ROLE],
        )
        .unwrap_or_else(|e| panic!("membership of {role}: {}", error_text(&e)))
        .get(0)
    };
    assert!(member(&mut su, ADMIN_ROLE));
    assert!(!member(&mut su, APP_ROLE));

    let owned: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_class WHERE relowner = $1::text::regrole",
            &[&APP_ROLE],
        )
        .unwrap_or_else(|e| panic!("objects of {APP_ROLE}: {}", error_text(&e)))
        .get(0);
    assert_eq!(owned, 0, "{APP_ROLE} owns relations");
}

#[test]
fn test_dbs_are_fresh_copies_with_the_extension_and_isolated() {
    let (a, b) = (shared_db(), shared_db());
    assert_ne!(a.name(), b.name());
    for db in [&a, &b] {
        let version = text(
            &mut db.superuser(),
            "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'boards_tenant'",
        );
        assert!(!version.is_empty());
    }
    a.superuser()
        .batch_execute("CREATE TABLE only_in_a (x int)")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let in_b = text(
        &mut b.superuser(),
        "SELECT coalesce(to_regclass('only_in_a')::text, 'absent')",
    );
    assert_eq!(in_b, "absent");
}

#[test]
fn dropping_a_test_db_drops_the_database() {
    let cluster = Cluster::shared();
    let db = cluster.create_database();
    let name = db.name().to_owned();
    // An open connection must not keep the database alive (DROP ... WITH (FORCE)).
    let _open = db.app();
    drop(db);
    let mut postgres = cluster
        .connect_to("postgres", SUPERUSER, None)
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let count: i64 = postgres
        .query_one(
            "SELECT count(*) FROM pg_catalog.pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(count, 0, "{name} still exists");
}

#[test]
fn set_reaches_new_connections_only() {
    let db = shared_db();
    let mut before = db.app();
    db.set("work_mem", "7MB");
    assert_eq!(text(&mut db.app(), "SHOW work_mem"), "7MB");
    assert_ne!(text(&mut before, "SHOW work_mem"), "7MB");
}

#[test]
fn connect_passes_options_and_url_connects() {
    let db = shared_db();
    let mut client = db
        .connect(APP_ROLE, Some("-c work_mem=9MB -c statement_timeout=5s"))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(text(&mut client, "SHOW work_mem"), "9MB");
    assert_eq!(text(&mut client, "SHOW statement_timeout"), "5s");

    let url = db.url(APP_ROLE);
    let cluster = Cluster::shared();
    assert_eq!(
        url,
        format!(
            "postgresql://{APP_ROLE}@{}:{}/{}",
            cluster.host(),
            cluster.port(),
            db.name()
        )
    );
    let mut by_url =
        Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(text(&mut by_url, "SELECT current_user::text"), APP_ROLE);

    assert!(db.connect("no_such_role", None).is_err());
}

#[test]
fn shared_cluster_has_the_documented_configuration() {
    let db = shared_db();
    let mut su = db.superuser();
    for (name, expected) in [
        ("shared_preload_libraries", "boards_tenant"),
        ("listen_addresses", "127.0.0.1"),
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        ("max_connections", "300"),
        ("max_worker_processes", "16"),
        ("max_parallel_workers", "8"),
        ("max_parallel_workers_per_gather", "2"),
    ] {
        let value: String = su
            .query_one("SELECT current_setting($1)", &[&name])
            .unwrap_or_else(|e| panic!("{name}: {}", error_text(&e)))
            .get(0);
        assert_eq!(value, expected, "{name}");
    }
    let cluster = Cluster::shared();
    let port: String = text(&mut su, "SHOW port");
    assert_eq!(port, cluster.port().to_string());
    let socket_dir = text(&mut su, "SHOW unix_socket_directories");
    assert!(
        socket_dir.starts_with("/tmp/") && socket_dir.ends_with("/sock"),
        "{socket_dir}"
    );
}

#[test]
fn server_log_is_readable() {
    let db = shared_db();
    let marker = format!("harness-self-test-{}", uuid::Uuid::new_v4());
    let result = db
        .superuser()
        .batch_execute(&format!("DO $$ BEGIN RAISE LOG '{marker}'; END $$"));
    result.unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let log = db.cluster().server_log();
    assert!(log.contains("database system is ready to accept connections"));
    assert!(log.contains(&marker), "the server log lacks {marker}");
}

#[test]
fn pg_ctl_reaches_the_cluster() {
    let status = Cluster::shared().pg_ctl(&["status"]);
    assert!(status.status.success());
    assert!(String::from_utf8_lossy(&status.stdout).contains("server is running"));
}

#[test]
fn private_cluster_honours_its_options_and_goes_away_on_drop() {
    let cluster = Cluster::start(ClusterOptions {
        preload: false,
        extra_conf: vec![("work_mem".into(), "11MB".into())],
        ..Default::default()
    });
    let root = cluster
        .data_dir()
        .parent()
        .unwrap_or_else(|| panic!("data dir without parent"))
        .to_owned();
    let port = cluster.port();
    assert_ne!(port, Cluster::shared().port());
    {
        let db = cluster.create_database();
        let mut su = db.superuser();
        assert_eq!(text(&mut su, "SHOW shared_preload_libraries"), "");
        assert_eq!(text(&mut su, "SHOW work_mem"), "11MB");
    }

    let meta = std::fs::metadata(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    assert_eq!(
        meta.mode() & 0o777,
        0o700,
        "{} is not private",
        root.display()
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert_ne!(
            meta.uid(),
            0,
            "as root, the cluster must belong to the server's OS user"
        );
    }

    drop(cluster);
    assert!(!root.exists(), "{} was not removed", root.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on {port}"
    );
}

#[test]
fn restart_keeps_the_port_and_committed_data() {
    let cluster = Cluster::start(ClusterOptions::default());
    let db = cluster.create_database();
    let mut before = db.superuser();
    before
        .batch_execute("CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let port = cluster.port();

    cluster.restart();

    assert_eq!(cluster.port(), port);
    assert!(
        before.query_one("SELECT 1", &[]).is_err(),
        "a connection survived the crash"
    );
    let x: i32 = db
        .superuser()
        .query_one("SELECT x FROM survives", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(x, 42);
    assert!(cluster
        .server_log()
        .contains("automatic recovery in progress"));
}

#[test]
fn test_keys_install_and_their_tokens_verify() {
    let db = shared_db();
    jwt::install_test_keys(&mut db.admin());
    let mut su = db.superuser();
    let kids: Vec<String> = su
        .query("SELECT kid FROM boards.jwt_keys ORDER BY kid", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut expected: Vec<String> = jwt::ALGORITHMS.iter().map(|a| jwt::test_kid(a)).collect();
    expected.sort();
    assert_eq!(kids, expected);

    let mut app = db.app();
    for alg in jwt::ALGORITHMS {
        let claims = serde_json::json!({
            "sub": format!("subject-{alg}"),
            "iat": jwt::now(),
            "exp": jwt::now() + 300,
        });
        let token = jwt::mint(alg, &jwt::test_kid(alg), &claims);
        app.query_one("SELECT boards_authenticate($1)", &[&token])
            .unwrap_or_else(|e| panic!("{alg}: a test token was refused: {}", error_text(&e)));
        let subject = text(&mut app, "SELECT boards_current_subject()");
        assert_eq!(subject, format!("subject-{alg}"));

        let forged = jwt::mint_with_other_key(alg, &jwt::test_kid(alg), &claims);
        let refused = app.query_one("SELECT boards_authenticate($1)", &[&forged]);
        assert!(
            refused.is_err(),
            "{alg}: a token signed with another key verified"
        );
    }
}

#[test]
fn a_cluster_that_cannot_start_says_why() {
    let result = std::panic::catch_unwind(|| {
        Cluster::start(ClusterOptions {
            preload: true,
            extra_conf: vec![("no_such_setting".into(), "1".into())],
            ..Default::default()
        })
    });
    let payload = match result {
        Ok(_) => panic!("a cluster with an unknown setting started"),
        Err(payload) => payload,
    };
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("did not start in 5 attempts"), "{message}");
    assert!(message.contains("no_such_setting"), "{message}");
}
