//! Verification with real keys: every algorithm, every refusal.

mod common;

use boards_tenant_core::{
    check_claims, decode_header, verify, verify_signature, Algorithm, CoreError, ErrorKind,
    KeyFormat, TokenError, VerificationKey, VerifyOptions, MAX_TOKEN_BYTES,
};
use common::*;
use jsonwebtoken::EncodingKey;
use serde_json::json;

fn token_error(result: Result<impl std::fmt::Debug, CoreError>) -> TokenError {
    match result {
        Err(CoreError::Token(e)) => e,
        other => panic!("expected a token error, got {other:?}"),
    }
}

fn claims_now() -> serde_json::Value {
    json!({"sub": "user123", "tenant": "acme-corp", "exp": NOW + 3600, "iat": NOW})
}

fn opts() -> VerifyOptions {
    VerifyOptions::default()
}

#[test]
fn every_algorithm_verifies_with_kid() {
    for alg in Algorithm::ALL {
        let key = verification_key("k1", alg);
        let token = sign(alg, Some("k1"), &claims_now());
        let verified =
            verify(&token, &[key], &opts(), NOW).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.subject, "user123");
        assert_eq!(verified.key.kid, "k1");
        assert_eq!(verified.alg, alg);
        assert_eq!(verified.exp, Some(NOW + 3600));
        assert_eq!(verified.nbf, None);
        assert_eq!(verified.claims["tenant"], "acme-corp");
    }
}

#[test]
fn every_algorithm_verifies_without_kid_by_trying_keys_of_that_alg() {
    let keys: Vec<VerificationKey> = Algorithm::ALL
        .iter()
        .map(|alg| verification_key(&format!("key-{alg}"), *alg))
        .collect();
    for alg in Algorithm::ALL {
        let token = sign(alg, None, &claims_now());
        let verified = verify(&token, &keys, &opts(), NOW).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(verified.key.kid, format!("key-{alg}"));
    }
}

#[test]
fn pkcs1_rsa_public_key_verifies() {
    let key =
        VerificationKey::new("k", Algorithm::RS256, KeyFormat::Pem, RSA_PUBLIC_PKCS1).unwrap();
    let token = sign(Algorithm::RS256, Some("k"), &claims_now());
    assert!(verify(&token, &[key], &opts(), NOW).is_ok());
}

#[test]
fn alg_none_is_refused() {
    let payload = b64(br#"{"sub":"admin","tenant":"victim"}"#);
    let keys = [hs256_key(), verification_key("rs", Algorithm::RS256)];
    for alg in ["none", "None", "NONE"] {
        let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}.c2ln"),
        ] {
            let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
            assert_eq!(err, CoreError::Token(TokenError::Unsigned), "{token}");
            assert_eq!(
                err.to_string(),
                "unsigned tokens (alg \"none\") are not accepted"
            );
        }
    }
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The algorithm confusion attack: the attacker knows the public key and uses it as an
    // HMAC secret.
    let forged_key = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    let rs_key = verification_key("k1", Algorithm::RS256);
    let with_kid = sign_with(Algorithm::HS256, Some("k1"), &claims_now(), &forged_key);
    let err = verify(&with_kid, std::slice::from_ref(&rs_key), &opts(), NOW).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token algorithm HS256 does not match key \"k1\" installed for RS256"
    );
    let without_kid = sign_with(Algorithm::HS256, None, &claims_now(), &forged_key);
    let err = verify(&without_kid, &[rs_key], &opts(), NOW).unwrap_err();
    assert_eq!(err.to_string(), "no key installed for algorithm HS256");
}

#[test]
fn a_public_key_cannot_be_installed_as_an_hmac_secret() {
    for material in [
        RSA_PUBLIC,
        RSA_PUBLIC_PKCS1,
        EC256_PUBLIC,
        "{\"kty\":\"RSA\"}",
        "ssh-rsa AAAA user@host",
    ] {
        let err =
            VerificationKey::new("k", Algorithm::HS256, KeyFormat::Secret, material).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains("looks like"), "{err}");
    }
    // Nor as an HMAC JWK.
    let rsa_jwk = r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
    assert!(VerificationKey::new("k", Algorithm::HS256, KeyFormat::Jwk, rsa_jwk).is_err());
}

#[test]
fn unknown_and_path_like_kids_are_refused_with_a_quoted_kid() {
    let keys = [hs256_key()];
    let token = sign(Algorithm::HS256, Some("nope"), &claims_now());
    assert_eq!(
        token_error(verify(&token, &keys, &opts(), NOW)),
        TokenError::UnknownKid("nope".into())
    );

    let token = sign(Algorithm::HS256, Some("../../etc/passwd"), &claims_now());
    let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
    assert_eq!(err.to_string(), "no key with kid \"../../etc/passwd\"");

    let token = sign(Algorithm::HS256, Some("a\nFAKE LOG LINE"), &claims_now());
    let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
    assert_eq!(err.to_string(), "no key with kid \"a\\nFAKE LOG LINE\"");
    assert!(err.hint().is_some());
}

#[test]
fn tampered_header_or_payload_fails_the_signature() {
    let keys = [verification_key("k1", Algorithm::RS256)];
    let token = sign(Algorithm::RS256, Some("k1"), &claims_now());
    let parts: Vec<&str> = token.split('.').collect();

    let header = b64(br#"{"alg":"RS256","kid":"k1","typ":"JWT","x":1}"#);
    let tampered = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(
        token_error(verify(&tampered, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );

    let payload = b64(
        json!({"sub": "admin", "tenant": "victim", "exp": NOW + 3600})
            .to_string()
            .as_bytes(),
    );
    let tampered = format!("{}.{payload}.{}", parts[0], parts[2]);
    assert_eq!(
        token_error(verify(&tampered, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );

    let tampered = format!("{}.{}.{}", parts[0], parts[1], b64(b"not the signature"));
    assert_eq!(
        token_error(verify(&tampered, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );
}

#[test]
fn a_token_resigned_with_another_key_is_refused() {
    let keys = [verification_key("k1", Algorithm::RS256)];
    let other = EncodingKey::from_rsa_pem(RSA2_PRIVATE.as_bytes()).unwrap();
    let token = sign_with(Algorithm::RS256, Some("k1"), &claims_now(), &other);
    let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
    assert_eq!(err.to_string(), "token signature is invalid");
    // The same token verifies against the key that really signed it.
    let rsa2 = VerificationKey::new("k1", Algorithm::RS256, KeyFormat::Pem, RSA2_PUBLIC).unwrap();
    assert!(verify(&token, &[rsa2], &opts(), NOW).is_ok());
}

#[test]
fn a_signature_for_another_hmac_secret_is_refused() {
    let keys = [hs256_key()];
    let other = EncodingKey::from_secret(b"another secret of at least 32 bytes!!");
    let token = sign_with(Algorithm::HS256, None, &claims_now(), &other);
    assert_eq!(
        token_error(verify(&token, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );
}

#[test]
fn expiry_and_not_before_with_leeway_edges() {
    let keys = [hs256_key()];
    let exp = NOW;
    let token = sign(Algorithm::HS256, None, &json!({"sub":"u","exp":exp}));
    let verified = verify_signature(&token, &keys).unwrap();
    let leeway = |secs| VerifyOptions {
        leeway_secs: secs,
        ..opts()
    };
    // Valid strictly before exp; expired at exp (RFC 7519).
    assert!(check_claims(&verified, &leeway(0), exp - 1).is_ok());
    assert_eq!(
        token_error(check_claims(&verified, &leeway(0), exp)),
        TokenError::Expired
    );
    assert!(check_claims(&verified, &leeway(30), exp + 29).is_ok());
    assert_eq!(
        token_error(check_claims(&verified, &leeway(30), exp + 30)),
        TokenError::Expired
    );
    assert_eq!(
        verify(&token, &keys, &leeway(0), exp + 10)
            .unwrap_err()
            .to_string(),
        "token has expired"
    );

    let nbf = NOW + 100;
    let token = sign(Algorithm::HS256, None, &json!({"sub":"u","nbf":nbf}));
    let verified = verify_signature(&token, &keys).unwrap();
    assert_eq!(verified.nbf, Some(nbf));
    assert!(check_claims(&verified, &leeway(0), nbf).is_ok());
    assert_eq!(
        token_error(check_claims(&verified, &leeway(0), nbf - 1)),
        TokenError::NotYetValid
    );
    assert!(check_claims(&verified, &leeway(30), nbf - 30).is_ok());
    assert_eq!(
        token_error(check_claims(&verified, &leeway(30), nbf - 31)),
        TokenError::NotYetValid
    );
    assert_eq!(
        verify(&token, &keys, &opts(), NOW).unwrap_err().to_string(),
        "token is not yet valid"
    );
    // Huge leeway saturates instead of overflowing.
    assert!(check_claims(&verified, &leeway(u64::MAX), 0).is_ok());
    assert!(check_claims(&verified, &leeway(u64::MAX), i64::MIN).is_err());
}

#[test]
fn fractional_dates_round_towards_shorter_validity() {
    let keys = [hs256_key()];
    let token = sign(
        Algorithm::HS256,
        None,
        &json!({"sub":"u","exp":1000.9,"nbf":900.1}),
    );
    let verified = verify_signature(&token, &keys).unwrap();
    assert_eq!((verified.exp, verified.nbf), (Some(1000), Some(901)));
    assert!(check_claims(&verified, &opts(), 999).is_ok());
    assert!(check_claims(&verified, &opts(), 1000).is_err());
    assert!(check_claims(&verified, &opts(), 900).is_err());
}

#[test]
fn wrong_types_for_exp_and_nbf_are_refused() {
    let keys = [hs256_key()];
    for claims in [
        json!({"sub":"u","exp":"9999999999"}),
        json!({"sub":"u","exp":null}),
        json!({"sub":"u","exp":true}),
        json!({"sub":"u","exp":[1]}),
        json!({"sub":"u","nbf":{"t":1}}),
    ] {
        let token = sign(Algorithm::HS256, None, &claims);
        let err = token_error(verify(&token, &keys, &opts(), NOW));
        assert!(
            matches!(err, TokenError::InvalidClaim { .. }),
            "{claims}: {err}"
        );
    }
    let token = sign(Algorithm::HS256, None, &json!({"sub":"u","exp":"soon"}));
    assert_eq!(
        verify(&token, &keys, &opts(), NOW).unwrap_err().to_string(),
        "token claim \"exp\" must be a number, not a string"
    );
}

#[test]
fn required_expiry() {
    let keys = [hs256_key()];
    let token = sign(Algorithm::HS256, None, &json!({"sub":"u"}));
    let require = VerifyOptions {
        require_exp: true,
        ..opts()
    };
    assert_eq!(
        token_error(verify(&token, &keys, &require, NOW)),
        TokenError::MissingExpiry
    );
    assert!(verify(&token, &keys, &opts(), NOW).is_ok());
}

#[test]
fn issuer_must_be_accepted_when_configured() {
    let keys = [hs256_key()];
    let issuers = VerifyOptions {
        issuers: vec!["https://idp.example".into()],
        ..opts()
    };
    let good = sign(
        Algorithm::HS256,
        None,
        &json!({"sub":"u","iss":"https://idp.example"}),
    );
    assert!(verify(&good, &keys, &issuers, NOW).is_ok());
    for claims in [
        json!({"sub":"u","iss":"https://evil.example"}),
        json!({"sub":"u"}),
        json!({"sub":"u","iss":["https://idp.example"]}),
    ] {
        let token = sign(Algorithm::HS256, None, &claims);
        let err = verify(&token, &keys, &issuers, NOW).unwrap_err();
        assert_eq!(err.to_string(), "token issuer is not accepted", "{claims}");
    }
    // Not configured: not checked.
    let other = sign(Algorithm::HS256, None, &json!({"sub":"u","iss":"anything"}));
    assert!(verify(&other, &keys, &opts(), NOW).is_ok());
}

#[test]
fn audience_string_or_array_must_intersect_when_configured() {
    let keys = [hs256_key()];
    let auds = VerifyOptions {
        audiences: vec!["boards".into(), "api".into()],
        ..opts()
    };
    for claims in [
        json!({"sub":"u","aud":"boards"}),
        json!({"sub":"u","aud":["other","api"]}),
    ] {
        let token = sign(Algorithm::HS256, None, &claims);
        assert!(verify(&token, &keys, &auds, NOW).is_ok(), "{claims}");
    }
    for claims in [
        json!({"sub":"u","aud":"other"}),
        json!({"sub":"u","aud":["other","x"]}),
        json!({"sub":"u","aud":[]}),
        json!({"sub":"u","aud":7}),
        json!({"sub":"u"}),
    ] {
        let token = sign(Algorithm::HS256, None, &claims);
        let err = verify(&token, &keys, &auds, NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token audience is not accepted",
            "{claims}"
        );
    }
    let token = sign(Algorithm::HS256, None, &json!({"sub":"u","aud":"whatever"}));
    assert!(verify(&token, &keys, &opts(), NOW).is_ok());
}

#[test]
fn subject_is_required() {
    let keys = [hs256_key()];
    for claims in [
        json!({"tenant":"acme"}),
        json!({"sub":""}),
        json!({"sub":null}),
    ] {
        let token = sign(Algorithm::HS256, None, &claims);
        assert_eq!(
            token_error(verify(&token, &keys, &opts(), NOW)),
            TokenError::NoSubject,
            "{claims}"
        );
    }
    let token = sign(Algorithm::HS256, None, &json!({"sub":42}));
    assert!(matches!(
        token_error(verify(&token, &keys, &opts(), NOW)),
        TokenError::InvalidClaim { .. }
    ));
}

#[test]
fn claims_must_be_a_json_object() {
    let keys = [hs256_key()];
    let header = r#"{"alg":"HS256"}"#;
    for payload in ["[1,2]", "\"sub\"", "42", "null"] {
        let token = hs256_raw(header, payload);
        let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token claims must be a JSON object",
            "{payload}"
        );
    }
    let token = hs256_raw(header, "{not json");
    let err = token_error(verify(&token, &keys, &opts(), NOW));
    assert!(matches!(err, TokenError::Malformed(_)), "{err}");
}

#[test]
fn duplicate_claims_are_refused_even_when_signed() {
    let keys = [hs256_key()];
    let token = hs256_raw(
        r#"{"alg":"HS256"}"#,
        r#"{"sub":"u","tenant":"a","tenant":"b"}"#,
    );
    let err = verify(&token, &keys, &opts(), NOW).unwrap_err();
    assert!(
        err.to_string().contains("duplicate member \"tenant\""),
        "{err}"
    );
    let token = hs256_raw(r#"{"alg":"HS256","alg":"none"}"#, r#"{"sub":"u"}"#);
    assert!(verify(&token, &keys, &opts(), NOW).is_err());
}

#[test]
fn deeply_nested_signed_payload_is_refused_without_a_crash() {
    let keys = [hs256_key()];
    for depth in [100, 10_000, 200_000] {
        let payload = format!(
            r#"{{"sub":"u","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let token = hs256_raw(r#"{"alg":"HS256"}"#, &payload);
        if token.len() > MAX_TOKEN_BYTES {
            assert!(matches!(
                token_error(verify(&token, &keys, &opts(), NOW)),
                TokenError::TooLarge(_)
            ));
            continue;
        }
        let err = token_error(verify(&token, &keys, &opts(), NOW));
        assert!(matches!(err, TokenError::Malformed(_)), "{depth}: {err}");
    }
    // Moderate nesting is fine.
    let payload = format!(r#"{{"sub":"u","x":{}{}}}"#, "[".repeat(20), "]".repeat(20));
    assert!(verify(
        &hs256_raw(r#"{"alg":"HS256"}"#, &payload),
        &keys,
        &opts(),
        NOW
    )
    .is_ok());
}

#[test]
fn malformed_tokens_get_precise_messages() {
    let keys = [hs256_key()];
    let cases = [
        ("", "token is malformed: the token is empty"),
        ("abc", "token is malformed: expected 3 dot-separated parts (header.payload.signature), found 1"),
        ("a.b.c.d.e", "token is malformed: expected 3 dot-separated parts (header.payload.signature), found 5"),
        ("!!!.e30.sig", "token is malformed: header is not valid base64url"),
        ("Bearer a.b.c", "token is malformed: remove the \"Bearer \" prefix"),
        ("a. b.c", "token is malformed: the token contains whitespace or control characters"),
    ];
    for (token, message) in cases {
        assert_eq!(
            verify(token, &keys, &opts(), NOW).unwrap_err().to_string(),
            message,
            "{token:?}"
        );
    }
    let header = b64(br#"{"alg":"HS256"}"#);
    let good = sign(Algorithm::HS256, None, &claims_now());
    let parts: Vec<&str> = good.split('.').collect();
    let bad_payload = format!("{header}.%%%.{}", parts[2]);
    // The signature covers the bad payload text, so it fails first: nothing unsigned is parsed.
    assert_eq!(
        token_error(verify(&bad_payload, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );
    let bad_signature = format!("{}.{}.***", parts[0], parts[1]);
    assert_eq!(
        verify(&bad_signature, &keys, &opts(), NOW)
            .unwrap_err()
            .to_string(),
        "token is malformed: signature is not valid base64url"
    );
    let not_object = format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2]);
    assert!(verify(&not_object, &keys, &opts(), NOW)
        .unwrap_err()
        .to_string()
        .starts_with("token is malformed: header"));
    let no_alg = format!("{}.{}.{}", b64(b"{}"), parts[1], parts[2]);
    assert_eq!(
        verify(&no_alg, &keys, &opts(), NOW)
            .unwrap_err()
            .to_string(),
        "token is malformed: header has no \"alg\""
    );
}

#[test]
fn a_payload_that_is_not_base64url_is_malformed_once_signed() {
    let keys = [hs256_key()];
    let header = b64(br#"{"alg":"HS256"}"#);
    let signing_input = format!("{header}.%%%");
    let sig = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &signing_key(Algorithm::HS256),
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap();
    let token = format!("{signing_input}.{sig}");
    assert_eq!(
        verify(&token, &keys, &opts(), NOW).unwrap_err().to_string(),
        "token is malformed: payload is not valid base64url"
    );
}

#[test]
fn a_one_mebibyte_token_is_refused_before_parsing() {
    let token = "a".repeat(1 << 20);
    let err = decode_header(&token).unwrap_err();
    assert_eq!(
        err.to_string(),
        "token is too large (1048576 bytes; the limit is 65536)"
    );
    assert_eq!(
        token_error(verify(&token, &[hs256_key()], &opts(), NOW)),
        TokenError::TooLarge(1 << 20)
    );
    assert!(decode_header(&"a".repeat(MAX_TOKEN_BYTES))
        .unwrap_err()
        .to_string()
        .contains("malformed"));
}

#[test]
fn unsupported_algorithms_and_critical_headers_are_refused() {
    let keys = [hs256_key()];
    let payload = b64(br#"{"sub":"u"}"#);
    let token = format!("{}.{payload}.c2ln", b64(br#"{"alg":"ES512"}"#));
    assert_eq!(
        verify(&token, &keys, &opts(), NOW).unwrap_err().to_string(),
        "unsupported token algorithm \"ES512\""
    );
    let token = hs256_raw(
        r#"{"alg":"HS256","crit":["exp"],"exp":1}"#,
        r#"{"sub":"u"}"#,
    );
    assert_eq!(
        token_error(verify(&token, &keys, &opts(), NOW)),
        TokenError::CriticalHeader
    );
}

#[test]
fn decode_header_reads_alg_kid_and_typ() {
    let token = sign(Algorithm::RS256, Some("k9"), &claims_now());
    let header = decode_header(&token).unwrap();
    assert_eq!(header.alg, "RS256");
    assert_eq!(header.kid.as_deref(), Some("k9"));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let token = format!("{}.e30.", b64(br#"{"alg":"HS256","kid":5}"#));
    assert!(decode_header(&token).is_err());
}

#[test]
fn without_kid_at_most_sixteen_keys_are_tried() {
    let mut keys: Vec<VerificationKey> = (0..16)
        .map(|i| {
            VerificationKey::new(
                &format!("k{i}"),
                Algorithm::HS256,
                KeyFormat::Secret,
                &format!("{i:0>40}"),
            )
            .unwrap()
        })
        .collect();
    keys.push(hs256_key());
    let token = sign(Algorithm::HS256, None, &claims_now());
    assert_eq!(
        token_error(verify(&token, &keys, &opts(), NOW)),
        TokenError::BadSignature
    );
    // Named by kid, the 17th key is used directly.
    let token = sign(Algorithm::HS256, Some("hs"), &claims_now());
    assert!(verify(&token, &keys, &opts(), NOW).is_ok());
}

#[test]
fn no_keys_at_all() {
    let token = sign(Algorithm::RS256, None, &claims_now());
    assert_eq!(
        verify(&token, &[], &opts(), NOW).unwrap_err().to_string(),
        "no key installed for algorithm RS256"
    );
}

#[test]
fn key_installation_refusals() {
    let cases: Vec<(Algorithm, KeyFormat, &str, &str)> = vec![
        (
            Algorithm::RS256,
            KeyFormat::Pem,
            RSA_PRIVATE,
            "install the public key",
        ),
        (
            Algorithm::ES256,
            KeyFormat::Pem,
            EC256_PRIVATE,
            "install the public key",
        ),
        (
            Algorithm::RS256,
            KeyFormat::Pem,
            RSA1024_PUBLIC,
            "RSA key is 1024 bits; at least 2048 are required",
        ),
        (
            Algorithm::ES256,
            KeyFormat::Pem,
            EC384_PUBLIC,
            "EC key is on P-384, but ES256 needs P-256",
        ),
        (
            Algorithm::ES384,
            KeyFormat::Pem,
            EC256_PUBLIC,
            "EC key is on P-256, but ES384 needs P-384",
        ),
        (
            Algorithm::ES256,
            KeyFormat::Pem,
            SECP256K1_PUBLIC,
            "ES256 needs an EC public key on P-256",
        ),
        (
            Algorithm::RS256,
            KeyFormat::Pem,
            EC256_PUBLIC,
            "RS256 needs an RSA public key",
        ),
        (
            Algorithm::EdDSA,
            KeyFormat::Pem,
            RSA_PUBLIC,
            "EdDSA needs an Ed25519 public key",
        ),
        (
            Algorithm::ES256,
            KeyFormat::Pem,
            RSA_PUBLIC_PKCS1,
            "is not a public key usable with ES256",
        ),
        (
            Algorithm::RS256,
            KeyFormat::Pem,
            "not a pem",
            "no PEM block found",
        ),
        (
            Algorithm::HS256,
            KeyFormat::Pem,
            RSA_PUBLIC,
            "HS256 needs a shared secret",
        ),
        (
            Algorithm::RS256,
            KeyFormat::Secret,
            "some secret",
            "RS256 needs a public key",
        ),
        (Algorithm::RS256, KeyFormat::Pem, "", "must not be empty"),
    ];
    for (alg, format, material, expected) in cases {
        let err = VerificationKey::new("k", alg, format, material).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.to_string().contains(expected), "{alg} {format}: {err}");
    }
    let two = format!("{RSA_PUBLIC}{RSA2_PUBLIC}");
    assert!(VerificationKey::new("k", Algorithm::RS256, KeyFormat::Pem, &two).is_err());
}

#[test]
fn jwk_material_with_alg_and_curve_checks() {
    let oct = r#"{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg"}"#;
    let key = VerificationKey::new("o", Algorithm::HS512, KeyFormat::Jwk, oct).unwrap();
    assert!(!key.weak_secret());
    let token = sign(Algorithm::HS512, Some("o"), &claims_now());
    assert!(verify(&token, &[key], &opts(), NOW).is_ok());

    let with_alg = r#"{"kty":"oct","alg":"HS256","k":"c2VjcmV0"}"#;
    let err = VerificationKey::new("o", Algorithm::HS384, KeyFormat::Jwk, with_alg).unwrap_err();
    assert!(
        err.to_string().contains("JWK is for \"HS256\", not HS384"),
        "{err}"
    );
    assert!(VerificationKey::new("o", Algorithm::HS256, KeyFormat::Jwk, "not json").is_err());
    let short_ed = r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#;
    assert!(VerificationKey::new("e", Algorithm::EdDSA, KeyFormat::Jwk, short_ed).is_err());
}

#[test]
fn tokens_signed_by_another_implementation_verify_for_every_algorithm() {
    let fixture: serde_json::Value = serde_json::from_str(INTEROP_TOKENS).unwrap();
    for alg in Algorithm::ALL {
        let token = fixture["tokens"][alg.as_str()].as_str().unwrap();
        let key = verification_key("k1", alg);
        let verified = verify(token, &[key], &opts(), NOW).unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(
            serde_json::Value::Object((*verified.claims).clone()),
            fixture["claims"]
        );
        assert_eq!(verified.subject, "interop-user");
    }
}

#[test]
fn subjects_and_claims_beyond_their_limits_are_invalid_arguments() {
    use boards_tenant_core::{MAX_CLAIMS_BYTES, MAX_SUBJECT_BYTES};
    let keys = [hs256_key()];
    let at_limit = "s".repeat(MAX_SUBJECT_BYTES);
    let token = sign(Algorithm::HS256, None, &json!({"sub": at_limit}));
    assert_eq!(verify_signature(&token, &keys).unwrap().subject, at_limit);
    let token = sign(
        Algorithm::HS256,
        None,
        &json!({"sub": "s".repeat(MAX_SUBJECT_BYTES + 1)}),
    );
    let err = verify_signature(&token, &keys).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    let token = sign(
        Algorithm::HS256,
        None,
        &json!({"sub": "u", "pad": "x".repeat(MAX_CLAIMS_BYTES)}),
    );
    let err = verify_signature(&token, &keys).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
}

#[test]
fn just_in_time_membership_needs_a_token_issued_after_the_tenant() {
    use boards_tenant_core::may_join_tenant_created_at;
    let claims = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let created = NOW;
    assert!(may_join_tenant_created_at(
        &claims(json!({"iat": NOW})),
        created
    ));
    assert!(may_join_tenant_created_at(
        &claims(json!({"iat": NOW as f64 + 0.9})),
        created
    ));
    assert!(may_join_tenant_created_at(
        &claims(json!({"iat": NOW + 5})),
        created
    ));
    assert!(!may_join_tenant_created_at(
        &claims(json!({"iat": NOW - 1})),
        created
    ));
    // No iat, or not a number: the token cannot show it is newer than the tenant.
    assert!(!may_join_tenant_created_at(&claims(json!({})), created));
    assert!(!may_join_tenant_created_at(
        &claims(json!({"iat": "now"})),
        created
    ));
    assert!(!may_join_tenant_created_at(
        &claims(json!({"iat": null})),
        created
    ));
}
