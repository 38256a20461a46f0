//! JWT verification keys: stored in `boards.jwt_keys` (admin-readable only), cached per backend.
//! A key may be bound to an issuer (a kid is unique per issuer only), to audiences and to
//! tenants (`KeyBinding`); `boards_jwt_sync_jwks` (`src/jwks_sync.rs`) manages the keys of
//! an issuer's published JWKS.
//!
//! The cache is dropped whenever the key table changes: a statement trigger on the table sends
//! a relcache invalidation for it (transactional, delivered to every backend at commit, and
//! processed by this backend at the next statement that verifies a token, `invalidation.rs`),
//! and our relcache callback clears the key cache (the verified-token cache, in `auth.rs`, follows
//! the key generation and registers its own invalidation); cached
//! tokens also carry the key generation that verified them, so a removed key stops verifying
//! them at once.

use std::cell::RefCell;
use std::rc::Rc;
use std::str::FromStr;

use boards_tenant_core::algorithm::{Algorithm, KeyFamily};
use boards_tenant_core::jwks::parse_jwks;
use boards_tenant_core::jwt::{fingerprint, KeyBinding, KeyFormat, KeyId, VerificationKey};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{pg_sys, JsonB};

use crate::db;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::invalidation;
use crate::uuids::from_pg_uuid;

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
    let query = if bindings_exist()? {
        "SELECT kid, alg, format, material, issuer, audiences, tenants FROM boards.jwt_keys
         ORDER BY coalesce(issuer, ''), kid"
    } else {
        "SELECT kid, alg, format, material, NULL::text, NULL::text[], NULL::uuid[]
         FROM boards.jwt_keys ORDER BY kid"
    };
    let keys = db::latest_rows(query, &[], |row| {
        let stored = StoredKey {
            kid: row.get::<String>(1).unwrap_or_default(),
            alg: row.get::<String>(2).unwrap_or_default(),
            format: row.get::<String>(3).unwrap_or_default(),
            material: row.get::<String>(4).unwrap_or_default(),
        };
        let binding = KeyBinding {
            issuer: row.get::<String>(5),
            audiences: row.get::<Vec<String>>(6),
            tenants: row
                .get::<Vec<pgrx::Uuid>>(7)
                .map(|ids| ids.into_iter().map(from_pg_uuid).collect()),
        };
        (stored, binding)
    })?
    .into_iter()
    .filter_map(|(stored, binding)| match build(&stored) {
        Ok(key) => Some(key.bound(binding)),
        Err(e) => {
            // A row edited by hand into something unusable must not take every login down.
            pgrx::warning!(
                "boards_tenant: ignoring unusable JWT key \"{}\": {e}",
                stored.kid
            );
            None
        }
    })
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

/// Whether `boards.jwt_keys` has the binding columns: a database still at 0.1.0 (the library
/// updated, `ALTER EXTENSION boards_tenant UPDATE` not yet run) has none, and no bound keys.
pub fn bindings_exist() -> ExtResult<bool> {
    Ok(db::one::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute
                        WHERE attrelid = 'boards.jwt_keys'::pg_catalog.regclass
                          AND attname = 'origin' AND NOT attisdropped)",
        &[],
    )?
    .unwrap_or(false))
}

/// Whether the installed key `key` (`KeyId::encode`, as the context holds it) lets its tokens
/// act in `tenant`: an unrestricted key anywhere, a tenant-scoped one only in its tenants. A key
/// no longer installed lets nothing. Read through the key cache, so a restriction added after a
/// context was set acts from that context's next statement (`tenant_status.rs`).
pub fn admits_tenant(key: &str, tenant: uuid::Uuid) -> bool {
    let id = KeyId::decode(key);
    matches!(installed(), Ok((_, keys)) if keys.iter().any(|k| k.id() == id
        && k.binding().tenants.as_ref().is_none_or(|scope| scope.contains(&tenant))))
}

/// Whether the installed key `key` is restricted to tenants (a customer's own identity
/// provider): its tokens may act in those tenants only, never found new ones.
pub fn is_tenant_scoped(key: &str) -> bool {
    let id = KeyId::decode(key);
    matches!(installed(), Ok((_, keys)) if keys.iter().any(|k| k.id() == id
        && k.binding().tenants.is_some()))
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

/// A row of `boards.jwt_keys`, as text.
struct StoredKey {
    kid: String,
    alg: String,
    format: String,
    material: String,
}

fn build(stored: &StoredKey) -> ExtResult<VerificationKey> {
    let alg = Algorithm::from_str(&stored.alg)?;
    let format = KeyFormat::from_str(&stored.format)?;
    Ok(VerificationKey::new(
        &stored.kid,
        alg,
        format,
        &stored.material,
    )?)
}

/// Drops the cached keys and starts a new key generation: a token verified under an older one
/// is verified again (`auth.rs` keys its verified-token cache by generation), so a removed key
/// stops verifying cached tokens at once.
fn forget() {
    KEYS.with(|k| *k.borrow_mut() = None);
    LOADS.with(|l| l.set(l.get().wrapping_add(1)));
}

/// A key's algorithm: an unknown or unsigned one is a bad argument here, not a bad token.
pub fn key_algorithm(alg: &str) -> ExtResult<Algorithm> {
    Algorithm::from_str(alg.trim()).map_err(|_| {
        ExtError::InvalidArgument(format!(
            "unsupported key algorithm \"{alg}\": use HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA"
        ))
    })
}

/// The material format implied by the algorithm family and the text given.
pub fn format_of(alg: Algorithm, material: &str) -> KeyFormat {
    if material.trim_start().starts_with('{') {
        KeyFormat::Jwk
    } else if alg.family() == KeyFamily::Hmac {
        KeyFormat::Secret
    } else {
        KeyFormat::Pem
    }
}

/// Who manages a key: sync manages only its own keys, of its own issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOrigin {
    /// `boards_jwt_add_key`.
    Manual,
    /// `boards_jwt_import_jwks`.
    Import,
    /// `boards_jwt_sync_jwks`.
    Sync,
}

impl KeyOrigin {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyOrigin::Manual => "manual",
            KeyOrigin::Import => "import",
            KeyOrigin::Sync => "sync",
        }
    }
}

/// A binding as stored: tenants as ids (a slug can change hands, an id cannot).
#[derive(Debug, Clone, Default)]
pub struct StoredBinding {
    pub issuer: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub tenants: Option<Vec<pgrx::Uuid>>,
}

/// An argument that must not be NULL (the functions with optional arguments are not STRICT).
pub fn required<T>(value: Option<T>, name: &str) -> ExtResult<T> {
    value.ok_or_else(|| ExtError::InvalidArgument(format!("{name} must not be NULL")))
}

/// A list argument: NULL is "unrestricted"; an empty list, a NULL or an empty element is a
/// mistake, not a restriction to nothing.
fn list_argument(name: &str, list: Option<Vec<Option<String>>>) -> ExtResult<Option<Vec<String>>> {
    let Some(list) = list else {
        return Ok(None);
    };
    if list.is_empty() {
        return Err(ExtError::InvalidArgument(format!(
            "{name} must not be an empty array: pass NULL for no restriction"
        )));
    }
    list.into_iter()
        .map(|item| match item.map(|s| s.trim().to_owned()) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ExtError::InvalidArgument(format!(
                "{name} must not contain NULL or empty elements"
            ))),
        })
        .collect::<ExtResult<Vec<_>>>()
        .map(Some)
}

/// The issuer argument: NULL or a non-empty string (an issuer is compared exactly, so it is
/// not trimmed).
fn issuer_argument(issuer: Option<String>) -> ExtResult<Option<String>> {
    match issuer {
        Some(iss) if iss.is_empty() => Err(ExtError::InvalidArgument(
            "issuer must not be empty: pass NULL for a key valid for every issuer".into(),
        )),
        other => Ok(other),
    }
}

/// Tenant slugs to ids; every slug must name an existing tenant.
fn tenant_ids(slugs: Option<Vec<String>>) -> ExtResult<Option<Vec<pgrx::Uuid>>> {
    let Some(slugs) = slugs else {
        return Ok(None);
    };
    let mut ids = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let tenant = crate::directory::find_by_slug(&slug)?
            .ok_or_else(|| ExtError::TenantNotFound(slug.clone()))?;
        if !ids.contains(&tenant.id) {
            ids.push(tenant.id);
        }
    }
    Ok(Some(ids))
}

/// The binding the SQL arguments describe.
pub fn binding_arguments(
    issuer: Option<String>,
    audiences: Option<Vec<Option<String>>>,
    tenants: Option<Vec<Option<String>>>,
) -> ExtResult<StoredBinding> {
    Ok(StoredBinding {
        issuer: issuer_argument(issuer)?,
        audiences: list_argument("audiences", audiences)?,
        tenants: tenant_ids(list_argument("tenants", tenants)?)?,
    })
}

/// Installs a key; a key with the same kid and issuer is an error.
pub fn insert(
    kid: &str,
    alg: Algorithm,
    format: KeyFormat,
    material: &str,
    binding: &StoredBinding,
    origin: KeyOrigin,
) -> ExtResult<()> {
    let inserted = db::one_mut::<String>(
        "INSERT INTO boards.jwt_keys (kid, alg, format, material, issuer, audiences, tenants, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT ((coalesce(issuer, '')), kid) DO NOTHING RETURNING kid",
        &[
            kid.into(),
            alg.as_str().into(),
            format.as_str().into(),
            material.into(),
            binding.issuer.clone().into(),
            binding.audiences.clone().into(),
            binding.tenants.clone().into(),
            origin.as_str().into(),
        ],
    )?;
    if inserted.is_none() {
        return Err(ExtError::KeyExists(KeyId {
            issuer: binding.issuer.clone(),
            kid: kid.to_owned(),
        }));
    }
    Ok(())
}

/// Installs a verification key: an HMAC secret for HS*, a PEM public key (or a JWK) otherwise,
/// optionally bound to an issuer, audiences and tenants (slugs).
#[pg_extern(
    volatile,
    parallel_unsafe,
    name = "boards_jwt_add_key",
    security_definer
)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_add_key_bound(
    kid: Option<String>,
    alg: Option<String>,
    key: Option<String>,
    issuer: default!(Option<String>, "NULL"),
    audiences: default!(Option<Vec<Option<String>>>, "NULL"),
    tenants: default!(Option<Vec<Option<String>>>, "NULL"),
) -> SqlResult<()> {
    let (kid, alg, key) = (
        required(kid, "kid")?,
        required(alg, "alg")?,
        required(key, "key")?,
    );
    let alg = key_algorithm(&alg)?;
    let format = format_of(alg, &key);
    let built = VerificationKey::new(&kid, alg, format, &key).map_err(ExtError::from)?;
    if built.weak_secret() {
        pgrx::warning!(
            "boards_tenant: the HMAC secret for key \"{kid}\" is shorter than the {} hash output; use at least that many random bytes",
            alg.as_str()
        );
    }
    let binding = binding_arguments(issuer, audiences, tenants)?;
    Ok(insert(
        &kid,
        alg,
        format,
        &key,
        &binding,
        KeyOrigin::Manual,
    )?)
}

/// Imports every key of a JWKS document, each with the binding given; keys already installed
/// (same kid and issuer) with the same material are skipped, so the provider's document can be
/// re-imported on rotation. Returns how many keys were added.
#[pg_extern(
    volatile,
    parallel_unsafe,
    name = "boards_jwt_import_jwks",
    security_definer
)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_import_jwks_bound(
    jwks: Option<JsonB>,
    issuer: default!(Option<String>, "NULL"),
    audiences: default!(Option<Vec<Option<String>>>, "NULL"),
    tenants: default!(Option<Vec<Option<String>>>, "NULL"),
) -> SqlResult<i32> {
    let jwks = required(jwks, "jwks")?;
    let imports = parse_jwks(&jwks.0).map_err(ExtError::from)?;
    let binding = binding_arguments(issuer, audiences, tenants)?;
    let mut added = 0;
    for key in imports {
        let existing = db::one::<String>(
            "SELECT material FROM boards.jwt_keys
             WHERE kid = $1 AND coalesce(issuer, '') = coalesce($2, '')",
            &[key.kid.as_str().into(), binding.issuer.clone().into()],
        )?;
        match existing {
            Some(material) if material == key.material => continue,
            Some(_) => {
                return Err(ExtError::InvalidArgument(format!(
                    "a different key with kid {} is already installed; remove it first",
                    KeyId {
                        issuer: binding.issuer.clone(),
                        kid: key.kid
                    }
                ))
                .into())
            }
            None => {
                insert(
                    &key.kid,
                    key.alg,
                    KeyFormat::Jwk,
                    &key.material,
                    &binding,
                    KeyOrigin::Import,
                )?;
                added += 1;
            }
        }
    }
    Ok(added)
}

/// The one installed key `kid` names, given the issuer argument: NULL matches any issuer (and
/// is an error when several issuers have that kid), `''` the key bound to no issuer.
fn locate(kid: &str, issuer: Option<&str>) -> ExtResult<KeyId> {
    let issuers = db::rows(
        "SELECT issuer FROM boards.jwt_keys
         WHERE kid = $1 AND ($2::text IS NULL OR coalesce(issuer, '') = $2)
         ORDER BY coalesce(issuer, '')",
        &[kid.into(), issuer.into()],
        |row| row.get::<String>(1),
    )?;
    let wanted = || KeyId {
        issuer: issuer.filter(|i| !i.is_empty()).map(str::to_owned),
        kid: kid.to_owned(),
    };
    match issuers.as_slice() {
        [] => Err(ExtError::KeyNotFound(wanted())),
        [one] => Ok(KeyId {
            issuer: one.clone(),
            kid: kid.to_owned(),
        }),
        several => Err(ExtError::Core(
            boards_tenant_core::CoreError::invalid_argument(format!(
                "several keys have kid \"{kid}\": name the issuer"
            ))
            .with_detail(format!(
                "issuers: {}",
                several
                    .iter()
                    .map(|i| i.as_deref().unwrap_or("(none)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint(
                "pass the issuer as the second argument; '' names the key bound to no issuer",
            ),
        )),
    }
}

#[pg_extern(
    volatile,
    parallel_unsafe,
    name = "boards_jwt_remove_key",
    security_definer
)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_remove_key_bound(
    kid: Option<String>,
    issuer: default!(Option<String>, "NULL"),
) -> SqlResult<()> {
    let kid = required(kid, "kid")?;
    let id = locate(&kid, issuer.as_deref())?;
    db::run(
        "DELETE FROM boards.jwt_keys WHERE kid = $1 AND coalesce(issuer, '') = coalesce($2, '')",
        &[id.kid.as_str().into(), id.issuer.clone().into()],
    )?;
    Ok(())
}

/// Restricts an installed key to tenants (slugs; stored as ids), or lifts the restriction with
/// NULL. Applies from the next statement of every session: contexts already set from the key's
/// tokens keep their tenant (one the key was allowed when they were set) until they are set
/// again.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_restrict_key(
    kid: Option<String>,
    tenants: Option<Vec<Option<String>>>,
    issuer: default!(Option<String>, "NULL"),
) -> SqlResult<()> {
    let kid = required(kid, "kid")?;
    let id = locate(&kid, issuer.as_deref())?;
    let ids = tenant_ids(list_argument("tenants", tenants)?)?;
    db::run(
        "UPDATE boards.jwt_keys SET tenants = $3
         WHERE kid = $1 AND coalesce(issuer, '') = coalesce($2, '')",
        &[id.kid.as_str().into(), id.issuer.clone().into(), ids.into()],
    )?;
    Ok(())
}

/// The installed keys and their bindings, never their secrets: public keys show a fingerprint,
/// HMAC secrets none. `tenants` lists the slugs of the tenants a key is restricted to (a
/// deleted tenant's id stays in `tenant_ids`, so the key stays restricted).
#[pg_extern(stable, parallel_unsafe, name = "boards_jwt_keys", security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_jwt_keys_with_bindings() -> Result<
    TableIterator<
        'static,
        (
            name!(kid, String),
            name!(alg, String),
            name!(format, String),
            name!(fingerprint, Option<String>),
            name!(created_at, Option<pgrx::datum::TimestampWithTimeZone>),
            name!(created_by, Option<String>),
            name!(issuer, Option<String>),
            name!(audiences, Option<Vec<String>>),
            name!(tenants, Option<Vec<String>>),
            name!(tenant_ids, Option<Vec<pgrx::Uuid>>),
            name!(origin, String),
            name!(retired_at, Option<pgrx::datum::TimestampWithTimeZone>),
        ),
    >,
    ErrorReport,
> {
    let rows = db::rows(
        "SELECT k.kid, k.alg, k.format, k.material, k.created_at, k.created_by::text,
                k.issuer, k.audiences,
                CASE WHEN k.tenants IS NOT NULL THEN ARRAY(
                    SELECT t.slug FROM pg_catalog.unnest(k.tenants) WITH ORDINALITY AS u(id, n)
                    JOIN boards.tenants t ON t.id = u.id ORDER BY u.n) END,
                k.tenants, k.origin, k.retired_at
         FROM boards.jwt_keys k ORDER BY coalesce(k.issuer, ''), k.kid",
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
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
                row.get::<String>(11)?.unwrap_or_default(),
                row.get(12)?,
            ))
        },
    )?;
    Ok(TableIterator::new(rows))
}
