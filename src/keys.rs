//! JWT verification keys: stored in `boards.jwt_keys` (admin-readable only), cached per backend.
//!
//! The cache is dropped whenever the key table changes: a statement trigger on the table sends
//! a relcache invalidation for it (transactional, delivered to every backend at commit, and to
//! this backend at the next command), and our relcache callback clears both the key cache and
//! the verified-token cache, so a removed key stops verifying cached tokens at once.

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
    static KEYS: RefCell<Option<Rc<Vec<VerificationKey>>>> = const { RefCell::new(None) };
}

/// Every installed key, loaded once per backend until the key table changes.
pub fn installed() -> ExtResult<Rc<Vec<VerificationKey>>> {
    if let Some(keys) = KEYS.with(|k| k.borrow().clone()) {
        return Ok(keys);
    }
    let table = db::one::<pg_sys::Oid>("SELECT 'boards.jwt_keys'::regclass::oid", &[])?
        .unwrap_or(pg_sys::Oid::INVALID);
    let keys = db::rows(
        "SELECT kid, alg, format, material FROM boards.jwt_keys ORDER BY kid",
        &[],
        |row| {
            Ok((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<String>(4)?.unwrap_or_default(),
            ))
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
    invalidation::watch(table, forget);
    KEYS.with(|k| *k.borrow_mut() = Some(Rc::clone(&keys)));
    Ok(keys)
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
