//! Shared test helpers: fixture keys and token minting.
#![allow(dead_code)] // each test crate uses a different subset

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use boards_tenant_core::{Algorithm, KeyFormat, VerificationKey};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::Value;

pub const RSA_PRIVATE: &str = include_str!("../fixtures/rsa_private.pem");
pub const RSA_PUBLIC: &str = include_str!("../fixtures/rsa_public.pem");
pub const RSA_PUBLIC_PKCS1: &str = include_str!("../fixtures/rsa_public_pkcs1.pem");
pub const RSA2_PRIVATE: &str = include_str!("../fixtures/rsa2_private.pem");
pub const RSA2_PUBLIC: &str = include_str!("../fixtures/rsa2_public.pem");
pub const RSA1024_PUBLIC: &str = include_str!("../fixtures/rsa1024_public.pem");
pub const EC256_PRIVATE: &str = include_str!("../fixtures/ec256_private.pem");
pub const EC256_PUBLIC: &str = include_str!("../fixtures/ec256_public.pem");
pub const EC384_PRIVATE: &str = include_str!("../fixtures/ec384_private.pem");
pub const EC384_PUBLIC: &str = include_str!("../fixtures/ec384_public.pem");
pub const ED25519_PRIVATE: &str = include_str!("../fixtures/ed25519_private.pem");
pub const ED25519_PUBLIC: &str = include_str!("../fixtures/ed25519_public.pem");
pub const SECP256K1_PUBLIC: &str = include_str!("../fixtures/secp256k1_public.pem");
pub const JWKS: &str = include_str!("../fixtures/jwks.json");
pub const INTEROP_TOKENS: &str = include_str!("../fixtures/interop_tokens.json");

/// 64 bytes: strong for every HS algorithm.
pub const HMAC_SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A fixed "now" for claim checks.
pub const NOW: i64 = 1_700_000_000;

/// The private key (or secret) that signs for `alg` in these tests.
pub fn signing_key(alg: Algorithm) -> EncodingKey {
    let pem = |p: &str| p.as_bytes().to_vec();
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            Ok(EncodingKey::from_secret(HMAC_SECRET.as_bytes()))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => EncodingKey::from_rsa_pem(&pem(RSA_PRIVATE)),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&pem(EC256_PRIVATE)),
        Algorithm::ES384 => EncodingKey::from_ec_pem(&pem(EC384_PRIVATE)),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem(ED25519_PRIVATE)),
    };
    key.unwrap()
}

/// The public key (or secret) that verifies what [`signing_key`] signs, installed as `kid`.
pub fn verification_key(kid: &str, alg: Algorithm) -> VerificationKey {
    let (format, material) = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => (KeyFormat::Secret, HMAC_SECRET),
        Algorithm::ES256 => (KeyFormat::Pem, EC256_PUBLIC),
        Algorithm::ES384 => (KeyFormat::Pem, EC384_PUBLIC),
        Algorithm::EdDSA => (KeyFormat::Pem, ED25519_PUBLIC),
        _ => (KeyFormat::Pem, RSA_PUBLIC),
    };
    VerificationKey::new(kid, alg, format, material).unwrap()
}

pub fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.as_str().parse().unwrap()
}

/// A token signed by jsonwebtoken.
pub fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    sign_with(alg, kid, claims, &signing_key(alg))
}

pub fn sign_with(alg: Algorithm, kid: Option<&str>, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(jwt_alg(alg));
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token built by hand from raw header and payload text, signed with `key` for `alg`:
/// for payloads serde would never produce (duplicates, deep nesting, non-objects).
pub fn sign_raw(alg: Algorithm, header: &str, payload: &str, key: &EncodingKey) -> String {
    let signing_input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), key, jwt_alg(alg)).unwrap();
    format!("{signing_input}.{signature}")
}

pub fn hs256_raw(header: &str, payload: &str) -> String {
    sign_raw(
        Algorithm::HS256,
        header,
        payload,
        &signing_key(Algorithm::HS256),
    )
}

pub fn hs256_key() -> VerificationKey {
    verification_key("hs", Algorithm::HS256)
}
