//! Shared helpers of the gateway's integration tests: a test database with two tenants, an
//! operator and the test keys; the real `boards-tenant-gateway` binary started against it
//! (and stopped on Drop); HTTP calls with real signed tokens.
#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::{error_text, TestDb};
use serde_json::{json, Value};

pub const OPERATOR: &str = "ops-1";

/// Multi-tenant mode, the test keys, tenants `acme` and `globex`, operator `ops-1`.
pub fn prepare(db: &TestDb) {
    db.set("boards.multi_tenant_mode", "on");
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    admin
        .batch_execute(
            "SELECT * FROM boards_tenant_create('Acme', 'acme');
             SELECT * FROM boards_tenant_create('Globex', 'globex');
             SELECT boards_operator_add('ops-1', note => 'gateway tests');",
        )
        .unwrap_or_else(|e| panic!("preparing the test database: {}", error_text(&e)));
}

/// An HS256 token for `claims`, issued now and valid for an hour (`iat` and `exp` added
/// unless given; first-use membership needs an `iat` no older than the tenant).
pub fn token(claims: Value) -> String {
    let mut claims = claims;
    if claims.get("exp").is_none() {
        claims["exp"] = json!(jwt::now() + 3600);
    }
    if claims.get("iat").is_none() {
        claims["iat"] = json!(jwt::now());
    }
    mint("HS256", &test_kid("HS256"), &claims)
}

/// A member of `tenant` by its token's `tenant` claim.
pub fn user(sub: &str, tenant: &str) -> String {
    token(json!({"sub": sub, "tenant": tenant}))
}

/// The running gateway; killed on Drop if still running.
pub struct Gateway {
    child: Option<Child>,
    pub base: String,
    logs: Arc<Mutex<String>>,
    http: reqwest::blocking::Client,
}

impl Gateway {
    /// Starts the binary against `database_url` (as the app role) on a free port, with
    /// `args` added to the command line.
    pub fn start(database_url: &str, args: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_boards-tenant-gateway"))
            .args(["--database-url", database_url, "--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting the gateway: {e}"));
        let logs = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let base = line
            .trim()
            .strip_prefix("boards-tenant-gateway listening on ")
            .unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the gateway did not start: {line:?}\n--- logs ---\n{}",
                    logs.lock().unwrap_or_else(|e| e.into_inner())
                )
            })
            .to_owned();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        Gateway {
            child: Some(child),
            base,
            logs,
            http,
        }
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the gateway runs");
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGTERM);
        }
        child.wait().expect("waiting for the gateway")
    }

    pub fn signal_term(&self) {
        if let Some(child) = &self.child {
            // SAFETY: signalling our own child process.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
        }
    }

    pub fn wait(&mut self) -> ExitStatus {
        self.child
            .take()
            .expect("the gateway runs")
            .wait()
            .expect("waiting for the gateway")
    }

    /// A request; the status and the JSON body (Null when empty).
    pub fn call(&self, req: Req) -> Resp {
        let url = format!("{}{}", self.base, req.path);
        let mut builder = self.http.request(req.method.clone(), &url);
        if let Some(token) = &req.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(tenant) = &req.x_tenant {
            builder = builder.header("X-Tenant", tenant);
        }
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &req.json {
            builder = builder.json(body);
        }
        if let Some(raw) = &req.raw {
            builder = builder.body(raw.clone());
        }
        let response = builder.send().unwrap_or_else(|e| {
            panic!(
                "{} {}: {e}\n--- logs ---\n{}",
                req.method,
                req.path,
                self.logs()
            )
        });
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Req::get(path).token(token))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Clone)]
pub struct Req {
    method: reqwest::Method,
    path: String,
    token: Option<String>,
    x_tenant: Option<String>,
    json: Option<Value>,
    raw: Option<Vec<u8>>,
    headers: Vec<(String, String)>,
}

impl Req {
    pub fn new(method: &str, path: &str) -> Req {
        Req {
            method: reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            path: path.to_owned(),
            token: None,
            x_tenant: None,
            json: None,
            raw: None,
            headers: Vec::new(),
        }
    }
    pub fn get(path: &str) -> Req {
        Req::new("GET", path)
    }
    pub fn post(path: &str, body: Value) -> Req {
        Req::new("POST", path).json(body)
    }
    pub fn patch(path: &str, body: Value) -> Req {
        Req::new("PATCH", path).json(body)
    }
    pub fn delete(path: &str) -> Req {
        Req::new("DELETE", path)
    }
    pub fn token(mut self, token: &str) -> Req {
        self.token = Some(token.to_owned());
        self
    }
    pub fn tenant(mut self, tenant: &str) -> Req {
        self.x_tenant = Some(tenant.to_owned());
        self
    }
    pub fn json(mut self, body: Value) -> Req {
        self.json = Some(body);
        self
    }
    pub fn raw(mut self, body: Vec<u8>) -> Req {
        self.raw = Some(body);
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Asserts the status; returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Asserts the status and the seed-shaped error body exactly.
    #[track_caller]
    pub fn expect_error(self, status: u16, error: &str, detail: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        assert_eq!(self.body, json!({"error": error, "detail": detail}));
    }

    /// Asserts the status and that the body has exactly the keys `error` and `detail`;
    /// returns `error`.
    #[track_caller]
    pub fn expect_error_shape(self, status: u16) -> String {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        let object = self.body.as_object().expect("an error body is an object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["detail", "error"], "{}", self.body);
        assert!(object["detail"].is_string());
        object["error"]
            .as_str()
            .expect("error is a string")
            .to_owned()
    }
}

/// Polls `check` up to `attempts` times, 50 ms apart; whether it held once.
pub fn eventually(attempts: usize, mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..attempts {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Whether some backend of `role` waits for a lock (a gateway request blocked on purpose).
pub fn waiting_for_lock(db: &TestDb, role: &str) -> bool {
    db.superuser()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE usename = $1 AND wait_event_type = 'Lock'",
            &[&role],
        )
        .map(|row| row.get::<_, i64>(0) > 0)
        .unwrap_or(false)
}
