//! Shared helpers of the integration tests in `tests/`.

use postgres::error::DbError;

pub mod deployment;
pub mod fixture;
pub mod parallel;
pub mod settings;
pub mod snapshot;
pub mod sqlstate;
pub mod waits;

/// The server's `server_version_num` (e.g. 150004): for statements that exist only from a
/// given major version on (`MERGE`, `GRANT SET ON PARAMETER`, `security_invoker` views: 15).
#[track_caller]
pub fn server_version_num(client: &mut postgres::Client) -> i32 {
    client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("server_version_num: {}", error_text(&e)))
}

pub use parallel::FORCE_PARALLEL;

pub use boards_tenant_harness as harness;

/// base64url without padding (RFC 7515): token parts made by hand.
pub fn base64url(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `s` as an SQL string literal (quotes doubled), for statements built as text.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
pub use boards_tenant_harness::error_text;

/// Asserts that `result` failed in the server with SQLSTATE `code` (e.g. `"42501"`) and
/// returns the server's message, for further checks on its wording.
#[track_caller]
pub fn assert_sqlstate<T>(result: Result<T, postgres::Error>, code: &str) -> String {
    assert_sqlstate_in("", result, code)
}

/// [`assert_sqlstate`] for checks run in a loop: `context` (what was attempted) leads the
/// failure message.
#[track_caller]
pub fn assert_sqlstate_in<T>(
    context: &str,
    result: Result<T, postgres::Error>,
    code: &str,
) -> String {
    let db = db_error(context, result, code);
    assert_eq!(
        db.code().code(),
        code,
        "{context}: expected SQLSTATE {code}, got {}: {}",
        db.code().code(),
        db.message()
    );
    db.message().to_owned()
}

/// The server-side error of a result that must have failed; panics on success and on errors
/// that did not come from the server (connection trouble is no answer to a test's question).
#[track_caller]
pub fn db_error<T>(context: &str, result: Result<T, postgres::Error>, expected: &str) -> DbError {
    match result {
        Ok(_) => panic!("{context}: expected an error with SQLSTATE {expected}, got success"),
        Err(e) => match e.as_db_error() {
            Some(db) => db.clone(),
            None => panic!(
                "{context}: expected an error with SQLSTATE {expected}, got a client error: {e}"
            ),
        },
    }
}

/// The single text value of a query that returns one row with one column (NULL is `None`).
#[track_caller]
pub fn query_text(
    client: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Option<String> {
    client
        .query_one(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .get(0)
}

/// Runs `sql` (one or more statements) and panics with the server's message on failure.
#[track_caller]
pub fn exec(client: &mut postgres::Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
}

/// Runs one statement with parameters; the number of rows it touched.
#[track_caller]
pub fn exec_params(
    client: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> u64 {
    client
        .execute(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

/// The single text value of a one-row, one-column query that must not be NULL.
#[track_caller]
pub fn text(
    client: &mut postgres::Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> String {
    query_text(client, sql, params).unwrap_or_else(|| panic!("{sql}: NULL"))
}

/// The single `bigint` of a one-row, one-column query (e.g. `count(*)`).
#[track_caller]
pub fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client
        .query_one(sql, &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

/// The first column of every row, as text.
#[track_caller]
pub fn column(client: &mut postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// The row `boards_set_tenant_from_jwt` returns, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRow {
    pub tenant_id: String,
    pub tenant_slug: String,
    pub user_id: String,
    pub subject: String,
    pub source: String,
}

/// Sets the context from `token` (and the X-Tenant value) in session scope; panics on error.
#[track_caller]
pub fn set_context(
    client: &mut postgres::Client,
    token: &str,
    x_tenant: Option<&str>,
) -> ContextRow {
    let row = client
        .query_one(
            "SELECT tenant_id::text, tenant_slug, user_id::text, subject, source
             FROM boards_set_tenant_from_jwt($1, $2)",
            &[&token, &x_tenant],
        )
        .unwrap_or_else(|e| panic!("boards_set_tenant_from_jwt: {}", error_text(&e)));
    ContextRow {
        tenant_id: row.get(0),
        tenant_slug: row.get(1),
        user_id: row.get(2),
        subject: row.get(3),
        source: row.get(4),
    }
}

/// Tries to set the context from `token`; the error when it is refused.
pub fn try_context(
    client: &mut postgres::Client,
    token: &str,
    x_tenant: Option<&str>,
) -> Result<(), postgres::Error> {
    client
        .query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, $2)",
            &[&token, &x_tenant],
        )
        .map(|_| ())
}
