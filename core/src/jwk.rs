//! One JSON Web Key (RFC 7517): reading its members and refusing keys that must never be
//! installed (encryption keys, private keys, unknown key types).

use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, KeyFamily};
use crate::error::{quote, CoreError};

/// Members that only private (or symmetric) keys carry; a JWKS is public, so an asymmetric
/// JWK with any of these was published by mistake and must not be installed.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The key material of a JWK, base64url members still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicJwk {
    Rsa { n: String, e: String },
    Ec { crv: String, x: String, y: String },
    Okp { crv: String, x: String },
    Oct { k: String },
}

/// A checked JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Jwk {
    pub key: PublicJwk,
    pub kid: Option<String>,
    pub alg: Option<String>,
}

impl PublicJwk {
    pub fn family(&self) -> KeyFamily {
        match self {
            PublicJwk::Rsa { .. } => KeyFamily::Rsa,
            PublicJwk::Ec { .. } => KeyFamily::Ec,
            PublicJwk::Okp { .. } => KeyFamily::Okp,
            PublicJwk::Oct { .. } => KeyFamily::Hmac,
        }
    }

    pub fn kty(&self) -> &'static str {
        match self {
            PublicJwk::Rsa { .. } => "RSA",
            PublicJwk::Ec { .. } => "EC",
            PublicJwk::Okp { .. } => "OKP",
            PublicJwk::Oct { .. } => "oct",
        }
    }

    /// The algorithm a JWK without `alg` is used with; None for curves we do not verify.
    pub fn inferred_alg(&self) -> Option<Algorithm> {
        match self {
            PublicJwk::Rsa { .. } => Some(Algorithm::RS256),
            PublicJwk::Ec { crv, .. } if crv == "P-256" => Some(Algorithm::ES256),
            PublicJwk::Ec { crv, .. } if crv == "P-384" => Some(Algorithm::ES384),
            PublicJwk::Okp { crv, .. } if crv == "Ed25519" => Some(Algorithm::EdDSA),
            PublicJwk::Oct { .. } => Some(Algorithm::HS256),
            PublicJwk::Ec { .. } | PublicJwk::Okp { .. } => None,
        }
    }

    /// The JWK as stored: only the members verification needs plus kid and alg, in
    /// lexicographic order (as RFC 7638 orders them), so the same key always reads the same.
    pub fn canonical(&self, kid: &str, alg: Algorithm) -> String {
        let mut members: Vec<(&str, &str)> =
            vec![("alg", alg.as_str()), ("kid", kid), ("kty", self.kty())];
        match self {
            PublicJwk::Rsa { n, e } => members.extend([("e", e.as_str()), ("n", n.as_str())]),
            PublicJwk::Ec { crv, x, y } => {
                members.extend([("crv", crv.as_str()), ("x", x.as_str()), ("y", y.as_str())]);
            }
            PublicJwk::Okp { crv, x } => members.extend([("crv", crv.as_str()), ("x", x.as_str())]),
            PublicJwk::Oct { k } => members.push(("k", k.as_str())),
        }
        members.sort_by(|a, b| a.0.cmp(b.0));
        let mut map = Map::new();
        for (name, value) in members {
            map.insert(name.to_owned(), Value::String(value.to_owned()));
        }
        Value::Object(map).to_string()
    }
}

/// Reads and checks one JWK object.
pub(crate) fn parse_jwk(obj: &Map<String, Value>) -> Result<Jwk, CoreError> {
    let kid = optional_string(obj, "kid")?;
    let alg = optional_string(obj, "alg")?;
    if let Some(usage) = optional_string(obj, "use")? {
        if usage != "sig" {
            return Err(bad_jwk(format!(
                "JWK is for \"use\": \"{}\", not for signatures",
                quote(&usage)
            )));
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let verifies = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op.as_str() == Some("verify")));
        if !verifies {
            return Err(bad_jwk("JWK \"key_ops\" does not allow \"verify\""));
        }
    }
    let kty = required_string(obj, "kty")?;
    let key = match kty.as_str() {
        "RSA" => PublicJwk::Rsa {
            n: required_string(obj, "n")?,
            e: required_string(obj, "e")?,
        },
        "EC" => PublicJwk::Ec {
            crv: required_string(obj, "crv")?,
            x: required_string(obj, "x")?,
            y: required_string(obj, "y")?,
        },
        "OKP" => PublicJwk::Okp {
            crv: required_string(obj, "crv")?,
            x: required_string(obj, "x")?,
        },
        "oct" => PublicJwk::Oct {
            k: required_string(obj, "k")?,
        },
        other => {
            return Err(bad_jwk(format!(
                "JWK key type \"{}\" is not supported (use RSA, EC, OKP or oct)",
                quote(other)
            )))
        }
    };
    if key.family() != KeyFamily::Hmac {
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(
                bad_jwk(format!("JWK contains the private member \"{member}\""))
                    .with_hint("Install only the public key"),
            );
        }
    }
    Ok(Jwk { key, kid, alg })
}

fn bad_jwk(message: impl Into<String>) -> CoreError {
    CoreError::invalid_argument(message)
}

fn optional_string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, CoreError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(bad_jwk(format!(
            "JWK member \"{name}\" must be a string, not {}",
            crate::json::type_name(other)
        ))),
    }
}

fn required_string(obj: &Map<String, Value>, name: &str) -> Result<String, CoreError> {
    match optional_string(obj, name)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(bad_jwk(format!("JWK has no \"{name}\""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test literal is an object"),
        }
    }

    #[test]
    fn reads_each_key_type() {
        let rsa = parse_jwk(&obj(json!({"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}))).unwrap();
        assert_eq!(rsa.key.inferred_alg(), Some(Algorithm::RS256));
        assert_eq!(rsa.kid.as_deref(), Some("r"));
        let ec = parse_jwk(&obj(json!({"kty":"EC","crv":"P-384","x":"a","y":"b"}))).unwrap();
        assert_eq!(ec.key.inferred_alg(), Some(Algorithm::ES384));
        let okp = parse_jwk(&obj(json!({"kty":"OKP","crv":"Ed25519","x":"a"}))).unwrap();
        assert_eq!(okp.key.inferred_alg(), Some(Algorithm::EdDSA));
        let oct = parse_jwk(&obj(json!({"kty":"oct","k":"c2VjcmV0"}))).unwrap();
        assert_eq!(oct.key.inferred_alg(), Some(Algorithm::HS256));
        let other_curve = parse_jwk(&obj(json!({"kty":"OKP","crv":"X25519","x":"a"}))).unwrap();
        assert_eq!(other_curve.key.inferred_alg(), None);
    }

    #[test]
    fn refuses_encryption_keys_and_private_members() {
        let enc = json!({"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"});
        assert!(parse_jwk(&obj(enc))
            .unwrap_err()
            .to_string()
            .contains("\"enc\""));
        let private = json!({"kty":"EC","crv":"P-256","x":"a","y":"b","d":"c"});
        let err = parse_jwk(&obj(private)).unwrap_err();
        assert!(err.to_string().contains("private member \"d\""));
        let ops = json!({"kty":"RSA","key_ops":["encrypt"],"n":"AQAB","e":"AQAB"});
        assert!(parse_jwk(&obj(ops)).is_err());
    }

    #[test]
    fn refuses_missing_members_and_unknown_types() {
        assert!(parse_jwk(&obj(json!({"kty":"RSA","n":"AQAB"}))).is_err());
        assert!(parse_jwk(&obj(json!({"kty":"DSA"}))).is_err());
        assert!(parse_jwk(&obj(json!({"n":"AQAB"}))).is_err());
        assert!(parse_jwk(&obj(json!({"kty":"RSA","n":1,"e":"AQAB"}))).is_err());
    }

    #[test]
    fn canonical_form_is_sorted_and_public_only() {
        let jwk = parse_jwk(&obj(
            json!({"kty":"RSA","n":"NN","e":"AQAB","use":"sig","x5c":["..."]}),
        ))
        .unwrap();
        assert_eq!(
            jwk.key.canonical("k1", Algorithm::PS256),
            r#"{"alg":"PS256","e":"AQAB","kid":"k1","kty":"RSA","n":"NN"}"#
        );
    }
}
