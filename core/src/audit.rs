//! The isolation audit's vocabulary and its report document, from plain values: which checks
//! exist (`Check`: the name the audit outputs, the usual severity, the advice), how severe a
//! finding is (`Severity`, ordered as the report ranks), and the JSON document
//! `boards_tenant_audit_json` returns. The extension runs the queries; everything here is
//! tested without a database.

use serde_json::{json, Map, Value};

/// How severe a finding is, most severe first: the derived `Ord` is the report's ranking.
/// `Info` rows are statistics, not violations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The severity as the audit outputs it (the `severity` column).
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// The severity named `name`, if any.
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The next severity down (`Info` stays `Info`).
    pub const fn one_step_milder(self) -> Severity {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Info => Severity::Info,
        }
    }

    /// Whether rows of this severity are violations (everything but statistics).
    pub const fn is_violation(self) -> bool {
        !matches!(self, Severity::Info)
    }
}

/// Every check of the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    OrphanedRecords,
    CrossTenantReferences,
    CrossTenantUserAccess,
    DanglingReferences,
    BoardMembershipViolations,
    TenantWithoutOwner,
    OwnerInvitationPending,
    ExpiredInvitations,
    DuplicateSubject,
    RegistryTableMissing,
    UnprotectedTenantTable,
    RlsDisabled,
    RlsNotForced,
    TenantPolicyMissing,
    PermissivePolicyOr,
    MissingTenantDefault,
    MissingTenantIndex,
    TruncateGranted,
    BypassrlsLoginRole,
    LoginRoleOwnsTenantTable,
    LoginRoleCanCreate,
    DangerousGrant,
    GlobalUniqueKey,
    ForeignKeyWithoutTenant,
    ViewWithoutSecurityInvoker,
    SecurityDefinerSearchPath,
    SettingPrivilegeGranted,
    LibraryNotPreloaded,
    ExtensionTablePrivilegeGranted,
    SensitiveColumnStatistics,
    KeyWithoutIssuerBinding,
    ScopedKeyTenantMissing,
    TenantStatistics,
}

impl Check {
    /// Every check, in the order the audit documents them.
    pub const ALL: [Check; 33] = [
        Check::OrphanedRecords,
        Check::CrossTenantReferences,
        Check::CrossTenantUserAccess,
        Check::DanglingReferences,
        Check::BoardMembershipViolations,
        Check::TenantWithoutOwner,
        Check::OwnerInvitationPending,
        Check::ExpiredInvitations,
        Check::DuplicateSubject,
        Check::RegistryTableMissing,
        Check::UnprotectedTenantTable,
        Check::RlsDisabled,
        Check::RlsNotForced,
        Check::TenantPolicyMissing,
        Check::PermissivePolicyOr,
        Check::MissingTenantDefault,
        Check::MissingTenantIndex,
        Check::TruncateGranted,
        Check::BypassrlsLoginRole,
        Check::LoginRoleOwnsTenantTable,
        Check::LoginRoleCanCreate,
        Check::DangerousGrant,
        Check::GlobalUniqueKey,
        Check::ForeignKeyWithoutTenant,
        Check::ViewWithoutSecurityInvoker,
        Check::SecurityDefinerSearchPath,
        Check::SettingPrivilegeGranted,
        Check::LibraryNotPreloaded,
        Check::ExtensionTablePrivilegeGranted,
        Check::SensitiveColumnStatistics,
        Check::KeyWithoutIssuerBinding,
        Check::ScopedKeyTenantMissing,
        Check::TenantStatistics,
    ];

    /// The check as the audit outputs it (the `check_name` column).
    pub const fn name(self) -> &'static str {
        match self {
            Check::OrphanedRecords => "orphaned_records",
            Check::CrossTenantReferences => "cross_tenant_references",
            Check::CrossTenantUserAccess => "cross_tenant_user_access",
            Check::DanglingReferences => "dangling_references",
            Check::BoardMembershipViolations => "board_membership_violations",
            Check::TenantWithoutOwner => "tenant_without_owner",
            Check::OwnerInvitationPending => "owner_invitation_pending",
            Check::ExpiredInvitations => "expired_invitations",
            Check::DuplicateSubject => "duplicate_subject",
            Check::RegistryTableMissing => "registry_table_missing",
            Check::UnprotectedTenantTable => "unprotected_tenant_table",
            Check::RlsDisabled => "rls_disabled",
            Check::RlsNotForced => "rls_not_forced",
            Check::TenantPolicyMissing => "tenant_policy_missing",
            Check::PermissivePolicyOr => "permissive_policy_or",
            Check::MissingTenantDefault => "missing_tenant_default",
            Check::MissingTenantIndex => "missing_tenant_index",
            Check::TruncateGranted => "truncate_granted",
            Check::BypassrlsLoginRole => "bypassrls_login_role",
            Check::LoginRoleOwnsTenantTable => "login_role_owns_tenant_table",
            Check::LoginRoleCanCreate => "login_role_can_create",
            Check::DangerousGrant => "dangerous_grant",
            Check::GlobalUniqueKey => "global_unique_key",
            Check::ForeignKeyWithoutTenant => "foreign_key_without_tenant",
            Check::ViewWithoutSecurityInvoker => "view_without_security_invoker",
            Check::SecurityDefinerSearchPath => "security_definer_search_path",
            Check::SettingPrivilegeGranted => "setting_privilege_granted",
            Check::LibraryNotPreloaded => "library_not_preloaded",
            Check::ExtensionTablePrivilegeGranted => "extension_table_privilege_granted",
            Check::SensitiveColumnStatistics => "sensitive_column_statistics",
            Check::KeyWithoutIssuerBinding => "key_without_issuer_binding",
            Check::ScopedKeyTenantMissing => "scoped_key_tenant_missing",
            Check::TenantStatistics => "tenant_statistics",
        }
    }

    /// The severity a finding of this check has; a few checks report some rows one step
    /// milder (`Finding::milder_if`): a policy that only widens (`PermissivePolicyOr`), a
    /// REFERENCES rather than a TRIGGER grant (`DangerousGrant`), a view only an ordinary
    /// role owns (`ViewWithoutSecurityInvoker`). A dangling reference is a check of its own.
    pub const fn severity(self) -> Severity {
        match self {
            Check::OrphanedRecords => Severity::Critical,
            Check::CrossTenantReferences => Severity::Critical,
            Check::CrossTenantUserAccess => Severity::Critical,
            Check::DanglingReferences => Severity::High,
            Check::BoardMembershipViolations => Severity::Critical,
            Check::TenantWithoutOwner => Severity::Medium,
            Check::OwnerInvitationPending => Severity::Info,
            Check::ExpiredInvitations => Severity::Low,
            Check::DuplicateSubject => Severity::High,
            Check::RegistryTableMissing => Severity::High,
            Check::UnprotectedTenantTable => Severity::Critical,
            Check::RlsDisabled => Severity::Critical,
            Check::RlsNotForced => Severity::High,
            Check::TenantPolicyMissing => Severity::Critical,
            Check::PermissivePolicyOr => Severity::Critical,
            Check::MissingTenantDefault => Severity::Low,
            Check::MissingTenantIndex => Severity::Low,
            Check::TruncateGranted => Severity::Critical,
            Check::BypassrlsLoginRole => Severity::High,
            Check::LoginRoleOwnsTenantTable => Severity::High,
            Check::LoginRoleCanCreate => Severity::Medium,
            Check::DangerousGrant => Severity::High,
            Check::GlobalUniqueKey => Severity::Medium,
            Check::ForeignKeyWithoutTenant => Severity::Medium,
            Check::ViewWithoutSecurityInvoker => Severity::Critical,
            Check::SecurityDefinerSearchPath => Severity::High,
            Check::SettingPrivilegeGranted => Severity::Critical,
            Check::LibraryNotPreloaded => Severity::Critical,
            Check::ExtensionTablePrivilegeGranted => Severity::Critical,
            Check::SensitiveColumnStatistics => Severity::Medium,
            Check::KeyWithoutIssuerBinding => Severity::High,
            Check::ScopedKeyTenantMissing => Severity::Low,
            Check::TenantStatistics => Severity::Info,
        }
    }

    /// What to do when the check fires (the JSON document's recommendations); empty for
    /// the statistics, which never fire.
    pub const fn advice(self) -> &'static str {
        match self {
            Check::OrphanedRecords => "Rows belong to no tenant (NULL or unknown tenant id): move them to the right tenant or delete them, and keep the foreign key from the tenant column to boards.tenants.",
            Check::CrossTenantReferences => "Rows reference a parent row of another tenant: re-point them at a parent of their own tenant or delete them; keep the tenant column in every foreign key and never load data with session_replication_role = replica.",
            Check::CrossTenantUserAccess => "Rows reference a user of another tenant: re-assign them to a user of their own tenant or delete them; keep the tenant column in every foreign key to boards.users.",
            Check::DanglingReferences => "Rows reference a parent that exists in no tenant: restore the parent or delete (or NULL out) the references, then validate the foreign key.",
            Check::BoardMembershipViolations => "Rows of a join table connect parents of different tenants: delete them or re-point them so that every parent is in the row's tenant.",
            Check::TenantWithoutOwner => "Active tenants have users but no owner: promote a member with boards_tenant_add_member(slug, subject, 'owner').",
            Check::OwnerInvitationPending => "The tenant has no owner yet but an owner invitation is pending: deliver its secret (boards_tenant_invite_owner issues a new one); nothing else to do.",
            Check::ExpiredInvitations => "Expired invitations were never accepted and are still stored: delete them with boards_tenant_purge_invitations().",
            Check::DuplicateSubject => "A subject has several user rows in one tenant: merge them into one and restore UNIQUE (tenant_id, auth_subject) on boards.users.",
            Check::RegistryTableMissing => "The registry names tables (or tenant columns) that no longer exist: remove the stale entries with boards_tenant_unprotect() or recreate the tables.",
            Check::UnprotectedTenantTable => "Tables with a tenant_id column are not isolated: protect them with boards_tenant_protect(table).",
            Check::RlsDisabled => "Row level security is disabled on protected tables: ALTER TABLE ... ENABLE ROW LEVEL SECURITY (or run boards_tenant_protect(table) again).",
            Check::RlsNotForced => "Row level security is not forced, so table owners bypass it: ALTER TABLE ... FORCE ROW LEVEL SECURITY.",
            Check::TenantPolicyMissing => "The tenant policy is missing or altered: run boards_tenant_protect(table) again to recreate it.",
            Check::PermissivePolicyOr => "Extra permissive policies are OR-ed with the tenant policy and widen it: drop them, or make them AS RESTRICTIVE.",
            Check::MissingTenantDefault => "The tenant column has no DEFAULT boards_current_tenant(): run boards_tenant_protect(table) again.",
            Check::MissingTenantIndex => "No index is led by the tenant column: CREATE INDEX ON table (tenant_id) (or run boards_tenant_protect(table) again).",
            Check::TruncateGranted => "TRUNCATE (which bypasses row level security) is granted on protected tables: REVOKE TRUNCATE from the listed roles.",
            Check::BypassrlsLoginRole => "Login roles with SUPERUSER or BYPASSRLS see every tenant's rows: ALTER ROLE ... NOSUPERUSER NOBYPASSRLS, or NOLOGIN, and connect applications with an ordinary role.",
            Check::LoginRoleOwnsTenantTable => "Login roles own (or can become the owner of) protected tables: an owner can alter them and read every tenant's rows through DDL (a CHECK constraint or a rewrite evaluates expressions over all rows): ALTER TABLE ... OWNER TO a NOLOGIN role.",
            Check::LoginRoleCanCreate => "Login roles that can create objects can plant functions or triggers that other tenants' sessions run (for instance a same-named function first in search_path): the role your API layer connects as should own no schema and have CREATE on none (a separate migration role may; judge the listed roles).",
            Check::DangerousGrant => "TRIGGER or REFERENCES on protected tables lets a role observe or probe other tenants' rows: REVOKE the listed privileges.",
            Check::GlobalUniqueKey => "Unique keys without the tenant column reveal other tenants' values through key collisions: recreate them with the tenant column first.",
            Check::ForeignKeyWithoutTenant => "Foreign keys without the tenant column can point at another tenant's rows: recreate them as (tenant_id, ...) REFERENCES parent (tenant_id, ...).",
            Check::ViewWithoutSecurityInvoker => "Views over protected tables run with their owner's rights: ALTER VIEW ... SET (security_invoker = true); do not grant materialized views over tenant data to other roles.",
            Check::SecurityDefinerSearchPath => "SECURITY DEFINER functions without a pinned search_path can be hijacked: ALTER FUNCTION ... SET search_path = pg_catalog, pg_temp.",
            Check::SettingPrivilegeGranted => "Roles were granted SET or ALTER SYSTEM on boards.* settings and can weaken isolation: REVOKE ALL ON PARAMETER ... FROM them.",
            Check::LibraryNotPreloaded => "boards_tenant is not loaded by shared_preload_libraries: a client's startup options could reset database- and role-level boards.* settings, so every tenant context is refused until you add boards_tenant to shared_preload_libraries and restart.",
            Check::ExtensionTablePrivilegeGranted => "Roles hold privileges on the extension's own tables that the extension did not grant (INSERT on jwt_keys installs a signing key, TRUNCATE on tenants wipes every tenant): REVOKE them; the DDL guard revokes such grants whenever event triggers run.",
            Check::SensitiveColumnStatistics => "A column named sensitive has planner statistics again (or can gather them), which EXPLAIN estimates reveal to every tenant: run the fix in the detail (boards_tenant_protect with sensitive_columns), and drop extended statistics that cover the column.",
            Check::KeyWithoutIssuerBinding => "Several issuers are configured and some keys are bound to none: such a key verifies tokens naming any issuer, so one identity provider's key can speak for another's users. Bind each key to its issuer (src/key_audit.rs).",
            Check::ScopedKeyTenantMissing => "Tenant-scoped keys name tenants that no longer exist (the keys fail closed for them): restrict them again with boards_jwt_restrict_key or remove them.",
            Check::TenantStatistics => "",
        }
    }

    /// The check named `name`, if any.
    pub fn from_name(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// The recommendation when nothing fired.
pub const CLEAN: &str = "Tenant isolation is properly maintained - no violations found";

/// One audit row: `(tenant_slug, check_name, severity, object_name, detail)`, typed: the
/// check and its severity are turned into text only where the row is output.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub tenant_slug: Option<String>,
    pub check: Check,
    pub severity: Severity,
    pub object_name: String,
    pub detail: Value,
}

impl Finding {
    /// A finding at its check's severity (the vocabulary decides, not the caller).
    pub fn new(
        check: Check,
        tenant_slug: Option<String>,
        object_name: impl Into<String>,
        detail: Value,
    ) -> Finding {
        Finding {
            tenant_slug,
            check,
            severity: check.severity(),
            object_name: object_name.into(),
            detail,
        }
    }

    /// A finding of the whole database (no tenant).
    pub fn config(check: Check, object_name: &str, detail: Value) -> Finding {
        Finding::new(check, None, object_name, detail)
    }

    /// The same finding one step less severe, when `milder`: the rows `Check::severity`
    /// names as milder (a policy that only widens, a REFERENCES grant, a view only an
    /// ordinary role owns).
    pub fn milder_if(self, milder: bool) -> Finding {
        if milder {
            Finding {
                severity: self.severity.one_step_milder(),
                ..self
            }
        } else {
            self
        }
    }

    fn is_violation(&self) -> bool {
        self.severity.is_violation()
    }

    fn to_json(&self) -> Value {
        json!({
            "tenant_slug": self.tenant_slug,
            "check_name": self.check.name(),
            "severity": self.severity.name(),
            "object_name": self.object_name,
            "detail": self.detail,
        })
    }
}

/// The audit's row order: most severe first, then check, tenant, object and detail, so that
/// the same findings always come out in the same order.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then_with(|| a.check.name().cmp(b.check.name()))
            .then_with(|| a.tenant_slug.cmp(&b.tenant_slug))
            .then_with(|| a.object_name.cmp(&b.object_name))
            .then_with(|| a.detail.to_string().cmp(&b.detail.to_string()))
    });
}

/// What to do about each check that fired, once per check at its most severe finding, most
/// severe first; `CLEAN` when nothing fired.
pub fn recommendations(findings: &[Finding]) -> Vec<Value> {
    // (most severe finding, check, number of findings)
    let mut fired: Vec<(Severity, Check, usize)> = Vec::new();
    for f in findings.iter().filter(|f| f.is_violation()) {
        match fired.iter_mut().find(|(_, check, _)| *check == f.check) {
            Some(entry) => {
                entry.0 = entry.0.min(f.severity);
                entry.2 += 1;
            }
            None => fired.push((f.severity, f.check, 1)),
        }
    }
    if fired.is_empty() {
        return vec![Value::String(CLEAN.into())];
    }
    fired.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.name().cmp(b.1.name()))
            .then(a.2.cmp(&b.2))
    });
    fired
        .into_iter()
        .map(|(severity, check, count)| {
            Value::String(format!(
                "{} ({}, {count} finding{}): {}",
                check.name(),
                severity.name(),
                if count == 1 { "" } else { "s" },
                check.advice()
            ))
        })
        .collect()
}

/// The report document of `boards_tenant_audit_json`, from the rows of the audit: the
/// violations by severity with their counts, the per-tenant statistics and the
/// recommendations.
pub fn document(tenant_slug: Option<&str>, findings: &[Finding], timestamp: String) -> Value {
    let mut violations = Map::new();
    let mut summary = Map::new();
    let mut total = 0usize;
    for severity in Severity::ALL.into_iter().filter(|s| s.is_violation()) {
        let rows: Vec<Value> = findings
            .iter()
            .filter(|f| f.severity == severity)
            .map(Finding::to_json)
            .collect();
        total += rows.len();
        summary.insert(severity.name().into(), json!(rows.len()));
        violations.insert(severity.name().into(), Value::Array(rows));
    }
    let mut ordered_summary = Map::new();
    ordered_summary.insert("total_violations".into(), json!(total));
    ordered_summary.extend(summary);
    let statistics: Map<String, Value> = findings
        .iter()
        .filter(|f| f.check == Check::TenantStatistics)
        .filter_map(|f| Some((f.tenant_slug.clone()?, f.detail.clone())))
        .collect();
    json!({
        "audit_timestamp": timestamp,
        "tenant_slug": tenant_slug,
        "summary": ordered_summary,
        "statistics": statistics,
        "violations": violations,
        "recommendations": recommendations(findings),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn finding(check: Check, severity: Severity, tenant: Option<&str>) -> Finding {
        Finding {
            severity,
            ..Finding::new(check, tenant.map(str::to_owned), "t", json!({"n": 1}))
        }
    }

    #[test]
    fn every_check_has_a_distinct_name() {
        let names: HashSet<&str> = Check::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), Check::ALL.len());
    }

    #[test]
    fn names_round_trip() {
        for check in Check::ALL {
            assert_eq!(Check::from_name(check.name()), Some(check));
        }
        for severity in Severity::ALL {
            assert_eq!(Severity::from_name(severity.name()), Some(severity));
        }
        assert_eq!(Check::from_name("no_such_check"), None);
        assert_eq!(Severity::from_name("urgent"), None);
    }

    #[test]
    fn severities_rank_most_severe_first() {
        let names: Vec<&str> = Severity::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["critical", "high", "medium", "low", "info"]);
        assert!(Severity::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(!Severity::Info.is_violation());
    }

    #[test]
    fn a_milder_finding_is_one_step_down_and_only_when_asked() {
        let grant = Finding::config(Check::DangerousGrant, "t", json!({}));
        assert_eq!(grant.clone().milder_if(false).severity, Severity::High);
        assert_eq!(grant.milder_if(true).severity, Severity::Medium);
        assert_eq!(Severity::Info.one_step_milder(), Severity::Info);
        assert!(Severity::ALL[..4].iter().all(|s| s.one_step_milder() > *s));
    }

    #[test]
    fn rows_print_the_vocabulary_names() {
        let row = Finding::config(Check::RlsNotForced, "t", json!({})).to_json();
        assert_eq!(row["check_name"], json!("rls_not_forced"));
        assert_eq!(row["severity"], json!("high"));
    }

    #[test]
    fn every_firing_check_has_advice() {
        for check in Check::ALL {
            let statistics =
                check.severity() == Severity::Info && check != Check::OwnerInvitationPending;
            assert_eq!(check.advice().is_empty(), statistics, "{}", check.name());
        }
    }

    #[test]
    fn sort_ranks_severity_then_check_then_tenant() {
        let mut rows = vec![
            finding(Check::TenantStatistics, Severity::Info, Some("a")),
            finding(Check::RlsNotForced, Severity::High, None),
            finding(Check::RlsDisabled, Severity::Critical, Some("b")),
            finding(Check::RlsDisabled, Severity::Critical, Some("a")),
            finding(Check::DangerousGrant, Severity::Medium, None),
        ];
        sort(&mut rows);
        let order: Vec<(&str, Option<&str>)> = rows
            .iter()
            .map(|f| (f.severity.name(), f.tenant_slug.as_deref()))
            .collect();
        assert_eq!(
            order,
            [
                ("critical", Some("a")),
                ("critical", Some("b")),
                ("high", None),
                ("medium", None),
                ("info", Some("a")),
            ]
        );
    }

    #[test]
    fn recommendations_name_each_check_once_at_its_worst() {
        let rows = [
            finding(Check::RlsDisabled, Severity::Critical, None),
            finding(Check::PermissivePolicyOr, Severity::High, None),
            finding(Check::PermissivePolicyOr, Severity::Critical, None),
            finding(Check::TenantStatistics, Severity::Info, Some("a")),
        ];
        let fired = recommendations(&rows);
        assert_eq!(
            fired,
            vec![
                Value::String(format!(
                    "permissive_policy_or (critical, 2 findings): {}",
                    Check::PermissivePolicyOr.advice()
                )),
                Value::String(format!(
                    "rls_disabled (critical, 1 finding): {}",
                    Check::RlsDisabled.advice()
                )),
            ]
        );
        assert_eq!(
            recommendations(&rows[3..]),
            vec![Value::String(CLEAN.into())]
        );
    }

    #[test]
    fn document_counts_violations_per_severity_and_keeps_statistics_apart() {
        let rows = [
            finding(Check::RlsDisabled, Severity::Critical, None),
            finding(Check::MissingTenantIndex, Severity::Low, None),
            finding(Check::MissingTenantDefault, Severity::Low, None),
            finding(Check::TenantStatistics, Severity::Info, Some("acme")),
        ];
        let doc = document(Some("acme"), &rows, "2026-01-01T00:00:00.000000Z".into());
        assert_eq!(
            doc["summary"],
            json!({"total_violations": 3, "critical": 1, "high": 0, "medium": 0, "low": 2})
        );
        assert_eq!(doc["violations"]["low"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["violations"]["high"], json!([]));
        assert!(doc["violations"].get("info").is_none());
        assert_eq!(doc["statistics"], json!({"acme": {"n": 1}}));
        assert_eq!(doc["tenant_slug"], json!("acme"));
        assert_eq!(doc["audit_timestamp"], json!("2026-01-01T00:00:00.000000Z"));
        assert_eq!(doc["recommendations"].as_array().map(Vec::len), Some(3));
    }
}
