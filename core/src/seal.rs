//! The sealed context: a tenant context that another backend of the same cluster can take
//! over and verify for itself.
//!
//! On Citus, a distributed query runs in worker backends that never saw the token; what
//! reaches them is what Citus forwards with the transaction (`SET LOCAL`, with
//! `citus.propagate_set_commands = 'local'`), as the same non-superuser role, so the
//! superuser-only context setting cannot travel. A sealed context can: it is the encoded
//! context, its expiry, and an HMAC-SHA256 over both with a per-cluster secret that only
//! superusers can read or set. A backend that receives it verifies the MAC and the expiry
//! itself; anything altered, expired or made with another secret is no context at all.
//!
//! Format: `v1.<base64url(context)>.<expires unix seconds>.<base64url(mac)>`, the MAC over
//! `boards_tenant.seal.v1.<base64url(context)>.<expires>` (the prefix keeps the key from ever
//! authenticating anything else).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::context::Context;
use crate::error::CoreError;

const VERSION: &str = "v1";
const DOMAIN: &str = "boards_tenant.seal.v1.";
/// A secret shorter than the MAC's output would be the weak point.
pub const MIN_SECRET_BYTES: usize = 32;
/// Sealed contexts are at most this long: a context is one token's claims.
pub const MAX_SEALED_BYTES: usize = 64 * 1024;

/// Why a sealed context is not accepted. Every case means "no context"; the reason is for
/// logs and tests, never for choosing what to trust.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealing secret is shorter than {MIN_SECRET_BYTES} bytes")]
    WeakSecret,
    #[error("the sealed context is malformed")]
    Malformed,
    #[error("the sealed context does not verify")]
    BadSeal,
    #[error("the sealed context has expired")]
    Expired,
}

impl From<SealError> for CoreError {
    fn from(e: SealError) -> Self {
        CoreError::invalid_argument(e.to_string())
    }
}

fn mac(secret: &[u8], payload: &str) -> Result<Hmac<Sha256>, SealError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SealError::WeakSecret);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SealError::WeakSecret)?;
    mac.update(DOMAIN.as_bytes());
    mac.update(payload.as_bytes());
    Ok(mac)
}

/// Seals `ctx` until `expires_at` (unix seconds).
pub fn seal(ctx: &Context, expires_at: i64, secret: &[u8]) -> Result<String, SealError> {
    let payload = format!("{}.{expires_at}", URL_SAFE_NO_PAD.encode(ctx.encode()));
    let tag = mac(secret, &payload)?.finalize().into_bytes();
    Ok(format!(
        "{VERSION}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(tag)
    ))
}

/// The context a sealed value carries and its expiry, if the MAC verifies with `secret` and
/// it has not expired at `now`.
pub fn unseal(sealed: &str, secret: &[u8], now: i64) -> Result<(Context, i64), SealError> {
    if sealed.len() > MAX_SEALED_BYTES {
        return Err(SealError::Malformed);
    }
    let rest = sealed
        .strip_prefix(VERSION)
        .and_then(|r| r.strip_prefix('.'))
        .ok_or(SealError::Malformed)?;
    let (payload, tag) = rest.rsplit_once('.').ok_or(SealError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| SealError::Malformed)?;
    // Constant-time comparison before anything of the payload is looked at.
    mac(secret, payload)?
        .verify_slice(&tag)
        .map_err(|_| SealError::BadSeal)?;
    let (context, expires) = payload.rsplit_once('.').ok_or(SealError::Malformed)?;
    let expires_at: i64 = expires.parse().map_err(|_| SealError::Malformed)?;
    if now >= expires_at {
        return Err(SealError::Expired);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(context)
        .map_err(|_| SealError::Malformed)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SealError::Malformed)?;
    let ctx = Context::decode(text).map_err(|_| SealError::Malformed)?;
    Ok((ctx, expires_at))
}

/// When a context sealed now expires: with its token (`exp`), and never later than
/// `max_lifetime_secs` from now.
pub fn seal_expiry(ctx: &Context, now: i64, max_lifetime_secs: i64) -> i64 {
    let cap = now.saturating_add(max_lifetime_secs.max(1));
    match ctx.claims.get("exp").and_then(serde_json::Value::as_i64) {
        Some(exp) => exp.min(cap),
        None => cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-cluster";
    const OTHER: &[u8] = b"another-cluster-secret-0123456789abcdef";

    fn ctx() -> Context {
        Context {
            tenant_id: Some(uuid::Uuid::from_u128(7)),
            tenant_slug: Some("acme".into()),
            user_id: Some(uuid::Uuid::from_u128(8)),
            subject: Some("alice".into()),
            source: Some("claim:tenant".into()),
            kid: Some("k1".into()),
            claims: serde_json::json!({"sub": "alice", "exp": 2_000})
                .as_object()
                .cloned()
                .unwrap_or_default()
                .into(),
        }
    }

    #[test]
    fn a_sealed_context_unseals_to_the_same_context_until_it_expires() {
        let sealed = seal(&ctx(), 1_500, SECRET).unwrap();
        assert_eq!(unseal(&sealed, SECRET, 1_000), Ok((ctx(), 1_500)));
        assert_eq!(unseal(&sealed, SECRET, 1_500), Err(SealError::Expired));
    }

    #[test]
    fn another_secret_or_any_altered_byte_is_refused() {
        let sealed = seal(&ctx(), 1_500, SECRET).unwrap();
        assert_eq!(unseal(&sealed, OTHER, 1_000), Err(SealError::BadSeal));
        for i in 0..sealed.len() {
            let mut bytes = sealed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            if altered != sealed {
                assert!(
                    unseal(&altered, SECRET, 1_000).is_err(),
                    "byte {i} altered: accepted"
                );
            }
        }
    }

    #[test]
    fn a_longer_expiry_cannot_be_spliced_in() {
        let sealed = seal(&ctx(), 1_500, SECRET).unwrap();
        let stretched = sealed.replacen(".1500.", ".9999999999.", 1);
        assert_ne!(stretched, sealed);
        assert_eq!(unseal(&stretched, SECRET, 1_000), Err(SealError::BadSeal));
    }

    #[test]
    fn weak_secrets_and_garbage_are_refused() {
        assert_eq!(seal(&ctx(), 1_500, b"short"), Err(SealError::WeakSecret));
        for garbage in [
            "",
            "v1",
            "v1.",
            "v2.a.1.b",
            "v1.a.b",
            "v1.!!.1.AAAA",
            "x".repeat(70_000).as_str(),
        ] {
            assert!(unseal(garbage, SECRET, 0).is_err(), "{garbage:.20}");
        }
    }

    #[test]
    fn the_seal_expires_with_its_token_and_within_the_lifetime() {
        assert_eq!(seal_expiry(&ctx(), 1_000, 300), 1_300);
        assert_eq!(seal_expiry(&ctx(), 1_900, 300), 2_000);
        let mut no_exp = ctx();
        std::sync::Arc::make_mut(&mut no_exp.claims).remove("exp");
        assert_eq!(seal_expiry(&no_exp, 1_000, 300), 1_300);
    }
}
