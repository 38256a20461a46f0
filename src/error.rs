//! The extension's one error type and its mapping to SQLSTATEs: every refusal a client can see
//! carries a specific, documented code (README, "Errors").

use boards_tenant_core::tenant_status::TenantStatus;
use boards_tenant_core::{CoreError, ErrorKind, InvitationRefusal, MembershipRefusal};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::PgSqlErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum ExtError {
    #[error(transparent)]
    Core(#[from] CoreError),

    #[error("tenant \"{0}\" does not exist")]
    TenantNotFound(String),

    #[error("tenant \"{slug}\" is {status}")]
    TenantNotActive { slug: String, status: TenantStatus },

    #[error("tenant \"{0}\" already exists")]
    TenantExists(String),

    #[error("slug \"{0}\" is reserved: a tenant gave it up by rename or deletion")]
    SlugReserved(String),

    /// Registration's one answer for a slug it cannot have, whatever holds it (an active,
    /// suspended or pending tenant, or a reservation): nothing about other tenants leaks.
    #[error("slug is not available")]
    SlugNotAvailable,

    #[error("\"{subject}\" is not a member of tenant \"{tenant}\"")]
    MemberNotFound { subject: String, tenant: String },

    /// Shown as `"kid"`, or `"kid" of issuer "iss"` for an issuer-bound key.
    #[error("no JWT key with kid {0}")]
    KeyNotFound(boards_tenant_core::KeyId),

    #[error("JWT key {0} already exists")]
    KeyExists(boards_tenant_core::KeyId),

    #[error("{0}")]
    InvalidArgument(String),

    #[error("{0}")]
    NotAllowed(String),

    #[error("{message}")]
    Forbidden {
        message: String,
        detail: Option<String>,
    },

    #[error("boards_tenant must be loaded by shared_preload_libraries")]
    NotPreloaded { setting_line: String },

    #[error("this request must write (first-use membership, registration or administration), and the transaction is read-only")]
    ReadOnly,

    #[error(transparent)]
    Membership(#[from] MembershipRefusal),

    #[error(transparent)]
    Invitation(#[from] InvitationRefusal),

    /// The function's catalog entry no longer matches the library (someone altered it).
    #[error("{0}")]
    ResultType(String),

    #[error("boards_tenant could not run one of its queries: {0}")]
    Spi(#[from] pgrx::spi::Error),
}

pub type ExtResult<T> = Result<T, ExtError>;

impl ExtError {
    pub fn sqlstate(&self) -> PgSqlErrorCode {
        use PgSqlErrorCode::*;
        match self {
            ExtError::Core(e) => match e.kind() {
                ErrorKind::TokenRejected | ErrorKind::Unauthenticated => {
                    ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
                }
                ErrorKind::AccessDenied => ERRCODE_INSUFFICIENT_PRIVILEGE,
                ErrorKind::InvalidSlug
                | ErrorKind::InvalidTenantClaim
                | ErrorKind::InvalidArgument => ERRCODE_INVALID_PARAMETER_VALUE,
                ErrorKind::MissingTenant => ERRCODE_NULL_VALUE_NOT_ALLOWED,
                ErrorKind::LimitExceeded => ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                ErrorKind::NotAvailable => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            },
            ExtError::TenantNotFound(_)
            | ExtError::KeyNotFound(_)
            | ExtError::MemberNotFound { .. } => ERRCODE_UNDEFINED_OBJECT,
            ExtError::TenantNotActive { .. }
            | ExtError::NotAllowed(_)
            | ExtError::NotPreloaded { .. } => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            ExtError::ReadOnly => ERRCODE_READ_ONLY_SQL_TRANSACTION,
            ExtError::TenantExists(_)
            | ExtError::KeyExists(_)
            | ExtError::SlugReserved(_)
            | ExtError::SlugNotAvailable => ERRCODE_UNIQUE_VIOLATION,
            ExtError::InvalidArgument(_) => ERRCODE_INVALID_PARAMETER_VALUE,
            ExtError::Forbidden { .. } => ERRCODE_INSUFFICIENT_PRIVILEGE,
            ExtError::Membership(MembershipRefusal::LastOwner) => {
                ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
            }
            ExtError::Membership(_) => ERRCODE_INSUFFICIENT_PRIVILEGE,
            ExtError::Invitation(refusal) => match refusal {
                InvitationRefusal::Unknown => ERRCODE_UNDEFINED_OBJECT,
                InvitationRefusal::Expired => ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                InvitationRefusal::Revoked => ERRCODE_INVALID_GRANT_OPERATION,
                InvitationRefusal::AlreadyUsed => ERRCODE_UNIQUE_VIOLATION,
                InvitationRefusal::EmailMismatch | InvitationRefusal::EmailUnverified => {
                    ERRCODE_INSUFFICIENT_PRIVILEGE
                }
            },
            ExtError::ResultType(_) => ERRCODE_DATATYPE_MISMATCH,
            // Not XX000: the client gets a code of the class for errors inside a routine.
            ExtError::Spi(_) => ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
        }
    }

    fn detail(&self) -> Option<String> {
        match self {
            ExtError::Core(e) => e.detail(),
            ExtError::Forbidden { detail, .. } => detail.clone(),
            ExtError::NotPreloaded { .. } => Some(
                "Loaded later, PostgreSQL lets a client's startup options reset database- and role-level boards.* settings to their defaults, so tenant contexts are refused.".into(),
            ),
            _ => None,
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            ExtError::Core(e) => e.hint(),
            ExtError::TenantNotFound(_) => Some(
                "Create or register the tenant first; tenants are never created implicitly.".into(),
            ),
            ExtError::SlugReserved(_) => Some(
                "An administrator can free it with boards_tenant_release_slug() once no valid token names it.".into(),
            ),
            ExtError::SlugNotAvailable => Some("Choose another organization_slug.".into()),
            ExtError::Invitation(InvitationRefusal::Expired | InvitationRefusal::Revoked) => {
                Some("Ask an owner or admin of the tenant for a new invitation.".into())
            }
            ExtError::Invitation(InvitationRefusal::EmailMismatch) => Some(
                "Sign in with the account of the invited address, or ask for an invitation to yours.".into(),
            ),
            ExtError::Membership(MembershipRefusal::NotAManager) => Some(
                "Ask an owner or admin of the tenant.".into(),
            ),
            ExtError::TenantNotActive {
                status: TenantStatus::PendingApproval,
                ..
            } => {
                Some("An administrator must run boards_tenant_approve() first.".into())
            }
            ExtError::NotPreloaded { setting_line } => Some(format!(
                "Add this line to postgresql.conf and restart the server: {setting_line}"
            )),
            // SAFETY: RecoveryInProgress reads shared state; callable in any backend.
            ExtError::ReadOnly if unsafe { pgrx::pg_sys::RecoveryInProgress() } => Some(
                "This server is a hot standby: send requests that write (a subject's first request to a tenant, registration, administration) to the primary.".into(),
            ),
            ExtError::ReadOnly => Some(
                "Run it in a read-write transaction (see default_transaction_read_only and SET TRANSACTION READ WRITE).".into(),
            ),
            _ => None,
        }
    }
}

impl From<ExtError> for ErrorReport {
    #[track_caller]
    fn from(e: ExtError) -> Self {
        let mut report = ErrorReport::new(e.sqlstate(), e.to_string(), "boards_tenant");
        if let Some(detail) = e.detail() {
            report = report.set_detail(detail);
        }
        if let Some(hint) = e.hint() {
            report = report.set_hint(hint);
        }
        report
    }
}

/// What every SQL-facing function returns: errors become `ERROR`s with their SQLSTATE.
pub type SqlResult<T> = Result<T, ErrorReport>;

/// Keeps Rust backtraces out of what clients see. pgrx appends one to the DETAIL of every
/// PostgreSQL error it catches and re-raises (a lock or statement timeout inside one of our
/// queries) whenever backtraces are enabled in the server's environment, as `RUST_BACKTRACE=1`
/// in a developer's shell does; that DETAIL goes to the client and the log. pgrx captures them
/// only through `std::backtrace::Backtrace::capture`, which reads `RUST_LIB_BACKTRACE` first:
/// set to `0` from `_PG_init` (in the postmaster when preloaded, so every backend inherits it),
/// before anything of this library captured one.
pub fn keep_backtraces_from_clients() {
    if std::env::var_os("RUST_LIB_BACKTRACE").as_deref() != Some(std::ffi::OsStr::new("0")) {
        // _PG_init runs on the backend's only thread: no other thread reads the environment.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}
