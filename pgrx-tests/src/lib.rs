//! Test harness of `boards_tenant`.
//!
//! Starts throwaway PostgreSQL clusters with the extension installed, creates the roles the
//! tests act as, hands out fresh databases and connections, and mints JWTs with fixture keys.
//!
//! ```no_run
//! use boards_tenant_harness::{jwt, Cluster};
//!
//! let db = Cluster::shared().create_database();
//! let mut app = db.app();
//! let token = jwt::mint("HS256", "test-hs256", &serde_json::json!({"sub": "alice"}));
//! let _ = app.query("SELECT * FROM boards_set_tenant_from_jwt($1)", &[&token]);
//! ```
//!
//! Clusters run as the OS user `postgres` when the test process is root (Postgres refuses to
//! run as root), else as the current user. Before the first cluster of a process starts, the
//! extension is built and installed with `cargo pgrx install` (target dir
//! `target/harness-install`), unless `BOARDS_TENANT_SKIP_INSTALL=1`. An flock on
//! `/tmp/boards_tenant_install.<the pg_config path>.lock` keeps test processes from
//! reinstalling the library under each other's running clusters of the same PostgreSQL tree: a
//! process waiting to install waits for the others to exit.
//!
//! Each cluster lives in `/tmp/boards_tenant_XXXXXX/` (`data/`, `sock/`, `server.log`) and is
//! removed when it stops; a watchdog process removes it if the test process dies first.

mod cluster;
mod install;
pub mod jwt;
mod os;
pub mod pgbouncer;

pub use cluster::{error_text, Cluster, ClusterOptions, TestDb, UPGRADED_FROM_VAR};
/// The client crate the harness hands out connections of, re-exported so tests use the same
/// version.
pub use postgres;

/// The bootstrap superuser (`initdb -U postgres`).
pub const SUPERUSER: &str = "postgres";
/// The application's role: `LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE`, owns nothing.
pub const APP_ROLE: &str = "boards_app";
/// A login role that is a member of [`ADMIN_GROUP_ROLE`], but no superuser.
pub const ADMIN_ROLE: &str = "boards_admin";
/// The extension's admin role (`NOLOGIN`), which the management functions are granted to.
pub const ADMIN_GROUP_ROLE: &str = "boards_tenant_admin";
