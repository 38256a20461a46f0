//! The sealed context (`boards_tenant_core::seal`): `boards_context_seal()` seals the context
//! this backend verified; another backend of the cluster — a Citus worker that never saw the
//! token — gets the same context by `SET LOCAL boards.sealed_context = '<sealed>'`, which it
//! verifies for itself against `boards.seal_secret` (superuser-only, the same on every node;
//! `unseal.rs`). A sealed context is checked like any other (tenant active, member still
//! there, key still installed) and never outlives its token (`exp`) nor
//! `boards.seal_lifetime`.

use boards_tenant_core::seal::{seal, seal_expiry, SealError};
use pgrx::prelude::*;

use crate::error::{ExtError, SqlResult};
use crate::preload;
use crate::readers;
use crate::settings;
use crate::unseal::now_unix;

/// The context this backend verified itself, sealed for another backend of the cluster:
/// `SET LOCAL boards.sealed_context = <this>` there gives the same tenant, subject and claims.
/// Only a context verified here can be sealed (a sealed one cannot be re-sealed to live
/// longer).
#[pg_extern(volatile, parallel_safe)]
fn boards_context_seal() -> SqlResult<String> {
    preload::require()?;
    let ctx = readers::own_with_tenant().ok_or_else(|| {
        ExtError::NotAllowed("there is no tenant context of this backend's own to seal".into())
    })?;
    let secret = settings::seal_secret().ok_or_else(|| {
        ExtError::NotAllowed(
            "boards.seal_secret is not set: set it (the same on every node) to seal contexts"
                .into(),
        )
    })?;
    let now = now_unix();
    let expires_at = seal_expiry(&ctx, now, settings::seal_lifetime_secs());
    seal(&ctx, expires_at, secret.as_bytes()).map_err(|e| match e {
        SealError::WeakSecret => ExtError::NotAllowed(
            "boards.seal_secret is too short: use at least 32 random bytes".into(),
        )
        .into(),
        other => ExtError::InvalidArgument(other.to_string()).into(),
    })
}
