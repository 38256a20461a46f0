//! Queries run by parallel workers, and the proof that they were: a plan that merely contains
//! a Gather node proves nothing (no worker may have launched, and then the leader runs the
//! plan itself), so the helpers here check the executed plan's `Workers Launched` and, row by
//! row, which backend computed the row.

use boards_tenant_harness::postgres::{Client, Row};
use boards_tenant_harness::TestDb;
use serde_json::Value;

use crate::{error_text, exec};

/// Settings that make the next queries of a session run in parallel workers only. The
/// forcing setting is `force_parallel_mode` before PostgreSQL 16, `debug_parallel_query` from
/// 16 on; the statement picks the one the server has.
pub const FORCE_PARALLEL: &str = "SELECT pg_catalog.set_config(
         CASE WHEN pg_catalog.current_setting('server_version_num')::int >= 160000
              THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false);
     SET parallel_setup_cost = 0;
     SET parallel_tuple_cost = 0;
     SET min_parallel_table_scan_size = 0;
     SET max_parallel_workers_per_gather = 2;
     SET parallel_leader_participation = off;";

/// A function that returns the pid of the backend evaluating it. It is `pg_backend_pid`
/// itself, declared `PARALLEL SAFE` (the built-in is restricted precisely because a worker
/// would report its own pid, which is what a row computed by a worker should carry here).
const COMPUTING_PID: &str = "public.computing_backend_pid()";

/// Installs [`COMPUTING_PID`] in `db` (as superuser: `LANGUAGE internal` requires it) so
/// [`rows_from_workers`] can tell which backend computed each row.
#[track_caller]
pub fn install_worker_probe(db: &TestDb) {
    exec(
        &mut db.superuser(),
        "CREATE FUNCTION public.computing_backend_pid() RETURNS int
             LANGUAGE internal VOLATILE PARALLEL SAFE AS 'pg_backend_pid';",
    );
}

/// How many parallel workers the execution of `sql` launched, summed over every Gather of
/// its plan (`EXPLAIN (ANALYZE, FORMAT JSON)`: the statement is executed).
#[track_caller]
pub fn workers_launched(client: &mut Client, sql: &str) -> u64 {
    launched_in(&executed_plan(client, sql))
}

/// The plan of `sql` as executed, with its actual figures (`EXPLAIN (ANALYZE, FORMAT JSON)`).
#[track_caller]
fn executed_plan(client: &mut Client, sql: &str) -> Value {
    let explain = format!("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON, COSTS OFF, TIMING OFF) {sql}");
    client
        .query_one(&explain, &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{explain}: {}", error_text(&e)))
}

/// The sum of `"Workers Launched"` over every node of an EXPLAIN JSON document.
fn launched_in(node: &Value) -> u64 {
    match node {
        Value::Object(fields) => fields
            .iter()
            .map(|(name, value)| match (name.as_str(), value.as_u64()) {
                ("Workers Launched", Some(n)) => n,
                _ => launched_in(value),
            })
            .sum(),
        Value::Array(items) => items.iter().map(launched_in).sum(),
        _ => 0,
    }
}

/// The rows of `SELECT <select_list> <rest>` (e.g. `rest` = `"FROM public.notes WHERE …"`),
/// each proven to have been computed by a parallel worker of this very execution: column 0
/// is added and holds the computing backend's pid, which must differ from the session's own;
/// `select_list` starts at column 1. Also checks that the same statement, executed under
/// EXPLAIN ANALYZE, launched workers (so an empty result was a parallel one as well).
/// Needs [`install_worker_probe`] and the session's [`FORCE_PARALLEL`].
#[track_caller]
pub fn rows_from_workers(client: &mut Client, select_list: &str, rest: &str) -> Vec<Row> {
    let sql = format!("SELECT {COMPUTING_PID}, {select_list} {rest}");
    let plan = executed_plan(client, &sql);
    assert!(
        launched_in(&plan) > 0,
        "{sql}: no parallel worker launched:\n{plan:#}"
    );
    let leader: i32 = client
        .query_one("SELECT pg_catalog.pg_backend_pid()", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("pg_backend_pid(): {}", error_text(&e)));
    let rows = client
        .query(&sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
    for row in &rows {
        let computed_by: i32 = row.get(0);
        assert_ne!(
            computed_by, leader,
            "{sql}: a row was computed by the leader, not by a parallel worker"
        );
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::launched_in;
    use serde_json::json;

    #[test]
    fn launched_workers_are_summed_over_nested_gathers() {
        let plan = json!([{"Plan": {
            "Node Type": "Gather", "Workers Launched": 2,
            "Plans": [{"Node Type": "Gather Merge", "Workers Launched": 1, "Plans": []}]
        }}]);
        assert_eq!(launched_in(&plan), 3);
        assert_eq!(
            launched_in(&json!([{"Plan": {"Node Type": "Seq Scan"}}])),
            0
        );
    }
}
