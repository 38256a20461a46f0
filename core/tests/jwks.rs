//! JWKS import with RSA, EC and OKP keys, and the keys it produces verifying real tokens.

mod common;

use boards_tenant_core::{
    parse_jwks, verify, Algorithm, ErrorKind, KeyFormat, VerificationKey, VerifyOptions,
};
use common::*;
use serde_json::{json, Value};

fn fixture() -> Value {
    serde_json::from_str(JWKS).unwrap()
}

fn installed() -> Vec<VerificationKey> {
    parse_jwks(&fixture())
        .unwrap()
        .into_iter()
        .map(|i| VerificationKey::new(&i.kid, i.alg, KeyFormat::Jwk, &i.material).unwrap())
        .collect()
}

#[test]
fn imports_rsa_ec_and_okp_keys_with_inferred_algorithms() {
    let imports = parse_jwks(&fixture()).unwrap();
    let summary: Vec<(&str, Algorithm)> = imports.iter().map(|i| (i.kid.as_str(), i.alg)).collect();
    assert_eq!(
        summary,
        vec![
            ("rsa-1", Algorithm::RS256),
            ("rsa-2", Algorithm::RS256),
            ("ec-256", Algorithm::ES256),
            ("ec-384", Algorithm::ES384),
            ("ed-1", Algorithm::EdDSA),
        ]
    );
    for import in &imports {
        let material: Value = serde_json::from_str(&import.material).unwrap();
        assert_eq!(material["kid"], import.kid.as_str());
        assert_eq!(material["alg"], import.alg.as_str());
        assert!(
            material.get("use").is_none(),
            "canonical form keeps only key members"
        );
    }
}

#[test]
fn imported_keys_verify_tokens_from_the_matching_private_keys() {
    let keys = installed();
    let claims = json!({"sub": "u", "exp": NOW + 60});
    for (kid, alg) in [
        ("rsa-1", Algorithm::RS256),
        ("ec-256", Algorithm::ES256),
        ("ec-384", Algorithm::ES384),
        ("ed-1", Algorithm::EdDSA),
    ] {
        let token = sign(alg, Some(kid), &claims);
        let verified = verify(&token, &keys, &VerifyOptions::default(), NOW)
            .unwrap_or_else(|e| panic!("{kid}: {e}"));
        assert_eq!(verified.key.kid, kid);
    }
    // rsa-2 is a different key: rsa-1's private key does not verify under it.
    let token = sign(Algorithm::RS256, Some("rsa-2"), &claims);
    assert!(verify(&token, &keys, &VerifyOptions::default(), NOW).is_err());
}

#[test]
fn canonical_material_is_stable() {
    let first = parse_jwks(&fixture()).unwrap();
    let again: Value = json!({"keys": first.iter().map(|i| serde_json::from_str::<Value>(&i.material).unwrap()).collect::<Vec<_>>()});
    assert_eq!(parse_jwks(&again).unwrap(), first);
}

fn with_first_key(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut doc = fixture();
    if let Some(key) = doc["keys"][0].as_object_mut() {
        change(key);
    }
    doc
}

#[test]
fn refuses_encryption_keys() {
    let doc = with_first_key(|k| {
        k.insert("use".into(), json!("enc"));
    });
    let err = parse_jwks(&doc).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(err.to_string().starts_with("JWKS key #1:"), "{err}");
    assert!(err.to_string().contains("\"enc\""), "{err}");
}

#[test]
fn refuses_private_members() {
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        let doc = with_first_key(|k| {
            k.insert(member.into(), json!("AQAB"));
        });
        let err = parse_jwks(&doc).unwrap_err();
        assert!(
            err.to_string().contains("private member"),
            "{member}: {err}"
        );
    }
}

#[test]
fn refuses_duplicate_kids() {
    let mut doc = fixture();
    let first = doc["keys"][0].clone();
    if let Some(keys) = doc["keys"].as_array_mut() {
        keys.push(first);
    }
    let err = parse_jwks(&doc).unwrap_err();
    assert_eq!(err.to_string(), "the JWKS has two keys with kid \"rsa-1\"");
}

#[test]
fn refuses_missing_kid_and_an_alg_that_does_not_fit_the_key() {
    let doc = with_first_key(|k| {
        k.remove("kid");
    });
    assert!(parse_jwks(&doc).is_err());
    let doc = with_first_key(|k| {
        k.insert("alg".into(), json!("HS256"));
    });
    let err = parse_jwks(&doc).unwrap_err();
    assert!(
        err.to_string()
            .contains("HS256 cannot use a JWK of key type \"RSA\""),
        "{err}"
    );
    let doc = with_first_key(|k| {
        k.insert("alg".into(), json!("PS384"));
    });
    assert_eq!(parse_jwks(&doc).unwrap()[0].alg, Algorithm::PS384);
}

#[test]
fn refuses_a_tampered_point() {
    let mut doc = fixture();
    doc["keys"][2]["y"] = doc["keys"][2]["x"].clone();
    let err = parse_jwks(&doc).unwrap_err();
    assert!(err.to_string().starts_with("JWKS key #3:"), "{err}");
}
