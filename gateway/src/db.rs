//! The database side of a request: one transaction on a pooled connection, sent as one
//! pipeline (one round trip): `BEGIN` (with the request's `statement_timeout`), the context
//! call with the caller's token, the endpoint's statements, `COMMIT`. Each statement is an
//! unnamed, typed statement (no named prepared statements), so a transaction-pooling
//! PgBouncer between us and the server is safe.
//!
//! Order is what makes the pipeline safe: the statements reach the server in the order they
//! are listed, inside the transaction the context call opened. When the context call fails
//! (a bad token, another tenant's `X-Tenant`), the transaction is aborted and every later
//! statement fails too (`25P02`); `COMMIT` of an aborted transaction rolls it back. A
//! statement never runs with no context or another request's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use futures_util::future::join_all;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{NoTls, Row, Statement};
use uuid::Uuid;

use crate::config::Config;
use crate::error::ApiError;

/// One statement of a request and its typed parameters.
pub struct Stmt {
    sql: &'static str,
    params: Vec<(Box<dyn ToSql + Sync + Send>, Type)>,
}

impl Stmt {
    pub fn new(sql: &'static str) -> Self {
        Stmt {
            sql,
            params: Vec::new(),
        }
    }

    /// Appends the next parameter (`$1`, `$2`, ...), sent as `ty`.
    pub fn bind<T: ToSql + Sync + Send + 'static>(mut self, value: T, ty: Type) -> Self {
        self.params.push((Box::new(value), ty));
        self
    }
}

/// How the request's identity is established, always by the database.
pub enum Auth {
    /// `boards_set_tenant_from_jwt(token, x_tenant, is_local => true)`: a tenant context.
    /// `describe`: the handler reads the context (`Outcome::context`); otherwise only the
    /// tenant id comes back, which costs the database less (see [`SET_TENANT`]).
    Tenant {
        token: Option<String>,
        x_tenant: Option<String>,
        describe: bool,
    },
    /// `boards_authenticate(token, is_local => true)`: a verified identity, no tenant
    /// (registration; operator endpoints, whose functions check the operator themselves).
    Identity { token: Option<String> },
    /// No context at all: the benchmark's hand-written-filter baseline only.
    #[cfg(feature = "bench")]
    Unverified,
}

/// What `boards_set_tenant_from_jwt` returned.
#[derive(Debug, Clone, Default)]
pub struct ContextRow {
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub user_id: Option<Uuid>,
    pub subject: Option<String>,
    pub source: Option<String>,
}

/// The result of a request's transaction: the context and the rows of each statement.
pub struct Outcome {
    pub context: ContextRow,
    pub results: Vec<Vec<Row>>,
}

/// The context call when the handler needs only its effect. One field of the result in the
/// select list: the function runs once, and no function scan materialises its row. Measured
/// (`bench/run.sh --instructions-only --groups 3-call-forms`): about 25,000 instructions per
/// transaction less than [`DESCRIBE_TENANT`]'s form.
const SET_TENANT: &str =
    "SELECT (public.boards_set_tenant_from_jwt($1, $2, is_local => true)).tenant_id";
/// The context call whose row the handler reads (`GET /api/me`): every field, called once.
const DESCRIBE_TENANT: &str = "SELECT tenant_id, tenant_slug, user_id, subject, source \
     FROM public.boards_set_tenant_from_jwt($1, $2, is_local => true)";
const AUTHENTICATE: &str = "SELECT public.boards_authenticate($1, is_local => true)";

type RowsFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

pub struct Db {
    pool: Pool,
    begin: String,
    statement_cache: bool,
    /// How long a cancelled request's connection may take to roll back before it is closed.
    cleanup_timeout: Duration,
}

impl Db {
    pub fn new(config: &Config) -> Result<Db, ApiError> {
        let mut pg: tokio_postgres::Config = config.database_url.parse().map_err(|e| {
            ApiError::Internal(format!("--database-url is not a valid connection URL: {e}"))
        })?;
        pg.connect_timeout(config.connect_timeout());
        if config.statement_cache && config.statement_timeout_ms > 0 {
            // A statement is prepared outside the request's transaction (before BEGIN and its
            // SET LOCAL): bound that round trip too, with the session's statement_timeout. Only
            // with the cache, i.e. never through a transaction-pooling PgBouncer (which refuses
            // startup options).
            let timeout = format!("-c statement_timeout={}", config.statement_timeout_ms);
            let options = match pg.get_options() {
                Some(existing) if !existing.is_empty() => format!("{existing} {timeout}"),
                _ => timeout,
            };
            pg.options(&options);
        }
        if pg.get_application_name().is_none() {
            pg.application_name("boards-tenant-gateway");
        }
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                // A broken connection (server restart) is closed on the client side and
                // replaced at the next checkout; no extra round trip per request.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.pool_wait_timeout()))
            .create_timeout(Some(config.connect_timeout()))
            .recycle_timeout(Some(config.connect_timeout()))
            .build()
            .map_err(|e| ApiError::Internal(format!("building the connection pool: {e}")))?;
        let begin = if config.statement_timeout_ms > 0 {
            format!(
                "BEGIN; SET LOCAL statement_timeout = {}",
                config.statement_timeout_ms
            )
        } else {
            "BEGIN".to_owned()
        };
        Ok(Db {
            pool,
            begin,
            statement_cache: config.statement_cache,
            cleanup_timeout: Duration::from_millis(config.statement_timeout_ms.max(1000))
                + Duration::from_secs(1),
        })
    }

    /// `SELECT 1` on a pooled connection: is the database reachable?
    pub async fn ready(&self) -> Result<(), ApiError> {
        let client = self.pool.get().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Closes the pool: idle connections are closed, checkouts fail.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Runs one request's transaction (see the module documentation).
    pub async fn transact(&self, auth: Auth, stmts: Vec<Stmt>) -> Result<Outcome, ApiError> {
        let guard = Guard {
            object: Some(self.pool.get().await?),
            finished: false,
            cleanup_timeout: self.cleanup_timeout,
        };
        let (auth_stmt, shape) = match auth {
            Auth::Tenant {
                token,
                x_tenant,
                describe,
            } => {
                let (sql, shape) = if describe {
                    (DESCRIBE_TENANT, ContextShape::Full)
                } else {
                    (SET_TENANT, ContextShape::TenantId)
                };
                let stmt = Stmt::new(sql)
                    .bind(token, Type::TEXT)
                    .bind(x_tenant, Type::TEXT);
                (Some(stmt), shape)
            }
            Auth::Identity { token } => (
                Some(Stmt::new(AUTHENTICATE).bind(token, Type::TEXT)),
                ContextShape::Subject,
            ),
            #[cfg(feature = "bench")]
            Auth::Unverified => (None, ContextShape::Subject),
        };
        let has_auth = auth_stmt.is_some();
        let all: Vec<&Stmt> = auth_stmt.iter().chain(stmts.iter()).collect();
        let mut results = {
            let client = guard.client()?;
            // With the statement cache, every statement is prepared (once per connection)
            // before anything is sent: a preparation is a round trip of its own and would
            // otherwise let COMMIT overtake the statements.
            let prepared: Vec<Option<Statement>> = if self.statement_cache {
                join_all(all.iter().map(|stmt| {
                    let types: Vec<Type> = stmt.params.iter().map(|(_, ty)| ty.clone()).collect();
                    async move { client.prepare_typed_cached(stmt.sql, &types).await }
                }))
                .await
                .into_iter()
                .map(|r| r.map(Some))
                .collect::<Result<_, _>>()?
            } else {
                vec![None; all.len()]
            };
            let mut futures: Vec<RowsFuture<'_>> = Vec::with_capacity(all.len() + 2);
            futures.push(Box::pin(async move {
                client.batch_execute(&self.begin).await.map(|()| Vec::new())
            }));
            for (stmt, statement) in all.iter().zip(prepared) {
                futures.push(query(client, stmt, statement));
            }
            futures.push(Box::pin(async move {
                client.batch_execute("COMMIT").await.map(|()| Vec::new())
            }));
            // join_all polls in order, and each future sends its messages on its first poll:
            // the server gets them in the order listed.
            join_all(futures).await
        };
        // Every message was answered: the transaction is over (committed or rolled back) or
        // the connection is broken (the pool notices and replaces it).
        guard.finish();
        let commit = results.pop();
        let mut rows = Vec::with_capacity(stmts.len());
        let mut context = ContextRow::default();
        for (i, result) in results.into_iter().enumerate() {
            let result = result?;
            if i == 0 {
                continue; // BEGIN
            }
            if i == 1 && has_auth {
                context = context_of(&result, shape)?;
                continue;
            }
            rows.push(result);
        }
        if let Some(commit) = commit {
            commit?;
        }
        Ok(Outcome {
            context,
            results: rows,
        })
    }
}

/// One statement's future: a prepared statement (Bind/Execute/Sync) or an unnamed typed one
/// (Parse/Bind/Execute/Sync). Either sends its messages on the first poll.
fn query<'a>(
    client: &'a ClientWrapper,
    stmt: &'a Stmt,
    statement: Option<Statement>,
) -> RowsFuture<'a> {
    Box::pin(async move {
        match statement {
            Some(statement) => {
                let params: Vec<&(dyn ToSql + Sync)> = stmt
                    .params
                    .iter()
                    .map(|(value, _)| &**value as &(dyn ToSql + Sync))
                    .collect();
                client.query(&statement, &params).await
            }
            None => {
                let params: Vec<(&(dyn ToSql + Sync), Type)> = stmt
                    .params
                    .iter()
                    .map(|(value, ty)| (&**value as &(dyn ToSql + Sync), ty.clone()))
                    .collect();
                client.query_typed(stmt.sql, &params).await
            }
        }
    })
}

/// What the context statement returns.
#[derive(Clone, Copy)]
enum ContextShape {
    /// `boards_authenticate`: the subject.
    Subject,
    /// [`SET_TENANT`]: the tenant id.
    TenantId,
    /// [`DESCRIBE_TENANT`]: every field.
    Full,
}

fn context_of(rows: &[Row], shape: ContextShape) -> Result<ContextRow, ApiError> {
    let Some(row) = rows.first() else {
        return Ok(ContextRow::default());
    };
    Ok(match shape {
        ContextShape::Subject => ContextRow {
            subject: get(row, 0)?,
            ..ContextRow::default()
        },
        ContextShape::TenantId => ContextRow {
            tenant_id: get(row, 0)?,
            ..ContextRow::default()
        },
        ContextShape::Full => ContextRow {
            tenant_id: get(row, 0)?,
            tenant_slug: get(row, 1)?,
            user_id: get(row, 2)?,
            subject: get(row, 3)?,
            source: get(row, 4)?,
        },
    })
}

/// Column `i` of `row` as `T`; a mismatch is the gateway's bug (500), never the client's.
pub fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
) -> Result<T, ApiError> {
    row.try_get(i).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        ApiError::Internal(format!("column {i}: {e}{cause}"))
    })
}

/// Holds the request's connection. Dropped before the pipeline was answered (the request
/// was cancelled: client gone, request timeout), it rolls the connection back in a task of
/// its own before the connection returns to the pool, or closes it.
struct Guard {
    object: Option<Object>,
    finished: bool,
    cleanup_timeout: Duration,
}

impl Guard {
    fn client(&self) -> Result<&ClientWrapper, ApiError> {
        self.object
            .as_deref()
            .ok_or_else(|| ApiError::Internal("connection already released".into()))
    }

    fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else {
            return;
        };
        if self.finished {
            return; // back to the pool
        }
        let timeout = self.cleanup_timeout;
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    let rolled_back =
                        tokio::time::timeout(timeout, object.batch_execute("ROLLBACK"))
                            .await
                            .map(|r| r.is_ok())
                            .unwrap_or(false);
                    if !rolled_back {
                        drop(Object::take(object));
                    }
                });
            }
            Err(_) => drop(Object::take(object)),
        }
    }
}
