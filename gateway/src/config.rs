//! Command-line flags, each with an environment fallback (`--help` lists both).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;

/// The Boards HTTP API over the boards_tenant extension. Every request runs in one
/// transaction on a pooled connection as the app role: boards_set_tenant_from_jwt (or
/// boards_authenticate) with the bearer token and the X-Tenant header, the endpoint's SQL,
/// COMMIT. The gateway itself holds no tenant logic: the database decides who the caller is,
/// which tenant, and whether they may.
#[derive(Debug, Clone, Parser)]
#[command(name = "boards-tenant-gateway", version)]
pub struct Config {
    /// libpq-style URL of the database, as the app role (not a superuser, no BYPASSRLS), e.g.
    /// postgresql://api@127.0.0.1:6432/boards (PgBouncer in transaction mode is fine).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long, env = "BOARDS_GATEWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Database connections in the pool (at most this many requests in the database at
    /// once). Behind PgBouncer, keep it at or below PgBouncer's pool for the app role.
    #[arg(long, env = "BOARDS_GATEWAY_POOL_SIZE", default_value_t = 16)]
    pub pool_size: usize,

    /// Prepare each statement once per connection and reuse it (named prepared statements:
    /// no parse and plan per request). Turn it off (`false`) behind a transaction-pooling
    /// PgBouncer older than 1.21 or without `max_prepared_statements`: a named statement
    /// lives on one server connection, and the next transaction may run on another.
    #[arg(long, env = "BOARDS_GATEWAY_STATEMENT_CACHE", default_value_t = true, action = clap::ArgAction::Set)]
    pub statement_cache: bool,

    /// How long a request waits for a pooled connection before it gets 503 (milliseconds).
    #[arg(
        long,
        env = "BOARDS_GATEWAY_POOL_WAIT_TIMEOUT_MS",
        default_value_t = 2000
    )]
    pub pool_wait_timeout_ms: u64,

    /// How long opening a database connection may take (milliseconds).
    #[arg(
        long,
        env = "BOARDS_GATEWAY_CONNECT_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub connect_timeout_ms: u64,

    /// statement_timeout of every request's transaction (SET LOCAL; milliseconds, 0 = none).
    #[arg(
        long,
        env = "BOARDS_GATEWAY_STATEMENT_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub statement_timeout_ms: u64,

    /// Whole-request timeout (milliseconds): past it the client gets 503 and the request's
    /// transaction is rolled back.
    #[arg(
        long,
        env = "BOARDS_GATEWAY_REQUEST_TIMEOUT_MS",
        default_value_t = 10000
    )]
    pub request_timeout_ms: u64,

    /// Largest request body accepted (bytes); larger ones get 413.
    #[arg(long, env = "BOARDS_GATEWAY_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub body_limit: usize,

    /// Largest total size of the request headers accepted (bytes); larger ones get 431.
    #[arg(long, env = "BOARDS_GATEWAY_HEADER_LIMIT", default_value_t = 32 * 1024)]
    pub header_limit: usize,

    /// How long a SIGTERM waits for in-flight requests before exiting anyway (milliseconds).
    #[arg(
        long,
        env = "BOARDS_GATEWAY_SHUTDOWN_TIMEOUT_MS",
        default_value_t = 30000
    )]
    pub shutdown_timeout_ms: u64,

    /// Log format: `json` (one object per line) or `text`. Levels come from RUST_LOG
    /// (default `info`). Tokens are never logged.
    #[arg(long, env = "BOARDS_GATEWAY_LOG_FORMAT", default_value = "json")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

impl Config {
    pub fn pool_wait_timeout(&self) -> Duration {
        Duration::from_millis(self.pool_wait_timeout_ms)
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}
