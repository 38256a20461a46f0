//! The audit's fixed queries, one per file in `sql/` (each file's header says what it finds
//! and why). What varies is passed as bind parameters; a query that finds violations returns
//! only the facts (object, detail, and where a check has milder rows, whether this one is):
//! the Rust side attaches the `Check` and so its severity.

pub(super) const BYPASSRLS_LOGIN_ROLES: &str = include_str!("sql/bypassrls_login_roles.sql");
pub(super) const CURRENT_SETTING: &str = include_str!("sql/current_setting.sql");
pub(super) const DANGEROUS_GRANTS: &str = include_str!("sql/dangerous_grants.sql");
pub(super) const EXPIRED_INVITATIONS: &str = include_str!("sql/expired_invitations.sql");
pub(super) const FOREIGN_KEYS: &str = include_str!("sql/foreign_keys.sql");
pub(super) const GLOBAL_UNIQUE_KEYS: &str = include_str!("sql/global_unique_keys.sql");
pub(super) const INVITATIONS_INSTALLED: &str = include_str!("sql/invitations_installed.sql");
pub(super) const LOGIN_ROLES_CAN_CREATE: &str = include_str!("sql/login_roles_can_create.sql");
pub(super) const LOGIN_ROLES_OWN_TENANT_TABLES: &str =
    include_str!("sql/login_roles_own_tenant_tables.sql");
pub(super) const OWNER_INVITATIONS_PENDING: &str =
    include_str!("sql/owner_invitations_pending.sql");
pub(super) const PERMISSIVE_POLICIES: &str = include_str!("sql/permissive_policies.sql");
pub(super) const PRELOAD_SETTINGS: &str = include_str!("sql/preload_settings.sql");
pub(super) const RAISE_WORK_MEM: &str = include_str!("sql/raise_work_mem.sql");
pub(super) const REGISTRY_TABLES: &str = include_str!("sql/registry_tables.sql");
pub(super) const RESTORE_SETTING: &str = include_str!("sql/restore_setting.sql");
pub(super) const SECURITY_DEFINER_SEARCH_PATH: &str =
    include_str!("sql/security_definer_search_path.sql");
pub(super) const SEES_EVERY_TENANT: &str = include_str!("sql/sees_every_tenant.sql");
pub(super) const SENSITIVE_COLUMN_STATISTICS: &str =
    include_str!("sql/sensitive_column_statistics.sql");
pub(super) const SET_LOCAL: &str = include_str!("sql/set_local.sql");
pub(super) const SETTING_PRIVILEGES: &str = include_str!("sql/setting_privileges.sql");
pub(super) const SUBJECTS_UNIQUE: &str = include_str!("sql/subjects_unique.sql");
pub(super) const TENANT_ID: &str = include_str!("sql/tenant_id.sql");
pub(super) const TIMESTAMP: &str = include_str!("sql/timestamp.sql");
pub(super) const UNPROTECTED_TENANT_TABLES: &str =
    include_str!("sql/unprotected_tenant_tables.sql");
pub(super) const VIEWS_WITHOUT_SECURITY_INVOKER: &str =
    include_str!("sql/views_without_security_invoker.sql");
