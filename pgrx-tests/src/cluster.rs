//! Throwaway PostgreSQL clusters and the test databases inside them.

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use postgres::{Client, NoTls};

use crate::os::{self, ServerUser};
use crate::{install, ADMIN_GROUP_ROLE, ADMIN_ROLE, APP_ROLE, SUPERUSER};

const HOST: &str = "127.0.0.1";
/// The database every test database is copied from; it has the extension created.
const TEMPLATE_DB: &str = "boards_template";
/// How often a start on a freshly picked port is tried: another process may take the port
/// between our probe and the server's bind.
const START_ATTEMPTS: usize = 5;
/// Settings of our own, in a file that `postgresql.conf` includes: rewritten on every start
/// attempt with a new port.
const HARNESS_CONF: &str = "harness.conf";

/// How to set up a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Load the extension at server start (`shared_preload_libraries = 'boards_tenant'`).
    /// Without it, the library is loaded by the first backend that calls one of its functions.
    pub preload: bool,
    /// More `postgresql.conf` settings, `(name, value)`; the value is written as a quoted
    /// string literal, which Postgres accepts for every type.
    pub extra_conf: Vec<(String, String)>,
    /// The extension version the test databases' template is created at and then upgraded
    /// from (`CREATE EXTENSION boards_tenant VERSION '<v>'; ALTER EXTENSION boards_tenant
    /// UPDATE`), so that a suite runs against upgraded databases; `None`: a fresh
    /// `CREATE EXTENSION` of the current version.
    pub upgraded_from: Option<String>,
    /// The PostgreSQL installation to run, by its `pg_config`; `None`: `$PG_CONFIG`, else the
    /// first on `$PATH`. The extension must be installed there (the harness installs it only
    /// into the default one).
    pub pg_config: Option<PathBuf>,
}

/// Set to an earlier version (e.g. `0.1.0`) to run a test binary's shared cluster on
/// databases upgraded from it ([`ClusterOptions::upgraded_from`]).
pub const UPGRADED_FROM_VAR: &str = "BOARDS_TENANT_UPGRADED_FROM";

impl Default for ClusterOptions {
    /// Preloaded, no extra settings, the template as [`UPGRADED_FROM_VAR`] says (fresh when
    /// unset): what [`Cluster::shared`] uses.
    fn default() -> Self {
        ClusterOptions {
            preload: true,
            extra_conf: Vec::new(),
            upgraded_from: std::env::var(UPGRADED_FROM_VAR)
                .ok()
                .filter(|v| !v.is_empty()),
            pg_config: None,
        }
    }
}

/// A running throwaway cluster in a temporary directory: `data/`, `sock/`, `server.log`.
pub struct Cluster {
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    /// The installation's programs (`pg_config --bindir`).
    bindir: PathBuf,
    /// What it was started with; a standby of it is started alike.
    options: ClusterOptions,
    /// Template copies fail when two run at once ("source database is being accessed").
    create_db: Mutex<()>,
    next_db: AtomicUsize,
    stopped: AtomicBool,
    /// Stops the cluster and removes `root` when this process dies without doing so itself.
    watchdog: Mutex<Option<Watchdog>>,
}

struct Watchdog {
    child: Child,
    /// Closing this (our death) makes the watchdog clean up; writing `done` dismisses it.
    stdin: ChildStdin,
}

static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();

extern "C" fn stop_shared_cluster() {
    if let Some(Ok(cluster)) = SHARED.get() {
        cluster.shutdown();
    }
}

impl Cluster {
    /// One cluster per test process, started on first use with default options and stopped
    /// when the process exits (atexit), also when tests failed. A failed start is remembered:
    /// every later call panics with the same message instead of trying again.
    pub fn shared() -> &'static Cluster {
        let result = SHARED.get_or_init(|| {
            let cluster = Cluster::try_start(&ClusterOptions::default())?;
            // SAFETY: registers a plain function; libtest's exit (also with failed tests)
            // runs atexit handlers, statics are never dropped.
            if unsafe { libc::atexit(stop_shared_cluster) } != 0 {
                return Err("atexit registration failed".to_owned());
            }
            Ok(cluster)
        });
        match result {
            Ok(cluster) => cluster,
            Err(e) => panic!("the shared test cluster could not start: {e}"),
        }
    }

    /// A private cluster (e.g. without preload); stopped and removed on Drop.
    pub fn start(opts: ClusterOptions) -> Cluster {
        Cluster::try_start(&opts).unwrap_or_else(|e| panic!("test cluster could not start: {e}"))
    }

    fn try_start(opts: &ClusterOptions) -> Result<Cluster, String> {
        install::ensure_installed()?;
        let cluster = Cluster::empty(opts)?;
        cluster.initdb()?;
        let cluster = cluster.start_on_free_port(opts)?;
        cluster.create_roles()?;
        cluster.create_template(opts.upgraded_from.as_deref())?;
        Ok(cluster)
    }

    /// A hot standby of this cluster: a base backup (`pg_basebackup -R`, streaming from this
    /// server) in a directory of its own, started on its own port with this cluster's
    /// options; stopped and removed on Drop. Wait for changes made on this cluster with
    /// [`Cluster::wait_for_replay`].
    pub fn start_standby(&self) -> Cluster {
        self.try_start_standby()
            .unwrap_or_else(|e| panic!("the standby could not start: {e}"))
    }

    fn try_start_standby(&self) -> Result<Cluster, String> {
        let standby = Cluster::empty(&self.options)?;
        // Without -R: the primary_conninfo pg_basebackup writes names the options of its own
        // libpq (sslcertmode on 16+), which the server's walreceiver may load an older libpq
        // for and then refuse. The standby gets a plain one in its settings instead.
        // A slot of its own, created before the backup starts: the temporary slot of plain
        // `-X stream` comes a moment later, and a checkpoint in between (other tests write to
        // the primary) could recycle the WAL the backup needs. The standby keeps using it.
        static STANDBYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let slot = format!(
            "standby_{}_{}",
            std::process::id(),
            STANDBYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let output = ServerUser::get()
            .command(self.bindir.join("pg_basebackup"), &standby.root)
            .args([
                "-h",
                HOST,
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-D",
            ])
            .arg(&standby.data)
            .args(["-X", "stream", "-c", "fast", "--no-sync", "-C", "-S", &slot])
            .output()
            .map_err(|e| format!("running pg_basebackup: {e}"))?;
        if !output.status.success() {
            return Err(format!("pg_basebackup failed: {}", os::describe(&output)));
        }
        let signal = standby.data.join("standby.signal");
        std::fs::write(&signal, "").map_err(|e| format!("writing {}: {e}", signal.display()))?;
        ServerUser::get().chown(&signal)?;
        let mut options = self.options.clone();
        options.extra_conf.push((
            "primary_conninfo".into(),
            format!("host={HOST} port={} user={SUPERUSER}", self.port),
        ));
        options.extra_conf.push(("primary_slot_name".into(), slot));
        // The copied harness.conf names the primary's port: starting rewrites it.
        standby.start_on_free_port(&options)
    }

    /// Waits until this standby has replayed everything `primary` had written when called
    /// (bounded: panics with the standby's log after a minute). The target is the end of a
    /// WAL record written for the purpose, in a transaction committed synchronously, so the
    /// record and everything before it are flushed and streamed: the write position
    /// (`pg_current_wal_lsn()`) may lag behind commits under `synchronous_commit = off`, and an
    /// idle server's insert position can lie past the end of its last record.
    pub fn wait_for_replay(&self, primary: &Cluster) {
        let mut client = primary.superuser_client("postgres");
        let target: String = client
            .transaction()
            .and_then(|mut tx| {
                tx.batch_execute("SET LOCAL synchronous_commit = on")?;
                let lsn = tx
                    .query_one(
                        "SELECT pg_catalog.pg_logical_emit_message(true, 'boards_tenant_harness', 'replay')::text",
                        &[],
                    )?
                    .get(0);
                tx.commit()?;
                Ok(lsn)
            })
            .unwrap_or_else(|e| panic!("marking the primary's WAL position: {}", error_text(&e)));
        let mut standby = self.superuser_client("postgres");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let replayed: bool = standby
                .query_one(
                    "SELECT coalesce(pg_catalog.pg_last_wal_replay_lsn() >= $1::text::pg_lsn, false)",
                    &[&target],
                )
                .map(|row| row.get(0))
                .unwrap_or_else(|e| panic!("reading the standby's replay position: {}", error_text(&e)));
            if replayed {
                return;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "the standby did not replay up to {target} in a minute\n--- standby log ---\n{}",
                    self.server_log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `pg_upgrade` of `old` (stopped first) into a new cluster of the installation `opts`
    /// names, which is started and returned; `old` keeps its data, stopped, until dropped.
    /// The extension must be installed in the new installation.
    pub fn pg_upgrade(old: &Cluster, opts: ClusterOptions) -> Cluster {
        let upgraded = Cluster::empty(&opts)
            .and_then(|mut new| {
                new.initdb()?;
                new.port = free_port()?;
                new.write_conf(&opts)?;
                Ok(new)
            })
            .unwrap_or_else(|e| panic!("preparing the cluster to upgrade into: {e}"));
        // pg_upgrade connects to every database but template0.
        old.superuser_client("postgres")
            .batch_execute(&format!(
                "ALTER DATABASE {TEMPLATE_DB} WITH ALLOW_CONNECTIONS true"
            ))
            .unwrap_or_else(|e| panic!("opening {TEMPLATE_DB} for pg_upgrade: {}", error_text(&e)));
        old.stop_server();
        let output = ServerUser::get()
            .command(upgraded.bindir.join("pg_upgrade"), &upgraded.root)
            .arg("-b")
            .arg(&old.bindir)
            .arg("-B")
            .arg(&upgraded.bindir)
            .arg("-d")
            .arg(&old.data)
            .arg("-D")
            .arg(&upgraded.data)
            .args([
                "-p",
                &old.port.to_string(),
                "-P",
                &upgraded.port.to_string(),
            ])
            .args(["-U", SUPERUSER])
            .output()
            .unwrap_or_else(|e| panic!("running pg_upgrade: {e}"));
        if !output.status.success() {
            panic!(
                "pg_upgrade failed: {}\n--- its logs ---\n{}",
                os::describe(&output),
                upgraded.pg_upgrade_logs()
            );
        }
        upgraded
            .pg_ctl_start()
            .unwrap_or_else(|e| panic!("starting the upgraded cluster: {e}"));
        upgraded
    }

    /// The last lines of every log a failed pg_upgrade left (they go with the directory).
    fn pg_upgrade_logs(&self) -> String {
        let mut out = String::new();
        let mut dirs = vec![self.data.join("pg_upgrade_output.d")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "log") {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(120).collect();
                    out.push_str(&format!("== {}\n", path.display()));
                    for line in tail.into_iter().rev() {
                        out.push_str(line);
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    /// Stops the server (fast), keeping its data; `Drop` still removes the directory.
    pub fn stop_server(&self) {
        let stop = self.pg_ctl(&["-w", "-t", "60", "stop", "-m", "fast"]);
        if !stop.status.success() {
            panic!("pg_ctl stop failed: {}", os::describe(&stop));
        }
    }

    /// The server's major version, from `pg_config --version` of its installation.
    pub fn major_version(&self) -> u32 {
        let output = std::process::Command::new(self.bindir.join("pg_config"))
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("pg_config --version: {e}"));
        let text = String::from_utf8_lossy(&output.stdout);
        text.split_whitespace()
            .nth(1)
            .and_then(|v| v.split('.').next())
            .and_then(|major| major.parse().ok())
            .unwrap_or_else(|| panic!("unexpected pg_config --version output: {text}"))
    }

    /// A handle on an existing database of this cluster (after a `pg_upgrade`, a restore).
    pub fn database(&self, name: &str) -> TestDb<'_> {
        TestDb {
            cluster: self,
            name: name.to_owned(),
        }
    }

    /// A directory with a watchdog and nothing in it yet (`sock/` made).
    fn empty(opts: &ClusterOptions) -> Result<Cluster, String> {
        let user = ServerUser::get();
        let bindir = match &opts.pg_config {
            Some(pg_config) => os::bindir_of(pg_config),
            None => os::bindir().to_owned(),
        };
        let root = os::make_temp_dir("boards_tenant_")?;
        let watchdog = user
            .chown(&root)
            .and_then(|()| Watchdog::spawn(&bindir, &root, &root.join("data")))
            .inspect_err(|_| {
                // Nothing runs in it yet; a failed removal only leaves an empty directory.
                let _ = std::fs::remove_dir(&root);
            })?;
        // From here on, dropping `cluster` (an error return) stops and removes everything.
        let cluster = Cluster {
            data: root.join("data"),
            log: root.join("server.log"),
            root,
            port: 0,
            bindir,
            options: opts.clone(),
            create_db: Mutex::new(()),
            next_db: AtomicUsize::new(1),
            stopped: AtomicBool::new(false),
            watchdog: Mutex::new(Some(watchdog)),
        };
        let sock = cluster.root.join("sock");
        std::fs::create_dir(&sock).map_err(|e| format!("mkdir {}: {e}", sock.display()))?;
        user.chown(&sock)?;
        Ok(cluster)
    }

    fn initdb(&self) -> Result<(), String> {
        let output = ServerUser::get()
            .command(self.bindir.join("initdb"), &self.root)
            .arg("-D")
            .arg(&self.data)
            .args(["-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            // Nothing here needs to survive a power cut.
            .arg("--no-sync")
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !output.status.success() {
            return Err(format!("initdb failed: {}", os::describe(&output)));
        }
        let conf = self.data.join("postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .map_err(|e| format!("opening {}: {e}", conf.display()))?;
        writeln!(file, "\ninclude '{HARNESS_CONF}'")
            .map_err(|e| format!("writing {}: {e}", conf.display()))
    }

    /// Writes our settings with a newly probed port and starts the server, up to
    /// [`START_ATTEMPTS`] times.
    fn start_on_free_port(mut self, opts: &ClusterOptions) -> Result<Cluster, String> {
        let mut failures = Vec::new();
        for _ in 0..START_ATTEMPTS {
            self.port = free_port()?;
            self.write_conf(opts)?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(self),
                Err(e) => {
                    failures.push(e);
                    // A server still coming up (start timed out) would block the next try.
                    if self.data.join("postmaster.pid").exists() {
                        self.pg_ctl(&["-w", "-t", "30", "stop", "-m", "immediate"]);
                    }
                }
            }
        }
        Err(format!(
            "the server did not start in {START_ATTEMPTS} attempts:\n{}\n--- server log ---\n{}",
            failures.join("\n"),
            self.server_log()
        ))
    }

    fn write_conf(&self, opts: &ClusterOptions) -> Result<(), String> {
        let sock = self.root.join("sock");
        let mut settings: Vec<(String, String)> = [
            ("port", self.port.to_string()),
            ("listen_addresses", HOST.to_owned()),
            ("unix_socket_directories", sock.display().to_string()),
            // Throwaway data: durability only costs time.
            ("fsync", "off".to_owned()),
            ("synchronous_commit", "off".to_owned()),
            ("full_page_writes", "off".to_owned()),
            // Tests run in parallel threads, each with several connections.
            ("max_connections", "300".to_owned()),
            ("max_worker_processes", "16".to_owned()),
            ("max_parallel_workers", "8".to_owned()),
            ("max_parallel_workers_per_gather", "2".to_owned()),
            // Standbys of a test cluster are made in parallel: each base backup takes two WAL
            // senders and a slot, each running standby one more sender.
            ("max_wal_senders", "32".to_owned()),
            ("max_replication_slots", "32".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        if opts.preload {
            settings.push(("shared_preload_libraries".into(), "boards_tenant".into()));
        }
        settings.extend(opts.extra_conf.iter().cloned());
        let text: String = settings
            .iter()
            .map(|(name, value)| format!("{name} = {}\n", quote_literal(value)))
            .collect();
        let path = self.data.join(HARNESS_CONF);
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        ServerUser::get().chown(&path)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let output = self.pg_ctl(&["-w", "-t", "60", "start"]);
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start on port {} failed: {}",
                self.port,
                os::describe(&output)
            ))
        }
    }

    fn create_roles(&self) -> Result<(), String> {
        let mut client = self
            .connect_to("postgres", SUPERUSER, None)
            .map_err(|e| format!("connecting as superuser: {e}"))?;
        // Idempotent: the roles may exist already (boards_tenant_admin is also created by the
        // extension script), and ALTER enforces the attributes either way.
        let sql = format!(
            "DO $$
             DECLARE r text;
             BEGIN
                 FOREACH r IN ARRAY ARRAY['{ADMIN_GROUP_ROLE}', '{APP_ROLE}', '{ADMIN_ROLE}'] LOOP
                     IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
                         EXECUTE format('CREATE ROLE %I', r);
                     END IF;
                 END LOOP;
             END
             $$;
             ALTER ROLE {ADMIN_GROUP_ROLE} NOLOGIN;
             ALTER ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
             ALTER ROLE {ADMIN_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS;
             GRANT {ADMIN_GROUP_ROLE} TO {ADMIN_ROLE};"
        );
        client
            .batch_execute(&sql)
            .map_err(|e| format!("creating the test roles: {}", error_text(&e)))
    }

    fn create_template(&self, upgraded_from: Option<&str>) -> Result<(), String> {
        let mut postgres = self
            .connect_to("postgres", SUPERUSER, None)
            .map_err(|e| format!("connecting as superuser: {e}"))?;
        postgres
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE_DB}"))
            .map_err(|e| format!("creating {TEMPLATE_DB}: {}", error_text(&e)))?;
        {
            let mut template = self
                .connect_to(TEMPLATE_DB, SUPERUSER, None)
                .map_err(|e| format!("connecting to {TEMPLATE_DB}: {e}"))?;
            // The deployment the README requires: the app role can create in no schema. From
            // PostgreSQL 15 on that is the default for `public`; before, it must be revoked.
            template
                .batch_execute(
                    "DO $$ BEGIN
                         IF current_setting('server_version_num')::int < 150000 THEN
                             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
                         END IF;
                     END $$",
                )
                .map_err(|e| format!("revoking CREATE on public: {}", error_text(&e)))?;
            let sql = match upgraded_from {
                None => "CREATE EXTENSION boards_tenant".to_owned(),
                Some(version) => format!(
                    "CREATE EXTENSION boards_tenant VERSION {}; ALTER EXTENSION boards_tenant UPDATE",
                    quote_literal(version)
                ),
            };
            template.batch_execute(&sql).map_err(|e| {
                format!(
                    "{sql} failed: {}\n--- server log ---\n{}",
                    error_text(&e),
                    self.server_log()
                )
            })?;
        }
        // Nobody may connect to the template any more: a stray session would make every
        // CREATE DATABASE ... TEMPLATE fail.
        postgres
            .batch_execute(&format!(
                "ALTER DATABASE {TEMPLATE_DB} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
            ))
            .map_err(|e| format!("locking {TEMPLATE_DB}: {}", error_text(&e)))
    }

    /// The TCP port the server listens on (at [`Cluster::host`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on: `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// The cluster's data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server log so far (lossily decoded).
    pub fn server_log(&self) -> String {
        std::fs::read(&self.log)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// A fresh database `boards_test_<n>`, copied from a template that has the extension
    /// created; dropped again when the [`TestDb`] is.
    pub fn create_database(&self) -> TestDb<'_> {
        self.database_from(TEMPLATE_DB)
    }

    /// A fresh database without the extension (a copy of `template0`), for tests that create
    /// it themselves: a given version, an upgrade, a restore.
    pub fn create_empty_database(&self) -> TestDb<'_> {
        self.database_from("template0")
    }

    fn database_from(&self, template: &str) -> TestDb<'_> {
        let name = format!(
            "boards_test_{}",
            self.next_db.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = self.superuser_client("postgres");
        {
            let _serialised = self.create_db.lock().unwrap_or_else(|e| e.into_inner());
            client
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {}", error_text(&e)));
        }
        TestDb {
            cluster: self,
            name,
        }
    }

    /// The path of one of the server's programs (`pg_dump`, `pg_restore`, ...), from
    /// `pg_config --bindir`.
    pub fn program(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Crash and restart: an immediate-mode stop (no shutdown checkpoint, like a crash of the
    /// postmaster), then a start on the same port, which runs crash recovery. Connections
    /// opened before are dead afterwards.
    ///
    /// Transactions committed before the call survive it, as they would on a server with
    /// `synchronous_commit = on`: with our `off`, their WAL may still sit in shared memory,
    /// which the crash discards, so it is flushed first.
    pub fn restart(&self) {
        // A synchronous commit of a transaction that wrote WAL flushes all WAL inserted before
        // it (an xid alone writes none, hence the message). Best effort: a server that accepts
        // no connections has nothing to flush that a test could have seen committed.
        let _ = self
            .connect_to("postgres", SUPERUSER, None)
            .and_then(|mut client| {
                client.batch_execute(
                    "BEGIN; SET LOCAL synchronous_commit = on; \
                     SELECT pg_catalog.pg_logical_emit_message(true, 'boards_tenant_harness', 'flush'); \
                     COMMIT",
                )
            });
        let stop = self.pg_ctl(&["-w", "-t", "60", "stop", "-m", "immediate"]);
        if !stop.status.success() {
            panic!("pg_ctl stop -m immediate failed: {}", os::describe(&stop));
        }
        self.pg_ctl_start().unwrap_or_else(|e| {
            panic!(
                "restart failed: {e}\n--- server log ---\n{}",
                self.server_log()
            )
        });
    }

    /// Runs `pg_ctl -D <data dir> <args>` as the server's OS user. For `start` and `restart`
    /// without `-l`, the server's output is sent to [`Cluster::server_log`]'s file: left on
    /// our pipes it would keep this call from ever returning.
    pub fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut cmd = ServerUser::get().command(self.bindir.join("pg_ctl"), &self.root);
        // What a developer's shell often has, and what makes pgrx attach Rust backtraces to
        // the errors it re-raises: every suite then checks that none reaches a client.
        cmd.env("RUST_BACKTRACE", "1");
        cmd.arg("-D").arg(&self.data);
        let starts = args.iter().any(|a| *a == "start" || *a == "restart");
        let has_log = args.iter().any(|a| *a == "-l" || a.starts_with("--log"));
        if starts && !has_log {
            cmd.arg("-l").arg(&self.log);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running pg_ctl failed: {e}"))
    }

    /// A connection to database `dbname` as `role`; `options` is the libpq `options` string
    /// (what `PGOPTIONS` sets), e.g. `-c boards.multi_tenant_mode=on`.
    pub fn connect_to(
        &self,
        dbname: &str,
        role: &str,
        options: Option<&str>,
    ) -> Result<Client, postgres::Error> {
        let mut config = postgres::Config::new();
        config
            .host(HOST)
            .port(self.port)
            .user(role)
            .dbname(dbname)
            .application_name("boards_tenant_tests")
            .connect_timeout(Duration::from_secs(30));
        if let Some(options) = options {
            config.options(options);
        }
        config.connect(NoTls)
    }

    fn superuser_client(&self, dbname: &str) -> Client {
        self.connect_to(dbname, SUPERUSER, None)
            .unwrap_or_else(|e| panic!("connecting to {dbname} as {SUPERUSER} failed: {e}"))
    }

    /// Stops the server (fast, else immediate) and removes the directory; runs once. Never
    /// panics: it runs in Drop and at exit.
    fn shutdown(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.data.join("postmaster.pid").exists() {
            let fast = self.pg_ctl(&["-w", "-t", "30", "stop", "-m", "fast"]);
            if !fast.status.success() {
                let immediate = self.pg_ctl(&["-w", "-t", "30", "stop", "-m", "immediate"]);
                if !immediate.status.success() {
                    eprintln!(
                        "boards_tenant_harness: could not stop the cluster in {}: {}",
                        self.root.display(),
                        os::describe(&immediate)
                    );
                }
            }
        }
        let removed = match std::fs::remove_dir_all(&self.root) {
            Ok(()) => true,
            Err(e) => {
                eprintln!(
                    "boards_tenant_harness: removing {} failed: {e}",
                    self.root.display()
                );
                false
            }
        };
        let watchdog = self
            .watchdog
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(watchdog) = watchdog {
            // Left undismissed, the watchdog retries the stop and the removal itself.
            watchdog.finish(removed);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Watchdog {
    /// A shell, running as the server's user in a process group of its own (so a Ctrl-C
    /// meant for the tests does not kill it first), that waits for its stdin to close. We
    /// hold the only write end: when it closes without `done` having been written, this
    /// process died without cleaning up, and the watchdog stops the server and removes
    /// `root`. (Polling with `kill -0 <pid>` would not do: as `postgres` it may not signal
    /// a root test process.)
    fn spawn(bindir: &Path, root: &Path, data: &Path) -> Result<Watchdog, String> {
        const SCRIPT: &str = r#"read line
[ "$line" = done ] && exit 0
"$1" -D "$2" -w -t 30 stop -m immediate >/dev/null 2>&1
rm -rf "$3""#;
        let mut child = ServerUser::get()
            .command("/bin/sh", Path::new("/"))
            .arg("-c")
            .arg(SCRIPT)
            .arg("boards_tenant_watchdog")
            .arg(bindir.join("pg_ctl"))
            .arg(data)
            .arg(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting the cluster watchdog: {e}"))?;
        let stdin = child.stdin.take().ok_or("the watchdog has no stdin pipe")?;
        Ok(Watchdog { child, stdin })
    }

    /// Dismisses the watchdog when we cleaned up ourselves, else lets it do the cleanup.
    fn finish(self, cleaned_up: bool) {
        let Watchdog {
            mut child,
            mut stdin,
        } = self;
        if cleaned_up {
            // A write error means the watchdog is gone already: nothing to dismiss.
            let _ = stdin.write_all(b"done\n");
        }
        drop(stdin);
        // Reap it (a cleanup takes at most the stop timeout).
        let _ = child.wait();
    }
}

/// A database of its own for one test, copied from the template; `DROP DATABASE ... WITH
/// (FORCE)` on Drop.
pub struct TestDb<'c> {
    cluster: &'c Cluster,
    name: String,
}

impl TestDb<'_> {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster the database lives in.
    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// A connection as the bootstrap superuser `postgres`.
    pub fn superuser(&self) -> Client {
        self.login(SUPERUSER)
    }

    /// A connection as the application role `boards_app`.
    pub fn app(&self) -> Client {
        self.login(APP_ROLE)
    }

    /// A connection as `boards_admin`: `LOGIN NOSUPERUSER`, member of `boards_tenant_admin`.
    pub fn admin(&self) -> Client {
        self.login(ADMIN_ROLE)
    }

    fn login(&self, role: &str) -> Client {
        self.connect(role, None).unwrap_or_else(|e| {
            panic!(
                "connecting to {} as {role} failed: {}",
                self.name,
                error_text(&e)
            )
        })
    }

    /// A connection as `role`; `options` is the libpq `options` string (what `PGOPTIONS`
    /// sets), e.g. `-c boards.multi_tenant_mode=on`. Errors are returned: refusing a
    /// connection may be what a test expects.
    pub fn connect(&self, role: &str, options: Option<&str>) -> Result<Client, postgres::Error> {
        self.cluster.connect_to(&self.name, role, options)
    }

    /// `postgresql://<role>@127.0.0.1:<port>/<db>`, for the CLI and psql.
    pub fn url(&self, role: &str) -> String {
        format!(
            "postgresql://{role}@{HOST}:{}/{}",
            self.cluster.port, self.name
        )
    }

    /// `ALTER DATABASE <db> SET <setting> = '<value>'` as superuser: every new connection to
    /// this database gets the value, connections already open keep theirs.
    pub fn set(&self, setting: &str, value: &str) {
        let sql = format!(
            "ALTER DATABASE {} SET {setting} = {}",
            self.name,
            quote_literal(value)
        );
        self.superuser()
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{sql} failed: {}", error_text(&e)));
    }
}

impl Drop for TestDb<'_> {
    fn drop(&mut self) {
        // A stopped server (or one stopped for pg_upgrade) has nothing to drop.
        if self.cluster.stopped.load(Ordering::SeqCst)
            || !self.cluster.data.join("postmaster.pid").exists()
        {
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let result = self
            .cluster
            .connect_to("postgres", SUPERUSER, None)
            .and_then(|mut client| client.batch_execute(&sql));
        // Never panic in Drop (it may run during a test's unwinding); a leftover database
        // goes away with the cluster anyway.
        if let Err(e) = result {
            eprintln!("boards_tenant_harness: {sql} failed: {}", error_text(&e));
        }
    }
}

/// A port nobody listens on right now (the kernel's pick for 127.0.0.1:0).
fn free_port() -> Result<u16, String> {
    TcpListener::bind((HOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("probing for a free port: {e}"))
}

/// `value` as an SQL string literal.
fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A client error with the server's message, detail and SQLSTATE when there is one (the
/// `Display` of `postgres::Error` only says "db error"), for panic messages.
pub fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = format!(
                "{}: {} (SQLSTATE {})",
                db.severity(),
                db.message(),
                db.code().code()
            );
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; DETAIL: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; HINT: {hint}"));
            }
            text
        }
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::quote_literal;

    #[test]
    fn quote_literal_doubles_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("/tmp/x"), "'/tmp/x'");
    }
}
