//! Turning installed key material (HMAC secret, PEM public key, JWK) into a jsonwebtoken
//! `DecodingKey`. Every key is fully parsed and checked here, at install time, with the
//! RustCrypto crates: jsonwebtoken itself parses lazily on each verification and can panic on
//! some malformed keys (e.g. a short Ed25519 key), so it only ever sees keys that passed.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use ed25519_dalek::VerifyingKey as Ed25519Key;
use jsonwebtoken::DecodingKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::{quote, CoreError};
use crate::jwk::PublicJwk;

/// Smallest RSA modulus accepted (NIST SP 800-131A).
const MIN_RSA_BITS: usize = 2048;

/// JWK members are base64url; some publishers pad them, which is harmless in key material.
const B64URL_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A checked key, ready for jsonwebtoken.
pub(crate) struct ParsedKey {
    pub decoding: DecodingKey,
    /// HMAC secret length in bytes (None for public keys).
    pub secret_len: Option<usize>,
}

fn bad_key(message: impl Into<String>) -> CoreError {
    CoreError::invalid_argument(message)
}

/// An HMAC secret given as text. Text that looks like a public key is refused: installing a
/// public key as an HMAC secret is exactly what the HS/RS confusion attack needs, since
/// anyone holding the public key could then sign tokens.
pub(crate) fn from_secret(alg: Algorithm, material: &str) -> Result<ParsedKey, CoreError> {
    let trimmed = material.trim_start();
    let looks_public = material.contains("-----BEGIN")
        || trimmed.starts_with('{')
        || ["ssh-", "ecdsa-sha2-"]
            .iter()
            .any(|prefix| trimmed.starts_with(prefix));
    if looks_public {
        return Err(bad_key(format!(
            "{} needs a shared secret, but this looks like a PEM/JWK/SSH key",
            alg.as_str()
        ))
        .with_detail("A public key used as an HMAC secret lets anyone who has it forge tokens")
        .with_hint("Install public keys with an RS/PS/ES/EdDSA algorithm"));
    }
    Ok(hmac_key(material.as_bytes()))
}

fn hmac_key(secret: &[u8]) -> ParsedKey {
    ParsedKey {
        decoding: DecodingKey::from_secret(secret),
        secret_len: Some(secret.len()),
    }
}

/// A PEM public key: SPKI "PUBLIC KEY" for every asymmetric algorithm, PKCS#1
/// "RSA PUBLIC KEY" for RSA.
pub(crate) fn from_pem(alg: Algorithm, material: &str) -> Result<ParsedKey, CoreError> {
    let blocks =
        pem::parse_many(material).map_err(|e| bad_key(format!("key is not valid PEM: {e}")))?;
    let block = match blocks.as_slice() {
        [one] => one,
        [] => return Err(bad_key("key is not valid PEM: no PEM block found")),
        _ => return Err(bad_key("key must be exactly one PEM block")),
    };
    let tag = block.tag();
    let der = block.contents();
    if tag.contains("PRIVATE KEY") {
        return Err(bad_key("this is a private key; install the public key")
            .with_hint("openssl pkey -in private.pem -pubout"));
    }
    if tag == "CERTIFICATE" {
        return Err(bad_key("this is a certificate; install its public key")
            .with_hint("openssl x509 -in cert.pem -pubkey -noout"));
    }
    let spki = match tag {
        "PUBLIC KEY" => true,
        "RSA PUBLIC KEY" if alg.family() == KeyFamily::Rsa => false,
        _ => {
            return Err(bad_key(format!(
                "PEM block \"{}\" is not a public key usable with {}",
                quote(tag),
                alg.as_str()
            )))
        }
    };
    match alg.family() {
        KeyFamily::Rsa => {
            let key = if spki {
                RsaPublicKey::from_public_key_der(der).map_err(|e| e.to_string())
            } else {
                RsaPublicKey::from_pkcs1_der(der).map_err(|e| e.to_string())
            };
            rsa_key(key.map_err(|why| not_this_kind(alg, &why))?)
        }
        KeyFamily::Ec => ec_key_from_spki(alg, der),
        KeyFamily::Okp => {
            let key = Ed25519Key::from_public_key_der(der)
                .map_err(|e| not_this_kind(alg, &e.to_string()))?;
            ed25519_key(key)
        }
        KeyFamily::Hmac => Err(bad_key(format!(
            "{} needs a shared secret, not a PEM key",
            alg.as_str()
        ))),
    }
}

fn not_this_kind(alg: Algorithm, why: &str) -> CoreError {
    let family = match alg.family() {
        KeyFamily::Rsa => "an RSA",
        KeyFamily::Ec => "an EC",
        KeyFamily::Okp => "an Ed25519",
        KeyFamily::Hmac => "an HMAC",
    };
    bad_key(format!("{} needs {family} public key", alg.as_str()))
        .with_detail(crate::error::sanitize(why, 160))
}

fn rsa_key(key: RsaPublicKey) -> Result<ParsedKey, CoreError> {
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(bad_key(format!(
            "RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    Ok(ParsedKey {
        decoding: DecodingKey::from_rsa_raw_components(
            &key.n().to_bytes_be(),
            &key.e().to_bytes_be(),
        ),
        secret_len: None,
    })
}

/// Tries both curves so a mismatch gets a message naming the key's real curve.
fn ec_key_from_spki(alg: Algorithm, der: &[u8]) -> Result<ParsedKey, CoreError> {
    let p256 = p256::PublicKey::from_public_key_der(der).ok();
    let p384 = p384::PublicKey::from_public_key_der(der).ok();
    match (alg, p256, p384) {
        (Algorithm::ES256, Some(key), _) => Ok(ec_key(key.to_encoded_point(false).as_bytes())),
        (Algorithm::ES384, _, Some(key)) => Ok(ec_key(key.to_encoded_point(false).as_bytes())),
        (_, Some(_), _) => Err(curve_mismatch(alg, "P-256")),
        (_, _, Some(_)) => Err(curve_mismatch(alg, "P-384")),
        _ => Err(bad_key(format!(
            "{} needs an EC public key on {}",
            alg.as_str(),
            curve_of(alg)
        ))),
    }
}

fn curve_of(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES384 => "P-384",
        _ => "P-256",
    }
}

fn curve_mismatch(alg: Algorithm, key_curve: &str) -> CoreError {
    bad_key(format!(
        "EC key is on {key_curve}, but {} needs {}",
        alg.as_str(),
        curve_of(alg)
    ))
}

/// `point` is an uncompressed SEC1 point already validated on its curve.
fn ec_key(point: &[u8]) -> ParsedKey {
    ParsedKey {
        decoding: DecodingKey::from_ec_der(point),
        secret_len: None,
    }
}

fn ed25519_key(key: Ed25519Key) -> Result<ParsedKey, CoreError> {
    // Small-order points verify signatures that were never made with a private key.
    if key.is_weak() {
        return Err(bad_key("Ed25519 key is a weak (small-order) point"));
    }
    Ok(ParsedKey {
        decoding: DecodingKey::from_ed_der(key.as_bytes()),
        secret_len: None,
    })
}

/// A checked JWK (see `jwk::parse_jwk`) whose family already matches `alg`.
pub(crate) fn from_jwk(alg: Algorithm, jwk: &PublicJwk) -> Result<ParsedKey, CoreError> {
    match jwk {
        PublicJwk::Rsa { n, e } => {
            let n = BigUint::from_bytes_be(&b64_member("n", n)?);
            let e = BigUint::from_bytes_be(&b64_member("e", e)?);
            let key = RsaPublicKey::new(n, e)
                .map_err(|err| bad_key(format!("RSA JWK is not a usable key: {err}")))?;
            rsa_key(key)
        }
        PublicJwk::Ec { crv, x, y } => {
            if crv != curve_of(alg) {
                return Err(curve_mismatch(alg, &quote(crv)));
            }
            let mut point = vec![0x04];
            point.extend(b64_member("x", x)?);
            point.extend(b64_member("y", y)?);
            let on_curve = match alg {
                Algorithm::ES384 => p384::PublicKey::from_sec1_bytes(&point).is_ok(),
                _ => p256::PublicKey::from_sec1_bytes(&point).is_ok(),
            };
            if !on_curve {
                return Err(bad_key(format!("EC JWK is not a point on {}", quote(crv))));
            }
            Ok(ec_key(&point))
        }
        PublicJwk::Okp { crv, x } => {
            if crv != "Ed25519" {
                return Err(bad_key(format!(
                    "OKP curve \"{}\" is not supported (EdDSA needs Ed25519)",
                    quote(crv)
                )));
            }
            let bytes: [u8; 32] = b64_member("x", x)?
                .try_into()
                .map_err(|_| bad_key("Ed25519 JWK \"x\" must be 32 bytes"))?;
            let key = Ed25519Key::from_bytes(&bytes)
                .map_err(|_| bad_key("Ed25519 JWK \"x\" is not a valid public key"))?;
            ed25519_key(key)
        }
        PublicJwk::Oct { k } => {
            let secret = b64_member("k", k)?;
            if secret.is_empty() {
                return Err(bad_key("oct JWK has an empty \"k\""));
            }
            Ok(hmac_key(&secret))
        }
    }
}

fn b64_member(name: &str, value: &str) -> Result<Vec<u8>, CoreError> {
    B64URL_ANY_PADDING
        .decode(value)
        .map_err(|_| bad_key(format!("JWK member \"{name}\" is not valid base64url")))
}
