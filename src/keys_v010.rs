//! The key functions of the 0.1.0 SQL surface, which name these C symbols: what a database
//! still at 0.1.0 runs between a library update and `ALTER EXTENSION boards_tenant UPDATE`
//! (the 0.2.0 functions, in `keys.rs`, have new symbols). They work on the 0.1.0 table:
//! `kid` is its primary key, and no key has a binding.

use std::str::FromStr;

use boards_tenant_core::algorithm::{Algorithm, KeyFamily};
use boards_tenant_core::jwks::parse_jwks;
use boards_tenant_core::jwt::{fingerprint, KeyFormat, KeyId, VerificationKey};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::keys::{format_of, key_algorithm};

fn unbound(kid: &str) -> KeyId {
    KeyId {
        issuer: None,
        kid: kid.to_owned(),
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
        return Err(ExtError::KeyExists(unbound(kid)));
    }
    Ok(())
}

/// `boards_jwt_add_key(kid, alg, key)` of 0.1.0.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
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

/// `boards_jwt_import_jwks(jwks)` of 0.1.0.
#[pg_extern(volatile, parallel_unsafe, sql = false)]
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

#[pg_extern(volatile, parallel_unsafe, sql = false)]
fn boards_jwt_remove_key(kid: String) -> SqlResult<()> {
    let removed = db::one_mut::<String>(
        "DELETE FROM boards.jwt_keys WHERE kid = $1 RETURNING kid",
        &[kid.as_str().into()],
    )?;
    match removed {
        Some(_) => Ok(()),
        None => Err(ExtError::KeyNotFound(unbound(&kid)).into()),
    }
}

/// `boards_jwt_keys()` of 0.1.0: its six columns.
#[pg_extern(stable, parallel_unsafe, sql = false)]
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
