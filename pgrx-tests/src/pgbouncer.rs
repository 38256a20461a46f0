//! PgBouncer in front of a test database, for tests of what a connection pooler does to the
//! tenant context.
//!
//! [`PgBouncer::start`] runs the system's `pgbouncer` (`/usr/sbin/pgbouncer`, Debian package
//! `pgbouncer`; `$PGBOUNCER` overrides the path) in the foreground as the cluster's OS user, in
//! a private directory `/tmp/boards_tenant_pgbouncer_XXXXXX/` (`pgbouncer.ini`, `userlist.txt`,
//! `pgbouncer.log`), listening on a free port of 127.0.0.1 with `auth_type = trust` for the
//! harness's roles. Dropping the [`PgBouncer`] stops it (SIGTERM, then SIGKILL) and removes the
//! directory; a watchdog does both if the test process dies first.
//!
//! ```no_run
//! use boards_tenant_harness::pgbouncer::{PgBouncer, PgBouncerOptions, PoolMode};
//! use boards_tenant_harness::{Cluster, APP_ROLE};
//!
//! let db = Cluster::shared().create_database();
//! let bouncer = PgBouncer::start(&db, PoolMode::Transaction, PgBouncerOptions::default());
//! let mut app = bouncer.connect(APP_ROLE);
//! app.batch_execute("BEGIN; SELECT 1; COMMIT").unwrap();
//! ```
//!
//! Clients of a transaction-pooled PgBouncer must not rely on named prepared statements outside
//! a transaction: the next statement may run on another server connection. `batch_execute`,
//! `simple_query` and `query_typed` (unnamed statements) are safe anywhere; `query` and friends
//! (which prepare a named statement first) only between `BEGIN` and `COMMIT`.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use crate::cluster::{error_text, TestDb};
use crate::os::{self, ServerUser};
use crate::{ADMIN_ROLE, APP_ROLE, SUPERUSER};

const HOST: &str = "127.0.0.1";
const DEFAULT_BINARY: &str = "/usr/sbin/pgbouncer";
/// How often a start on a freshly picked port is tried: another process may take the port
/// between our probe and PgBouncer's bind.
const START_ATTEMPTS: usize = 5;
/// How long a start may take before it counts as failed.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long PgBouncer gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// PgBouncer's `pool_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// A server connection belongs to a client for the client's whole session; between two
    /// clients PgBouncer runs `server_reset_query`.
    Session,
    /// A server connection belongs to a client for one transaction only; the next transaction
    /// of the same client may run on another server connection, and the next client's
    /// transaction on this one, with no reset in between.
    Transaction,
}

impl PoolMode {
    /// The value of `pool_mode` in `pgbouncer.ini`.
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }
}

/// How to set up a [`PgBouncer`].
#[derive(Clone, Debug)]
pub struct PgBouncerOptions {
    /// `default_pool_size`: server connections per (database, role) pair.
    pub default_pool_size: u32,
    /// `server_reset_query`, run when a server connection goes back to the pool in session
    /// mode (`server_reset_query_always = 0`: not in transaction mode). Empty disables it.
    pub server_reset_query: String,
    /// More `[pgbouncer]` settings, `(name, value)`, written as they are; later ones override
    /// the harness's.
    pub extra_conf: Vec<(String, String)>,
}

impl Default for PgBouncerOptions {
    /// Pool size 8, `server_reset_query = DISCARD ALL`, nothing else.
    fn default() -> Self {
        PgBouncerOptions {
            default_pool_size: 8,
            server_reset_query: "DISCARD ALL".to_owned(),
            extra_conf: Vec::new(),
        }
    }
}

/// A running PgBouncer in front of one test database; stopped and removed on Drop.
pub struct PgBouncer {
    dir: PathBuf,
    port: u16,
    dbname: String,
    mode: PoolMode,
    child: Option<Child>,
    watchdog: Option<Watchdog>,
}

impl PgBouncer {
    /// Starts PgBouncer for `db` (which it names the same) in `mode`; panics with the reason
    /// (and PgBouncer's log) when it cannot start.
    pub fn start(db: &TestDb, mode: PoolMode, opts: PgBouncerOptions) -> PgBouncer {
        PgBouncer::try_start(db, mode, &opts)
            .unwrap_or_else(|e| panic!("PgBouncer could not start: {e}"))
    }

    fn try_start(db: &TestDb, mode: PoolMode, opts: &PgBouncerOptions) -> Result<Self, String> {
        let binary = binary();
        if !binary.is_file() {
            return Err(format!(
                "{} does not exist (apt-get install pgbouncer, or set $PGBOUNCER)",
                binary.display()
            ));
        }
        let user = ServerUser::get();
        let dir = os::make_temp_dir("boards_tenant_pgbouncer_")?;
        let watchdog = user
            .chown(&dir)
            .and_then(|()| Watchdog::spawn(&dir))
            .inspect_err(|_| {
                let _ = std::fs::remove_dir(&dir);
            })?;
        // From here on, dropping `bouncer` (an error return) stops and removes everything.
        let mut bouncer = PgBouncer {
            dir,
            port: 0,
            dbname: db.name().to_owned(),
            mode,
            child: None,
            watchdog: Some(watchdog),
        };
        let userlist: String = [SUPERUSER, APP_ROLE, ADMIN_ROLE]
            .iter()
            .map(|role| format!("\"{role}\" \"\"\n"))
            .collect();
        bouncer.write_file("userlist.txt", &userlist)?;

        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            bouncer.port = free_port()?;
            let ini = bouncer.ini(db, opts);
            bouncer.write_file("pgbouncer.ini", &ini)?;
            match bouncer.spawn_and_wait() {
                Ok(()) => return Ok(bouncer),
                Err(e) => {
                    failures.push(e);
                    bouncer.stop_child();
                }
            }
        }
        Err(format!(
            "no start in {START_ATTEMPTS} attempts:\n{}\n--- pgbouncer log ---\n{}",
            failures.join("\n"),
            bouncer.log()
        ))
    }

    fn ini(&self, db: &TestDb, opts: &PgBouncerOptions) -> String {
        let cluster = db.cluster();
        let dir = self.dir.display();
        let mut settings: Vec<(String, String)> = [
            ("listen_addr", HOST.to_owned()),
            ("listen_port", self.port.to_string()),
            ("unix_socket_dir", dir.to_string()),
            ("auth_type", "trust".to_owned()),
            ("auth_file", format!("{dir}/userlist.txt")),
            ("pool_mode", self.mode.as_str().to_owned()),
            ("default_pool_size", opts.default_pool_size.to_string()),
            ("max_client_conn", "500".to_owned()),
            ("server_reset_query", opts.server_reset_query.clone()),
            ("server_reset_query_always", "0".to_owned()),
            (
                "ignore_startup_parameters",
                "extra_float_digits,options".to_owned(),
            ),
            ("logfile", format!("{dir}/pgbouncer.log")),
            ("pidfile", format!("{dir}/pgbouncer.pid")),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        for (name, value) in &opts.extra_conf {
            settings.retain(|(n, _)| n != name);
            settings.push((name.clone(), value.clone()));
        }
        let mut ini = format!(
            "[databases]\n{name} = host={host} port={port} dbname={name}\n\n[pgbouncer]\n",
            name = self.dbname,
            host = cluster.host(),
            port = cluster.port(),
        );
        for (name, value) in settings {
            ini.push_str(&format!("{name} = {value}\n"));
        }
        ini
    }

    fn write_file(&self, name: &str, text: &str) -> Result<(), String> {
        let path = self.dir.join(name);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        ServerUser::get().chown(&path)
    }

    /// Starts the process and waits until its log says it listens on our port.
    fn spawn_and_wait(&mut self) -> Result<(), String> {
        let out_path = self.dir.join("pgbouncer.out");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(|e| format!("opening {}: {e}", out_path.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("duplicating {}: {e}", out_path.display()))?;
        let child = ServerUser::get()
            .command(binary(), &self.dir)
            .arg(self.dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: a Ctrl-C meant for the tests does not reach it first.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("running {}: {e}", binary().display()))?;
        let pid = child.id();
        self.child = Some(child);
        if let Some(watchdog) = self.watchdog.as_mut() {
            watchdog.tell(&format!("pid {pid}"));
        }

        let listening = format!("listening on {HOST}:{}", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                match child.try_wait() {
                    Ok(Some(status)) => {
                        return Err(format!(
                            "pgbouncer on port {} exited with {status}: {}",
                            self.port,
                            self.output()
                        ))
                    }
                    Ok(None) => {}
                    Err(e) => return Err(format!("waiting for pgbouncer: {e}")),
                }
            }
            if self.log().contains(&listening) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "pgbouncer on port {} did not accept connections within {START_TIMEOUT:?}: {}",
                    self.port,
                    self.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM (PgBouncer's immediate shutdown), SIGKILL after [`STOP_TIMEOUT`], and reap.
    fn stop_child(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        if let Ok(None) = child.try_wait() {
            // SAFETY: signals our own child, which has not been reaped, so the pid is its own.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + STOP_TIMEOUT;
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.wait();
        if let Some(watchdog) = self.watchdog.as_mut() {
            watchdog.tell("stopped");
        }
    }

    /// The port PgBouncer listens on (at 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pool mode it runs in.
    pub fn mode(&self) -> PoolMode {
        self.mode
    }

    /// The database name clients connect to: the test database's own name.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// A connection through PgBouncer as `role`; panics when it fails.
    pub fn connect(&self, role: &str) -> Client {
        self.try_connect(role).unwrap_or_else(|e| {
            panic!(
                "connecting to {} as {role} through PgBouncer (port {}) failed: {}\n--- pgbouncer log ---\n{}",
                self.dbname,
                self.port,
                error_text(&e),
                self.log()
            )
        })
    }

    /// A connection through PgBouncer as `role`; errors are returned.
    pub fn try_connect(&self, role: &str) -> Result<Client, postgres::Error> {
        postgres::Config::new()
            .host(HOST)
            .port(self.port)
            .user(role)
            .dbname(&self.dbname)
            .application_name("boards_tenant_tests")
            .connect_timeout(Duration::from_secs(30))
            .connect(NoTls)
    }

    /// `postgresql://<role>@127.0.0.1:<port>/<db>`: the test database through PgBouncer.
    pub fn url(&self, role: &str) -> String {
        format!("postgresql://{role}@{HOST}:{}/{}", self.port, self.dbname)
    }

    /// PgBouncer's log so far (lossily decoded).
    pub fn log(&self) -> String {
        read_lossy(&self.dir.join("pgbouncer.log"))
    }

    /// The directory PgBouncer runs in (`pgbouncer.ini`, `userlist.txt`, `pgbouncer.log`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the process printed itself, for start failures.
    fn output(&self) -> String {
        format!(
            "\n--- pgbouncer output ---\n{}",
            read_lossy(&self.dir.join("pgbouncer.out"))
        )
    }
}

impl Drop for PgBouncer {
    /// Never panics: it may run while a test unwinds.
    fn drop(&mut self) {
        self.stop_child();
        let removed = match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "boards_tenant_harness: removing {} failed: {e}",
                    self.dir.display()
                );
                false
            }
        };
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.finish(removed);
        }
    }
}

/// A shell, running as PgBouncer's OS user in a process group of its own, that reads lines
/// from its stdin: `pid <n>` names the PgBouncer process, `stopped` forgets it, `done`
/// dismisses the watchdog. When stdin closes without `done` (this process died without
/// cleaning up), it stops PgBouncer and removes the directory.
struct Watchdog {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Watchdog {
    fn spawn(dir: &Path) -> Result<Watchdog, String> {
        const SCRIPT: &str = r#"pid=
while read -r line; do
    case "$line" in
        done) exit 0 ;;
        stopped) pid= ;;
        "pid "*) pid=${line#pid } ;;
    esac
done
if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null && sleep 2
    kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$1""#;
        let mut child = ServerUser::get()
            .command("/bin/sh", Path::new("/"))
            .arg("-c")
            .arg(SCRIPT)
            .arg("boards_tenant_pgbouncer_watchdog")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting the PgBouncer watchdog: {e}"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or("the PgBouncer watchdog has no stdin pipe")?;
        Ok(Watchdog {
            child,
            stdin: Some(stdin),
        })
    }

    fn tell(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            // A write error means the watchdog is gone: nothing to tell.
            let _ = writeln!(stdin, "{line}");
        }
    }

    /// Dismisses the watchdog when we cleaned up ourselves, else lets it do the cleanup.
    fn finish(mut self, cleaned_up: bool) {
        if cleaned_up {
            self.tell("done");
        }
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The PgBouncer binary: `$PGBOUNCER`, else `/usr/sbin/pgbouncer`.
fn binary() -> PathBuf {
    std::env::var_os("PGBOUNCER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BINARY))
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
fn free_port() -> Result<u16, String> {
    TcpListener::bind((HOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("probing for a free port: {e}"))
}
