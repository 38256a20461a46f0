//! Property tests: slug rules, context round-trip, cache bounds, and "never panics" for
//! everything that takes outside input.

mod common;

use boards_tenant_core::{
    decode_header, normalize_slug, parse_jwks, resolve, slug_from_org_name, slug_with_suffix,
    tenant_from_claims, validate_registration, validate_slug, validate_x_tenant, verify, Algorithm,
    Context, RegistrationPolicy, RegistrationRequest, ResolveConfig, TokenCache, VerificationKey,
    VerifiedToken, VerifyOptions, DEFAULT_PUBLIC_EMAIL_DOMAINS, MAX_SLUG_LEN,
};
use common::*;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Claim names the resolver looks at, plus noise.
fn claim_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sub",
            "tenant",
            "org",
            "organization",
            "org_slug",
            "org_name",
            "company",
            "email",
            "email_verified",
            "namespace",
            "group",
            "team",
            "workspace",
            "slug",
            "id",
            "name",
            "exp",
            "nbf",
            "iss",
            "aud",
        ])
        .prop_map(str::to_owned),
        ".{0,12}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        "[a-zA-Z0-9@._ -]{0,30}".prop_map(Value::from),
        Just(Value::from("550e8400-e29b-41d4-a716-446655440001")),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(claim_name(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn claims() -> impl Strategy<Value = Map<String, Value>> {
    btree_map(claim_name(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

fn resolve_config() -> impl Strategy<Value = ResolveConfig> {
    (any::<bool>(), prop::option::of(claim_name())).prop_map(|(multi, custom)| ResolveConfig {
        multi_tenant_mode: multi,
        custom_claim: custom,
        public_email_domains: boards_tenant_core::parse_domain_list(DEFAULT_PUBLIC_EMAIL_DOMAINS),
    })
}

fn arbitrary_token() -> impl Strategy<Value = String> {
    prop_oneof![
        ".*",
        "[A-Za-z0-9_.-]{0,200}",
        // Three parts that are base64url of arbitrary JSON text.
        (json_value(), json_value(), "[A-Za-z0-9_-]{0,90}").prop_map(|(h, p, s)| format!(
            "{}.{}.{s}",
            b64(h.to_string().as_bytes()),
            b64(p.to_string().as_bytes())
        )),
        // A real header with an arbitrary payload.
        (
            prop::sample::select(Algorithm::ALL.to_vec()),
            json_value(),
            "[A-Za-z0-9_-]{0,90}"
        )
            .prop_map(|(alg, p, s)| format!(
                "{}.{}.{s}",
                b64(format!(r#"{{"alg":"{alg}"}}"#).as_bytes()),
                b64(p.to_string().as_bytes())
            )),
    ]
}

fn all_keys() -> Vec<VerificationKey> {
    Algorithm::ALL
        .iter()
        .map(|alg| verification_key(&format!("k-{alg}"), *alg))
        .collect()
}

fn verified(claims: Map<String, Value>) -> std::rc::Rc<VerifiedToken> {
    std::rc::Rc::new(VerifiedToken {
        claims: claims.into(),
        subject: "s".into(),
        key: boards_tenant_core::KeyId {
            issuer: None,
            kid: "k".into(),
        },
        tenants: None,
        alg: Algorithm::HS256,
        exp: None,
        nbf: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn slug_functions_never_panic_and_their_outputs_are_valid(s in ".*", n in any::<u32>()) {
        let _ = validate_slug(&s);
        if let Ok(slug) = normalize_slug(&s) {
            prop_assert!(validate_slug(&slug).is_ok(), "normalize_slug({s:?}) = {slug:?}");
        }
        if let Ok(slug) = slug_from_org_name(&s) {
            prop_assert!(validate_slug(&slug).is_ok(), "slug_from_org_name({s:?}) = {slug:?}");
        }
        let suffixed = slug_with_suffix(&s, n);
        prop_assert!(validate_slug(&suffixed).is_ok(), "slug_with_suffix({s:?}, {n}) = {suffixed:?}");
    }

    #[test]
    fn slug_like_inputs_normalise_to_valid_slugs(s in "[ A-Za-z0-9_.-]{0,100}") {
        if let Ok(slug) = normalize_slug(&s) {
            prop_assert!(validate_slug(&slug).is_ok());
            prop_assert!(slug.len() <= MAX_SLUG_LEN);
        }
        prop_assert!(validate_slug(&slug_with_suffix(&s, 7)).is_ok());
    }

    #[test]
    fn suffixed_valid_slugs_keep_the_suffix(base in "[a-z0-9]([a-z0-9-]{0,70}[a-z0-9])?", n in 2u32..) {
        let s = slug_with_suffix(&base, n);
        prop_assert!(validate_slug(&s).is_ok());
        let suffix = format!("-{n}");
        prop_assert!(s.ends_with(&suffix));
    }

    #[test]
    fn x_tenant_accepts_exactly_what_validate_slug_accepts(s in prop_oneof![".*", "[a-z0-9-]{0,70}", "[a-zA-Z0-9 _-]{0,10}"]) {
        prop_assert_eq!(validate_x_tenant(&s).is_ok(), validate_slug(&s).is_ok());
        if let Ok(slug) = validate_x_tenant(&s) {
            prop_assert_eq!(slug, s);
        }
    }

    #[test]
    fn context_round_trips(
        tenant in prop::option::of(any::<u128>()),
        user in prop::option::of(any::<u128>()),
        slug in prop::option::of(".*"),
        subject in prop::option::of(".*"),
        source in prop::option::of(".*"),
        kid in prop::option::of(".*"),
        claims in claims(),
    ) {
        let context = Context {
            tenant_id: tenant.map(Uuid::from_u128),
            tenant_slug: slug,
            user_id: user.map(Uuid::from_u128),
            subject,
            source,
            kid,
            claims: claims.into(),
        };
        let encoded = context.encode();
        // NUL characters never reach a context (the token parser refuses them) and are
        // refused when decoding one.
        if encoded.contains("\\u0000") {
            prop_assert!(Context::decode(&encoded).is_err());
        } else {
            prop_assert_eq!(Context::decode(&encoded).unwrap(), context);
        }
    }

    #[test]
    fn context_decode_never_panics(s in prop_oneof![".*", json_value().prop_map(|v| v.to_string())]) {
        let _ = Context::decode(&s);
    }

    #[test]
    fn cache_bounds_always_hold(
        max_entries in 0usize..8,
        max_bytes in 0usize..4000,
        ops in vec((0usize..12, any::<bool>(), 0usize..600), 0..60),
    ) {
        let mut cache = TokenCache::new(max_entries, max_bytes);
        for (token, insert, size) in ops {
            let token = format!("token-{token}");
            if insert {
                let mut claims = Map::new();
                claims.insert("pad".into(), Value::String("x".repeat(size)));
                cache.insert(&token, verified(claims), 0);
            } else {
                let _ = cache.get(&token, 0);
            }
            prop_assert!(cache.len() <= max_entries);
            prop_assert!(cache.bytes() <= max_bytes);
        }
    }

    #[test]
    fn verify_and_decode_header_never_panic(token in arbitrary_token(), now in any::<i64>(), leeway in any::<u64>()) {
        let keys = all_keys();
        let _ = decode_header(&token);
        let opts = VerifyOptions { leeway_secs: leeway, issuers: vec!["i".into()], audiences: vec!["a".into()], require_exp: true };
        let _ = verify(&token, &keys, &opts, now);
    }

    #[test]
    fn signed_arbitrary_claims_never_panic_verify_or_resolve(
        claims in claims(),
        x_tenant in prop::option::of(prop_oneof![".*", "[a-z0-9-]{1,10}"]),
        cfg in resolve_config(),
        now in any::<i64>(),
    ) {
        let token = sign(Algorithm::HS256, None, &Value::Object(claims.clone()));
        let keys = [hs256_key()];
        if let Ok(verified) = verify(&token, &keys, &VerifyOptions::default(), now) {
            prop_assert_eq!(&*verified.claims, &claims);
        }
        let _ = resolve(&claims, x_tenant.as_deref(), &cfg);
        if let Ok(Some(found)) = tenant_from_claims(&claims, &cfg) {
            if let boards_tenant_core::TenantRef::Slug(slug) = found.tenant {
                prop_assert!(validate_slug(&slug).is_ok(), "{slug:?}");
            }
        }
    }

    #[test]
    fn parse_jwks_never_panics(doc in json_value(), keys in vec(json_value(), 0..4)) {
        let _ = parse_jwks(&doc);
        let _ = parse_jwks(&serde_json::json!({"keys": keys}));
    }

    #[test]
    fn key_installation_never_panics(material in ".*", kid in ".{0,10}", alg in prop::sample::select(Algorithm::ALL.to_vec())) {
        for format in [boards_tenant_core::KeyFormat::Secret, boards_tenant_core::KeyFormat::Pem, boards_tenant_core::KeyFormat::Jwk] {
            let _ = VerificationKey::new(&kid, alg, format, &material);
        }
    }

    #[test]
    fn registration_never_panics(
        name in ".*", email in prop_oneof![".*", "[a-z]{1,5}@[a-z]{1,5}\\.[a-z]{2,3}"],
        use_case in prop::option::of(".*"), size in prop::option::of(".*"), slug in prop::option::of(".*"),
        token_email in prop::option::of(".*"), verified in prop::option::of(any::<bool>()),
        allowed in vec("[a-z.]{0,8}", 0..3),
    ) {
        let req = RegistrationRequest { organization_name: name, admin_email: email, use_case, organization_size: size, organization_slug: slug };
        let policy = RegistrationPolicy { multi_tenant_mode: true, requires_approval: false, allowed_domains: allowed, max_tenants_per_user: None };
        if let Ok(v) = validate_registration(&req, &policy, token_email.as_deref(), verified) {
            prop_assert!(validate_slug(&v.slug).is_ok());
        }
    }
}
