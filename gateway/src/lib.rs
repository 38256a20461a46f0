//! boards-tenant-gateway: the Boards HTTP API over the boards_tenant extension, as the
//! reference for "any API layer inherits isolation". It holds no tenant logic: every
//! request's identity, tenant and permission are decided by the database, inside the
//! request's transaction (see `db`).

pub mod api;
pub mod app;
#[cfg(feature = "bench")]
pub mod bench;
pub mod config;
pub mod db;
pub mod error;
pub mod models;
