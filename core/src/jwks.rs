//! Importing a JWKS document (`{"keys":[...]}`): every key is checked and turned into the
//! canonical JWK that `VerificationKey::new(kid, alg, KeyFormat::Jwk, material)` accepts.
//! All or nothing: one bad key refuses the whole document, so an import never half-succeeds.

use std::collections::HashSet;

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::error::{quote, CoreError};
use crate::jwk::parse_jwk;
use crate::jwt::{KeyFormat, VerificationKey};

/// More keys than any real issuer publishes; bounds the work of one import.
const MAX_JWKS_KEYS: usize = 100;

/// One key of a JWKS, ready to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkImport {
    pub kid: String,
    pub alg: Algorithm,
    /// The JWK JSON, canonical: public members only, sorted, with kid and alg.
    pub material: String,
}

pub fn parse_jwks(doc: &Value) -> Result<Vec<JwkImport>, CoreError> {
    let keys = doc.get("keys").and_then(Value::as_array).ok_or_else(|| {
        CoreError::invalid_argument("a JWKS must be an object with a \"keys\" array")
    })?;
    if keys.is_empty() {
        return Err(CoreError::invalid_argument("the JWKS has no keys"));
    }
    if keys.len() > MAX_JWKS_KEYS {
        return Err(CoreError::invalid_argument(format!(
            "the JWKS has {} keys; the limit is {MAX_JWKS_KEYS}",
            keys.len()
        )));
    }
    let mut seen = HashSet::new();
    let mut imports = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let position = format!("#{}", index.saturating_add(1));
        let import = import_key(key).map_err(|e| in_key(&position, e))?;
        if !seen.insert(import.kid.clone()) {
            return Err(CoreError::invalid_argument(format!(
                "the JWKS has two keys with kid \"{}\"",
                quote(&import.kid)
            )));
        }
        imports.push(import);
    }
    Ok(imports)
}

fn import_key(key: &Value) -> Result<JwkImport, CoreError> {
    let obj = key
        .as_object()
        .ok_or_else(|| CoreError::invalid_argument("the key is not a JSON object"))?;
    let jwk = parse_jwk(obj)?;
    let kid = jwk
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or_else(|| CoreError::invalid_argument("the key has no \"kid\""))?;
    let alg = match &jwk.alg {
        // Any parse error (including "none") becomes a key error, not a token error.
        Some(name) => name.parse::<Algorithm>().map_err(|_| {
            CoreError::invalid_argument(format!(
                "key \"{}\" has unsupported alg \"{}\"",
                quote(&kid),
                quote(name)
            ))
        })?,
        None => jwk.key.inferred_alg().ok_or_else(|| {
            CoreError::invalid_argument(format!(
                "key \"{}\" names no alg and its curve is not supported",
                quote(&kid)
            ))
        })?,
    };
    let material = jwk.key.canonical(&kid, alg);
    VerificationKey::new(&kid, alg, KeyFormat::Jwk, &material)?;
    Ok(JwkImport { kid, alg, material })
}

/// Says which key of the document failed, keeping the original detail and hint.
fn in_key(position: &str, err: CoreError) -> CoreError {
    CoreError::InvalidArgument {
        message: format!("JWKS key {position}: {err}"),
        detail: err.detail(),
        hint: err.hint(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_documents_without_keys() {
        for doc in [
            json!({}),
            json!({"keys": {}}),
            json!([]),
            json!({"keys": []}),
        ] {
            assert!(parse_jwks(&doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn oct_keys_default_to_hs256() {
        let doc = json!({"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg"}]});
        let imports = parse_jwks(&doc).unwrap();
        assert_eq!(imports.len(), 1);
        assert_eq!(imports[0].alg, Algorithm::HS256);
        assert_eq!(imports[0].kid, "h");
    }

    #[test]
    fn refuses_a_key_without_kid_naming_its_position() {
        let doc = json!({"keys":[{"kty":"oct","k":"c2VjcmV0"}]});
        let err = parse_jwks(&doc).unwrap_err();
        assert_eq!(err.to_string(), "JWKS key #1: the key has no \"kid\"");
    }

    #[test]
    fn refuses_alg_none_in_a_jwk() {
        let doc = json!({"keys":[{"kty":"oct","kid":"h","alg":"none","k":"c2VjcmV0"}]});
        let err = parse_jwks(&doc).unwrap_err();
        assert!(
            err.to_string().contains("unsupported alg \"none\""),
            "{err}"
        );
    }
}
