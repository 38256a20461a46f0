//! Self-tests of the harness's PgBouncer: it starts in front of a test database, passes the
//! roles through, pools the way its mode says, and goes away on Drop.

use boards_tenant_harness::pgbouncer::{PgBouncer, PgBouncerOptions, PoolMode};
use boards_tenant_harness::{error_text, Cluster, ADMIN_ROLE, APP_ROLE, SUPERUSER};
use postgres::{Client, SimpleQueryMessage};

/// The first value of the first row of a simple query (safe through transaction pooling).
fn simple_text(client: &mut Client, sql: &str) -> String {
    let messages = client
        .simple_query(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
    messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("NULL").to_owned()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{sql}: no row"))
}

fn pool_of_one() -> PgBouncerOptions {
    PgBouncerOptions {
        default_pool_size: 1,
        ..PgBouncerOptions::default()
    }
}

#[test]
fn transaction_pooling_connects_every_role_and_stops_on_drop() {
    let db = Cluster::shared().create_database();
    let bouncer = PgBouncer::start(&db, PoolMode::Transaction, PgBouncerOptions::default());
    assert_eq!(bouncer.mode(), PoolMode::Transaction);
    assert_eq!(bouncer.dbname(), db.name());
    assert_ne!(bouncer.port(), db.cluster().port());

    for role in [SUPERUSER, APP_ROLE, ADMIN_ROLE] {
        let mut client = bouncer.connect(role);
        assert_eq!(
            simple_text(
                &mut client,
                "SELECT current_user || ' ' || current_database()"
            ),
            format!("{role} {}", db.name())
        );
    }

    // Extended protocol inside a transaction works through transaction pooling.
    let mut app = bouncer.connect(APP_ROLE);
    app.batch_execute("BEGIN")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let two: i32 = app
        .query_one("SELECT $1::int + 1", &[&1_i32])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .get(0);
    assert_eq!(two, 2);
    app.batch_execute("COMMIT")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));

    let url = bouncer.url(APP_ROLE);
    assert_eq!(
        url,
        format!(
            "postgresql://{APP_ROLE}@127.0.0.1:{}/{}",
            bouncer.port(),
            db.name()
        )
    );
    let mut by_url =
        Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(simple_text(&mut by_url, "SELECT current_user"), APP_ROLE);
    assert!(bouncer.try_connect("no_such_role").is_err());

    let log = bouncer.log();
    assert!(
        log.contains(&format!("listening on 127.0.0.1:{}", bouncer.port())),
        "{log}"
    );
    let ini = std::fs::read_to_string(bouncer.dir().join("pgbouncer.ini"))
        .unwrap_or_else(|e| panic!("{e}"));
    for line in [
        "pool_mode = transaction",
        "default_pool_size = 8",
        "max_client_conn = 500",
        "auth_type = trust",
        "server_reset_query = DISCARD ALL",
        "server_reset_query_always = 0",
        "ignore_startup_parameters = extra_float_digits,options",
    ] {
        assert!(ini.contains(line), "pgbouncer.ini lacks {line:?}:\n{ini}");
    }

    let (dir, port) = (bouncer.dir().to_owned(), bouncer.port());
    drop((app, by_url));
    drop(bouncer);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something still listens on {port}"
    );
}

#[test]
fn transaction_pooling_shares_one_server_connection_between_clients() {
    let db = Cluster::shared().create_database();
    let bouncer = PgBouncer::start(&db, PoolMode::Transaction, pool_of_one());
    let (mut first, mut second) = (bouncer.connect(APP_ROLE), bouncer.connect(APP_ROLE));
    // Both clients stay connected; with one server connection they take turns on it.
    let pid_first = simple_text(&mut first, "SELECT pg_backend_pid()");
    let pid_second = simple_text(&mut second, "SELECT pg_backend_pid()");
    assert_eq!(pid_first, pid_second);
    // And session state set by one is what the other finds: no reset in transaction mode.
    first
        .batch_execute("SET work_mem = '7MB'")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(simple_text(&mut second, "SHOW work_mem"), "7MB");
}

#[test]
fn session_pooling_resets_the_server_connection_between_clients() {
    let db = Cluster::shared().create_database();
    let bouncer = PgBouncer::start(&db, PoolMode::Session, pool_of_one());
    let default_work_mem = simple_text(&mut db.app(), "SHOW work_mem");
    assert_ne!(default_work_mem, "7MB");

    let mut first = bouncer.connect(APP_ROLE);
    first
        .batch_execute("SET work_mem = '7MB'")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let pid_first = simple_text(&mut first, "SELECT pg_backend_pid()");
    drop(first);

    let mut second = bouncer.connect(APP_ROLE);
    assert_eq!(
        simple_text(&mut second, "SELECT pg_backend_pid()"),
        pid_first
    );
    assert_eq!(simple_text(&mut second, "SHOW work_mem"), default_work_mem);
}
