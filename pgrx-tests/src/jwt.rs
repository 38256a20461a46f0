//! Test tokens: JWTs signed with the fixture keys in `fixtures/keys/`.
//!
//! The keys are embedded with `include_str!`, so tests work from any working directory. Every
//! supported algorithm has a primary key (what [`install_test_keys`] installs) and an "other"
//! key of the same family, for tokens that must not verify because they were re-signed.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The algorithms the extension supports, as they are spelled in a JWT header.
pub const ALGORITHMS: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "EdDSA",
];

/// One key pair; for HMAC both halves are the shared secret.
struct KeyPair {
    private: &'static str,
    public: &'static str,
}

macro_rules! key_pair {
    ($name:literal) => {
        KeyPair {
            private: include_str!(concat!("../fixtures/keys/", $name, "_private.pem")),
            public: include_str!(concat!("../fixtures/keys/", $name, "_public.pem")),
        }
    };
}

const HMAC_SECRET: &str = include_str!("../fixtures/keys/hmac_secret.txt");
const HMAC_SECRET_OTHER: &str = include_str!("../fixtures/keys/hmac_secret_other.txt");

/// Which fixture key signs tokens of `alg`: the primary set or the "other" set.
fn key_pair(alg: Algorithm, other: bool) -> KeyPair {
    match (alg, other) {
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, false) => KeyPair {
            private: HMAC_SECRET,
            public: HMAC_SECRET,
        },
        (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, true) => KeyPair {
            private: HMAC_SECRET_OTHER,
            public: HMAC_SECRET_OTHER,
        },
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            false,
        ) => key_pair!("rsa"),
        (
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
            true,
        ) => key_pair!("rsa_other"),
        (Algorithm::ES256, false) => key_pair!("ec256"),
        (Algorithm::ES256, true) => key_pair!("ec256_other"),
        (Algorithm::ES384, false) => key_pair!("ec384"),
        (Algorithm::ES384, true) => key_pair!("ec384_other"),
        (Algorithm::EdDSA, false) => key_pair!("ed25519"),
        (Algorithm::EdDSA, true) => key_pair!("ed25519_other"),
    }
}

fn parse_alg(alg: &str) -> Algorithm {
    alg.parse()
        .unwrap_or_else(|e| panic!("unknown JWT algorithm {alg:?}: {e}"))
}

fn sign(alg: &str, kid: &str, claims: &serde_json::Value, other: bool) -> String {
    let algorithm = parse_alg(alg);
    let pair = key_pair(algorithm, other);
    let pem = pair.private.as_bytes();
    let key = match algorithm.family() {
        jsonwebtoken::AlgorithmFamily::Hmac => Ok(EncodingKey::from_secret(pem)),
        jsonwebtoken::AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem),
        jsonwebtoken::AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem),
        jsonwebtoken::AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem),
    }
    .unwrap_or_else(|e| panic!("fixture key for {alg} does not load: {e}"));
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key)
        .unwrap_or_else(|e| panic!("signing a {alg} test token failed: {e}"))
}

/// A token for `claims`, signed with the fixture key of `alg`'s family (HS*, RS*/PS*, ES256,
/// ES384, EdDSA), with `kid` in its header.
pub fn mint(alg: &str, kid: &str, claims: &serde_json::Value) -> String {
    sign(alg, kid, claims, false)
}

/// Like [`mint`], but signed with a different key of the same family (second RSA key, other
/// HMAC secret, ...): a token that must not verify against the installed test keys.
pub fn mint_with_other_key(alg: &str, kid: &str, claims: &serde_json::Value) -> String {
    sign(alg, kid, claims, true)
}

/// What `boards_jwt_add_key` expects for `alg`: the HMAC secret, or the public key as PEM.
pub fn verification_material(alg: &str) -> String {
    key_pair(parse_alg(alg), false).public.to_owned()
}

/// The verification material of the key [`mint_with_other_key`] signs with (key rotation tests).
pub fn other_verification_material(alg: &str) -> String {
    key_pair(parse_alg(alg), true).public.to_owned()
}

/// The shared secret of the HS* test key.
pub fn hmac_secret() -> &'static str {
    HMAC_SECRET
}

/// Seconds since the epoch, for `iat`/`exp`/`nbf` claims.
pub fn now() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("system clock is before 1970: {e}"));
    i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
}

/// The kid under which [`install_test_keys`] installs the key of `alg`: `test-<alg lowercase>`.
pub fn test_kid(alg: &str) -> String {
    format!("test-{}", alg.to_lowercase())
}

/// Installs one key per supported algorithm, kid = [`test_kid`], via
/// `SELECT boards_jwt_add_key(kid, alg, material)` as the given (admin or superuser) client.
pub fn install_test_keys(client: &mut postgres::Client) {
    for alg in ALGORITHMS {
        let kid = test_kid(alg);
        let material = verification_material(alg);
        client
            .execute(
                "SELECT boards_jwt_add_key($1, $2, $3)",
                &[&kid, alg, &material],
            )
            .unwrap_or_else(|e| panic!("installing test key {kid} ({alg}) failed: {e}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    fn decoding_key(alg: &str, material: &str) -> DecodingKey {
        let bytes = material.as_bytes();
        match parse_alg(alg).family() {
            jsonwebtoken::AlgorithmFamily::Hmac => Ok(DecodingKey::from_secret(bytes)),
            jsonwebtoken::AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(bytes),
            jsonwebtoken::AlgorithmFamily::Ec => DecodingKey::from_ec_pem(bytes),
            jsonwebtoken::AlgorithmFamily::Ed => DecodingKey::from_ed_pem(bytes),
        }
        .unwrap_or_else(|e| panic!("verification material of {alg} does not load: {e}"))
    }

    fn verify(alg: &str, token: &str, material: &str) -> Result<serde_json::Value, String> {
        let mut validation = Validation::new(parse_alg(alg));
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(token, &decoding_key(alg, material), &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_algorithm_round_trips_with_its_verification_material() {
        let claims = serde_json::json!({"sub": "alice", "tenant": "acme", "iat": now()});
        for alg in ALGORITHMS {
            let token = mint(alg, &test_kid(alg), &claims);
            let header = jsonwebtoken::decode_header(&token).expect("header decodes");
            assert_eq!(header.kid.as_deref(), Some(test_kid(alg).as_str()));
            assert_eq!(format!("{:?}", header.alg), *alg);
            assert_eq!(
                verify(alg, &token, &verification_material(alg)),
                Ok(claims.clone())
            );
        }
    }

    #[test]
    fn other_key_tokens_do_not_verify_with_the_test_keys() {
        let claims = serde_json::json!({"sub": "mallory"});
        for alg in ALGORITHMS {
            let token = mint_with_other_key(alg, &test_kid(alg), &claims);
            assert!(
                verify(alg, &token, &verification_material(alg)).is_err(),
                "{alg}: a token signed with the other key verified"
            );
            assert_eq!(
                verify(alg, &token, &other_verification_material(alg)),
                Ok(claims.clone())
            );
        }
    }

    #[test]
    fn hmac_secret_is_64_hex_chars_and_public_material_is_pem() {
        assert_eq!(hmac_secret().len(), 64);
        assert!(hmac_secret().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(hmac_secret(), other_verification_material("HS256"));
        for alg in ALGORITHMS.iter().filter(|a| !a.starts_with("HS")) {
            let material = verification_material(alg);
            assert!(material.starts_with("-----BEGIN PUBLIC KEY-----"), "{alg}");
        }
    }
}
