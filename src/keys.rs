//! JWT verification keys: stored in `boards.jwt_keys` (admin-readable only), cached per backend.
//!
//! The cache is dropped whenever the key table changes: a statement trigger on the table sends
//! a relcache invalidation for it (transactional, delivered to every backend at commit, and
//! processed by this backend at the next statement that verifies a token, `invalidation.rs`),
//! and our relcache callback clears both the key cache and the verified-token cache; cached
//! tokens also carry the key generation that verified them, so a removed key stops verifying
//! them at once.

use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;

use boards_tenant_core::jwks::parse_jwks;
use boards_tenant_core::jwt::{fingerprint, Algorithm, KeyFamily, KeyFormat, VerificationKey};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::invalidation;

thread_local! {
    /// The installed keys and the generation they were loaded in.
    static KEYS: RefCell<Option<(u64, Rc<Vec<VerificationKey>>)>> = const { RefCell::new(None) };
    static LOADS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Every installed key, loaded once per backend until the key table changes, with the
/// generation of the load: a token verified by an earlier generation's keys must be verified
/// again (see `auth::verify`). Read from the latest committed state (`db::latest_rows`).
pub fn installed() -> ExtResult<(u64, Rc<Vec<VerificationKey>>)> {
    let generation = invalidation::Generation::begin();
    if let Some((load, keys)) = KEYS.with(|k| k.borrow().clone()) {
        return Ok((load, keys));
    }
    let (table, owner) = db::rows(
        "SELECT c.oid, c.relowner FROM pg_catalog.pg_class c
         WHERE c.oid = 'boards.jwt_keys'::pg_catalog.regclass",
        &[],
        |row| Ok((row.get::<pg_sys::Oid>(1)?, row.get::<pg_sys::Oid>(2)?)),
    )?
    .into_iter()
    .next()
    .map(|(t, o)| {
        (
            t.unwrap_or(pg_sys::Oid::INVALID),
            o.unwrap_or(pg_sys::Oid::INVALID),
        )
    })
    .unwrap_or((pg_sys::Oid::INVALID, pg_sys::Oid::INVALID));
    invalidation::watch(table, forget);
    // The context readers check a context's key as the caller, who may not read the key
    // table: the load runs as the table's owner, as it does inside the SECURITY DEFINER setters.
    let _owner = AsUser::switch(owner);
    let keys = db::latest_rows(
        "SELECT kid, alg, format, material FROM boards.jwt_keys ORDER BY kid",
        &[],
        |row| {
            (
                row.get::<String>(1).unwrap_or_default(),
                row.get::<String>(2).unwrap_or_default(),
                row.get::<String>(3).unwrap_or_default(),
                row.get::<String>(4).unwrap_or_default(),
            )
        },
    )?
    .into_iter()
    .filter_map(
        |(kid, alg, format, material)| match build(&kid, &alg, &format, &material) {
            Ok(key) => Some(key),
            Err(e) => {
                // A row edited by hand into something unusable must not take every login down.
                pgrx::warning!("boards_tenant: ignoring unusable JWT key \"{kid}\": {e}");
                None
            }
        },
    )
    .collect::<Vec<_>>();
    let keys = Rc::new(keys);
    let load = LOADS.with(|l| {
        l.set(l.get().wrapping_add(1));
        l.get()
    });
    // Cached only when no invalidation arrived while loading, and never beyond its share of
    // the cache budget (then every call loads them again).
    let bytes: usize = keys.iter().map(VerificationKey::approximate_bytes).sum();
    if generation.still_current() && bytes <= crate::settings::cache_budget_bytes() / 8 {
        KEYS.with(|k| *k.borrow_mut() = Some((load, Rc::clone(&keys))));
    }
    Ok((load, keys))
}

/// Whether the key `kid` is still installed: a context set from a token it verified lasts
/// only that long (`tenant_status.rs`). Any error counts as not installed.
pub fn still_installed(kid: &str) -> bool {
    matches!(installed(), Ok((_, keys)) if keys.iter().any(|k| k.kid() == kid))
}

/// While alive, the current user is another role (as in a SECURITY DEFINER call); the previous
/// one comes back on drop, and on an error the (sub)transaction abort restores it.
struct AsUser {
    previous: pg_sys::Oid,
    sec_context: i32,
}

impl AsUser {
    fn switch(user: pg_sys::Oid) -> Option<Self> {
        if user == pg_sys::Oid::INVALID {
            return None;
        }
        let mut previous = pg_sys::Oid::INVALID;
        let mut sec_context = 0;
        // SAFETY: the same calls fmgr makes around a SECURITY DEFINER function.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut previous, &mut sec_context);
            pg_sys::SetUserIdAndSecContext(
                user,
                sec_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            );
        }
        Some(AsUser {
            previous,
            sec_context,
        })
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: restores what `switch` saved.
            unsafe { pg_sys::SetUserIdAndSecContext(self.previous, self.sec_context) };
        }
    }
}

fn build(kid: &str, alg: &str, format: &str, material: &str) -> ExtResult<VerificationKey> {
    let alg = Algorithm::from_str(alg)?;
    let format = KeyFormat::from_str(format)?;
    Ok(VerificationKey::new(kid, alg, format, material)?)
}

/// Drops the cached keys, and the tokens they verified: a removed key must stop verifying
/// cached tokens at once.
fn forget() {
    KEYS.with(|k| *k.borrow_mut() = None);
    LOADS.with(|l| l.set(l.get().wrapping_add(1)));
    crate::auth::forget_verified_tokens();
}

/// A key's algorithm: an unknown or unsigned one is a bad argument here, not a bad token.
fn key_algorithm(alg: &str) -> ExtResult<Algorithm> {
    Algorithm::from_str(alg.trim()).map_err(|_| {
        ExtError::InvalidArgument(format!(
            "unsupported key algorithm \"{alg}\": use HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA"
        ))
    })
}

/// The material format implied by the algorithm family and the text given.
fn format_of(alg: Algorithm, material: &str) -> KeyFormat {
    if material.trim_start().starts_with('{') {
        KeyFormat::Jwk
    } else if alg.family() == KeyFamily::Hmac {
        KeyFormat::Secret
    } else {
        KeyFormat::Pem
    }
}

fn insert(kid: &str, alg: Algorithm, format: KeyFormat, material: &str) -> ExtResult<()> {
    let inserted = db::one_mut::<String>(
        "INSERT INTO boards.jwt_keys (kid, alg, format, material) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kid) DO NOTHING RETURNING kid",
        &[
            kid.into(),
            alg.as_str().into(),
            format.as_str().into(),
            material.into(),
        ],
    )?;
    if inserted.is_none() {
        return Err(ExtError::KeyExists(kid.to_owned()));
    }
    Ok(())
}

/// Installs a verification key: an HMAC secret for HS*, a PEM public key (or a JWK) otherwise.
#[pg_extern(volatile, parallel_unsafe)]
fn boards_jwt_add_key(kid: String, alg: String, key: String) -> SqlResult<()> {
    let alg = key_algorithm(&alg)?;
    let format = format_of(alg, &key);
    let built = VerificationKey::new(&kid, alg, format, &key).map_err(ExtError::from)?;
    if built.weak_secret() {
        pgrx::warning!(
            "boards_tenant: the HMAC secret for key \"{kid}\" is shorter than the {} hash output; use at least that many random bytes",
            alg.as_str()
        );
    }
    Ok(insert(&kid, alg, format, &key)?)
}

/// Imports every key of a JWKS document; keys already installed with the same material are
/// skipped, so the provider's document can be re-imported on rotation. Returns how many keys
/// were added.
#[pg_extern(volatile, parallel_unsafe)]
fn boards_jwt_import_jwks(jwks: JsonB) -> SqlResult<i32> {
    let imports = parse_jwks(&jwks.0).map_err(ExtError::from)?;
    let mut added = 0;
    for key in imports {
        let existing = db::one::<String>(
            "SELECT material FROM boards.jwt_keys WHERE kid = $1",
            &[key.kid.as_str().into()],
        )?;
        match existing {
            Some(material) if material == key.material => continue,
            Some(_) => {
                return Err(ExtError::InvalidArgument(format!(
                    "a different key with kid \"{}\" is already installed; remove it first",
                    key.kid
                ))
                .into())
            }
            None => {
                insert(&key.kid, key.alg, KeyFormat::Jwk, &key.material)?;
                added += 1;
            }
        }
    }
    Ok(added)
}

#[pg_extern(volatile, parallel_unsafe)]
fn boards_jwt_remove_key(kid: String) -> SqlResult<()> {
    let removed = db::one_mut::<String>(
        "DELETE FROM boards.jwt_keys WHERE kid = $1 RETURNING kid",
        &[kid.as_str().into()],
    )?;
    match removed {
        Some(_) => Ok(()),
        None => Err(ExtError::KeyNotFound(kid).into()),
    }
}

/// The installed keys, never their secrets: public keys show a fingerprint, HMAC secrets none.
#[pg_extern(stable, parallel_unsafe)]
fn boards_jwt_keys() -> Result<
    TableIterator<
        'static,
        (
            name!(kid, String),
            name!(alg, String),
            name!(format, String),
            name!(fingerprint, Option<String>),
            name!(created_at, Option<pgrx::datum::TimestampWithTimeZone>),
            name!(created_by, Option<String>),
        ),
    >,
    ErrorReport,
> {
    let rows = db::rows(
        "SELECT kid, alg, format, material, created_at, created_by::text
         FROM boards.jwt_keys ORDER BY kid",
        &[],
        |row| {
            let alg: String = row.get(2)?.unwrap_or_default();
            let material: String = row.get(4)?.unwrap_or_default();
            // A hash of an HMAC secret would help a brute-force search: show none.
            let secret = Algorithm::from_str(&alg).map_or(true, |a| a.family() == KeyFamily::Hmac);
            let print = (!secret).then(|| fingerprint(&material));
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                alg,
                row.get::<String>(3)?.unwrap_or_default(),
                print,
                row.get(5)?,
                row.get(6)?,
            ))
        },
    )?;
    Ok(TableIterator::new(rows))
}
