//! The SQLSTATEs the tests expect, under PostgreSQL's own condition names (errcodes.txt). Test
//! files import them under the name that reads best where they are used
//! (`use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_PRELOADED`):
//! one place holds each code.

pub const SUCCESSFUL_COMPLETION: &str = "00000";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const INVALID_GRANT_OPERATION: &str = "0LP01";
pub const NULL_VALUE_NOT_ALLOWED: &str = "22004";
pub const DIVISION_BY_ZERO: &str = "22012";
pub const INVALID_PARAMETER_VALUE: &str = "22023";
pub const FOREIGN_KEY_VIOLATION: &str = "23503";
pub const UNIQUE_VIOLATION: &str = "23505";
pub const READ_ONLY_SQL_TRANSACTION: &str = "25006";
pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
pub const INVALID_CURSOR_NAME: &str = "34000";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const INVALID_NAME: &str = "42602";
pub const UNDEFINED_OBJECT: &str = "42704";
pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
pub const LOCK_NOT_AVAILABLE: &str = "55P03";
