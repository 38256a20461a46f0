//! The audit's key checks: keys bound to no issuer while several issuers are
//! configured (any such key verifies tokens naming every issuer, so one provider's key can
//! speak for another's users), and tenant-scoped keys naming tenants that no longer exist
//! (such a key fails closed, but its restriction no longer says what was meant).

use serde_json::json;

use boards_tenant_core::audit::{Check, Finding};

use crate::db;
use crate::error::ExtResult;
use crate::settings;

/// At most this many kids in a finding's detail.
const SAMPLES: usize = 10;

fn finding(check: Check, detail: serde_json::Value) -> Finding {
    Finding::config(check, "boards.jwt_keys", detail)
}

/// The configured issuers: those of `boards.jwt_issuer` and those keys are bound to.
fn configured_issuers() -> ExtResult<Vec<String>> {
    let mut issuers = settings::jwt_issuers();
    let bound = db::rows(
        "SELECT DISTINCT issuer FROM boards.jwt_keys WHERE issuer IS NOT NULL ORDER BY 1",
        &[],
        |row| row.get::<String>(1),
    )?;
    for issuer in bound.into_iter().flatten() {
        if !issuers.contains(&issuer) {
            issuers.push(issuer);
        }
    }
    Ok(issuers)
}

fn kids(sql: &str) -> ExtResult<Vec<String>> {
    Ok(db::rows(sql, &[], |row| row.get::<String>(1))?
        .into_iter()
        .flatten()
        .collect())
}

pub fn findings() -> ExtResult<Vec<Finding>> {
    let mut out = Vec::new();
    // A database still at 0.1.0 has no bindings to check.
    if !crate::keys::bindings_exist()? {
        return Ok(out);
    }
    let issuers = configured_issuers()?;
    if issuers.len() > 1 {
        let unbound = kids("SELECT kid FROM boards.jwt_keys WHERE issuer IS NULL ORDER BY kid")?;
        if !unbound.is_empty() {
            out.push(finding(
                Check::KeyWithoutIssuerBinding,
                json!({
                    "count": unbound.len(),
                    "kids": unbound.iter().take(SAMPLES).collect::<Vec<_>>(),
                    "issuers": issuers,
                    "fix": "install each provider's keys bound to its issuer: boards_jwt_add_key(kid, alg, key, issuer) or boards_jwt_sync_jwks(jwks, issuer), then boards_jwt_remove_key(kid, '')",
                }),
            ));
        }
    }
    let stale = kids(
        "SELECT k.kid || coalesce(' (' || k.issuer || ')', '') FROM boards.jwt_keys k
         WHERE k.tenants IS NOT NULL
           AND EXISTS (SELECT FROM pg_catalog.unnest(k.tenants) AS u(id)
                       WHERE NOT EXISTS (SELECT FROM boards.tenants t WHERE t.id = u.id))
         ORDER BY 1",
    )?;
    if !stale.is_empty() {
        out.push(finding(
            Check::ScopedKeyTenantMissing,
            json!({
                "count": stale.len(),
                "kids": stale.iter().take(SAMPLES).collect::<Vec<_>>(),
                "fix": "restrict the key to the tenants it is for with boards_jwt_restrict_key(kid, ARRAY[slug, ...], issuer), or remove it",
            }),
        ));
    }
    Ok(out)
}
