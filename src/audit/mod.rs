//! The isolation audit: `boards_tenant_audit(tenant_slug)` (rows) and
//! `boards_tenant_audit_json(tenant_slug)` (the report document, built from the same rows).
//!
//! Every row is `(tenant_slug, check_name, severity, object_name, detail)`. Severities are
//! `critical`, `high`, `medium`, `low` and `info`; `info` rows are the per-tenant statistics,
//! everything else is a violation. `detail` holds counts, at most ten sample ids and a `fix`.
//!
//! The fixed queries are files in `sql/` (`queries.rs`), with what varies bound as parameters;
//! queries return facts (object, detail, whether a row is milder) and Rust attaches the
//! `Check`, and with it the severity, which becomes text only in the output row.
//!
//! Data checks run over every table of the registry (`boards.protected_tables`): nothing is
//! hard-coded but the names of the statistics. They are set-based SQL, generated here from the
//! catalog (table and column names quoted as identifiers, values bound): one `GROUP BY` pass per table for orphans, owners and statistics, and one anti-join
//! per foreign key between registry tables, on the full key (tenant column included). Only
//! when an anti-join finds rows does a second statement classify them (cross-tenant, dangling,
//! join-table), resolving just those rows by key alone. Nothing runs per tenant or per row in
//! Rust. Measured on 2 cores: 10 M rows over 10,000 tenants in about 4 s
//! (`bash bench/run.sh --rows 10m --audit-only`).
//!
//! Configuration checks read the catalog; the table-level ones come from `policy::states()`.
//!
//! A check that cannot run raises an error: the audit never reports clean when it did not look.
//! The functions run as the extension owner (a superuser, so every tenant's rows are visible)
//! with a pinned `search_path` (sql/finalize.sql).

use std::collections::{BTreeMap, BTreeSet};

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiHeapTupleData};
use pgrx::{pg_sys, JsonB};
use serde_json::{json, Value};

use boards_tenant_core::audit::{document, sort};
mod configuration;
mod data;
mod queries;
mod registry;

use configuration::*;
use data::*;
use registry::*;

pub use boards_tenant_core::audit::{Check, Finding};

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::grants;
use crate::policy::{self, ProtectionState};
use crate::preload;

/// At most this many sample ids in a row's detail.
const SAMPLES: usize = 10;

/// The planner's page costs for the data checks, which read whole tables that are usually
/// cached: with the pinned `random_page_cost = 4` the planner builds a hash of the parent table
/// for a reference check where a merge of two index-only scans (the foreign key's own indexes)
/// reads less. 10M rows over 10,000 tenants (`bash bench/run.sh --rows 10m --audit-only`):
/// the six reference checks took 6.3 s with 4, 2.5 s with 1.1; parallel plans (2 workers)
/// were slower than the merges (3.2 s with 1.1, 5.2 s with 4).
const SCAN_COSTS: &[(&std::ffi::CStr, &std::ffi::CStr)] = &[(c"random_page_cost", c"1.1")];

/// Memory for the audit's hash joins and aggregates (raised, never lowered).
const WORK_MEM: &str = "256MB";

/// At most this many sample ids, as the queries' bind parameter.
fn samples() -> DatumWithOid<'static> {
    // SAMPLES is a small constant: the conversion cannot fail.
    i32::try_from(SAMPLES).unwrap_or(i32::MAX).into()
}

fn detail(row: &SpiHeapTupleData, column: usize) -> pgrx::spi::Result<Value> {
    Ok(row.get::<JsonB>(column)?.map_or(Value::Null, |j| j.0))
}

/// The findings of `check` from a query of the whole database returning
/// `(object_name, detail)`.
fn database_findings(check: Check, sql: &str, args: &[DatumWithOid]) -> ExtResult<Vec<Finding>> {
    db::rows(sql, args, |row| {
        Ok(Finding::config(
            check,
            &row.get::<String>(1)?.unwrap_or_default(),
            detail(row, 2)?,
        ))
    })
}

/// Like `database_findings`, for a check with milder rows: `(object_name, detail, milder)`.
fn graded_database_findings(
    check: Check,
    sql: &str,
    args: &[DatumWithOid],
) -> ExtResult<Vec<Finding>> {
    db::rows(sql, args, |row| {
        let milder = row.get::<bool>(3)?.unwrap_or(false);
        Ok(Finding::config(
            check,
            &row.get::<String>(1)?.unwrap_or_default(),
            detail(row, 2)?,
        )
        .milder_if(milder))
    })
}

/// The findings of `check` on `object_name` from a per-tenant query returning
/// `(tenant_slug, detail)`; `fix` is added to each detail.
fn tenant_findings(
    check: Check,
    object_name: &str,
    fix: Option<&str>,
    sql: &str,
    args: &[DatumWithOid],
) -> ExtResult<Vec<Finding>> {
    db::rows(sql, args, |row| {
        let mut detail = detail(row, 2)?;
        if let Some(fix) = fix {
            with_fix(&mut detail, fix);
        }
        Ok(Finding::new(
            check,
            row.get::<String>(1)?,
            object_name,
            detail,
        ))
    })
}

/// Adds the `fix` to a detail object (jsonb orders keys itself, so where does not matter).
fn with_fix(detail: &mut Value, fix: &str) {
    if let Value::Object(map) = detail {
        map.insert("fix".into(), Value::String(fix.to_owned()));
    }
}

fn ident(name: &str) -> String {
    spi::quote_identifier(name)
}

// ---------------------------------------------------------------------------------------------
// The catalog: registry tables and the foreign keys between them.

/// Refuses to audit with a view that row level security filters: it would look clean.
fn ensure_sees_every_tenant() -> ExtResult<()> {
    let unfiltered = db::one::<bool>(queries::SEES_EVERY_TENANT, &[])?.unwrap_or(false);
    if unfiltered {
        Ok(())
    } else {
        Err(ExtError::NotAllowed(
            "the audit must run as the extension owner (a superuser): row level security would hide other tenants' rows from it".into(),
        ))
    }
}

/// Planner settings for the audit's big scans. `set_config(..., true)` inside a function
/// lasts until the end of the transaction (only the function's own `SET` clause ends with the
/// function), so the caller's values are put back when the audit is done; an error rolls the
/// (sub)transaction back, and the settings with it.
struct PlannerSettings {
    saved: Vec<(&'static str, String)>,
}

impl PlannerSettings {
    fn tune() -> ExtResult<PlannerSettings> {
        let mut saved = Vec::new();
        for name in ["work_mem", "enable_nestloop", "jit"] {
            let value =
                db::one::<String>(queries::CURRENT_SETTING, &[name.into()])?.unwrap_or_default();
            saved.push((name, value));
        }
        db::rows(queries::RAISE_WORK_MEM, &[WORK_MEM.into()], |_| Ok(()))?;
        // Compiling the audit's one-off queries takes longer than running them.
        set_local("jit", "off")?;
        Ok(PlannerSettings { saved })
    }

    fn restore(self) -> ExtResult<()> {
        for (name, value) in &self.saved {
            db::rows(
                queries::RESTORE_SETTING,
                &[(*name).into(), value.as_str().into()],
                |_| Ok(()),
            )?;
        }
        Ok(())
    }
}

fn tenant_id(slug: &str) -> ExtResult<pgrx::Uuid> {
    db::one::<pgrx::Uuid>(queries::TENANT_ID, &[slug.into()])?
        .ok_or_else(|| ExtError::TenantNotFound(slug.to_owned()))
}

fn checks(tenant: Option<pgrx::Uuid>) -> ExtResult<Vec<Finding>> {
    let states = policy::states(None)?;
    let tables = registry_tables()?;
    let fks = foreign_keys()?;
    let mut findings = {
        let _scan_costs = db::PinnedSettings::pin_with(SCAN_COSTS);
        data_checks(&tables, &fks, tenant)?
    };
    if tenant.is_none() {
        let schema = db::extension_schema()?;
        findings.extend(protection_checks(&states, &tables)?);
        findings.extend(foreign_key_checks(&tables, &fks));
        findings.extend(catalog_checks(&schema)?);
        findings.extend(crate::key_audit::findings()?);
    }
    Ok(findings)
}

/// Runs every check (only the tenant's data checks with a slug), most severe first.
pub fn run(tenant_slug: Option<&str>) -> ExtResult<Vec<Finding>> {
    ensure_sees_every_tenant()?;
    let tenant = tenant_slug.map(tenant_id).transpose()?;
    let settings = PlannerSettings::tune()?;
    let mut findings = checks(tenant)?;
    settings.restore()?;
    if let Some(slug) = tenant_slug {
        findings.retain(|f| f.tenant_slug.as_deref() == Some(slug));
    }
    sort(&mut findings);
    Ok(findings)
}

fn timestamp() -> ExtResult<String> {
    Ok(db::one::<String>(queries::TIMESTAMP, &[])?.unwrap_or_default())
}

/// The isolation audit, one row per finding; `tenant_slug` limits it to that tenant's rows.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_audit(
    tenant_slug: default!(Option<String>, "NULL"),
) -> Result<
    TableIterator<
        'static,
        (
            name!(tenant_slug, Option<String>),
            name!(check_name, String),
            name!(severity, String),
            name!(object_name, String),
            name!(detail, JsonB),
        ),
    >,
    ErrorReport,
> {
    let rows = run(tenant_slug.as_deref())?
        .into_iter()
        .map(|f| {
            (
                f.tenant_slug,
                f.check.name().to_owned(),
                f.severity.name().to_owned(),
                f.object_name,
                JsonB(f.detail),
            )
        })
        .collect::<Vec<_>>();
    Ok(TableIterator::new(rows))
}

/// The isolation audit as one JSON report: summary, statistics, violations by severity and
/// recommendations.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_tenant_audit_json(tenant_slug: default!(Option<String>, "NULL")) -> SqlResult<JsonB> {
    let findings = run(tenant_slug.as_deref())?;
    let stamp = timestamp()?;
    Ok(JsonB(document(tenant_slug.as_deref(), &findings, stamp)))
}
