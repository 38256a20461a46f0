//! Privileges on the extension's own tables beyond what the extension granted
//! (`sql/queries/foreign_grants.sql`): the DDL guard revokes them at the end of the command
//! that granted them, the audit reports any that got past it (event triggers do not fire in
//! single-user mode or with `session_replication_role = replica`) as critical. Row-level
//! security on the bookkeeping tables (sql/schema.sql) is the second wall: even a grant that
//! stays admits no row to anyone but the admin role.

use crate::db;
use crate::error::ExtResult;

/// One privilege held on an extension table by a role the extension did not grant it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignGrant {
    /// The table, as `regclass` text (qualified and quoted as needed).
    pub table: String,
    /// The grantee, quoted as needed, or `PUBLIC`.
    pub grantee: String,
    pub privilege: String,
    /// The column of a column privilege, quoted as needed.
    pub column: Option<String>,
}

impl ForeignGrant {
    /// `SELECT (material)` or `TRUNCATE`.
    pub fn privilege_text(&self) -> String {
        match &self.column {
            Some(column) => format!("{} ({column})", self.privilege),
            None => self.privilege.clone(),
        }
    }

    /// The statement that takes it back (with everything granted on from it).
    pub fn revoke_statement(&self) -> String {
        format!(
            "REVOKE {} ON {} FROM {} CASCADE",
            self.privilege_text(),
            self.table,
            self.grantee
        )
    }
}

/// Every privilege on an extension table the extension did not grant.
pub fn foreign_grants() -> ExtResult<Vec<ForeignGrant>> {
    db::rows(
        include_str!("../sql/queries/foreign_grants.sql"),
        &[],
        |row| {
            Ok(ForeignGrant {
                table: row.get::<String>(1)?.unwrap_or_default(),
                grantee: row.get::<String>(2)?.unwrap_or_default(),
                privilege: row.get::<String>(3)?.unwrap_or_default(),
                column: row.get::<String>(4)?,
            })
        },
    )
}

/// Revokes every foreign grant; returns what was revoked.
pub fn revoke_foreign_grants() -> ExtResult<Vec<ForeignGrant>> {
    let found = foreign_grants()?;
    for grant in &found {
        db::run(&grant.revoke_statement(), &[])?;
    }
    Ok(found)
}
