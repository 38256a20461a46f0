//! A schemathesis run (PyPI `schemathesis`, installed by the test command's set-up) against
//! the gateway's own `/openapi.json`: a bounded number of generated requests per operation,
//! valid and invalid, with a real token of a platform operator who is also a member of
//! tenant `acme`. Every check must pass: no 5xx, every status, content type, header and body
//! as the document says, invalid input refused, missing auth refused.
//!
//! Two settings, and why: `positive_data_acceptance` is excluded, because the database
//! validates more than a JSON Schema can say (a registration's name must yield a slug, an
//! email must be plausible, a tenant's state must allow the change): such schema-valid
//! requests get a documented 400/409 with the seed's texts, which the other checks verify.
//! `--generation-allow-x00 false`: PostgreSQL text cannot hold a NUL character; the gateway's
//! 400 for one is tested in `http_api.rs`.
//!
//! `$SCHEMATHESIS` names the executable (default `schemathesis` on `PATH`);
//! `BOARDS_SCHEMATHESIS_EXAMPLES` the examples per operation (default 20).

mod common;

use std::process::Command;

use boards_tenant_harness::{Cluster, APP_ROLE};
use common::*;
use serde_json::json;

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let db = Cluster::shared().create_database();
    prepare(&db);
    let gw = Gateway::start(&db.url(APP_ROLE), &["--pool-size", "4"]);
    let token = token(
        json!({"sub": OPERATOR, "tenant": "acme", "exp": boards_tenant_harness::jwt::now() + 24 * 3600}),
    );
    gw.get("/api/me", &token).expect(200);
    let program = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".to_owned());
    let examples =
        std::env::var("BOARDS_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "20".to_owned());
    let report = tempdir();
    let output = Command::new(&program)
        .arg("run")
        .arg(format!("{}/openapi.json", gw.base))
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
        ])
        .args([
            "--max-examples",
            &examples,
            "--seed",
            "16",
            "--generation-allow-x00",
            "false",
        ])
        .args(["--workers", "1", "--no-color", "--report-dir"])
        .arg(&report)
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .env("SCHEMATHESIS_HOOKS", "")
        // Its example database (.schemathesis/) goes with the report, not into the checkout.
        .current_dir(&report)
        .output()
        .unwrap_or_else(|e| {
            panic!("running {program} failed: {e} (pip install schemathesis, or set $SCHEMATHESIS)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}\n{stderr}");
    let _ = std::fs::remove_dir_all(&report);
    let errors: Vec<String> = gw
        .logs()
        .lines()
        .filter(|l| l.contains("\"ERROR\""))
        .map(str::to_owned)
        .collect();
    assert!(
        output.status.success(),
        "schemathesis reported failures (exit {:?}):\n{stdout}\n{stderr}\n--- gateway errors ---\n{}",
        output.status.code(),
        errors.join("\n")
    );
    assert!(
        !gw.logs().contains("\"status\":500"),
        "a 500 in the gateway's log"
    );
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "boards_gateway_schemathesis_{}",
        std::process::id()
    ));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
