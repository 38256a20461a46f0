//! Issuer-bound, audience-bound and tenant-scoped keys: a key verifies only tokens of its
//! issuer, checks its own audiences, and hands its tenant scope to the verified token.

mod common;

use boards_tenant_core::{
    verify, Algorithm, CoreError, KeyBinding, KeyFormat, KeyId, TokenError, VerificationKey,
    VerifyOptions,
};
use common::*;
use jsonwebtoken::EncodingKey;
use serde_json::json;

const SECRET_A: &str = "issuer-a-secret-issuer-a-secret-issuer-a-secret-";
const SECRET_B: &str = "issuer-b-secret-issuer-b-secret-issuer-b-secret-";

fn hmac_key(kid: &str, secret: &str, binding: KeyBinding) -> VerificationKey {
    VerificationKey::new(kid, Algorithm::HS256, KeyFormat::Secret, secret)
        .unwrap()
        .bound(binding)
}

fn issuer(iss: &str) -> KeyBinding {
    KeyBinding {
        issuer: Some(iss.into()),
        ..KeyBinding::default()
    }
}

fn token(secret: &str, kid: Option<&str>, iss: &str, aud: &str) -> String {
    let claims = json!({"sub": "u", "iss": iss, "aud": aud, "exp": NOW + 60, "iat": NOW});
    sign_with(
        Algorithm::HS256,
        kid,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

fn token_error(result: Result<impl std::fmt::Debug, CoreError>) -> TokenError {
    match result {
        Err(CoreError::Token(e)) => e,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[test]
fn the_same_kid_at_two_issuers_verifies_only_each_issuers_own_tokens() {
    let keys = [
        hmac_key("shared", SECRET_A, issuer("https://a.example")),
        hmac_key("shared", SECRET_B, issuer("https://b.example")),
    ];
    let opts = VerifyOptions::default();
    for (secret, iss) in [
        (SECRET_A, "https://a.example"),
        (SECRET_B, "https://b.example"),
    ] {
        let verified = verify(&token(secret, Some("shared"), iss, "x"), &keys, &opts, NOW).unwrap();
        assert_eq!(
            verified.key,
            KeyId {
                issuer: Some(iss.into()),
                kid: "shared".into()
            }
        );
    }
    // Provider A's key signing a token that claims to be from B: B's key does not verify it,
    // and A's key is not B's. With kid and without.
    for kid in [Some("shared"), None] {
        let forged = token(SECRET_A, kid, "https://b.example", "x");
        assert_eq!(
            token_error(verify(&forged, &keys, &opts, NOW)),
            TokenError::BadIssuer
        );
    }
}

#[test]
fn a_bound_key_does_not_verify_tokens_without_its_issuer() {
    let keys = [hmac_key("k", SECRET_A, issuer("https://a.example"))];
    let claims = json!({"sub": "u", "exp": NOW + 60});
    let no_iss = sign_with(
        Algorithm::HS256,
        Some("k"),
        &claims,
        &EncodingKey::from_secret(SECRET_A.as_bytes()),
    );
    assert_eq!(
        token_error(verify(&no_iss, &keys, &VerifyOptions::default(), NOW)),
        TokenError::BadIssuer
    );
}

#[test]
fn a_bound_keys_audiences_are_checked_and_the_global_floor_stays() {
    let keys = [hmac_key(
        "k",
        SECRET_A,
        KeyBinding {
            issuer: Some("https://a.example".into()),
            audiences: Some(vec!["app-a".into()]),
            tenants: None,
        },
    )];
    let opts = VerifyOptions::default();
    assert!(verify(
        &token(SECRET_A, Some("k"), "https://a.example", "app-a"),
        &keys,
        &opts,
        NOW
    )
    .is_ok());
    assert_eq!(
        token_error(verify(
            &token(SECRET_A, Some("k"), "https://a.example", "app-b"),
            &keys,
            &opts,
            NOW
        )),
        TokenError::BadAudience
    );
    let floor = VerifyOptions {
        audiences: vec!["platform".into()],
        ..VerifyOptions::default()
    };
    assert_eq!(
        token_error(verify(
            &token(SECRET_A, Some("k"), "https://a.example", "app-a"),
            &keys,
            &floor,
            NOW
        )),
        TokenError::BadAudience
    );
}

#[test]
fn the_verified_token_carries_the_keys_tenant_scope() {
    let tenant = uuid::Uuid::new_v4();
    let keys = [hmac_key(
        "k",
        SECRET_A,
        KeyBinding {
            tenants: Some(vec![tenant]),
            ..KeyBinding::default()
        },
    )];
    let verified = verify(
        &token(SECRET_A, Some("k"), "https://a.example", "x"),
        &keys,
        &VerifyOptions::default(),
        NOW,
    )
    .unwrap();
    assert_eq!(verified.tenants, Some(vec![tenant]));
}

#[test]
fn key_ids_round_trip_through_their_encoding() {
    for id in [
        KeyId {
            issuer: None,
            kid: "k1".into(),
        },
        KeyId {
            issuer: Some("https://a.example/realms/x".into()),
            kid: "k1".into(),
        },
    ] {
        assert_eq!(KeyId::decode(&id.encode()), id);
    }
    // Contexts written before issuer binding hold the bare kid.
    assert_eq!(KeyId::decode("k1").issuer, None);
}
