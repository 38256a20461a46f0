//! `boards_jwt_sync_jwks`: brings the keys of one issuer in line with its published JWKS, in
//! one transaction (the plan is `boards_tenant_core::jwks_sync::plan_sync`). Only keys this
//! function installed for that issuer (`origin = 'sync'`) are touched: keys of other issuers
//! and keys added by hand or imported stay as they are, and a document kid that collides with
//! one of those is an error. An empty or malformed document is an error and changes nothing.
//! The `boards-tenant keys sync` command fetches the document and calls this.

use boards_tenant_core::algorithm::Algorithm;
use boards_tenant_core::jwks::parse_jwks;
use boards_tenant_core::jwks_sync::{plan_sync, SyncAction, SyncStep, SyncedKey};
use boards_tenant_core::jwt::KeyFormat;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::db;
use crate::error::{ExtError, ExtResult};
use crate::keys::{self, KeyOrigin, StoredBinding};

/// The issuer's keys installed by earlier syncs.
fn synced_keys(issuer: &str) -> ExtResult<Vec<SyncedKey>> {
    let rows = db::rows_mut(
        "SELECT kid, alg, material, pg_catalog.floor(extract(epoch FROM retired_at))::int8
         FROM boards.jwt_keys WHERE issuer = $1 AND origin = 'sync' ORDER BY kid FOR UPDATE",
        &[issuer.into()],
        |row| {
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<i64>(4)?,
            ))
        },
    )?;
    rows.into_iter()
        .map(|(kid, alg, material, retired_at)| {
            Ok(SyncedKey {
                alg: alg.parse::<Algorithm>()?,
                kid,
                material,
                retired_at,
            })
        })
        .collect()
}

/// Refuses a document kid that the issuer already has as a key not managed by sync.
fn refuse_unmanaged_collisions(issuer: &str, kids: Vec<String>) -> ExtResult<()> {
    let taken = db::rows(
        "SELECT kid FROM boards.jwt_keys
         WHERE issuer = $1 AND origin <> 'sync' AND kid = ANY($2) ORDER BY kid",
        &[issuer.into(), kids.into()],
        |row| row.get::<String>(1),
    )?;
    match taken.into_iter().flatten().next() {
        None => Ok(()),
        Some(kid) => Err(ExtError::Core(
            boards_tenant_core::CoreError::invalid_argument(format!(
                "the JWKS has kid \"{kid}\", which issuer \"{issuer}\" already has as a key added by hand or imported"
            ))
            .with_hint("remove that key with boards_jwt_remove_key(kid, issuer) to let sync manage it"),
        )),
    }
}

fn apply(step: &SyncStep, binding: &StoredBinding) -> ExtResult<()> {
    let issuer = binding.issuer.clone();
    let kid = step.kid.as_str();
    match (step.action, &step.import) {
        (SyncAction::Added, Some(import)) => keys::insert(
            kid,
            import.alg,
            KeyFormat::Jwk,
            &import.material,
            binding,
            KeyOrigin::Sync,
        ),
        (SyncAction::Replaced | SyncAction::Revived, Some(import)) => db::run(
            "UPDATE boards.jwt_keys
             SET alg = $3, format = 'jwk', material = $4, retired_at = NULL,
                 audiences = $5, tenants = $6
             WHERE issuer = $1 AND kid = $2 AND origin = 'sync'",
            &[
                issuer.into(),
                kid.into(),
                import.alg.as_str().into(),
                import.material.as_str().into(),
                binding.audiences.clone().into(),
                binding.tenants.clone().into(),
            ],
        ),
        // Only a changed binding is written: an unchanged document changes nothing.
        (SyncAction::Kept, _) => db::run(
            "UPDATE boards.jwt_keys SET audiences = $3, tenants = $4
             WHERE issuer = $1 AND kid = $2 AND origin = 'sync'
               AND (audiences IS DISTINCT FROM $3 OR tenants IS DISTINCT FROM $4)",
            &[
                issuer.into(),
                kid.into(),
                binding.audiences.clone().into(),
                binding.tenants.clone().into(),
            ],
        ),
        (SyncAction::Retiring, _) => db::run(
            "UPDATE boards.jwt_keys SET retired_at = now()
             WHERE issuer = $1 AND kid = $2 AND origin = 'sync' AND retired_at IS NULL",
            &[issuer.into(), kid.into()],
        ),
        (SyncAction::Removed, _) => db::run(
            "DELETE FROM boards.jwt_keys WHERE issuer = $1 AND kid = $2 AND origin = 'sync'",
            &[issuer.into(), kid.into()],
        ),
        (SyncAction::Added | SyncAction::Replaced | SyncAction::Revived, None) => Err(
            ExtError::InvalidArgument(format!("sync step for \"{kid}\" has no key")),
        ),
    }
}

/// Synchronises the keys of `issuer` with its JWKS document: adds new keys, keeps unchanged
/// ones, replaces a kid whose algorithm or material changed, retires keys that left the
/// document (they keep verifying for `grace`) and removes them once `grace` has passed since
/// they left. Every synced key of the issuer gets `audiences` and `tenants`. Idempotent.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_sync_jwks(
    jwks: Option<JsonB>,
    issuer: Option<String>,
    audiences: default!(Option<Vec<Option<String>>>, "NULL"),
    grace: default!(pgrx::datum::Interval, "'1 day'"),
    tenants: default!(Option<Vec<Option<String>>>, "NULL"),
) -> Result<
    TableIterator<'static, (name!(kid, String), name!(action, String))>,
    pgrx::pg_sys::panic::ErrorReport,
> {
    let jwks = keys::required(jwks, "jwks")?;
    let issuer = keys::required(issuer, "issuer")?;
    let document = parse_jwks(&jwks.0).map_err(ExtError::from)?;
    let binding = keys::binding_arguments(Some(issuer.clone()), audiences, tenants)?;
    let grace_secs = db::one::<i64>(
        "SELECT pg_catalog.ceil(extract(epoch FROM $1::interval))::int8",
        &[grace.into()],
    )?
    .unwrap_or(0);
    if grace_secs < 0 {
        return Err(ExtError::InvalidArgument("grace must not be negative".into()).into());
    }
    // Two syncs of one issuer at once would plan from the same state: one waits.
    db::run(
        "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('boards_jwt_sync_jwks'), pg_catalog.hashtext($1))",
        &[issuer.as_str().into()],
    )?;
    refuse_unmanaged_collisions(&issuer, document.iter().map(|k| k.kid.clone()).collect())?;
    let now = db::one::<i64>(
        "SELECT pg_catalog.floor(extract(epoch FROM now()))::int8",
        &[],
    )?
    .unwrap_or(0);
    let steps = plan_sync(&synced_keys(&issuer)?, &document, now, grace_secs);
    for step in &steps {
        apply(step, &binding)?;
    }
    Ok(TableIterator::new(
        steps
            .into_iter()
            .map(|s| (s.kid, s.action.as_str().to_owned())),
    ))
}
