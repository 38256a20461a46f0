//! boards_tenant: multi-tenant isolation inside PostgreSQL.
//!
//! A verified JWT sets the connection's tenant (`auth.rs`, `context.rs`); row-level security
//! keyed on that context hides every other tenant's rows (`policy.rs`); tenants, registration
//! and the isolation audit are SQL functions. The pure logic lives in `boards_tenant_core`;
//! this crate is the thin SQL-facing layer.

// SQL-facing functions return `Result<_, ErrorReport>`: pgrx raises exactly that type with its
// SQLSTATE, so it cannot be boxed (result_large_err); their signatures spell out the
// returned columns, which pgrx reads from the tokens (type_complexity).
#![allow(clippy::result_large_err, clippy::type_complexity)]

use pgrx::prelude::*;

mod audit;
mod auth;
mod blocks;
mod context;
mod context_row;
mod db;
mod ddl_guard;
mod ddl_scope;
mod diagnostics;
mod directory;
mod dropped_objects;
mod error;
mod grants;
mod invalidation;
mod invitations;
mod isolation;
mod jwks_sync;
mod key_audit;
mod keys;
mod keys_v010;
mod members;
mod migrate;
mod operators;
mod own_ddl;
mod plan_cache;
mod policy;
mod preload;
mod readers;
mod registration;
mod roles;
mod seal;
mod settings;
mod sqltypes;
mod statistics;
mod tenant_status;
mod tenants;
mod unseal;
mod uuids;

::pgrx::pg_module_magic!(name, version);

// Tables, roles and grants read better as SQL; they need the context functions that their
// defaults and policies call.
extension_sql_file!(
    "../sql/schema.sql",
    name = "schema",
    requires = [readers::boards_current_tenant]
);

// Membership bookkeeping: blocks and invitations (src/blocks.rs, src/invitations.rs).
extension_sql_file!(
    "../sql/membership.sql",
    name = "membership",
    requires = ["schema", readers::boards_current_subject]
);

// Runs last: protects the Boards tables, installs triggers, sets every function's privileges.
extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    error::keep_backtraces_from_clients();
    preload::record_load();
    preload::warn_if_installing_without_preload();
    settings::register();
    invalidation::register();
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'boards_tenant'"]
    }
}
