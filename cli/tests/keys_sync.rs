//! `boards-tenant keys sync` against a local HTTP server the test runs (serving documents the
//! test changes between runs) and a real cluster: rotation with grace, a failed fetch (keys
//! kept), a malformed document (nothing changed), an algorithm change under a kid, OpenID
//! Connect discovery, and --watch picking up a change after the document's max-age.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boards_tenant_harness::{Cluster, TestDb, ADMIN_ROLE};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_boards-tenant");

const K_ONE: &str = "Y2xpLXN5bmMtc2VjcmV0LW9uZS1jbGktc3luYy1zZWNyZXQtb25lLTMyYnl0ZXMhIQ";
const K_TWO: &str = "Y2xpLXN5bmMtc2VjcmV0LXR3by1jbGktc3luYy1zZWNyZXQtdHdvLTMyYnl0ZXMhIQ";

#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    cache_control: Option<String>,
}

/// A tiny HTTP/1.1 server on a free local port: each path answers what the test last set.
#[derive(Clone)]
struct Server {
    base: String,
    replies: Arc<Mutex<HashMap<String, Reply>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a local port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let replies: Arc<Mutex<HashMap<String, Reply>>> = Arc::default();
        let shared = Arc::clone(&replies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // The rest of the head; the requests have no body.
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_owned();
                let reply = shared.lock().map(|r| r.get(&path).cloned()).ok().flatten();
                let reply = reply.unwrap_or(Reply {
                    status: 404,
                    body: "{}".into(),
                    cache_control: None,
                });
                let cache = reply
                    .cache_control
                    .map(|c| format!("Cache-Control: {c}\r\n"))
                    .unwrap_or_default();
                let mut stream = &stream;
                let _ = write!(
                    stream,
                    "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cache}Connection: close\r\n\r\n{}",
                    reply.status,
                    reply.body.len(),
                    reply.body
                );
            }
        });
        Server { base, replies }
    }

    fn serve(&self, path: &str, status: u16, body: &str, cache_control: Option<&str>) {
        self.replies.lock().expect("replies").insert(
            path.to_owned(),
            Reply {
                status,
                body: body.to_owned(),
                cache_control: cache_control.map(str::to_owned),
            },
        );
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn jwks(keys: &[(&str, &str, &str)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, alg, k)| json!({"kty": "oct", "kid": kid, "alg": alg, "k": k}))
        .collect();
    json!({ "keys": keys }).to_string()
}

fn command(db: &TestDb) -> Command {
    let mut cmd = Command::new(BIN);
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
    ] {
        cmd.env_remove(var);
    }
    cmd.arg("--database-url").arg(db.url(ADMIN_ROLE));
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs `keys sync <args> --output-format json`: exit code, stdout, stderr.
fn sync(db: &TestDb, args: &[&str]) -> (Option<i32>, String, String) {
    let output = command(db)
        .args(["keys", "sync"])
        .args(args)
        .args(["--output-format", "json"])
        .output()
        .expect("running boards-tenant");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[track_caller]
fn sync_ok(db: &TestDb, args: &[&str]) -> Vec<(String, String)> {
    let (code, stdout, stderr) = sync(db, args);
    assert_eq!(code, Some(0), "stdout {stdout} stderr {stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON document");
    doc["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap_or_default().to_owned(),
                k["action"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// `(kid, alg, retiring)` of one installed key.
type KeyRow = (String, String, bool);

/// The issuer's keys.
fn installed(db: &TestDb, issuer: &str) -> Vec<KeyRow> {
    db.admin()
        .query(
            "SELECT kid, alg, retired_at IS NOT NULL FROM boards_jwt_keys() WHERE issuer = $1 ORDER BY kid",
            &[&issuer],
        )
        .expect("listing keys")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

const ISS: &str = "https://idp.example";

#[test]
fn rotation_failed_fetch_malformed_document_and_alg_change() {
    let db = Cluster::shared().create_database();
    let server = Server::start();
    let url = server.url("/jwks");
    let args = ["--jwks-url", url.as_str(), "--issuer-binding", ISS];

    server.serve("/jwks", 200, &jwks(&[("k1", "HS256", K_ONE)]), None);
    assert_eq!(sync_ok(&db, &args), pairs(&[("k1", "added")]));
    assert_eq!(sync_ok(&db, &args), pairs(&[("k1", "kept")]));

    // Rotation: k1 keeps verifying through the grace period, then goes.
    server.serve("/jwks", 200, &jwks(&[("k2", "HS256", K_TWO)]), None);
    assert_eq!(
        sync_ok(&db, &args),
        pairs(&[("k2", "added"), ("k1", "retiring")])
    );
    assert_eq!(
        installed(&db, ISS),
        [
            ("k1".into(), "HS256".into(), true),
            ("k2".into(), "HS256".into(), false)
        ]
    );

    // A failed fetch and a malformed document change nothing.
    let before = installed(&db, ISS);
    server.serve("/jwks", 503, "{}", None);
    let (code, _, stderr) = sync(&db, &args);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("HTTP 503"), "{stderr}");
    assert_eq!(installed(&db, ISS), before);
    for bad in [
        "not json",
        "{\"keys\": []}",
        "{\"keys\": [{\"kty\": \"oct\", \"kid\": \"k3\"}]}",
    ] {
        server.serve("/jwks", 200, bad, None);
        let (code, _, stderr) = sync(&db, &args);
        assert_eq!(code, Some(1), "{bad}: {stderr}");
        assert_eq!(installed(&db, ISS), before, "{bad}");
    }

    // The grace period over, k1 is removed; an algorithm change under k2 replaces it.
    server.serve("/jwks", 200, &jwks(&[("k2", "HS512", K_TWO)]), None);
    let mut grace = args.to_vec();
    grace.extend(["--grace", "0"]);
    assert_eq!(
        sync_ok(&db, &grace),
        pairs(&[("k2", "replaced"), ("k1", "removed")])
    );
    assert_eq!(installed(&db, ISS), [("k2".into(), "HS512".into(), false)]);
}

#[test]
fn discovery_binds_the_keys_to_the_providers_issuer() {
    let db = Cluster::shared().create_database();
    let server = Server::start();
    // The issuer is the server itself (plain http is accepted for localhost only).
    let issuer = server.base.clone();
    server.serve(
        "/.well-known/openid-configuration",
        200,
        &json!({"issuer": issuer, "jwks_uri": server.url("/keys")}).to_string(),
        None,
    );
    server.serve("/keys", 200, &jwks(&[("d1", "HS256", K_ONE)]), None);
    let asked = format!("{issuer}/");
    assert_eq!(
        sync_ok(&db, &["--issuer", asked.as_str()]),
        pairs(&[("d1", "added")])
    );
    assert_eq!(
        installed(&db, &issuer),
        [("d1".into(), "HS256".into(), false)]
    );

    // A discovery document for another issuer is refused.
    server.serve(
        "/.well-known/openid-configuration",
        200,
        &json!({"issuer": "https://evil.example", "jwks_uri": server.url("/keys")}).to_string(),
        None,
    );
    let (code, _, stderr) = sync(&db, &["--issuer", issuer.as_str()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not "), "{stderr}");
}

#[test]
fn plain_http_to_another_host_is_refused() {
    let db = Cluster::shared().create_database();
    let (code, _, stderr) = sync(
        &db,
        &[
            "--jwks-url",
            "http://idp.example/jwks",
            "--issuer-binding",
            ISS,
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("refusing"), "{stderr}");
}

/// Kills the watcher however the test ends.
struct Watcher(std::process::Child);

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn watch_refetches_after_max_age() {
    let db = Cluster::shared().create_database();
    let server = Server::start();
    let url = server.url("/jwks");
    server.serve(
        "/jwks",
        200,
        &jwks(&[("w1", "HS256", K_ONE)]),
        Some("public, max-age=1"),
    );
    let child = command(&db)
        .args([
            "keys",
            "sync",
            "--jwks-url",
            url.as_str(),
            "--issuer-binding",
            ISS,
        ])
        .args(["--watch", "--min-interval", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the watcher");
    let _watcher = Watcher(child);
    let wait_for = |what: &str, want: &dyn Fn(&[KeyRow]) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let keys = installed(&db, ISS);
            if want(&keys) {
                return;
            }
            assert!(Instant::now() < deadline, "{what}: still {keys:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("first sync", &|k| k.iter().any(|(kid, _, _)| kid == "w1"));
    // The provider rotates; the watcher fetches again once max-age (1 s) has passed.
    server.serve(
        "/jwks",
        200,
        &jwks(&[("w2", "HS256", K_TWO)]),
        Some("max-age=1"),
    );
    wait_for("the rotation", &|k| {
        k.iter().any(|(kid, _, _)| kid == "w2")
            && k.iter().any(|(kid, _, retiring)| kid == "w1" && *retiring)
    });
}
