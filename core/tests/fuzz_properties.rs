//! Fuzzing the core: 1,000,000 property cases, split across every function
//! that takes outside input. Each target checks that nothing panics (the runner catches panics
//! and reports them as failures, with the shrunk input) and that the outputs keep their
//! invariants: slugs match `^[a-z0-9-]+$`, an Ok resolution's slug is valid and came from the
//! strategy it names, a token only verifies when its signed bytes are the issuer's, and so on.
//!
//! Case count: `BOARDS_FUZZ_CASES` (total over all targets), default 1,000,000 in a release
//! build and 20,000 in a debug build (what plain `cargo test` uses, so the workspace run stays
//! quick). The million:
//!
//! ```sh
//! CARGO_TARGET_DIR=/tmp/target-core cargo test --release -p boards_tenant_core --test fuzz_properties -- --nocapture
//! ```
//!
//! The seed is fixed (`BOARDS_FUZZ_SEED`, default below) and printed, so a failure replays.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use boards_tenant_core::{
    check_claims, decode_header, normalize_slug, organisation_email_domain, parse_domain_list,
    resolve, slug_from_org_name, slug_with_suffix, tenant_from_claims, validate_slug,
    validate_x_tenant, verify, Algorithm, ClaimTenant, Context, CoreError, ErrorKind, KeyFormat,
    Resolution, ResolveConfig, Source, TenantRef, TokenError, VerificationKey, VerifyOptions,
    DEFAULT_PUBLIC_EMAIL_DOMAINS, MAX_SLUG_LEN, MAX_TOKEN_BYTES, SLUG_RULES_DETAIL,
};
use common::*;
use jsonwebtoken::EncodingKey;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Default seed; override with `BOARDS_FUZZ_SEED`.
const DEFAULT_SEED: u64 = 0x0b0a_4d55_7e4a_4e75;

/// Share of the total case count per target, in thousandths (sums to 1000).
const WEIGHTS: &[(&str, u64)] = &[
    ("slugs_on_arbitrary_unicode", 200),
    ("resolve_on_arbitrary_claims", 200),
    ("context_decode", 100),
    ("tokens_arbitrary_strings", 150),
    ("tokens_mutated_valid", 150),
    ("tokens_signed_arbitrary_claims", 100),
    ("parse_jwks", 60),
    ("key_material", 40),
];

fn total_cases() -> u64 {
    let default = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000_000
    };
    match std::env::var("BOARDS_FUZZ_CASES") {
        Ok(v) => v
            .trim()
            .replace('_', "")
            .parse()
            .unwrap_or_else(|e| panic!("BOARDS_FUZZ_CASES={v:?} is not a number: {e}")),
        Err(_) => default,
    }
}

fn seed() -> u64 {
    match std::env::var("BOARDS_FUZZ_SEED") {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("BOARDS_FUZZ_SEED={v:?} is not a number: {e}")),
        Err(_) => DEFAULT_SEED,
    }
}

fn cases_for(target: &str) -> u32 {
    let weight = WEIGHTS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, w)| *w)
        .unwrap_or_else(|| panic!("no weight for target {target}"));
    let cases = (total_cases().saturating_mul(weight) / 1000).max(1);
    u32::try_from(cases).unwrap_or(u32::MAX)
}

/// How often each outcome happened in one target: printed after the run, and checked
/// against the outcomes the target must reach, so a generator that drifts into producing
/// only garbage fails instead of passing vacuously.
#[derive(Default)]
struct Outcomes(Mutex<BTreeMap<String, u64>>);

impl Outcomes {
    fn hit(&self, key: impl Into<String>) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key.into()).or_insert(0) += 1;
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Below this many cases per target, rare outcomes may legitimately not occur.
const COVERAGE_MIN_CASES: u32 = 1500;

/// Runs `test` on `cases_for(target)` values of `strategy` with the fixed seed; panics with
/// the (shrunk) failing input, the seed and the target when a case fails or panics, and when
/// one of the `expected` outcomes never happened.
fn fuzz<S: Strategy>(
    target: &str,
    strategy: S,
    expected: &[&str],
    test: impl Fn(S::Value, &Outcomes) -> Result<(), TestCaseError>,
) {
    let cases = cases_for(target);
    let seed = seed();
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        // Regression files would land beside this file; the fixed seed replays a failure.
        failure_persistence: None,
        // Filters (finite floats...) reject a little; never let that end a long run.
        max_global_rejects: u32::MAX,
        max_local_rejects: u32::MAX,
        ..Config::default()
    };
    eprintln!("fuzz {target}: {cases} cases, seed {seed} (BOARDS_FUZZ_SEED)");
    let started = Instant::now();
    let outcomes = Outcomes::default();
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| test(value, &outcomes));
    let histogram = outcomes.snapshot();
    let shown: Vec<String> = histogram.iter().map(|(k, n)| format!("{k}={n}")).collect();
    eprintln!(
        "fuzz {target}: {} after {:.1}s; outcomes: {}",
        if result.is_ok() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64(),
        shown.join(" ")
    );
    if let Err(e) = result {
        panic!("fuzz {target} (seed {seed}, {cases} cases) failed: {e}");
    }
    if cases >= COVERAGE_MIN_CASES {
        let missing: Vec<&&str> = expected
            .iter()
            .filter(|k| !histogram.contains_key(**k))
            .collect();
        assert!(
            missing.is_empty(),
            "fuzz {target}: outcomes never reached in {cases} cases: {missing:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// Characters that have fooled slug and header code elsewhere: look-alikes of ASCII letters,
/// characters whose case mapping lands in ASCII (Kelvin sign, long s, dotted I), invisible and
/// direction controls, exotic whitespace, NUL, separators.
const TRICKY_CHARS: &[char] = &[
    '\u{0430}',  // Cyrillic a
    '\u{0435}',  // Cyrillic e
    '\u{043e}',  // Cyrillic o
    '\u{0441}',  // Cyrillic c
    '\u{ff41}',  // fullwidth a
    '\u{ff10}',  // fullwidth 0
    '\u{212a}',  // Kelvin sign, lowercases to 'k'
    '\u{017f}',  // long s, uppercases to 'S'
    '\u{0130}',  // I with dot above
    '\u{0131}',  // dotless i
    '\u{00df}',  // sharp s
    '\u{0301}',  // combining acute
    '\u{200b}',  // zero width space
    '\u{200d}',  // zero width joiner
    '\u{202e}',  // right-to-left override
    '\u{feff}',  // BOM
    '\u{00a0}',  // no-break space
    '\u{2028}',  // line separator
    '\u{3000}',  // ideographic space
    '\u{2010}',  // hyphen
    '\u{2212}',  // minus sign
    '\u{00e9}',  // e acute
    '\u{1f600}', // emoji
    '\u{10ffff}',
    '\0',
    '\t',
    '\n',
    '\r',
    '\u{7f}',
    ' ',
    '-',
    '_',
    '.',
    ',',
    '@',
    '/',
    '\\',
    '"',
    '\'',
    '%',
];

fn tricky_char() -> BoxedStrategy<char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        2 => prop::char::range('A', 'Z'),
        2 => prop::char::range('0', '9'),
        1 => Just('-'),
        3 => prop::sample::select(TRICKY_CHARS),
        2 => any::<char>(),
    ]
    .boxed()
}

/// Arbitrary Unicode, weighted towards text that is nearly a slug.
fn unicode_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => vec(tricky_char(), 0..80).prop_map(|cs| cs.into_iter().collect()),
        2 => any::<String>(),
        2 => "[a-z0-9-]{0,70}",
        1 => "[ A-Za-z0-9_.,-]{0,100}",
        1 => vec(tricky_char(), 60..200).prop_map(|cs| cs.into_iter().collect()),
        // Organisation names with legal forms.
        1 => (
            "[A-Za-z0-9 ]{0,20}",
            prop::sample::select(vec!["Inc", "Inc.", "LLC", "L.L.C.", "Ltd", "GmbH", "(Pty)", "S.A.", "Co", "Corp", "AG", ""]),
            prop::sample::select(vec!["Inc", "Ltd", "", "Limited", "Pty Ltd"]),
        )
            .prop_map(|(a, b, c)| format!("{a} {b} {c}")),
    ]
    .boxed()
}

/// Claim names the resolver and verifier look at, plus noise.
const CLAIM_NAMES: &[&str] = &[
    "sub",
    "tenant",
    "org",
    "organization",
    "org_slug",
    "org_name",
    "company",
    "org_id",
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
    "iat",
    "iss",
    "aud",
];

fn claim_name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(CLAIM_NAMES).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
    .boxed()
}

const PUBLIC_OR_TRICKY_DOMAINS: &[&str] = &[
    "gmail.com",
    "GMail.COM",
    "gmail.com.",
    "mail.gmail.com",
    "yahoo.co.nz",
    "yahoo.co.uk",
    "outlook.com",
    "acme-corp.com",
    "eu.acme.co.uk",
    "acme.com.au",
    "acme.io",
    "com.au",
    "co.uk",
    "localhost",
    "acme",
    "a.b",
    "xn--80ak6aa92e.com",
    "acmé.com",
    "acme..com",
    "-acme.com",
    "acme-.com",
    "acme_corp.com",
    "1.2.3.4",
];

fn email_value() -> BoxedStrategy<String> {
    prop_oneof![
        3 => (
            "[a-zA-Z0-9._+\"@-]{0,12}",
            prop::sample::select(PUBLIC_OR_TRICKY_DOMAINS)
        )
            .prop_map(|(local, domain)| format!("{local}@{domain}")),
        2 => "[a-z0-9._-]{1,10}@[a-zA-Z0-9-]{1,12}(\\.[a-zA-Z0-9-]{1,6}){1,3}\\.?",
        1 => unicode_text(),
        1 => (".{0,10}", ".{0,20}").prop_map(|(a, b)| format!("{a}@{b}")),
    ]
    .boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec![
            Value::from(""),
            Value::from("   "),
            Value::from(0),
            Value::from(-0.0),
            Value::from(1.5),
            Value::from(4102444800_i64),
            Value::from("550e8400-e29b-41d4-a716-446655440001"),
            Value::from(" 550E8400-E29B-41D4-A716-446655440001 "),
            Value::from("{550e8400-e29b-41d4-a716-446655440001}"),
            Value::from("urn:uuid:550e8400-e29b-41d4-a716-446655440001"),
            Value::from("false"),
            Value::from("acme-corp"),
            Value::from("Acme Corp"),
            Value::from("default"),
        ]),
        unicode_text().prop_map(Value::from),
        email_value().prop_map(Value::from),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..5).prop_map(Value::Array),
                btree_map(claim_name(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A value a tenant claim could hold: strings, objects with slug/id/name, wrong types.
/// Valid slugs and near misses (upper case, edges, length 63/64, separators).
fn slug_like() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?",
        1 => "[a-z0-9]{60,66}",
        1 => "[a-zA-Z0-9 _.-]{1,20}",
        1 => "-?[a-z0-9-]{0,10}-?",
    ]
    .boxed()
}

fn tenant_claim_value() -> BoxedStrategy<Value> {
    let member = prop_oneof![
        Just("slug".to_owned()),
        Just("id".to_owned()),
        Just("name".to_owned()),
        claim_name(),
    ];
    let member_value = prop_oneof![
        2 => json_leaf(),
        2 => slug_like().prop_map(Value::from),
        1 => any::<u128>().prop_map(|u| Value::from(Uuid::from_u128(u).to_string())),
    ];
    prop_oneof![
        3 => json_leaf(),
        3 => slug_like().prop_map(Value::from),
        2 => btree_map(member, member_value, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        1 => json_value(),
    ]
    .boxed()
}

fn claims() -> BoxedStrategy<Map<String, Value>> {
    let resolver_claims = btree_map(
        prop::sample::select(vec![
            "tenant",
            "org",
            "organization",
            "org_slug",
            "org_name",
            "company",
            "org_id",
            "namespace",
            "group",
            "team",
            "workspace",
        ])
        .prop_map(str::to_owned),
        tenant_claim_value(),
        0..4,
    );
    let email = prop::option::of(prop_oneof![
        4 => email_value().prop_map(Value::from),
        1 => json_leaf(),
    ]);
    let verified = prop::option::of(prop_oneof![
        any::<bool>().prop_map(Value::from),
        prop::sample::select(vec!["false", " FALSE ", "true", "no"]).prop_map(Value::from),
        json_leaf(),
    ]);
    let noise = btree_map(claim_name(), json_value(), 0..3);
    (resolver_claims, email, verified, noise)
        .prop_map(|(r, email, verified, noise)| {
            let mut m: Map<String, Value> = noise.into_iter().collect();
            m.extend(r);
            if let Some(e) = email {
                m.insert("email".into(), e);
            }
            if let Some(v) = verified {
                m.insert("email_verified".into(), v);
            }
            m
        })
        .boxed()
}

fn resolve_config() -> BoxedStrategy<ResolveConfig> {
    let public = prop_oneof![
        4 => Just(parse_domain_list(DEFAULT_PUBLIC_EMAIL_DOMAINS)),
        1 => Just(Vec::new()),
        1 => "[a-zA-Z0-9., \n-]{0,40}".prop_map(|s| parse_domain_list(&s)),
    ];
    let custom = prop::option::of(prop_oneof![
        3 => prop::sample::select(vec!["company", "org_id", "tenant", "email", "team", ""]).prop_map(str::to_owned),
        1 => claim_name(),
    ]);
    (any::<bool>(), custom, public)
        .prop_map(|(multi, custom, public)| ResolveConfig {
            multi_tenant_mode: multi,
            custom_claim: custom,
            public_email_domains: public,
        })
        .boxed()
}

fn x_tenant() -> BoxedStrategy<Option<String>> {
    prop::option::of(prop_oneof![
        3 => "[a-z0-9-]{1,12}",
        1 => prop::sample::select(vec!["acme-corp", "default", "-", "a", "acme corp", "ACME", " acme"]).prop_map(str::to_owned),
        2 => unicode_text(),
    ])
    .boxed()
}

/// Payloads nobody would sign on purpose: deep nesting around the 64-level cap, wide
/// objects, long strings, duplicate members, non-objects.
fn hostile_json_text() -> BoxedStrategy<String> {
    prop_oneof![
        (55usize..75, any::<bool>()).prop_map(|(depth, arrays)| {
            let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
            format!(
                "{{\"sub\":\"u\",\"x\":{}1{}}}",
                open.repeat(depth),
                close.repeat(depth)
            )
        }),
        (1usize..3000).prop_map(|n| {
            let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!("{{\"sub\":\"u\",{}}}", members.join(","))
        }),
        (0usize..70_000)
            .prop_map(|n| format!("{{\"sub\":\"u\",\"tenant\":\"{}\"}}", "a".repeat(n))),
        Just(r#"{"sub":"u","tenant":"acme","tenant":"victim"}"#.to_owned()),
        Just(r#"{"sub":"u","org":{"slug":"a","slug":"b"}}"#.to_owned()),
        Just(r#"{"sub":"u","sub":"admin"}"#.to_owned()),
        Just(r#"["sub","u"]"#.to_owned()),
        Just("null".to_owned()),
        Just("\"sub\"".to_owned()),
        Just(r#"{"sub":"u"} trailing"#.to_owned()),
        Just(r#"{"sub":"u","n":1e400}"#.to_owned()),
        Just(r#"{"sub":"u","n":-1e-400,"m":123456789012345678901234567890}"#.to_owned()),
        Just("{\"sub\":\"\u{0}\",\"tenant\":\"a\u{0}\"}".to_owned()),
        Just(r#"{"sub":"\ud800","tenant":"\udc00"}"#.to_owned()),
        Just("{\"sub\":\"u\"".to_owned()),
        Just(String::new()),
        "\\PC{0,40}",
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Keys and valid tokens
// ---------------------------------------------------------------------------------------

/// kid under which the fuzz key of `alg` is installed.
fn kid_of(alg: Algorithm) -> String {
    format!("fuzz-{}", alg.as_str().to_lowercase())
}

/// One key per algorithm (the fixture keys of `common`), plus a second HS256 key with another
/// secret, so kid-less tokens have more than one candidate.
fn keys() -> &'static [VerificationKey] {
    static KEYS: OnceLock<Vec<VerificationKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut keys: Vec<VerificationKey> = Algorithm::ALL
            .iter()
            .map(|alg| verification_key(&kid_of(*alg), *alg))
            .collect();
        keys.push(
            VerificationKey::new(
                "fuzz-hs256-other",
                Algorithm::HS256,
                KeyFormat::Secret,
                "another-secret-another-secret-another-secret-!",
            )
            .unwrap_or_else(|e| panic!("second HS256 key: {e}")),
        );
        keys
    })
}

/// Claims of the valid tokens that get mutated.
fn valid_claims() -> Value {
    json!({
        "sub": "fuzz-user",
        "tenant": "acme-corp",
        "email": "fuzz@acme-corp.com",
        "iss": "fuzz-issuer",
        "aud": ["fuzz"],
        "exp": NOW + 3600,
        "nbf": NOW - 60,
        "iat": NOW,
    })
}

/// Valid tokens: every algorithm with its kid, and a few without kid (the key is found by
/// trying the keys of the algorithm).
fn valid_tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let claims = valid_claims();
        let mut tokens: Vec<String> = Algorithm::ALL
            .iter()
            .map(|alg| sign(*alg, Some(&kid_of(*alg)), &claims))
            .collect();
        for alg in [
            Algorithm::HS256,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            tokens.push(sign(alg, None, &claims));
        }
        for token in &tokens {
            verify(token, keys(), &strict_options(), NOW)
                .unwrap_or_else(|e| panic!("a valid fuzz token does not verify: {e}\n{token}"));
        }
        tokens
    })
}

/// A valid token of `alg` without kid (signed once per run).
fn unkeyed_token(alg: Algorithm) -> &'static str {
    static TOKENS: OnceLock<Vec<(Algorithm, String)>> = OnceLock::new();
    TOKENS
        .get_or_init(|| {
            Algorithm::ALL
                .iter()
                .map(|a| (*a, sign(*a, None, &valid_claims())))
                .collect()
        })
        .iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, t)| t.as_str())
        .unwrap_or_default()
}

/// The signed part (`header.payload`) of every valid token: a mutated token that verifies must
/// have one of these, or the mutation forged a signature.
fn valid_signing_inputs() -> &'static HashSet<String> {
    static INPUTS: OnceLock<HashSet<String>> = OnceLock::new();
    INPUTS.get_or_init(|| {
        valid_tokens()
            .iter()
            .filter_map(|t| t.rsplit_once('.').map(|(input, _)| input.to_owned()))
            .collect()
    })
}

fn strict_options() -> VerifyOptions {
    VerifyOptions {
        leeway_secs: 30,
        issuers: vec!["fuzz-issuer".into()],
        audiences: vec!["fuzz".into()],
        require_exp: true,
    }
}

/// Public key material an attacker knows, used as an HMAC secret (algorithm confusion).
fn public_materials() -> [&'static str; 4] {
    [RSA_PUBLIC, EC256_PUBLIC, ED25519_PUBLIC, RSA_PUBLIC_PKCS1]
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        byte: u8,
    },
    Truncate {
        at: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        text: String,
    },
    SwapSegments {
        a: usize,
        b: usize,
    },
    DuplicateSegment {
        which: usize,
    },
    ReplaceSegment {
        which: usize,
        with: String,
    },
    SwapCase {
        at: usize,
    },
    StandardBase64,
    AppendPadding,
    /// Keeps the signature, puts another payload in: must never verify.
    ReplacePayload {
        claims: Value,
    },
    /// Keeps payload and signature, writes a new header: must never verify.
    ReplaceHeader {
        header: Value,
    },
    /// Signs a new token with a key the attacker has (a public key as HMAC secret, a made-up
    /// secret), with a header that may embed a key or point at one: must never verify.
    AttackerSigned {
        header: Value,
        claims: Value,
        secret: AttackerSecret,
    },
}

#[derive(Debug, Clone)]
enum AttackerSecret {
    /// `public_materials()[i]` used as an HMAC secret.
    PublicKey(usize),
    /// The real HMAC secret minus its last byte, or with one byte changed.
    NearMiss(usize),
    Made(String),
}

const INSERTS: &[&str] = &[
    ".", "..", "=", "==", "+", "/", "-", "_", " ", "\t", "\n", "\0", "%2E", "\u{fffd}", "ü",
    "Bearer ", "eyJ", "e30", "bnVsbA", "W10", "AAAA", "____", "....",
];

fn header_value() -> BoxedStrategy<Value> {
    let alg = prop_oneof![
        6 => prop::sample::select(Algorithm::ALL.to_vec()).prop_map(|a| Value::from(a.as_str())),
        1 => prop::sample::select(vec!["none", "None", "NONE", "nOnE", "HS256 ", "hs256", "RS1", "ES512", "", "EdDSA\u{0}", "Ed25519", "ES256K"]).prop_map(Value::from),
        1 => json_leaf(),
    ];
    let kid = prop::option::of(prop_oneof![
        4 => prop::sample::select(Algorithm::ALL.to_vec()).prop_map(|a| Value::from(kid_of(a))),
        1 => Just(Value::from("fuzz-hs256-other")),
        1 => Just(Value::from("unknown-kid")),
        1 => ".{0,300}".prop_map(Value::from),
        1 => json_leaf(),
    ]);
    let extras = btree_map(
        prop::sample::select(vec![
            "typ", "cty", "crit", "jwk", "jku", "x5u", "x5c", "b64", "zip", "alg2",
        ])
        .prop_map(str::to_owned),
        prop_oneof![
            json_leaf(),
            Just(json!({"kty":"oct","k":"YXR0YWNrZXI"})),
            Just(json!(["exp"])),
            Just(Value::from("https://attacker.example/jwks.json")),
        ],
        0..3,
    );
    (alg, kid, extras)
        .prop_map(|(alg, kid, extras)| {
            let mut m: Map<String, Value> = extras.into_iter().collect();
            m.insert("alg".into(), alg);
            if let Some(kid) = kid {
                m.insert("kid".into(), kid);
            }
            Value::Object(m)
        })
        .boxed()
}

fn attack_claims() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!({"sub":"fuzz-user","tenant":"victim","exp":NOW + 3600,"iss":"fuzz-issuer","aud":"fuzz"})),
        Just(json!({"sub":"admin","tenant":"acme-corp","exp":NOW + 3600,"iss":"fuzz-issuer","aud":"fuzz"})),
        claims().prop_map(Value::Object),
    ]
    .boxed()
}

fn mutation() -> BoxedStrategy<Mutation> {
    let pos = any::<usize>();
    prop_oneof![
        6 => (pos, 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        2 => (pos, any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        3 => pos.prop_map(|at| Mutation::Truncate { at }),
        2 => (pos, 1usize..20).prop_map(|(at, len)| Mutation::Delete { at, len }),
        3 => (pos, prop_oneof![prop::sample::select(INSERTS).prop_map(str::to_owned), "[A-Za-z0-9_-]{1,8}", ".{1,3}"])
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        2 => (0usize..4, 0usize..4).prop_map(|(a, b)| Mutation::SwapSegments { a, b }),
        1 => (0usize..4).prop_map(|which| Mutation::DuplicateSegment { which }),
        3 => (0usize..3, prop_oneof![
                "[A-Za-z0-9_-]{0,120}",
                "[A-Za-z0-9+/=]{0,40}",
                json_value().prop_map(|v| b64(v.to_string().as_bytes())),
                hostile_json_text().prop_map(|s| b64(s.as_bytes())),
                Just(String::new()),
            ])
            .prop_map(|(which, with)| Mutation::ReplaceSegment { which, with }),
        1 => pos.prop_map(|at| Mutation::SwapCase { at }),
        1 => Just(Mutation::StandardBase64),
        1 => Just(Mutation::AppendPadding),
        2 => attack_claims().prop_map(|claims| Mutation::ReplacePayload { claims }),
        2 => header_value().prop_map(|header| Mutation::ReplaceHeader { header }),
        2 => (
            header_value(),
            attack_claims(),
            prop_oneof![
                (0usize..4).prop_map(AttackerSecret::PublicKey),
                any::<usize>().prop_map(AttackerSecret::NearMiss),
                ".{0,70}".prop_map(AttackerSecret::Made),
            ],
        )
            .prop_map(|(header, claims, secret)| Mutation::AttackerSigned { header, claims, secret }),
    ]
    .boxed()
}

fn replace_segment(token: &str, which: usize, with: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    if let Some(slot) = parts.get_mut(which) {
        *slot = with;
    }
    parts.join(".")
}

/// Applies one mutation to a token. Byte-level edits may break UTF-8; the result is decoded
/// lossily, as the SQL layer would refuse invalid UTF-8 before the core sees it.
fn apply(token: &str, m: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let len = bytes.len();
    match m {
        Mutation::FlipBit { at, bit } => {
            if len > 0 {
                bytes[at % len] ^= 1 << bit;
            }
        }
        Mutation::SetByte { at, byte } => {
            if len > 0 {
                bytes[at % len] = *byte;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        Mutation::Delete { at, len: n } => {
            if len > 0 {
                let start = at % len;
                let end = (start + n).min(len);
                bytes.drain(start..end);
            }
        }
        Mutation::Insert { at, text } => {
            let at = at % (len + 1);
            bytes.splice(at..at, text.bytes());
        }
        Mutation::SwapCase { at } => {
            if len > 0 {
                let b = &mut bytes[at % len];
                if b.is_ascii_alphabetic() {
                    *b ^= 0x20;
                }
            }
        }
        Mutation::StandardBase64 => {
            for b in &mut bytes {
                *b = match *b {
                    b'-' => b'+',
                    b'_' => b'/',
                    other => other,
                };
            }
        }
        Mutation::AppendPadding => bytes.extend_from_slice(b"=="),
        Mutation::SwapSegments { a, b } => {
            let mut parts: Vec<&str> = token.split('.').collect();
            if *a < parts.len() && *b < parts.len() {
                parts.swap(*a, *b);
            }
            return parts.join(".");
        }
        Mutation::DuplicateSegment { which } => {
            let mut parts: Vec<&str> = token.split('.').collect();
            if let Some(p) = parts.get(*which).copied() {
                parts.insert(*which, p);
            }
            return parts.join(".");
        }
        Mutation::ReplaceSegment { which, with } => return replace_segment(token, *which, with),
        Mutation::ReplacePayload { claims } => {
            return replace_segment(token, 1, &b64(claims.to_string().as_bytes()))
        }
        Mutation::ReplaceHeader { header } => {
            return replace_segment(token, 0, &b64(header.to_string().as_bytes()))
        }
        Mutation::AttackerSigned {
            header,
            claims,
            secret,
        } => return attacker_token(header, claims, secret),
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A token signed with HMAC under a secret that is not an installed one.
fn attacker_token(header: &Value, claims: &Value, secret: &AttackerSecret) -> String {
    let secret: Vec<u8> = match secret {
        AttackerSecret::PublicKey(i) => public_materials()[i % 4].as_bytes().to_vec(),
        AttackerSecret::NearMiss(i) => {
            let mut s = HMAC_SECRET.as_bytes().to_vec();
            if i.is_multiple_of(2) {
                s.pop();
            } else {
                let at = (i / 2) % s.len();
                s[at] = s[at].wrapping_add(1);
            }
            s
        }
        AttackerSecret::Made(s) => s.as_bytes().to_vec(),
    };
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("HS384") => Algorithm::HS384,
        Some("HS512") => Algorithm::HS512,
        _ => Algorithm::HS256,
    };
    sign_raw(
        alg,
        &header.to_string(),
        &claims.to_string(),
        &EncodingKey::from_secret(&secret),
    )
}

// ---------------------------------------------------------------------------------------
// Shared property checks
// ---------------------------------------------------------------------------------------

/// The slug rules, written out independently of the crate.
fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG_LEN
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn check_slug(what: &str, slug: &str) -> Result<(), TestCaseError> {
    prop_assert!(is_valid_slug(slug), "{what} produced invalid slug {slug:?}");
    prop_assert!(
        validate_slug(slug).is_ok(),
        "{what}: validate_slug refuses {slug:?}"
    );
    Ok(())
}

/// The lowercased ASCII letters and digits of `s`, in order.
fn alnum_lower(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A verified token's invariants, whatever the input was.
fn check_verified(
    token: &str,
    v: &boards_tenant_core::VerifiedToken,
    opts: &VerifyOptions,
    now: i64,
) -> Result<(), TestCaseError> {
    prop_assert!(token.len() <= MAX_TOKEN_BYTES);
    prop_assert!(!v.subject.is_empty(), "verified token without subject");
    prop_assert_eq!(v.claims.get("sub"), Some(&Value::from(v.subject.clone())));
    prop_assert!(
        keys()
            .iter()
            .any(|k| k.kid() == v.key.kid && k.alg() == v.alg),
        "verified by kid {} / {} that is not installed",
        v.key.kid,
        v.alg
    );
    // The clock and setting checks of check_claims held.
    let leeway = i64::try_from(opts.leeway_secs).unwrap_or(i64::MAX);
    match v.exp {
        Some(exp) => prop_assert!(now < exp.saturating_add(leeway), "expired token verified"),
        None => prop_assert!(!opts.require_exp, "token without exp verified"),
    }
    if let Some(nbf) = v.nbf {
        prop_assert!(
            now >= nbf.saturating_sub(leeway),
            "token before nbf verified"
        );
    }
    if !opts.issuers.is_empty() {
        let iss = v.claims.get("iss").and_then(Value::as_str);
        prop_assert!(iss.is_some_and(|i| opts.issuers.iter().any(|x| x == i)));
    }
    Ok(())
}

fn token_error(e: &CoreError) -> Option<&TokenError> {
    match e {
        CoreError::Token(t) => Some(t),
        _ => None,
    }
}

/// A short name for an error, for the outcome histograms.
fn outcome_of(e: &CoreError) -> String {
    let name = match e {
        CoreError::Token(t) => match t {
            TokenError::Malformed(_) => "malformed",
            TokenError::TooLarge(_) => "too_large",
            TokenError::Unsigned => "unsigned",
            TokenError::UnsupportedAlgorithm(_) => "unsupported_alg",
            TokenError::CriticalHeader => "crit",
            TokenError::UnknownKid(_) => "unknown_kid",
            TokenError::NoKeyForAlgorithm(_) => "no_key_for_alg",
            TokenError::AlgorithmMismatch { .. } => "alg_mismatch",
            TokenError::BadSignature => "bad_signature",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not_yet_valid",
            TokenError::MissingExpiry => "missing_exp",
            TokenError::BadIssuer => "bad_issuer",
            TokenError::BadAudience => "bad_audience",
            TokenError::NoSubject => "no_subject",
            TokenError::ClaimsNotObject => "claims_not_object",
            TokenError::InvalidClaim { .. } => "invalid_claim",
        },
        other => return format!("err:{:?}", other.kind()),
    };
    format!("err:{name}")
}

// ---------------------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------------------

#[test]
fn slugs_on_arbitrary_unicode() {
    fuzz(
        "slugs_on_arbitrary_unicode",
        (unicode_text(), any::<u32>()),
        &[
            "valid_slug",
            "invalid_slug",
            "normalize:ok",
            "normalize:err",
            "normalize:err:non_ascii",
            "org_name:ok",
            "org_name:err",
        ],
        |(s, n), out| {
            out.hit(if is_valid_slug(&s) {
                "valid_slug"
            } else {
                "invalid_slug"
            });
            // validate_slug / validate_x_tenant: exactly the rules, same answer, the header
            // error carries the seed's texts, an accepted header is returned unchanged.
            let valid = is_valid_slug(&s);
            prop_assert_eq!(validate_slug(&s).is_ok(), valid, "validate_slug({:?})", s);
            match validate_x_tenant(&s) {
                Ok(slug) => {
                    prop_assert!(valid, "validate_x_tenant accepted {s:?}");
                    prop_assert_eq!(slug, s.clone());
                }
                Err(e) => {
                    prop_assert!(!valid, "validate_x_tenant refused valid {s:?}");
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidSlug);
                    prop_assert_eq!(e.to_string(), "Invalid X-Tenant header format");
                    prop_assert_eq!(e.detail(), Some(SLUG_RULES_DETAIL.to_owned()));
                }
            }
            if let Err(e) = validate_slug(&s) {
                prop_assert_eq!(e.to_string(), "Invalid tenant slug");
                prop_assert_eq!(e.detail(), Some(SLUG_RULES_DETAIL.to_owned()));
            }

            // normalize_slug: refuses anything non-ASCII (look-alikes must never map onto an
            // ASCII slug), succeeds exactly when there is an ASCII letter or digit, and then
            // yields a valid slug made of the input's own letters and digits, in order; it is
            // idempotent.
            let trimmed = s.trim();
            match normalize_slug(&s) {
                Ok(slug) => {
                    out.hit("normalize:ok");
                    check_slug("normalize_slug", &slug)?;
                    prop_assert!(trimmed.is_ascii(), "non-ASCII {s:?} normalised to {slug:?}");
                    let kept = slug.replace('-', "");
                    prop_assert!(
                        alnum_lower(trimmed).starts_with(&kept),
                        "normalize_slug({s:?}) = {slug:?} is not made of the input's letters"
                    );
                    prop_assert_eq!(normalize_slug(&slug), Ok(slug.clone()), "not idempotent");
                    prop_assert!(!slug.contains("--"));
                }
                Err(e) => {
                    out.hit(if trimmed.is_ascii() {
                        "normalize:err"
                    } else {
                        "normalize:err:non_ascii"
                    });
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidTenantClaim);
                    prop_assert!(
                        !trimmed.is_ascii() || alnum_lower(trimmed).is_empty(),
                        "normalize_slug refused {s:?}: {e}"
                    );
                }
            }

            // slug_from_org_name: a valid slug made of the name's ASCII letters and digits
            // (a prefix of them: only trailing legal-form words are dropped).
            match slug_from_org_name(&s) {
                Ok(slug) => {
                    out.hit("org_name:ok");
                    check_slug("slug_from_org_name", &slug)?;
                    let kept = slug.replace('-', "");
                    prop_assert!(
                        alnum_lower(&s).starts_with(&kept),
                        "slug_from_org_name({s:?}) = {slug:?}"
                    );
                }
                Err(e) => {
                    out.hit("org_name:err");
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
                }
            }
            if alnum_lower(&s).is_empty() {
                prop_assert!(slug_from_org_name(&s).is_err());
            }

            // slug_with_suffix: always a valid slug, with the suffix when n >= 2.
            let suffixed = slug_with_suffix(&s, n);
            check_slug("slug_with_suffix", &suffixed)?;
            if n >= 2 {
                let suffix = format!("-{n}");
                prop_assert!(suffixed.ends_with(&suffix), "{suffixed:?} lacks {suffix}");
            } else if valid {
                prop_assert_eq!(&suffixed, &s);
            }
            Ok(())
        },
    );
}

/// Whether a claim value makes the resolver move on to the next claim: it names nothing, or
/// it is an object whose slug/id/name members are all empty.
fn falls_through(v: &Value) -> bool {
    let empty = |v: &Value| match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if empty(v) {
        return true;
    }
    match v {
        Value::Object(m) => {
            let members: Vec<&Value> = ["slug", "id", "name"]
                .iter()
                .filter_map(|k| m.get(*k))
                .collect();
            !members.is_empty() && members.into_iter().all(empty)
        }
        _ => false,
    }
}

const ORG_CLAIMS: &[&str] = &["org", "organization", "org_slug", "org_name"];

/// The label an organisation registered (DESIGN: "acme-corp.com" -> "acme-corp",
/// "eu.acme.co.uk" -> "acme"), written out independently of the crate.
fn registrable_label(domain: &str) -> Option<String> {
    let mut labels: Vec<&str> = domain.split('.').collect();
    labels.pop()?;
    let second_level = ["co", "com", "org", "net", "ac", "gov", "edu"];
    if labels.len() > 1 && labels.last().is_some_and(|l| second_level.contains(l)) {
        labels.pop();
    }
    labels.last().map(|l| (*l).to_owned())
}
const NAMESPACE_CLAIMS: &[&str] = &["namespace", "group", "team", "workspace"];

fn check_claim_tenant(
    found: &ClaimTenant,
    claims: &Map<String, Value>,
    cfg: &ResolveConfig,
) -> Result<(), TestCaseError> {
    let custom = cfg.custom_claim.as_deref().filter(|c| !c.is_empty());
    // The claim belongs to the strategy it is reported under.
    let names_ok = match found.source {
        Source::ClaimTenant => found.claim == "tenant",
        Source::ClaimOrg => ORG_CLAIMS.contains(&found.claim.as_str()),
        Source::ClaimCustom => Some(found.claim.as_str()) == custom,
        Source::EmailDomain => found.claim == "email",
        Source::ClaimNamespace => NAMESPACE_CLAIMS.contains(&found.claim.as_str()),
        Source::XTenant | Source::Default => false,
    };
    prop_assert!(
        names_ok,
        "claim {:?} reported as {:?}",
        found.claim,
        found.source
    );
    let value = claims.get(&found.claim);
    prop_assert!(
        value.is_some_and(|v| !falls_through(v)),
        "empty claim chosen"
    );

    // Every strategy before it yielded nothing.
    let earlier: Vec<&str> = match found.source {
        Source::ClaimTenant => vec![],
        Source::ClaimOrg => {
            let i = ORG_CLAIMS
                .iter()
                .position(|c| *c == found.claim)
                .unwrap_or(0);
            let mut v = vec!["tenant"];
            v.extend(&ORG_CLAIMS[..i]);
            v
        }
        Source::ClaimCustom => {
            let mut v = vec!["tenant"];
            v.extend(ORG_CLAIMS);
            v
        }
        _ => {
            let mut v = vec!["tenant"];
            v.extend(ORG_CLAIMS);
            v.extend(custom);
            v
        }
    };
    for name in earlier {
        if let Some(v) = claims.get(name) {
            prop_assert!(
                falls_through(v),
                "{:?} chosen from {:?} although {name:?} = {v} comes first",
                found.source,
                found.claim
            );
        }
    }

    // The email strategy: multi-tenant mode only, never for a public or unverified address,
    // and the slug is a label of the organisation's domain.
    if found.source == Source::EmailDomain {
        prop_assert!(
            cfg.multi_tenant_mode,
            "email strategy in single-tenant mode"
        );
        let domain = organisation_email_domain(claims, &cfg.public_email_domains);
        prop_assert!(
            domain.is_some(),
            "email strategy without an organisation domain"
        );
        let domain = domain.unwrap_or_default();
        let label = registrable_label(&domain);
        for public in &cfg.public_email_domains {
            prop_assert!(
                domain != *public && !domain.ends_with(&format!(".{public}")),
                "public domain {domain} chose a tenant"
            );
            prop_assert!(
                registrable_label(public) != label,
                "{domain} is the public provider {public} under another TLD"
            );
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default();
        prop_assert!(
            email
                .to_ascii_lowercase()
                .trim_end_matches('.')
                .ends_with(&format!("@{domain}")),
            "domain {domain} is not the domain of {email:?}"
        );
        match claims.get("email_verified") {
            Some(Value::Bool(false)) => prop_assert!(false, "unverified email chose a tenant"),
            Some(Value::String(s)) => prop_assert!(!s.trim().eq_ignore_ascii_case("false")),
            _ => {}
        }
        if let TenantRef::Slug(slug) = &found.tenant {
            prop_assert_eq!(
                label.as_deref().and_then(|l| normalize_slug(l).ok()),
                Some(slug.clone()),
                "email slug is not the registrable label of {}",
                domain
            );
        }
    }
    if found.source == Source::ClaimNamespace && cfg.multi_tenant_mode {
        // The email strategy had nothing usable.
        if let Some(domain) = organisation_email_domain(claims, &cfg.public_email_domains) {
            prop_assert!(
                registrable_label(&domain).is_none_or(|l| normalize_slug(&l).is_err()),
                "namespace chosen although the email domain {domain} names a tenant"
            );
        }
    }

    // What the value says.
    match (&found.tenant, value) {
        (TenantRef::Slug(slug), Some(Value::String(s))) => {
            check_slug("claim resolution", slug)?;
            if found.source == Source::ClaimTenant {
                prop_assert_eq!(slug, s, "the tenant claim is taken as it is or refused");
            } else if found.source != Source::EmailDomain {
                prop_assert!(s.trim().is_ascii(), "non-ASCII claim {s:?} became {slug:?}");
                prop_assert_eq!(normalize_slug(s).ok(), Some(slug.clone()));
            }
        }
        (TenantRef::Slug(slug), Some(Value::Object(m))) => {
            check_slug("claim object resolution", slug)?;
            let first = ["slug", "id", "name"]
                .iter()
                .find(|k| m.get(**k).is_some_and(|v| !falls_through(v)));
            match first {
                Some(&"slug") => {
                    prop_assert_eq!(m.get("slug"), Some(&Value::from(slug.clone())))
                }
                Some(&"name") => {
                    let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
                    prop_assert_eq!(normalize_slug(name).ok(), Some(slug.clone()));
                }
                other => prop_assert!(false, "slug {slug:?} from object member {other:?}"),
            }
        }
        (TenantRef::Id(id), Some(Value::Object(m))) => {
            let first = ["slug", "id", "name"]
                .iter()
                .find(|k| m.get(**k).is_some_and(|v| !falls_through(v)));
            prop_assert_eq!(first, Some(&"id"));
            let text = m.get("id").and_then(Value::as_str).unwrap_or_default();
            prop_assert_eq!(Uuid::parse_str(text.trim()).ok(), Some(*id));
        }
        (TenantRef::Slug(slug), _) if found.source == Source::EmailDomain => {
            check_slug("email resolution", slug)?;
        }
        (tenant, value) => prop_assert!(false, "{tenant:?} resolved from {value:?}"),
    }
    Ok(())
}

/// A short name for a resolution, for the outcome histograms.
fn resolution_outcome(result: &Result<Resolution, CoreError>, x: Option<&str>) -> String {
    match result {
        Ok(Resolution::Claims {
            x_tenant: Some(_), ..
        }) => "claims+x_tenant".into(),
        Ok(Resolution::Claims { claim, .. }) => match claim.tenant {
            TenantRef::Id(_) => "claims:id".into(),
            TenantRef::Slug(_) => format!("claims:{}", claim.source.as_str()),
        },
        Ok(Resolution::XTenant { .. }) => "x_tenant".into(),
        Ok(Resolution::Default) => "default".into(),
        Err(_) if x.is_some_and(|x| !is_valid_slug(x)) => "err:header".into(),
        Err(e) => outcome_of(e),
    }
}

#[test]
fn resolve_on_arbitrary_claims() {
    fuzz(
        "resolve_on_arbitrary_claims",
        (claims(), x_tenant(), resolve_config()),
        &[
            "claims:claim:tenant",
            "claims:claim:org",
            "claims:claim:custom",
            "claims:email_domain",
            "claims:claim:namespace",
            "claims:id",
            "claims+x_tenant",
            "x_tenant",
            "default",
            "err:header",
            "err:MissingTenant",
            "err:InvalidSlug",
            "err:InvalidTenantClaim",
        ],
        |(claims, x, cfg), out| {
            let result = resolve(&claims, x.as_deref(), &cfg);
            out.hit(resolution_outcome(&result, x.as_deref()));
            // Deterministic.
            prop_assert_eq!(&resolve(&claims, x.as_deref(), &cfg), &result);
            let from_claims = tenant_from_claims(&claims, &cfg);
            let x_valid = x.as_deref().map(is_valid_slug);
            match &result {
                Ok(Resolution::Claims { claim, x_tenant }) => {
                    prop_assert_ne!(x_valid, Some(false), "bad header {:?} accepted", x);
                    prop_assert_eq!(x_tenant, &x, "the header is passed on unchanged");
                    prop_assert_eq!(from_claims, Ok(Some(claim.clone())));
                    check_claim_tenant(claim, &claims, &cfg)?;
                }
                Ok(Resolution::XTenant { slug }) => {
                    prop_assert_eq!(Some(slug), x.as_ref());
                    check_slug("x_tenant resolution", slug)?;
                    prop_assert_eq!(from_claims, Ok(None));
                }
                Ok(Resolution::Default) => {
                    prop_assert!(
                        !cfg.multi_tenant_mode,
                        "default tenant in multi-tenant mode"
                    );
                    prop_assert!(x.is_none());
                    prop_assert_eq!(from_claims, Ok(None));
                }
                Err(e) => {
                    if x_valid == Some(false) {
                        // The header is checked first, whatever the claims say.
                        prop_assert_eq!(e.to_string(), "Invalid X-Tenant header format");
                    } else {
                        match e.kind() {
                            ErrorKind::MissingTenant => {
                                prop_assert!(cfg.multi_tenant_mode && x.is_none());
                                prop_assert_eq!(&from_claims, &Ok(None));
                            }
                            ErrorKind::InvalidSlug | ErrorKind::InvalidTenantClaim => {
                                prop_assert_eq!(from_claims.as_ref().err(), Some(e));
                            }
                            other => prop_assert!(false, "resolve failed with {other:?}: {e}"),
                        }
                    }
                }
            }
            Ok(())
        },
    );
}

/// Text that is, or is close to, an encoded context.
fn context_text() -> BoxedStrategy<String> {
    let member = prop_oneof![
        Just(("v".to_owned(), json!(1))),
        (prop::sample::select(vec!["v"]), json_leaf()).prop_map(|(k, v)| (k.to_owned(), v)),
        (
            prop::sample::select(vec!["tenant_id", "user_id"]),
            prop_oneof![
                Just(Value::from("550e8400-e29b-41d4-a716-446655440001")),
                Just(Value::from("00000000-0000-0000-0000-000000000000")),
                json_leaf()
            ]
        )
            .prop_map(|(k, v)| (k.to_owned(), v)),
        (
            prop::sample::select(vec!["tenant_slug", "subject", "source"]),
            json_leaf()
        )
            .prop_map(|(k, v)| (k.to_owned(), v)),
        (
            Just("claims"),
            prop_oneof![claims().prop_map(Value::Object), json_value()]
        )
            .prop_map(|(k, v)| (k.to_owned(), v)),
        (claim_name(), json_leaf()),
    ];
    let object = vec(member, 0..7).prop_map(|members| {
        let body: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.clone())))
            .collect();
        format!("{{{}}}", body.join(","))
    });
    let encoded = || {
        (
            prop::option::of(any::<u128>()),
            prop::option::of(unicode_text()),
            prop::option::of(any::<u128>()),
            prop::option::of(unicode_text()),
            claims(),
        )
            .prop_map(|(t, slug, u, sub, claims)| {
                Context {
                    tenant_id: t.map(Uuid::from_u128),
                    tenant_slug: slug,
                    user_id: u.map(Uuid::from_u128),
                    subject: sub,
                    source: Some("claim:tenant".into()),
                    kid: Some("fuzz-hs256".into()),
                    claims: claims.into(),
                }
                .encode()
            })
    };
    prop_oneof![
        3 => object,
        2 => (encoded(), vec(mutation(), 1..3)).prop_map(|(s, ms)| ms.iter().fold(s, |s, m| apply(&s, m))),
        1 => encoded(),
        1 => any::<String>(),
        1 => hostile_json_text(),
    ]
    .boxed()
}

#[test]
fn context_decode() {
    fuzz(
        "context_decode",
        context_text(),
        &["ok", "err"],
        |s, out| {
            let decoded = Context::decode(&s);
            out.hit(if decoded.is_ok() { "ok" } else { "err" });
            match decoded {
                Ok(ctx) => {
                    // What decodes re-encodes to something that decodes to the same context.
                    let again = Context::decode(&ctx.encode());
                    prop_assert_eq!(again.as_ref().ok(), Some(&ctx), "round trip of {:?}", s);
                    // Only version 1, and never with unknown members.
                    let value: Value = serde_json::from_str(&s)
                        .map_err(|e| TestCaseError::fail(format!("decoded non-JSON {s:?}: {e}")))?;
                    prop_assert_eq!(value.get("v"), Some(&json!(1)));
                    let known = [
                        "v",
                        "tenant_id",
                        "tenant_slug",
                        "user_id",
                        "subject",
                        "source",
                        "kid",
                        "claims",
                    ];
                    prop_assert!(value
                        .as_object()
                        .is_some_and(|m| m.keys().all(|k| known.contains(&k.as_str()))));
                }
                Err(e) => {
                    prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
                    prop_assert_eq!(e.to_string(), "invalid tenant context");
                }
            }
            Ok(())
        },
    );
}

/// Strings that are not tokens, or are shaped like one with arbitrary contents.
fn arbitrary_token() -> BoxedStrategy<String> {
    prop_oneof![
        2 => any::<String>(),
        2 => "[A-Za-z0-9_.=+/-]{0,200}",
        1 => "\\PC{0,100}",
        1 => (0usize..6).prop_map(|n| ".".repeat(n)),
        // Three base64url parts of arbitrary JSON.
        3 => (json_value(), json_value(), "[A-Za-z0-9_-]{0,90}").prop_map(|(h, p, s)| {
            format!("{}.{}.{s}", b64(h.to_string().as_bytes()), b64(p.to_string().as_bytes()))
        }),
        // A plausible header, an arbitrary or hostile payload, a garbage signature.
        3 => (header_value(), prop_oneof![json_value().prop_map(|v| v.to_string()), hostile_json_text()], "[A-Za-z0-9_-]{0,90}")
            .prop_map(|(h, p, s)| format!("{}.{}.{s}", b64(h.to_string().as_bytes()), b64(p.as_bytes()))),
        // Sizes around the limit.
        1 => (MAX_TOKEN_BYTES - 3..MAX_TOKEN_BYTES + 3).prop_map(|n| {
            let mut t = format!("{}.", b64(br#"{"alg":"HS256"}"#));
            while t.len() < n - 1 {
                t.push('A');
            }
            t.push('.');
            t
        }),
    ]
    .boxed()
}

fn verify_options() -> BoxedStrategy<(VerifyOptions, i64)> {
    (
        prop_oneof![Just(0u64), 0u64..100_000, any::<u64>()],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![
            3 => Just(NOW),
            1 => any::<i64>(),
            1 => prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, NOW + 3600, NOW + 3570, NOW - 90]),
        ],
    )
        .prop_map(|(leeway, iss, aud, exp, now)| {
            (
                VerifyOptions {
                    leeway_secs: leeway,
                    issuers: if iss { vec!["fuzz-issuer".into()] } else { vec![] },
                    audiences: if aud { vec!["fuzz".into()] } else { vec![] },
                    require_exp: exp,
                },
                now,
            )
        })
    .boxed()
}

#[test]
fn tokens_arbitrary_strings() {
    fuzz(
        "tokens_arbitrary_strings",
        (arbitrary_token(), verify_options()),
        &[
            "err:malformed",
            "err:too_large",
            "err:unsigned",
            "err:unsupported_alg",
            "err:crit",
            "err:unknown_kid",
            "err:alg_mismatch",
            "err:bad_signature",
        ],
        |(token, (opts, now)), out| {
            let header = decode_header(&token);
            if token.len() > MAX_TOKEN_BYTES {
                prop_assert_eq!(
                    header.as_ref().err().and_then(token_error),
                    Some(&TokenError::TooLarge(token.len()))
                );
            }
            if let Ok(h) = &header {
                prop_assert_eq!(token.matches('.').count(), 2);
                prop_assert!(!token.chars().any(char::is_whitespace));
                let _ = h;
            }
            match verify(&token, keys(), &opts, now) {
                // Nothing here is signed with an installed key.
                Ok(v) => prop_assert!(false, "an unsigned string verified: {token:?} -> {v:?}"),
                Err(e) => {
                    out.hit(outcome_of(&e));
                    prop_assert_eq!(e.kind(), ErrorKind::TokenRejected, "{}", e);
                }
            }
            Ok(())
        },
    );
}

#[test]
fn tokens_mutated_valid() {
    let tokens = valid_tokens();
    let originals = valid_signing_inputs();
    fuzz(
        "tokens_mutated_valid",
        (0..tokens.len(), vec(mutation(), 1..4), verify_options()),
        &[
            "ok",
            "err:malformed",
            "err:unsigned",
            "err:unsupported_alg",
            "err:crit",
            "err:unknown_kid",
            "err:alg_mismatch",
            "err:bad_signature",
            "err:expired",
            "err:not_yet_valid",
        ],
        |(index, mutations, (opts, now)), out| {
            let original = &tokens[index];
            let token = mutations.iter().fold(original.clone(), |t, m| apply(&t, m));
            let _ = decode_header(&token);
            let result = verify(&token, keys(), &opts, now);
            out.hit(match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => outcome_of(e),
            });
            match result {
                Ok(v) => {
                    // Only the issuer's own signed bytes verify: a mutation may at most touch
                    // what the signature does not cover in a way the decoder ignores.
                    let input = token.rsplit_once('.').map(|(i, _)| i).unwrap_or("");
                    prop_assert!(
                        originals.contains(input),
                        "forged token verified: {token:?} (from {original:?}, {mutations:?})"
                    );
                    prop_assert_eq!(Value::Object((*v.claims).clone()), valid_claims());
                    check_verified(&token, &v, &opts, now)?;
                }
                Err(e) => prop_assert_eq!(e.kind(), ErrorKind::TokenRejected, "{}", e),
            }
            Ok(())
        },
    );
}

#[test]
fn tokens_signed_arbitrary_claims() {
    // Tokens signed with the real key, so the claims get past the signature and reach the
    // claim checks and resolution.
    let hs256 = signing_key(Algorithm::HS256);
    // Mostly well-formed registered claims, so that many tokens pass the claim checks and
    // reach resolution; sometimes absent or of the wrong type.
    let registered = |good: BoxedStrategy<Value>| {
        prop_oneof![
            6 => good.prop_map(Some),
            2 => Just(None),
            1 => json_leaf().prop_map(Some),
        ]
    };
    let time = |around: i64| {
        prop_oneof![
            4 => (around - 200_000..around + 200_000).prop_map(Value::from),
            1 => (around as f64 - 1000.0..around as f64 + 1000.0).prop_map(Value::from),
            1 => prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1]).prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
        ]
        .boxed()
    };
    let payload = prop_oneof![
        6 => (
            claims(),
            registered("[a-z0-9|@.-]{1,12}".prop_map(Value::from).boxed()),
            registered(time(NOW + 100_000)),
            prop_oneof![1 => time(NOW - 100_000).prop_map(Some), 3 => Just(None)],
            registered(Just(Value::from("fuzz-issuer")).boxed()),
            registered(prop_oneof![
                Just(Value::from("fuzz")),
                Just(json!(["other", "fuzz"])),
                Just(json!(["other"])),
                Just(json!([])),
            ].boxed()),
        )
            .prop_map(|(mut c, sub, exp, nbf, iss, aud)| {
                for (name, v) in [("sub", sub), ("exp", exp), ("nbf", nbf), ("iss", iss), ("aud", aud)] {
                    match v {
                        Some(v) => c.insert(name.into(), v),
                        None => c.remove(name),
                    };
                }
                Value::Object(c).to_string()
            }),
        1 => hostile_json_text(),
    ];
    fuzz(
        "tokens_signed_arbitrary_claims",
        (payload, x_tenant(), resolve_config(), verify_options()),
        &[
            "ok",
            "err:malformed",
            "err:too_large",
            "err:no_subject",
            "err:invalid_claim",
            "err:claims_not_object",
            "err:expired",
            "err:not_yet_valid",
            "err:missing_exp",
            "err:bad_issuer",
            "err:bad_audience",
            "resolved:claims:claim:tenant",
            "resolved:x_tenant",
            "resolved:err:InvalidSlug",
        ],
        |(payload, x, cfg, (opts, now)), out| {
            let token = sign_raw(
                Algorithm::HS256,
                r#"{"alg":"HS256","kid":"fuzz-hs256"}"#,
                &payload,
                &hs256,
            );
            let parsed: Option<Value> = serde_json::from_str(&payload).ok();
            let result = verify(&token, keys(), &opts, now);
            out.hit(match &result {
                Ok(_) => "ok".to_owned(),
                Err(e) => outcome_of(e),
            });
            match result {
                Ok(v) => {
                    check_verified(&token, &v, &opts, now)?;
                    // The claims are exactly what was signed.
                    prop_assert_eq!(Some(Value::Object((*v.claims).clone())), parsed.clone());
                    prop_assert_eq!(v.key.kid.as_str(), "fuzz-hs256");
                    // Resolution of verified claims keeps its invariants too.
                    let result = resolve(&v.claims, x.as_deref(), &cfg);
                    out.hit(format!(
                        "resolved:{}",
                        resolution_outcome(&result, x.as_deref())
                    ));
                    match &result {
                        Ok(Resolution::Claims { claim, .. }) => {
                            check_claim_tenant(claim, &v.claims, &cfg)?
                        }
                        Ok(Resolution::XTenant { slug }) => check_slug("x_tenant", slug)?,
                        Ok(Resolution::Default) => prop_assert!(!cfg.multi_tenant_mode),
                        Err(e) => prop_assert!(
                            matches!(
                                e.kind(),
                                ErrorKind::InvalidSlug
                                    | ErrorKind::InvalidTenantClaim
                                    | ErrorKind::MissingTenant
                            ),
                            "resolve: {e:?}"
                        ),
                    }
                    // The verified claims survive the context document.
                    let ctx = Context {
                        subject: Some(v.subject.clone()),
                        claims: v.claims.clone(),
                        ..Context::default()
                    };
                    prop_assert_eq!(Context::decode(&ctx.encode()).ok(), Some(ctx));
                }
                // Claims or a subject beyond their documented limits (MAX_CLAIMS_BYTES,
                // MAX_SUBJECT_BYTES): a bad argument, whatever signed it.
                Err(e) if e.kind() == ErrorKind::InvalidArgument => {
                    prop_assert!(e.to_string().contains("too l"), "{}", e);
                }
                Err(e) => {
                    prop_assert_eq!(e.kind(), ErrorKind::TokenRejected, "{}", e);
                    let t = token_error(&e);
                    prop_assert!(
                        !matches!(
                            t,
                            Some(
                                TokenError::BadSignature
                                    | TokenError::UnknownKid(_)
                                    | TokenError::AlgorithmMismatch { .. }
                                    | TokenError::NoKeyForAlgorithm(_)
                            )
                        ),
                        "a correctly signed token was refused for its signature: {e}"
                    );
                    // A refused well-formed object payload is refused for a reason the claims
                    // explain.
                    if let Some(Value::Object(c)) = &parsed {
                        if token.len() <= MAX_TOKEN_BYTES {
                            let sub_ok =
                                matches!(c.get("sub"), Some(Value::String(s)) if !s.is_empty());
                            if !sub_ok {
                                prop_assert!(
                                    matches!(
                                        t,
                                        Some(
                                            TokenError::NoSubject
                                                | TokenError::InvalidClaim { .. }
                                                | TokenError::Malformed(_)
                                        )
                                    ),
                                    "{e}"
                                );
                            }
                        }
                    }
                }
            }
            // check_claims on its own never panics, whatever the clock.
            if let Ok(v) = boards_tenant_core::verify_signature(&token, keys()) {
                let _ = check_claims(&v, &opts, now);
            }
            Ok(())
        },
    );
}

fn fixture_jwks() -> Vec<Value> {
    serde_json::from_str::<Value>(JWKS)
        .ok()
        .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// A JWK-ish object: real fixture keys with members changed, dropped or added.
fn jwk_value() -> BoxedStrategy<Value> {
    let fixtures = fixture_jwks();
    let member_value = prop_oneof![
        json_leaf(),
        prop::sample::select(vec![
            "oct",
            "RSA",
            "EC",
            "OKP",
            "rsa",
            "P-256",
            "P-384",
            "P-521",
            "secp256k1",
            "Ed25519",
            "X25519",
            "Ed448",
            "sig",
            "enc",
            "AQAB",
            "AA",
            "",
            "verify",
            "sign"
        ])
        .prop_map(Value::from),
        "[A-Za-z0-9_-]{0,400}".prop_map(Value::from),
        prop::sample::select(Algorithm::ALL.to_vec()).prop_map(|a| Value::from(a.as_str())),
        Just(json!(["verify"])),
        Just(json!(["sign"])),
        Just(json!([])),
    ];
    let edits = vec(
        (
            prop::sample::select(vec![
                "kty", "kid", "alg", "use", "key_ops", "n", "e", "crv", "x", "y", "d", "k", "p",
                "q", "x5c",
            ]),
            prop::option::of(member_value),
        ),
        0..4,
    );
    prop_oneof![
        4 => (prop::sample::select(fixtures), edits).prop_map(|(base, edits)| {
            let mut m = base.as_object().cloned().unwrap_or_default();
            for (k, v) in edits {
                match v {
                    Some(v) => { m.insert(k.to_owned(), v); }
                    None => { m.remove(k); }
                }
            }
            Value::Object(m)
        }),
        1 => json_value(),
    ]
    .boxed()
}

#[test]
fn parse_jwks() {
    let doc = prop_oneof![
        6 => vec(jwk_value(), 0..5).prop_map(|keys| json!({"keys": keys})),
        1 => json_value(),
        1 => (0usize..110).prop_map(|n| json!({"keys": (0..n).map(|i| json!({"kty":"oct","kid":format!("k{i}"),"k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg"})).collect::<Vec<_>>()})),
        1 => Just(json!({"keys": fixture_jwks()})),
    ];
    fuzz("parse_jwks", doc, &["ok", "err"], |doc, out| {
        let parsed = boards_tenant_core::parse_jwks(&doc);
        out.hit(if parsed.is_ok() { "ok" } else { "err" });
        match parsed {
            Ok(imports) => {
                prop_assert!(!imports.is_empty() && imports.len() <= 100);
                let kids: HashSet<&str> = imports.iter().map(|i| i.kid.as_str()).collect();
                prop_assert_eq!(kids.len(), imports.len(), "duplicate kids imported");
                for import in &imports {
                    prop_assert!(!import.kid.is_empty());
                    // What the import hands over installs as a JWK key...
                    let key = VerificationKey::new(
                        &import.kid,
                        import.alg,
                        KeyFormat::Jwk,
                        &import.material,
                    );
                    prop_assert!(
                        key.is_ok(),
                        "imported key does not install: {:?}",
                        key.err()
                    );
                    // ...is canonical: importing it again gives the same material...
                    let material: Value = serde_json::from_str(&import.material)
                        .map_err(|e| TestCaseError::fail(format!("material is not JSON: {e}")))?;
                    let again =
                        boards_tenant_core::parse_jwks(&json!({"keys": [material.clone()]}))
                            .map_err(|e| {
                                TestCaseError::fail(format!("canonical material re-import: {e}"))
                            })?;
                    prop_assert_eq!(&again[0], import);
                    // ...and holds no private members.
                    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
                        prop_assert!(
                            material.get(private).is_none(),
                            "private member {private} kept"
                        );
                    }
                    if import.alg.family() != boards_tenant_core::KeyFamily::Hmac {
                        prop_assert!(material.get("k").is_none());
                    }
                }
            }
            Err(e) => {
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{}", e);
            }
        }
        Ok(())
    });
}

/// Key material: fixture PEMs and JWKs, mutated.
fn key_material_text() -> BoxedStrategy<String> {
    let pems = vec![
        RSA_PUBLIC,
        RSA_PUBLIC_PKCS1,
        RSA2_PUBLIC,
        RSA1024_PUBLIC,
        EC256_PUBLIC,
        EC384_PUBLIC,
        ED25519_PUBLIC,
        SECP256K1_PUBLIC,
        RSA_PRIVATE,
        EC256_PRIVATE,
        ED25519_PRIVATE,
        HMAC_SECRET,
    ];
    let jwks: Vec<String> = fixture_jwks().iter().map(Value::to_string).collect();
    let base = move || {
        prop_oneof![
            3 => prop::sample::select(pems.clone()).prop_map(str::to_owned),
            2 => prop::sample::select(jwks.clone()),
            1 => jwk_value().prop_map(|v| v.to_string()),
        ]
    };
    prop_oneof![
        4 => (base(), vec(mutation(), 1..3)).prop_map(|(s, ms)| {
            ms.iter().filter(|m| !matches!(m, Mutation::AttackerSigned { .. } | Mutation::ReplacePayload { .. } | Mutation::ReplaceHeader { .. }))
                .fold(s, |s, m| apply(&s, m))
        }),
        // Base64 body edits inside a PEM: the DER parsers see a well-formed PEM with wrong
        // contents.
        3 => (prop::sample::select(vec![RSA_PUBLIC, EC256_PUBLIC, EC384_PUBLIC, ED25519_PUBLIC, RSA_PUBLIC_PKCS1]), vec((any::<usize>(), any::<u8>()), 1..4), any::<usize>())
            .prop_map(|(pem, edits, cut)| pem_body_edit(pem, &edits, cut)),
        3 => base(),
        1 => ".{0,200}",
    ]
    .boxed()
}

/// Re-encodes the DER inside a PEM after changing bytes or truncating it.
fn pem_body_edit(pem: &str, edits: &[(usize, u8)], cut: usize) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let lines: Vec<&str> = pem.lines().collect();
    let (Some(first), Some(last)) = (lines.first(), lines.last()) else {
        return pem.to_owned();
    };
    let body: String = lines[1..lines.len() - 1].concat();
    let Ok(mut der) = STANDARD.decode(body) else {
        return pem.to_owned();
    };
    for (at, byte) in edits {
        let len = der.len();
        if len > 0 {
            der[at % len] = *byte;
        }
    }
    if cut.is_multiple_of(4) {
        let keep = cut % (der.len() + 1);
        der.truncate(keep);
    }
    format!("{first}\n{}\n{last}\n", STANDARD.encode(der))
}

#[test]
fn key_material() {
    fuzz(
        "key_material",
        (
            key_material_text(),
            prop::sample::select(Algorithm::ALL.to_vec()),
            ".{0,10}",
        ),
        &[
            "installed:secret",
            "installed:pem",
            "installed:jwk",
            "refused",
        ],
        |(material, alg, kid), out| {
            for format in [KeyFormat::Secret, KeyFormat::Pem, KeyFormat::Jwk] {
                let installed = VerificationKey::new(&kid, alg, format, &material);
                out.hit(match &installed {
                    Ok(_) => format!("installed:{format}"),
                    Err(_) => "refused".to_owned(),
                });
                match installed {
                    Ok(key) => {
                        prop_assert_eq!(key.alg(), alg);
                        if format != KeyFormat::Secret {
                            prop_assert!(
                                !material.contains("PRIVATE KEY"),
                                "a private key was installed"
                            );
                        }
                        // A key that installs never makes verification panic, and only
                        // verifies tokens of its own algorithm.
                        let keys = [key];
                        let _ = verify(unkeyed_token(alg), &keys, &VerifyOptions::default(), NOW);
                        for other in Algorithm::ALL.iter().filter(|a| **a != alg) {
                            let refused = verify(
                                unkeyed_token(*other),
                                &keys,
                                &VerifyOptions::default(),
                                NOW,
                            );
                            prop_assert!(
                                refused.is_err(),
                                "{} key verified a {} token",
                                alg,
                                other
                            );
                        }
                    }
                    Err(e) => prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{}", e),
                }
            }
            Ok(())
        },
    );
}

/// The boundary the fuzz run found: every payload that verifies must also survive the
/// context document it is stored in (a context that does not decode reads as no context,
/// so a successful `boards_set_tenant_from_jwt` would be followed by no tenant at all).
#[test]
fn every_nesting_depth_that_verifies_survives_the_context() {
    let key = signing_key(Algorithm::HS256);
    let mut broken = Vec::new();
    for depth in 1..=70usize {
        let payload = format!(
            r#"{{"sub":"u","x":{}1{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let token = sign_raw(
            Algorithm::HS256,
            r#"{"alg":"HS256","kid":"fuzz-hs256"}"#,
            &payload,
            &key,
        );
        let Ok(verified) = verify(&token, keys(), &VerifyOptions::default(), NOW) else {
            continue;
        };
        let ctx = Context {
            subject: Some(verified.subject.clone()),
            claims: verified.claims,
            ..Context::default()
        };
        if let Err(e) = Context::decode(&ctx.encode()) {
            broken.push(format!("{depth} ({e}: {:?})", e.detail()));
        }
    }
    assert!(
        broken.is_empty(),
        "payloads with arrays nested this deep verify, but their context does not decode: {}",
        broken.join(", ")
    );
}
