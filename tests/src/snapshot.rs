//! What a tenant's rows look like, table by table, read as superuser: the before/after an
//! attack or an isolation test compares, so "nothing of B's changed" is checked row for row.

use boards_tenant_harness::{error_text, TestDb};

/// Row count and a digest of every row of one table for one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableState {
    pub table: String,
    pub rows: i64,
    pub digest: String,
}

/// The state of each `(table, tenant column)` for the tenant `tenant_id`.
pub fn snapshot<'a>(
    db: &TestDb,
    tenant_id: &str,
    tables: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<TableState> {
    let mut su = db.superuser();
    tables
        .into_iter()
        .map(|(table, column)| {
            let sql = format!(
                "SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')
                 FROM {table} t WHERE {column} = $1::text::uuid"
            );
            let row = su
                .query_one(&sql, &[&tenant_id])
                .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
            TableState {
                table: table.to_owned(),
                rows: row.get(0),
                digest: row.get(1),
            }
        })
        .collect()
}
