//! What the data checks run over: the registry's tables and the foreign keys between them.

use super::*;

/// A registry table that still exists.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) oid: pg_sys::Oid,
    /// `regclass` text: how the table is named in rows.
    pub(super) name: String,
    /// Quoted `schema.table`, for SQL text.
    pub(super) qualified: String,
    pub(super) relkind: String,
    pub(super) schema: String,
    pub(super) relname: String,
    pub(super) builtin: bool,
    pub(super) tenant_column: String,
    pub(super) tenant_column_exists: bool,
    /// Primary key columns other than the tenant column (the row id in samples).
    pub(super) id_columns: Vec<String>,
    pub(super) columns: BTreeSet<String>,
}

impl Table {
    /// Table inheritance children are separate tables (and separate registry entries);
    /// a partitioned table holds no rows itself, so it is read whole.
    pub(super) fn from(&self) -> String {
        if self.relkind == "p" {
            self.qualified.clone()
        } else {
            format!("ONLY {}", self.qualified)
        }
    }

    pub(super) fn tenant(&self, alias: &str) -> String {
        format!("{alias}.{}", ident(&self.tenant_column))
    }

    /// The row's id as text: its primary key without the tenant column, else its ctid.
    pub(super) fn id_expr(&self, alias: &str) -> String {
        match self.id_columns.as_slice() {
            [] => format!("{alias}.ctid::text"),
            [one] => format!("{alias}.{}::text", ident(one)),
            many => format!(
                "ROW({})::text",
                many.iter()
                    .map(|c| format!("{alias}.{}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    pub(super) fn is_builtin(&self, relname: &str) -> bool {
        self.builtin && self.schema == "boards" && self.relname == relname
    }

    pub(super) fn is_users(&self) -> bool {
        self.is_builtin("users")
    }

    /// The key of this table's row count in a tenant's statistics.
    pub(super) fn statistics_key(&self) -> String {
        if self.builtin && self.schema == "boards" {
            match self.relname.as_str() {
                "users" => return "users".into(),
                "boards" => return "boards".into(),
                "generations" => return "generations".into(),
                "board_members" => return "board_memberships".into(),
                _ => {}
            }
        }
        self.name.clone()
    }
}

/// The statistics every tenant row has, whether or not the tables exist.
pub(super) const STATISTICS_KEYS: [&str; 4] =
    ["users", "boards", "generations", "board_memberships"];

pub(super) fn registry_tables() -> ExtResult<Vec<Table>> {
    db::rows(queries::REGISTRY_TABLES, &[], |row| {
        let tenant_column: String = row.get(8)?.unwrap_or_default();
        let columns: BTreeSet<String> = row
            .get::<Vec<String>>(10)?
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(Table {
            oid: row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::Oid::INVALID),
            name: row.get(2)?.unwrap_or_default(),
            qualified: row.get(3)?.unwrap_or_default(),
            relkind: row.get(4)?.unwrap_or_default(),
            schema: row.get(5)?.unwrap_or_default(),
            relname: row.get(6)?.unwrap_or_default(),
            builtin: row.get(7)?.unwrap_or(false),
            tenant_column_exists: columns.contains(&tenant_column),
            tenant_column,
            id_columns: row.get::<Vec<String>>(9)?.unwrap_or_default(),
            columns,
        })
    })
}

/// A foreign key between two registry tables.
#[derive(Debug, Clone)]
pub(super) struct ForeignKey {
    pub(super) name: String,
    pub(super) child: pg_sys::Oid,
    pub(super) parent: pg_sys::Oid,
    pub(super) child_columns: Vec<String>,
    pub(super) parent_columns: Vec<String>,
}

/// A foreign key read against the tenant columns of its two tables.
pub(super) struct KeyShape {
    /// The key pairs `(child column, parent column)` without the tenant pair.
    pub(super) pairs: Vec<(String, String)>,
    /// Whether the key pairs the child's tenant column with the parent's.
    pub(super) has_tenant_pair: bool,
}

impl ForeignKey {
    pub(super) fn shape(&self, child: &Table, parent: &Table) -> KeyShape {
        let mut pairs = Vec::new();
        let mut has_tenant_pair = false;
        for (c, p) in self.child_columns.iter().zip(&self.parent_columns) {
            if !has_tenant_pair && *c == child.tenant_column && *p == parent.tenant_column {
                has_tenant_pair = true;
            } else {
                pairs.push((c.clone(), p.clone()));
            }
        }
        KeyShape {
            pairs,
            has_tenant_pair,
        }
    }
}

pub(super) fn foreign_keys() -> ExtResult<Vec<ForeignKey>> {
    db::rows(queries::FOREIGN_KEYS, &[], |row| {
        Ok(ForeignKey {
            name: row.get(1)?.unwrap_or_default(),
            child: row.get::<pg_sys::Oid>(2)?.unwrap_or(pg_sys::Oid::INVALID),
            parent: row.get::<pg_sys::Oid>(3)?.unwrap_or(pg_sys::Oid::INVALID),
            child_columns: row.get::<Vec<String>>(4)?.unwrap_or_default(),
            parent_columns: row.get::<Vec<String>>(5)?.unwrap_or_default(),
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Data checks.
