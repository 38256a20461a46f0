//! JWT verification. jsonwebtoken checks signatures and nothing else; token parsing, key
//! selection and every claim check are done here so each refusal gets a precise message.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::{CoreError, TokenError};
use crate::hmac_verifier::HmacVerifier;
use crate::json;
use crate::jwk::parse_jwk;
use crate::key_material::{self, ParsedKey};
use crate::limits::{MAX_CLAIMS_BYTES, MAX_SUBJECT_BYTES, MAX_TOKEN_BYTES};

/// With no `kid` in the header, at most this many keys of the token's algorithm are tried, so
/// a token cannot make one call cost an unbounded number of signature checks.
const MAX_KEYS_TRIED: usize = 16;

/// Longest accepted key material, in bytes (a 16384-bit RSA PEM is under 4 KiB).
const MAX_MATERIAL_BYTES: usize = 65536;

/// Longest accepted key id, in bytes.
const MAX_KID_BYTES: usize = 256;

impl FromStr for Algorithm {
    type Err = CoreError;

    /// Exact JOSE names only. Any spelling of "none" gets its own error, since it is the
    /// classic attack rather than a typo.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Err(TokenError::Unsigned.into());
        }
        Algorithm::ALL
            .into_iter()
            .find(|alg| alg.as_str() == s)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(truncated(s)).into())
    }
}

/// How key material is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// An HMAC secret, used as its raw UTF-8 bytes.
    Secret,
    /// A PEM public key.
    Pem,
    /// A JWK (JSON).
    Jwk,
}

impl KeyFormat {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyFormat::Secret => "secret",
            KeyFormat::Pem => "pem",
            KeyFormat::Jwk => "jwk",
        }
    }
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyFormat {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [KeyFormat::Secret, KeyFormat::Pem, KeyFormat::Jwk]
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                CoreError::invalid_argument(format!(
                    "unknown key format \"{}\"",
                    crate::error::quote(s)
                ))
                .with_hint("Use secret, pem or jwk")
            })
    }
}

/// What a key is valid for: the issuer whose tokens it verifies, the audiences it accepts and
/// the tenants its tokens may resolve to. `None` is unrestricted (the global settings
/// `boards.jwt_issuer` / `boards.jwt_audience` still apply to every key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyBinding {
    pub issuer: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub tenants: Option<Vec<Uuid>>,
}

/// A key's identity: `kid` is unique only per issuer (two providers may publish the same one).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyId {
    pub issuer: Option<String>,
    pub kid: String,
}

/// Separates issuer and kid in [`KeyId::encode`]: a kid has no control characters, so the
/// last separator is always the boundary.
const KEY_ID_SEPARATOR: char = '\u{1f}';

impl KeyId {
    /// One string naming the key unambiguously (it travels in the tenant context): the bare
    /// kid for an unbound key, as contexts written before issuer binding hold.
    pub fn encode(&self) -> String {
        match &self.issuer {
            None => self.kid.clone(),
            Some(issuer) => format!("{issuer}{KEY_ID_SEPARATOR}{}", self.kid),
        }
    }

    pub fn decode(encoded: &str) -> KeyId {
        match encoded.rsplit_once(KEY_ID_SEPARATOR) {
            Some((issuer, kid)) => KeyId {
                issuer: Some(issuer.to_owned()),
                kid: kid.to_owned(),
            },
            None => KeyId {
                issuer: None,
                kid: encoded.to_owned(),
            },
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.issuer {
            None => write!(f, "\"{}\"", self.kid),
            Some(issuer) => write!(f, "\"{}\" of issuer \"{issuer}\"", self.kid),
        }
    }
}

/// An installed key: checked once here, then used for every verification.
#[derive(Clone)]
pub struct VerificationKey {
    kid: String,
    alg: Algorithm,
    format: KeyFormat,
    key: DecodingKey,
    /// For an HMAC key, its keyed state, prepared once (`hmac_verifier.rs`).
    hmac: Option<HmacVerifier>,
    secret_len: Option<usize>,
    material_len: usize,
    binding: KeyBinding,
}

impl fmt::Debug for VerificationKey {
    // No key bytes: Debug output ends up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("format", &self.format)
            .field("binding", &self.binding)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// material: HMAC secret (raw UTF-8 bytes) for HS*; a PEM *public* key for RS/PS/ES/EdDSA
    /// (SPKI "PUBLIC KEY", also PKCS#1 "RSA PUBLIC KEY"); or a JWK. Refused (InvalidArgument):
    /// empty kid or material, a PEM private key, an HMAC secret that looks like a public key
    /// (the HS/RS confusion attack), an EC key on the wrong curve, an RSA key under 2048 bits.
    pub fn new(
        kid: &str,
        alg: Algorithm,
        format: KeyFormat,
        material: &str,
    ) -> Result<Self, CoreError> {
        check_kid(kid)?;
        if material.is_empty() {
            return Err(CoreError::invalid_argument(
                "key material must not be empty",
            ));
        }
        if material.len() > MAX_MATERIAL_BYTES {
            return Err(CoreError::invalid_argument(format!(
                "key material is too large ({} bytes; the limit is {MAX_MATERIAL_BYTES})",
                material.len()
            )));
        }
        let ParsedKey {
            decoding,
            secret_len,
        } = match (format, alg.family()) {
            (KeyFormat::Secret, KeyFamily::Hmac) => key_material::from_secret(alg, material)?,
            (KeyFormat::Secret, _) => {
                return Err(CoreError::invalid_argument(format!(
                    "{alg} needs a public key (PEM or JWK), not a secret"
                )))
            }
            (KeyFormat::Pem, _) => key_material::from_pem(alg, material)?,
            (KeyFormat::Jwk, _) => jwk_key(alg, material)?,
        };
        let hmac = decoding
            .try_get_hmac_secret()
            .ok()
            .and_then(|secret| HmacVerifier::new(alg, secret));
        Ok(VerificationKey {
            kid: kid.to_owned(),
            alg,
            format,
            key: decoding,
            hmac,
            secret_len,
            material_len: material.len(),
            binding: KeyBinding::default(),
        })
    }

    /// The same key, valid only as `binding` says.
    pub fn bound(mut self, binding: KeyBinding) -> Self {
        self.binding = binding;
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn binding(&self) -> &KeyBinding {
        &self.binding
    }

    pub fn id(&self) -> KeyId {
        KeyId {
            issuer: self.binding.issuer.clone(),
            kid: self.kid.clone(),
        }
    }

    /// Whether a token claiming issuer `iss` may be verified with this key.
    fn serves_issuer(&self, iss: Option<&str>) -> bool {
        match &self.binding.issuer {
            None => true,
            Some(bound) => iss == Some(bound.as_str()),
        }
    }

    /// What the key takes in memory, roughly: its id and (a multiple of) its material.
    pub fn approximate_bytes(&self) -> usize {
        let binding = self.binding.issuer.as_ref().map_or(0, String::len)
            + self
                .binding
                .audiences
                .iter()
                .flatten()
                .map(String::len)
                .sum::<usize>()
            + self.binding.tenants.as_ref().map_or(0, Vec::len) * 16;
        self.kid
            .len()
            .saturating_add(binding)
            .saturating_add(self.material_len.saturating_mul(2))
            .saturating_add(256)
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// An HMAC secret shorter than the hash output (32/48/64 bytes); always false for
    /// public keys.
    pub fn weak_secret(&self) -> bool {
        match (self.secret_len, self.alg.hmac_output_bytes()) {
            (Some(len), Some(min)) => len < min,
            _ => false,
        }
    }

    fn verifies(&self, signing_input: &str, signature_b64: &str) -> bool {
        if let Some(hmac) = &self.hmac {
            return hmac.verifies(signing_input.as_bytes(), signature_b64);
        }
        // Err means the key could not be used for this algorithm: not a valid signature.
        jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input.as_bytes(),
            &self.key,
            self.alg.to_jsonwebtoken(),
        )
        .unwrap_or(false)
    }
}

fn check_kid(kid: &str) -> Result<(), CoreError> {
    if kid.is_empty() {
        return Err(CoreError::invalid_argument(
            "key id (kid) must not be empty",
        ));
    }
    if kid.len() > MAX_KID_BYTES {
        return Err(CoreError::invalid_argument(format!(
            "key id (kid) is longer than {MAX_KID_BYTES} bytes"
        )));
    }
    if kid.chars().any(char::is_control) {
        return Err(CoreError::invalid_argument(
            "key id (kid) must not contain control characters",
        ));
    }
    Ok(())
}

fn jwk_key(alg: Algorithm, material: &str) -> Result<ParsedKey, CoreError> {
    let obj = json::parse_strict_object(material.as_bytes())
        .map_err(|e| CoreError::invalid_argument(format!("JWK is not a JSON object: {e}")))?;
    let jwk = parse_jwk(&obj)?;
    if let Some(jwk_alg) = &jwk.alg {
        if jwk_alg != alg.as_str() {
            return Err(CoreError::invalid_argument(format!(
                "JWK is for \"{}\", not {alg}",
                crate::error::quote(jwk_alg)
            )));
        }
    }
    if jwk.key.family() != alg.family() {
        // An RSA JWK installed for HS256 is the algorithm confusion attack.
        return Err(CoreError::invalid_argument(format!(
            "{alg} cannot use a JWK of key type \"{}\"",
            jwk.key.kty()
        )));
    }
    key_material::from_jwk(alg, &jwk.key)
}

/// "sha256:" and the first 16 hex digits of the SHA-256 of the (trimmed) material: enough to
/// tell keys apart in a listing. Only for public keys: a hash of a short secret could be
/// brute-forced.
pub fn fingerprint(material: &str) -> String {
    let digest = Sha256::digest(material.trim().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The protected header, as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHeader {
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// The three base64url parts of a compact JWS, borrowed from the token.
struct TokenParts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    signing_input: &'a str,
}

fn malformed(reason: impl Into<String>) -> CoreError {
    TokenError::Malformed(reason.into()).into()
}

fn split_token(token: &str) -> Result<TokenParts<'_>, CoreError> {
    let (signing_input, signature) = token.rsplit_once('.').unwrap_or((token, ""));
    let dots = token.matches('.').count();
    let header_payload = signing_input.split_once('.');
    match header_payload {
        Some((header, payload)) if dots == 2 => Ok(TokenParts {
            header,
            payload,
            signature,
            signing_input,
        }),
        _ => Err(malformed(format!(
            "expected 3 dot-separated parts (header.payload.signature), found {}",
            dots.saturating_add(1)
        ))),
    }
}

fn b64_part(part: &str, name: &str) -> Result<Vec<u8>, CoreError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(format!("{name} is not valid base64url")))
}

/// Reads the header. The size limit is checked before anything else is parsed.
pub fn decode_header(token: &str) -> Result<TokenHeader, CoreError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge(token.len()).into());
    }
    if token.is_empty() {
        return Err(malformed("the token is empty"));
    }
    if token.starts_with("Bearer ") || token.starts_with("bearer ") {
        return Err(malformed("remove the \"Bearer \" prefix"));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(malformed(
            "the token contains whitespace or control characters",
        ));
    }
    let parts = split_token(token)?;
    let header = json::parse_strict_object(&b64_part(parts.header, "header")?)
        .map_err(|e| malformed(format!("header is not a JSON object: {e}")))?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        None | Some(Value::Null) => return Err(malformed("header has no \"alg\"")),
        Some(_) => return Err(malformed("header \"alg\" must be a string")),
    };
    // RFC 7515 4.1.11: extensions listed in "crit" must be understood; we support none.
    if header.contains_key("crit") {
        return Err(TokenError::CriticalHeader.into());
    }
    Ok(TokenHeader {
        alg,
        kid: header_string(&header, "kid")?,
        typ: header_string(&header, "typ")?,
    })
}

fn header_string(header: &Map<String, Value>, name: &str) -> Result<Option<String>, CoreError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(format!("header \"{name}\" must be a string"))),
    }
}

/// Which claims are acceptable; empty `issuers` / `audiences` are not checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    pub leeway_secs: u64,
    pub issuers: Vec<String>,
    pub audiences: Vec<String>,
    pub require_exp: bool,
}

/// A token whose signature verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// Shared: the verified-token cache hands out the verification, and the context set from
    /// it keeps the same claims (`Context::claims`).
    pub claims: Arc<Map<String, Value>>,
    pub subject: String,
    /// The key that verified the signature.
    pub key: KeyId,
    /// The tenants that key restricts its tokens to (None: any).
    pub tenants: Option<Vec<Uuid>>,
    pub alg: Algorithm,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
}

/// Keeps only enough of a token-supplied string for an error message.
fn truncated(s: &str) -> String {
    s.chars().take(65).collect()
}

/// The keys a token may be verified with: those its `kid` names (at least one must be for the
/// token's algorithm; with issuer binding, several issuers may use the same kid), else up to
/// 16 keys of the token's algorithm. Issuers are checked once a signature verifies.
fn candidate_keys<'k>(
    header: &TokenHeader,
    alg: Algorithm,
    keys: &'k [VerificationKey],
) -> Result<Vec<&'k VerificationKey>, CoreError> {
    if let Some(kid) = &header.kid {
        let named: Vec<&VerificationKey> = keys.iter().filter(|k| k.kid == *kid).collect();
        let Some(first) = named.first().copied() else {
            return Err(TokenError::UnknownKid(truncated(kid)).into());
        };
        let of_alg: Vec<&VerificationKey> = named.into_iter().filter(|k| k.alg == alg).collect();
        if of_alg.is_empty() {
            return Err(TokenError::AlgorithmMismatch {
                token_alg: alg,
                kid: first.kid.clone(),
                key_alg: first.alg,
            }
            .into());
        }
        return Ok(of_alg);
    }
    let keys: Vec<&VerificationKey> = keys
        .iter()
        .filter(|k| k.alg == alg)
        .take(MAX_KEYS_TRIED)
        .collect();
    if keys.is_empty() {
        return Err(TokenError::NoKeyForAlgorithm(alg).into());
    }
    Ok(keys)
}

fn parse_claims(payload: &[u8]) -> Result<Map<String, Value>, CoreError> {
    match json::parse_strict(payload) {
        Ok(Value::Object(claims)) => Ok(claims),
        Ok(_) => Err(TokenError::ClaimsNotObject.into()),
        Err(e) => Err(malformed(format!("payload is not valid JSON: {e}"))),
    }
}

fn issuer_claim(claims: &Map<String, Value>) -> Option<&str> {
    match claims.get("iss") {
        Some(Value::String(iss)) => Some(iss.as_str()),
        _ => None,
    }
}

/// Whether the token's `aud` (a string or an array of strings) names one of `accepted`.
fn audience_accepted(claims: &Map<String, Value>, accepted: &[String]) -> bool {
    let one = |aud: &Value| matches!(aud, Value::String(a) if accepted.contains(a));
    match claims.get("aud") {
        Some(Value::Array(auds)) => auds.iter().any(one),
        Some(aud) => one(aud),
        None => false,
    }
}

/// Signature only: picks the key, refuses "none" and algorithm mismatches, checks the
/// signature, then parses the claims (a JSON object, strict, nesting capped), requires the
/// verifying key to be bound to the token's `iss` (or to no issuer) and its audiences to
/// match, and requires a non-empty string `sub`. Claims are not looked at before a signature
/// verifies: a token signed by provider A's key that names provider B as its issuer is
/// refused even when both publish the same kid.
pub fn verify_signature(token: &str, keys: &[VerificationKey]) -> Result<VerifiedToken, CoreError> {
    let header = decode_header(token)?;
    let alg: Algorithm = header.alg.parse()?;
    let parts = split_token(token)?;
    b64_part(parts.signature, "signature")?;
    let mut signed: Option<(Vec<u8>, Map<String, Value>)> = None;
    let mut chosen = None;
    for key in candidate_keys(&header, alg, keys)? {
        if !key.verifies(parts.signing_input, parts.signature) {
            continue;
        }
        if signed.is_none() {
            let payload = b64_part(parts.payload, "payload")?;
            let claims = parse_claims(&payload)?;
            signed = Some((payload, claims));
        }
        let serves = signed
            .as_ref()
            .is_some_and(|(_, claims)| key.serves_issuer(issuer_claim(claims)));
        if serves {
            chosen = Some(key);
            break;
        }
    }
    let (payload, claims, key) = match (signed, chosen) {
        (Some((payload, claims)), Some(key)) => (payload, claims, key),
        // A signature verified, but only with keys bound to other issuers.
        (Some(_), None) => return Err(TokenError::BadIssuer.into()),
        (None, _) => return Err(TokenError::BadSignature.into()),
    };
    if let Some(audiences) = &key.binding.audiences {
        if !audience_accepted(&claims, audiences) {
            return Err(TokenError::BadAudience.into());
        }
    }

    // Checked once the claims parse (a malformed payload keeps its own error): well-formed
    // claims beyond the limit are a bad argument, whoever signed them.
    if payload.len() > MAX_CLAIMS_BYTES {
        return Err(CoreError::invalid_argument(format!(
            "the token's claims are too large ({} bytes; the limit is {MAX_CLAIMS_BYTES})",
            payload.len()
        )));
    }
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if sub.len() > MAX_SUBJECT_BYTES => {
            return Err(CoreError::invalid_argument(format!(
                "the token's subject (sub) is too long ({} bytes; the limit is {MAX_SUBJECT_BYTES})",
                sub.len()
            )))
        }
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(TokenError::NoSubject.into())
        }
        Some(other) => return Err(claim_type_error("sub", "a string", other)),
    };
    let (exp, nbf) = validity_window(&claims)?;
    Ok(VerifiedToken {
        subject,
        key: key.id(),
        tenants: key.binding.tenants.clone(),
        alg,
        exp,
        nbf,
        claims: Arc::new(claims),
    })
}

fn claim_type_error(claim: &str, expected: &str, got: &Value) -> CoreError {
    TokenError::InvalidClaim {
        claim: claim.to_owned(),
        reason: format!("must be {expected}, not {}", json::type_name(got)),
    }
    .into()
}

/// A NumericDate claim (seconds since 1970, possibly fractional); absent is None, any other
/// type is an error (a string "exp" must not silently mean "never expires").
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, CoreError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(other) => Err(claim_type_error(name, "a number", other)),
    }
}

/// `exp` rounded down and `nbf` rounded up (fractional NumericDates are legal; rounding this
/// way can only shorten a token's validity). `as` saturates, and the values are finite since
/// JSON has no NaN or infinity.
fn validity_window(claims: &Map<String, Value>) -> Result<(Option<i64>, Option<i64>), CoreError> {
    let exp = numeric_date(claims, "exp")?.map(|v| v.floor() as i64);
    let nbf = numeric_date(claims, "nbf")?.map(|v| v.ceil() as i64);
    Ok((exp, nbf))
}

/// Claims that depend on the clock and settings, re-run on every use (also for cached
/// tokens). A token is expired once `now >= exp + leeway` (RFC 7519: now must be before exp)
/// and not yet valid while `now < nbf - leeway`.
pub fn check_claims(
    token: &VerifiedToken,
    opts: &VerifyOptions,
    now_unix: i64,
) -> Result<(), CoreError> {
    let claims = &token.claims;
    let leeway = i64::try_from(opts.leeway_secs).unwrap_or(i64::MAX);
    let (exp, nbf) = validity_window(claims)?;
    match exp {
        Some(exp) if now_unix >= exp.saturating_add(leeway) => {
            return Err(TokenError::Expired.into())
        }
        None if opts.require_exp => return Err(TokenError::MissingExpiry.into()),
        _ => {}
    }
    if let Some(nbf) = nbf {
        if now_unix < nbf.saturating_sub(leeway) {
            return Err(TokenError::NotYetValid.into());
        }
    }
    if !opts.issuers.is_empty() {
        let accepted =
            matches!(claims.get("iss"), Some(Value::String(iss)) if opts.issuers.contains(iss));
        if !accepted {
            return Err(TokenError::BadIssuer.into());
        }
    }
    if !opts.audiences.is_empty() && !audience_accepted(claims, &opts.audiences) {
        return Err(TokenError::BadAudience.into());
    }
    Ok(())
}

/// Whether just-in-time membership may join a tenant created at `tenant_created_unix`
/// (whole seconds, rounded down) with this token: only a token issued in or after the second
/// the tenant was created (`iat`). A token issued before the tenant existed was issued for
/// whatever tenant had its slug then, so it must not follow the slug to a new tenant; a token
/// without `iat` (or with a non-numeric one) cannot show it is newer, so it never joins: fail
/// closed. No leeway: an issuer whose clock runs behind only delays first use by the skew.
pub fn may_join_tenant_created_at(claims: &Map<String, Value>, tenant_created_unix: i64) -> bool {
    let Some(iat) = claims.get("iat").and_then(Value::as_f64) else {
        return false;
    };
    // `as` saturates; JSON has no NaN or infinity.
    iat.floor() as i64 >= tenant_created_unix
}

/// [`verify_signature`] then [`check_claims`].
pub fn verify(
    token: &str,
    keys: &[VerificationKey],
    opts: &VerifyOptions,
    now_unix: i64,
) -> Result<VerifiedToken, CoreError> {
    let verified = verify_signature(token, keys)?;
    check_claims(&verified, opts, now_unix)?;
    Ok(verified)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.as_str().parse::<Algorithm>().unwrap(), alg);
        }
    }

    #[test]
    fn every_spelling_of_none_is_the_unsigned_error() {
        for s in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(
                s.parse::<Algorithm>().unwrap_err(),
                CoreError::Token(TokenError::Unsigned)
            );
        }
    }

    #[test]
    fn algorithm_names_are_exact() {
        for s in ["hs256", "ES512", "Ed25519", "RS256 ", ""] {
            let err = s.parse::<Algorithm>().unwrap_err();
            assert!(
                err.to_string().starts_with("unsupported token algorithm"),
                "{err}"
            );
        }
    }

    #[test]
    fn families() {
        assert_eq!(Algorithm::HS384.family(), KeyFamily::Hmac);
        assert_eq!(Algorithm::PS512.family(), KeyFamily::Rsa);
        assert_eq!(Algorithm::ES384.family(), KeyFamily::Ec);
        assert_eq!(Algorithm::EdDSA.family(), KeyFamily::Okp);
    }

    #[test]
    fn key_formats_parse() {
        assert_eq!("pem".parse::<KeyFormat>().unwrap(), KeyFormat::Pem);
        assert_eq!("JWK".parse::<KeyFormat>().unwrap(), KeyFormat::Jwk);
        assert_eq!(KeyFormat::Secret.as_str(), "secret");
        assert!("der".parse::<KeyFormat>().is_err());
    }

    #[test]
    fn weak_secret_depends_on_the_hash_size() {
        let k = VerificationKey::new("k", Algorithm::HS256, KeyFormat::Secret, &"s".repeat(32))
            .unwrap();
        assert!(!k.weak_secret());
        let k = VerificationKey::new("k", Algorithm::HS384, KeyFormat::Secret, &"s".repeat(32))
            .unwrap();
        assert!(k.weak_secret());
        let k = VerificationKey::new("k", Algorithm::HS512, KeyFormat::Secret, &"s".repeat(64))
            .unwrap();
        assert!(!k.weak_secret());
    }

    #[test]
    fn refuses_bad_kids_and_empty_material() {
        for kid in ["", "a\nb", &"k".repeat(257)] {
            assert!(
                VerificationKey::new(kid, Algorithm::HS256, KeyFormat::Secret, "secret").is_err()
            );
        }
        assert!(VerificationKey::new("k", Algorithm::HS256, KeyFormat::Secret, "").is_err());
    }

    #[test]
    fn debug_output_hides_key_bytes() {
        let k = VerificationKey::new("k1", Algorithm::HS256, KeyFormat::Secret, "topsecretvalue")
            .unwrap();
        let debug = format!("{k:?}");
        assert!(debug.contains("k1"));
        assert!(!debug.contains("topsecretvalue"));
    }

    #[test]
    fn fingerprint_is_short_and_stable() {
        let fp = fingerprint("abc\n");
        assert_eq!(fp, fingerprint("abc"));
        assert_eq!(fp, "sha256:ba7816bf8f01cfea");
    }

    #[test]
    fn split_requires_exactly_three_parts() {
        assert!(split_token("a.b.c").is_ok());
        assert!(split_token("a.b.").is_ok());
        for t in ["abc", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert!(split_token(t).is_err(), "{t}");
        }
    }
}
