//! SQL-level fuzzing of `boards_set_tenant_from_jwt`: 100,000 random and
//! mutated tokens, sent as `boards_app` in batches through a PL/pgSQL loop that calls the
//! function once per token inside its own exception block and reports each outcome.
//!
//! What the tokens are (a deterministic PRNG, seed printed, `BOARDS_FUZZ_SQL_SEED` to replay):
//! random strings and bytes, base64 garbage in three parts, valid tokens with bit flips,
//! truncations, segment swaps and spliced segments, huge and deeply nested JSON, header attacks
//! (`alg: none`, HS/RS confusion signed with the public key, kid tricks, `crit`, embedded keys),
//! and random claims objects signed with the real keys, so they pass the signature and exercise
//! claim checks, tenant resolution, membership and just-in-time joins; `x_tenant` is random too.
//! Count: `BOARDS_FUZZ_SQL_CASES` (default 100,000).
//!
//! Asserted: every outcome is success or an error with a documented SQLSTATE; a success only
//! ever comes from bytes we signed with an installed key, names an active tenant, the token's
//! subject, and a tenant the subject may act for (x_tenant only with a membership that existed
//! before, email domain only with the tenant's consent); no tenant is ever created; the
//! memberships in the database afterwards are exactly the seeded ones plus the successful
//! joins; the context reads back afterwards (`boards_current_tenant_slug()`,
//! `boards_current_subject()`, and `boards_current_claims()` equal to the signed claims); no
//! backend crashed (no "terminated by signal", no PANIC in the server log) and every
//! connection stays usable. The outcome histograms are printed (`-- --nocapture`).
//!
//! Two targeted tests pin down what the fuzz run found: claims nested to the parser's limit,
//! and NUL characters in claims in a database whose collation is not C.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb, ADMIN_ROLE, APP_ROLE, SUPERUSER};
use boards_tenant_tests::{base64url, error_text, exec};
use jsonwebtoken::EncodingKey;
use serde_json::{json, Map, Value};

/// The SQLSTATEs the README documents for this function.
const DOCUMENTED: &[&str] = &["28000", "22023", "22004", "42501", "42704", "55000"];
use boards_tenant_tests::sqlstate::SUCCESSFUL_COMPLETION as SUCCESS;
/// Tokens per round trip.
const BATCH: usize = 500;
const DEFAULT_CASES: usize = 100_000;
const DEFAULT_SEED: u64 = 0x5eed_f022_b0a2_d5e7;

const ACTIVE_TENANTS: &[&str] = &["default", "acme-corp", "globex"];
const INACTIVE_TENANTS: &[&str] = &["frozen-co", "pending-co"];
/// Slugs that name no tenant.
const MISSING_TENANTS: &[&str] = &["nope-inc", "initech", "acme", "acme-corp-2"];
const SOURCES: &[&str] = &[
    "claim:tenant",
    "claim:org",
    "claim:custom",
    "email_domain",
    "claim:namespace",
    "x_tenant",
    "default",
];
/// Subjects seeded as members of acme-corp, globex and (before it was suspended) frozen-co.
const MEMBER: &str = "fuzz-member";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "boards";

// ---------------------------------------------------------------------------------------
// A small deterministic PRNG (SplitMix64): no dependency, same tokens on every machine.
// ---------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn i64_between(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo) as u64 + 1;
        lo + (self.next() % span) as i64
    }
}

fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or("", |(input, _)| input)
}

// ---------------------------------------------------------------------------------------
// Random text
// ---------------------------------------------------------------------------------------

/// Characters that fool naive text handling: look-alikes, case mappings into ASCII,
/// invisible and direction controls, odd whitespace, quotes, SQL and JSON syntax.
const TRICKY: &[&str] = &[
    "\u{0430}",
    "\u{0435}",
    "\u{043e}",
    "\u{ff41}",
    "\u{212a}",
    "\u{017f}",
    "\u{0130}",
    "\u{0131}",
    "\u{00df}",
    "\u{0301}",
    "\u{200b}",
    "\u{200d}",
    "\u{202e}",
    "\u{feff}",
    "\u{00a0}",
    "\u{2028}",
    "\u{3000}",
    "\u{1f600}",
    "\u{10ffff}",
    "\u{fffd}",
    "\t",
    "\n",
    "\r",
    "\u{7f}",
    "\u{1b}[31m",
    " ",
    "-",
    "_",
    ".",
    ",",
    "@",
    "/",
    "\\",
    "\"",
    "'",
    "%",
    "%s",
    "%n",
    "';--",
    "$1",
    "{",
    "}",
    "[",
    "]",
    ":",
    "=",
    "..",
    "~",
];

fn ascii_text(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    (0..len)
        .map(|_| (rng.range(0x20, 0x7e) as u8) as char)
        .collect()
}

fn unicode_text(rng: &mut Rng, max: usize) -> String {
    let len = rng.below(max + 1);
    let mut s = String::new();
    for _ in 0..len {
        match rng.below(6) {
            0 => s.push_str(rng.pick::<&str>(TRICKY)),
            1 => s.push((b'a' + rng.below(26) as u8) as char),
            2 => s.push((b'0' + rng.below(10) as u8) as char),
            3 => s.push('-'),
            _ => {
                // Any scalar value but NUL (Postgres text cannot hold it).
                let c = loop {
                    let v = (rng.next() % 0x11_0000) as u32;
                    if let Some(c) = char::from_u32(v).filter(|c| *c != '\0') {
                        break c;
                    }
                };
                s.push(c);
            }
        }
    }
    s
}

fn b64_text(rng: &mut Rng, max: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let len = rng.below(max + 1);
    (0..len).map(|_| *rng.pick(CHARS) as char).collect()
}

fn slug_text(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 | 1 => rng.pick(ACTIVE_TENANTS).to_string(),
        2 => rng.pick(INACTIVE_TENANTS).to_string(),
        3 => rng.pick(MISSING_TENANTS).to_string(),
        4 => {
            // Near misses of real slugs.
            let base = rng.pick(ACTIVE_TENANTS).to_string();
            match rng.below(6) {
                0 => base.to_uppercase(),
                1 => format!(" {base}"),
                2 => format!("{base}-"),
                3 => base.replace('-', "_"),
                4 => base.replacen('a', "\u{0430}", 1),
                _ => format!("{base}\n"),
            }
        }
        5 => {
            let len = rng.range(60, 66);
            (0..len)
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect()
        }
        6 => unicode_text(rng, 12),
        _ => ascii_text(rng, 12),
    }
}

// ---------------------------------------------------------------------------------------
// Claims
// ---------------------------------------------------------------------------------------

/// What the generators need to know about the database.
struct World {
    tenant_ids: Vec<String>,
    /// Valid tokens signed with every installed key, for mutations.
    pool: Vec<String>,
    rsa_public: String,
}

fn random_json(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => json!(rng.next() as i64),
        3 => json!((rng.next() as f64) / 1e6 - 9e12),
        4 => Value::from(unicode_text(rng, 20)),
        5 => Value::from(ascii_text(rng, 20)),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_json(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                let key = if rng.chance(50) {
                    rng.pick(&["slug", "id", "name", "tenant", "sub"])
                        .to_string()
                } else {
                    ascii_text(rng, 8)
                };
                m.insert(key, random_json(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

/// A value for a tenant-naming claim.
fn tenant_value(rng: &mut Rng, world: &World) -> Value {
    match rng.below(12) {
        0..=3 => Value::from(slug_text(rng)),
        4 => json!({"slug": slug_text(rng)}),
        5 => json!({"id": world.tenant_ids[rng.below(world.tenant_ids.len())]}),
        6 => {
            json!({"id": format!("{:08x}-0000-4000-8000-{:012x}", rng.next() as u32, rng.next() >> 16)})
        }
        7 => {
            json!({"name": rng.pick(&["Acme Corp", "GLOBEX", "Globex Inc", "Frozen Co", "Nope"]).to_string()})
        }
        8 => Value::from(
            rng.pick(&["Acme Corp", "ACME-CORP", " globex ", "Globex!", "frozen co"])
                .to_string(),
        ),
        9 => json!({"slug": null, "name": "", "id": "  "}),
        10 => rng
            .pick(&[
                json!(null),
                json!(""),
                json!(false),
                json!([]),
                json!({}),
                json!(42),
                json!(true),
                json!(["acme-corp"]),
            ])
            .clone(),
        _ => random_json(rng, 2),
    }
}

fn email_value(rng: &mut Rng) -> Value {
    let local = if rng.chance(80) {
        rng.pick(&["alice", "bob", "x.y+z", "\"a@b\"", ""])
            .to_string()
    } else {
        ascii_text(rng, 8)
    };
    let domain = match rng.below(5) {
        0..=1 => rng
            .pick(&[
                "acme-corp.com",
                "ACME-CORP.COM.",
                "eu.acme-corp.com",
                "acme-corp.co.uk",
                "globex.com",
                "gmail.com",
                "mail.gmail.com",
                "yahoo.co.nz",
                "frozen-co.com",
                "nope-inc.io",
                "localhost",
                "acm\u{0435}-corp.com",
            ])
            .to_string(),
        2 => format!("{}.com", slug_text(rng)),
        3 => unicode_text(rng, 15),
        _ => ascii_text(rng, 15),
    };
    if rng.chance(10) {
        random_json(rng, 1)
    } else {
        Value::from(format!("{local}@{domain}"))
    }
}

fn now() -> i64 {
    jwt::now()
}

/// A claims object, mostly well-formed so that it gets past the claim checks.
fn random_claims(rng: &mut Rng, world: &World) -> Value {
    let mut c = Map::new();
    // Subject.
    let sub = match rng.below(20) {
        0 => None,
        1 => Some(Value::from("")),
        2 => Some(random_json(rng, 1)),
        3 => Some(Value::from(unicode_text(rng, 30))),
        4 => Some(Value::from("a".repeat(rng.range(1000, 20_000)))),
        5 => Some(Value::from(format!("{MEMBER}\u{0}x"))),
        6..=8 => Some(Value::from(MEMBER)),
        _ => Some(Value::from(format!(
            "user-{}",
            rng.pick(&["alice", "bob", "carol", "dave", "eve"])
        ))),
    };
    if let Some(sub) = sub {
        c.insert("sub".into(), sub);
    }
    // Registered claims: mostly valid. Always issued now: just-in-time membership needs an
    // iat no older than the tenant (tests/tests/caches.rs covers the refusals).
    let t = now();
    c.insert("iat".into(), json!(t));
    match rng.below(10) {
        0 => {}
        1 => {
            c.insert("exp".into(), json!(t - rng.i64_between(1, 100_000)));
        }
        2 => {
            c.insert("exp".into(), random_json(rng, 0));
        }
        _ => {
            c.insert("exp".into(), json!(t + rng.i64_between(60, 86_400)));
        }
    }
    if rng.chance(20) {
        let nbf = if rng.chance(50) {
            json!(t + rng.i64_between(100, 10_000))
        } else {
            json!(t - 10)
        };
        c.insert("nbf".into(), nbf);
    }
    if rng.chance(85) {
        c.insert("iss".into(), Value::from(ISSUER));
    } else if rng.chance(50) {
        c.insert("iss".into(), random_json(rng, 0));
    }
    match rng.below(10) {
        0 => {}
        1 => {
            c.insert("aud".into(), json!(["other", AUDIENCE]));
        }
        2 => {
            c.insert("aud".into(), random_json(rng, 1));
        }
        _ => {
            c.insert("aud".into(), Value::from(AUDIENCE));
        }
    }
    // Tenant-naming claims: 0 to 3 of them.
    for _ in 0..rng.below(4) {
        let name = rng.pick(&[
            "tenant",
            "tenant",
            "org",
            "organization",
            "org_slug",
            "org_name",
            "company",
            "namespace",
            "group",
            "team",
            "workspace",
        ]);
        c.insert((*name).into(), tenant_value(rng, world));
    }
    if rng.chance(40) {
        c.insert("email".into(), email_value(rng));
        if rng.chance(30) {
            let v = rng
                .pick(&[
                    json!(false),
                    json!(true),
                    json!("false"),
                    json!(" FALSE "),
                    json!(null),
                    json!(0),
                ])
                .clone();
            c.insert("email_verified".into(), v);
        }
    }
    if rng.chance(20) {
        c.insert("name".into(), Value::from(unicode_text(rng, 30)));
    }
    // Noise.
    for _ in 0..rng.below(3) {
        c.insert(ascii_text(rng, 10), random_json(rng, 3));
    }
    Value::Object(c)
}

/// A claims object that should succeed in every configuration.
fn happy_claims(rng: &mut Rng) -> Value {
    let sub = if rng.chance(30) {
        MEMBER.to_owned()
    } else {
        format!("happy-{}", rng.below(50))
    };
    let mut c = json!({
        "sub": sub,
        "iat": now(),
        "exp": now() + 3600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    });
    if let Some(m) = c.as_object_mut() {
        match rng.below(4) {
            0 => m.insert("tenant".into(), json!("acme-corp")),
            1 => m.insert("org".into(), json!("Globex")),
            2 => m.insert("company".into(), json!({"slug": "globex"})),
            _ => m.insert("email".into(), json!("someone@acme-corp.com")),
        };
    }
    c
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

/// A token with an HS* signature by `secret` over exactly `header` and `payload` text.
fn hmac_token(alg: &str, header: &str, payload: &str, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        base64url(header.as_bytes()),
        base64url(payload.as_bytes())
    );
    let algorithm = match alg {
        "HS384" => jsonwebtoken::Algorithm::HS384,
        "HS512" => jsonwebtoken::Algorithm::HS512,
        _ => jsonwebtoken::Algorithm::HS256,
    };
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(secret),
        algorithm,
    )
    .unwrap_or_else(|e| panic!("HMAC signing failed: {e}"));
    format!("{input}.{sig}")
}

/// A token signed with the installed HS* key.
fn signed(alg: &str, payload: &str) -> String {
    let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#, test_kid(alg));
    hmac_token(alg, &header, payload, jwt::hmac_secret().as_bytes())
}

/// Payloads nobody signs on purpose: deep nesting around the parser's limit, wide objects,
/// long strings, duplicates, non-objects.
fn hostile_payload(rng: &mut Rng) -> (String, Expect) {
    let t = now() + 3600;
    let payload = match rng.below(10) {
        0 => {
            // Mostly right around the parser's limit of 64 levels.
            let depth = if rng.chance(70) {
                rng.range(58, 68)
            } else {
                rng.range(50, 140)
            };
            let expect = if depth >= 70 {
                Expect::Fail("nested too deep")
            } else {
                Expect::Any
            };
            return (
                format!(
                    r#"{{"sub":"deep","exp":{t},"iss":"{ISSUER}","aud":"{AUDIENCE}","tenant":"acme-corp","x":{}1{}}}"#,
                    "[".repeat(depth),
                    "]".repeat(depth)
                ),
                expect,
            );
        }
        1 => {
            // Mostly right around the parser's limit of 64 levels.
            let depth = if rng.chance(70) {
                rng.range(58, 68)
            } else {
                rng.range(50, 140)
            };
            let expect = if depth >= 70 {
                Expect::Fail("nested too deep")
            } else {
                Expect::Any
            };
            return (
                format!(
                    r#"{{"sub":"deep","exp":{t},"iss":"{ISSUER}","aud":"{AUDIENCE}","org":"globex","x":{}"deep"{}}}"#,
                    "{\"a\":".repeat(depth),
                    "}".repeat(depth)
                ),
                expect,
            );
        }
        2 => {
            let n = rng.range(100, 4000);
            let members: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            format!(r#"{{"sub":"wide","exp":{t},{}}}"#, members.join(","))
        }
        3 => {
            return (
                format!(
                    r#"{{"sub":"long","exp":{t},"tenant":"{}"}}"#,
                    "a".repeat(rng.range(64, 48_000))
                ),
                Expect::Fail("tenant slug longer than 63"),
            )
        }
        4 => {
            return (
                format!(r#"{{"sub":"dup","exp":{t},"tenant":"globex","tenant":"acme-corp"}}"#),
                Expect::Fail("duplicate claim"),
            )
        }
        5 => {
            return (
                format!(r#"{{"sub":"{MEMBER}","sub":"other","exp":{t},"tenant":"globex"}}"#),
                Expect::Fail("duplicate claim"),
            )
        }
        6 => {
            let p = rng
                .pick(&[
                    "null",
                    "[]",
                    "\"sub\"",
                    "42",
                    "{",
                    "",
                    "{\"sub\":\"u\"} {}",
                    "{\"sub\":\"\\ud800\"}",
                    "{\"sub\":\"u\",\"exp\":1e999}",
                    "\u{feff}{\"sub\":\"bom\"}",
                ])
                .to_string();
            return (p, Expect::Fail("not a JSON object"));
        }
        7 => format!(
            r#"{{"sub":"nul\u0000user","exp":{t},"tenant":"acme-corp","email":"a\u0000@acme-corp.com","name":"n\u0000"}}"#
        ),
        8 => format!(
            r#"{{"sub":"{}","exp":{t},"tenant":"acme-corp"}}"#,
            "\\\"".repeat(rng.range(1, 3000))
        ),
        _ => format!(
            r#"{{"sub":"float","exp":{}.999999,"nbf":{}.000001,"tenant":"globex","n":-0.0,"m":123456789012345678901234567890}}"#,
            t,
            now() - 10
        ),
    };
    (payload, Expect::Any)
}

const SNIPPETS: &[&str] = &[
    ".", "..", "=", "==", "+", "/", "-", "_", " ", "\t", "\n", "%2E", "\u{fffd}", "ü", "Bearer ",
    "eyJ", "e30", "bnVsbA", "W10", "AAAA", "____", "....", "'", "\\",
];

fn replace_segment(token: &str, which: usize, with: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    if let Some(slot) = parts.get_mut(which) {
        *slot = with;
    }
    parts.join(".")
}

/// One random edit of a token. Byte edits may break UTF-8; the result is decoded lossily.
fn mutate(rng: &mut Rng, token: &str, world: &World) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let len = bytes.len().max(1);
    match rng.below(15) {
        0..=2 => {
            if !bytes.is_empty() {
                let at = rng.below(len);
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        3 => {
            if !bytes.is_empty() {
                let at = rng.below(len);
                bytes[at] = rng.next() as u8;
            }
        }
        4 => bytes.truncate(rng.below(bytes.len() + 1)),
        5 => {
            if !bytes.is_empty() {
                let start = rng.below(bytes.len());
                let end = (start + rng.range(1, 20)).min(bytes.len());
                bytes.drain(start..end);
            }
        }
        6 => {
            let at = rng.below(bytes.len() + 1);
            let snippet = rng.pick(SNIPPETS).as_bytes().to_vec();
            bytes.splice(at..at, snippet);
        }
        7 => {
            let mut parts: Vec<&str> = token.split('.').collect();
            let (a, b) = (rng.below(parts.len()), rng.below(parts.len()));
            parts.swap(a, b);
            return parts.join(".");
        }
        8 => {
            let mut parts: Vec<&str> = token.split('.').collect();
            let which = rng.below(parts.len());
            let part = parts[which];
            parts.insert(which, part);
            return parts.join(".");
        }
        9 => {
            // Splice a segment of another valid token in: header or payload of one key,
            // signature of another.
            let other = rng.pick(&world.pool).clone();
            let which = rng.below(3);
            let part = other.split('.').nth(which).unwrap_or("").to_owned();
            return replace_segment(token, which, &part);
        }
        10 => {
            let garbage = match rng.below(3) {
                0 => b64_text(rng, 120),
                1 => base64url(random_json(rng, 3).to_string().as_bytes()),
                _ => String::new(),
            };
            return replace_segment(token, rng.below(3), &garbage);
        }
        11 => {
            // Another payload under the old signature: the classic tampering.
            let claims = json!({"iat": now(), "sub": MEMBER, "tenant": rng.pick(ACTIVE_TENANTS), "exp": now() + 3600, "iss": ISSUER, "aud": AUDIENCE});
            return replace_segment(token, 1, &base64url(claims.to_string().as_bytes()));
        }
        12 => {
            for b in &mut bytes {
                *b = match *b {
                    b'-' => b'+',
                    b'_' => b'/',
                    other => other,
                };
            }
        }
        13 => bytes.extend_from_slice(b"=="),
        _ => {
            if !bytes.is_empty() {
                let at = rng.below(len);
                if bytes[at].is_ascii_alphabetic() {
                    bytes[at] ^= 0x20;
                }
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Tokens an attacker can make without the keys, and odd headers under the real key. Returns
/// the token, the payload when it was signed with an installed key, and what must happen.
fn header_attack(rng: &mut Rng, world: &World) -> (String, Option<String>, Expect) {
    let claims = json!({"iat": now(), "sub": MEMBER, "tenant": rng.pick(ACTIVE_TENANTS), "exp": now() + 3600, "iss": ISSUER, "aud": AUDIENCE});
    let payload = claims.to_string();
    let p64 = base64url(payload.as_bytes());
    match rng.below(9) {
        0 => {
            let alg = rng.pick(&["none", "None", "NONE", "nOnE"]);
            let h = base64url(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
            let sig = if rng.chance(50) {
                String::new()
            } else {
                b64_text(rng, 40)
            };
            (format!("{h}.{p64}.{sig}"), None, Expect::Fail("alg none"))
        }
        1 => {
            // HS/RS confusion: the RSA public key as an HMAC secret, with the RSA key's kid,
            // the HMAC key's kid, or none.
            let kids = [
                Some(test_kid("RS256")),
                Some(test_kid("HS256")),
                Some(test_kid("ES256")),
                None,
            ];
            let kid = rng.pick(&kids);
            let alg = rng.pick(&["HS256", "HS384", "HS512"]);
            let header = match kid {
                Some(kid) => format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#),
                None => format!(r#"{{"alg":"{alg}"}}"#),
            };
            let token = hmac_token(alg, &header, &payload, world.rsa_public.as_bytes());
            (token, None, Expect::Fail("HS/RS confusion"))
        }
        2 => {
            // A header that names an asymmetric algorithm, HMAC-signed with the real secret.
            let alg = rng.pick(&["RS256", "ES256", "EdDSA", "PS256"]);
            let header = format!(r#"{{"alg":"{alg}","kid":"{}"}}"#, test_kid("HS256"));
            let token = hmac_token("HS256", &header, &payload, jwt::hmac_secret().as_bytes());
            (
                token,
                Some(payload),
                Expect::Fail("header alg differs from the key's"),
            )
        }
        3 => {
            // kid tricks.
            let kid = match rng.below(6) {
                0 => "x".repeat(rng.range(250, 400)),
                1 => "test-hs256\" OR \"1\"=\"1".to_owned(),
                2 => "'; DROP TABLE boards.tenants; --".to_owned(),
                3 => "../../../../etc/passwd".to_owned(),
                4 => "test-hs256\n".to_owned(),
                _ => unicode_text(rng, 20),
            };
            let header = json!({"alg": "HS256", "kid": kid}).to_string();
            let token = hmac_token("HS256", &header, &payload, jwt::hmac_secret().as_bytes());
            (token, Some(payload), Expect::Fail("no key has this kid"))
        }
        4 => {
            // Embedded keys and key URLs, signed with the attacker's own secret.
            let header = rng
                .pick(&[
                    json!({"alg":"HS256","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}}),
                    json!({"alg":"HS256","jku":"https://attacker.example/jwks.json"}),
                    json!({"alg":"HS256","x5u":"https://attacker.example/cert.pem"}),
                    json!({"alg":"HS256","kid":"test-hs256","jwk":{"kty":"oct","k":"YXR0YWNrZXI"}}),
                ])
                .to_string();
            let token = hmac_token("HS256", &header, &payload, b"attacker");
            (token, None, Expect::Fail("embedded or remote key"))
        }
        5 => {
            // crit, b64=false and other header members, signed with the real secret: the
            // first ones must be refused, the last two are ordinary tokens.
            let (header, expect) = rng
                .pick(&[
                    (
                        json!({"alg":"HS256","kid":"test-hs256","crit":["exp"],"exp":1}),
                        Expect::Fail("crit"),
                    ),
                    (
                        json!({"alg":"HS256","kid":"test-hs256","b64":false,"crit":["b64"]}),
                        Expect::Fail("crit"),
                    ),
                    (
                        json!({"alg":"HS256","kid":"test-hs256","typ":7}),
                        Expect::Fail("typ not a string"),
                    ),
                    (
                        json!({"alg":"HS256","kid":42}),
                        Expect::Fail("kid not a string"),
                    ),
                    (json!({"alg":["HS256"]}), Expect::Fail("alg not a string")),
                    (json!({"kid":"test-hs256"}), Expect::Fail("no alg")),
                    (
                        json!({"alg":"HS256","kid":"test-hs256","zip":"DEF"}),
                        Expect::Any,
                    ),
                    (json!({"alg":"HS256","alg2":"none"}), Expect::Any),
                ])
                .clone();
            let token = hmac_token(
                "HS256",
                &header.to_string(),
                &payload,
                jwt::hmac_secret().as_bytes(),
            );
            (token, Some(payload), expect)
        }
        6 => {
            // Duplicate header members: parsers disagree on which one wins.
            let header = rng.pick(&[
                r#"{"alg":"HS256","alg":"none","kid":"test-hs256"}"#,
                r#"{"alg":"HS256","kid":"test-hs256","kid":"test-hs512"}"#,
            ]);
            let token = hmac_token("HS256", header, &payload, jwt::hmac_secret().as_bytes());
            (
                token,
                Some(payload),
                Expect::Fail("duplicate header member"),
            )
        }
        7 => {
            // Signed with a near miss of the real secret.
            let mut secret = jwt::hmac_secret().as_bytes().to_vec();
            if rng.chance(50) {
                secret.pop();
            } else {
                let at = rng.below(secret.len());
                secret[at] ^= 1;
            }
            let token = hmac_token(
                "HS256",
                r#"{"alg":"HS256","kid":"test-hs256"}"#,
                &payload,
                &secret,
            );
            (token, None, Expect::Fail("near-miss secret"))
        }
        _ => {
            // Someone else's key of the right family.
            let alg = rng.pick(&["HS256", "RS256", "ES256", "EdDSA"]);
            let token = jwt::mint_with_other_key(alg, &test_kid(alg), &claims);
            (token, None, Expect::Fail("someone else's key"))
        }
    }
}

/// Strings that are not tokens.
fn garbage(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => String::new(),
        1 => ascii_text(rng, 200),
        2 => unicode_text(rng, 100),
        3 => format!(
            "{}.{}.{}",
            b64_text(rng, 60),
            b64_text(rng, 200),
            b64_text(rng, 90)
        ),
        4 => format!(
            "{}.{}.{}",
            base64url(random_json(rng, 3).to_string().as_bytes()),
            base64url(random_json(rng, 3).to_string().as_bytes()),
            b64_text(rng, 90)
        ),
        5 => ".".repeat(rng.below(6)),
        6 => format!(
            "Bearer {}",
            rng.pick(&["a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
        ),
        7 => "A".repeat(rng.range(65_000, 70_000)),
        8 => {
            let mut t = format!("{}.", base64url(br#"{"alg":"HS256","kid":"test-hs256"}"#));
            let target = rng.range(65_530, 65_540);
            while t.len() < target - 1 {
                t.push('A');
            }
            t.push('.');
            t
        }
        _ => {
            let bytes: Vec<u8> = (0..rng.below(100)).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

fn x_tenant(rng: &mut Rng) -> Option<String> {
    match rng.below(10) {
        0..=4 => None,
        5..=7 => Some(slug_text(rng)),
        8 => Some(rng.pick(&["globex", "acme-corp"]).to_string()),
        _ => Some(unicode_text(rng, 30)),
    }
}

/// What kind of token a case is, for the histogram.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    Null,
    Garbage,
    HeaderAttack,
    Mutated,
    SignedRandomClaims,
    SignedHostile,
    SignedOtherAlg,
    Happy,
}

/// What must happen to a case, beyond the properties every case has.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Any,
    Fail(&'static str),
    Succeed,
}

struct Case {
    kind: Kind,
    expect: Expect,
    token: Option<String>,
    x_tenant: Option<String>,
    is_local: bool,
}

/// Everything we signed with an installed key: signing input -> the claims in it.
#[derive(Default)]
struct Signed(HashMap<String, Value>);

impl Signed {
    fn add(&mut self, token: &str, payload: &str) {
        let claims = serde_json::from_str(payload).unwrap_or(Value::Null);
        self.0.insert(signing_input(token).to_owned(), claims);
    }
}

fn generate(rng: &mut Rng, world: &World, signed_set: &mut Signed) -> Case {
    let (kind, token, expect) = match rng.below(100) {
        0 => (Kind::Null, None, Expect::Fail("NULL token")),
        1..=10 => (
            Kind::Garbage,
            Some(garbage(rng)),
            Expect::Fail("not a token"),
        ),
        11..=20 => {
            let (t, payload, expect) = header_attack(rng, world);
            if let Some(payload) = payload {
                signed_set.add(&t, &payload);
            }
            (Kind::HeaderAttack, Some(t), expect)
        }
        21..=45 => {
            let mut t = rng.pick(&world.pool).clone();
            for _ in 0..rng.range(1, 3) {
                t = mutate(rng, &t, world);
            }
            (Kind::Mutated, Some(t), Expect::Any)
        }
        46..=80 => {
            let payload = random_claims(rng, world).to_string();
            let alg = *rng.pick(&["HS256", "HS256", "HS384", "HS512"]);
            let t = signed(alg, &payload);
            signed_set.add(&t, &payload);
            (Kind::SignedRandomClaims, Some(t), Expect::Any)
        }
        81..=86 => {
            let (payload, expect) = hostile_payload(rng);
            let t = signed("HS256", &payload);
            signed_set.add(&t, &payload);
            (Kind::SignedHostile, Some(t), expect)
        }
        87..=91 => {
            // A valid token of the pool, as it is: every algorithm reaches the backend.
            let t = rng.pick(&world.pool).clone();
            (Kind::SignedOtherAlg, Some(t), Expect::Any)
        }
        _ => {
            let payload = happy_claims(rng).to_string();
            let t = signed("HS256", &payload);
            signed_set.add(&t, &payload);
            (Kind::Happy, Some(t), Expect::Succeed)
        }
    };
    // Postgres text cannot hold NUL; the driver would refuse the whole batch.
    let token = token.map(|t| t.replace('\0', "0"));
    let x_tenant = x_tenant(rng).map(|x| x.replace('\0', "0"));
    // A header may name a tenant the subject cannot act for.
    let expect = match expect {
        Expect::Succeed if x_tenant.is_some() => Expect::Any,
        other => other,
    };
    Case {
        kind,
        expect,
        token,
        x_tenant,
        is_local: rng.chance(30),
    }
}

// ---------------------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------------------

/// Tenants, members and keys, and the batch function the app role calls.
fn setup(db: &TestDb) {
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    exec(
        &mut admin,
        &format!(
            "SELECT boards_tenant_create('Acme Corp', 'acme-corp', '{{\"email_domains\": [\"acme-corp.com\"]}}');
             SELECT boards_tenant_create('Globex', 'globex');
             SELECT boards_tenant_create('Frozen Co', 'frozen-co');
             SELECT boards_tenant_create('Pending Co', 'pending-co');
             SELECT boards_tenant_add_member('acme-corp', '{MEMBER}', 'admin');
             SELECT boards_tenant_add_member('globex', '{MEMBER}', 'member');
             SELECT boards_tenant_add_member('frozen-co', '{MEMBER}', 'member');
             SELECT boards_tenant_add_member('pending-co', '{MEMBER}', 'member');
             SELECT boards_tenant_suspend('frozen-co');"
        ),
    );
    let mut su = db.superuser();
    exec(
        &mut su,
        "UPDATE boards.tenants SET status = 'pending_approval' WHERE slug = 'pending-co';
         CREATE SCHEMA fuzz;
         GRANT USAGE ON SCHEMA fuzz TO boards_app;
         CREATE FUNCTION fuzz.run(tokens text[], headers text[], locals boolean[])
         RETURNS TABLE (i int, state text, message text, tenant_slug text, subject text, source text,
                        current_slug text, current_subject text, current_claims text,
                        claims_state text, claims_message text)
         LANGUAGE plpgsql AS $$
         BEGIN
             FOR k IN 1 .. coalesce(array_length(tokens, 1), 0) LOOP
                 i := k; state := '00000'; message := NULL;
                 tenant_slug := NULL; subject := NULL; source := NULL;
                 current_slug := NULL; current_subject := NULL; current_claims := NULL;
                 claims_state := NULL; claims_message := NULL;
                 BEGIN
                     SELECT t.tenant_slug, t.subject, t.source INTO tenant_slug, subject, source
                     FROM boards_set_tenant_from_jwt(tokens[k], headers[k], locals[k]) t;
                     -- What the policies will see from now on.
                     current_slug := boards_current_tenant_slug();
                     current_subject := boards_current_subject();
                     -- Reading the claims fails on its own, not as a failure of the call.
                     BEGIN
                         current_claims := boards_current_claims()::text;
                     EXCEPTION WHEN OTHERS THEN
                         GET STACKED DIAGNOSTICS claims_state = RETURNED_SQLSTATE,
                                                 claims_message = MESSAGE_TEXT;
                     END;
                 EXCEPTION WHEN OTHERS THEN
                     GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
                 END;
                 RETURN NEXT;
             END LOOP;
         END
         $$;
         GRANT EXECUTE ON FUNCTION fuzz.run(text[], text[], boolean[]) TO boards_app;",
    );
}

fn memberships(su: &mut Client) -> HashSet<(String, String)> {
    su.query(
        "SELECT t.slug, u.auth_subject FROM boards.users u JOIN boards.tenants t ON t.id = u.tenant_id",
        &[],
    )
    .unwrap_or_else(|e| panic!("listing memberships: {}", error_text(&e)))
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect()
}

fn tenants(su: &mut Client) -> Vec<(String, String, String)> {
    su.query(
        "SELECT id::text, slug, status FROM boards.tenants ORDER BY slug",
        &[],
    )
    .unwrap_or_else(|e| panic!("listing tenants: {}", error_text(&e)))
    .iter()
    .map(|row| (row.get(0), row.get(1), row.get(2)))
    .collect()
}

/// One way of running the extension: the settings a connection starts with.
struct Config {
    name: &'static str,
    multi_tenant: bool,
    client: Client,
}

/// What a case came back with.
struct Outcome {
    state: String,
    message: Option<String>,
    tenant_slug: Option<String>,
    subject: Option<String>,
    source: Option<String>,
    /// `boards_current_tenant_slug()` / `boards_current_subject()` right after the call.
    current_slug: Option<String>,
    current_subject: Option<String>,
    /// `boards_current_claims()::text`, or the SQLSTATE and message it failed with.
    current_claims: Option<String>,
    claims_state: Option<String>,
    claims_message: Option<String>,
}

fn run_batch(client: &mut Client, cases: &[Case]) -> Result<Vec<Outcome>, postgres::Error> {
    let tokens: Vec<Option<&str>> = cases.iter().map(|c| c.token.as_deref()).collect();
    let headers: Vec<Option<&str>> = cases.iter().map(|c| c.x_tenant.as_deref()).collect();
    let locals: Vec<bool> = cases.iter().map(|c| c.is_local).collect();
    let rows = client.query(
        "SELECT state, message, tenant_slug, subject, source, current_slug, current_subject,
                current_claims, claims_state, claims_message
         FROM fuzz.run($1, $2, $3) ORDER BY i",
        &[&tokens, &headers, &locals],
    )?;
    Ok(rows
        .iter()
        .map(|r| Outcome {
            state: r.get(0),
            message: r.get(1),
            tenant_slug: r.get(2),
            subject: r.get(3),
            source: r.get(4),
            current_slug: r.get(5),
            current_subject: r.get(6),
            current_claims: r.get(7),
            claims_state: r.get(8),
            claims_message: r.get(9),
        })
        .collect())
}

fn short(s: &str) -> String {
    let cut: String = s.chars().take(160).collect();
    if cut.len() < s.len() {
        format!("{cut}… ({} bytes)", s.len())
    } else {
        cut
    }
}

fn describe(case: &Case) -> String {
    format!(
        "{:?} ({:?}) token={:?} x_tenant={:?} is_local={}",
        case.kind,
        case.expect,
        case.token.as_deref().map(short),
        case.x_tenant.as_deref().map(short),
        case.is_local
    )
}

/// Writes a batch that failed as a whole (a crash, a hang) to a file, one case per line, for
/// replaying its tokens one by one; returns the path.
fn dump_batch(seed: u64, batch_no: usize, cases: &[Case]) -> String {
    let path = std::env::temp_dir().join(format!("boards_fuzz_sql_{seed}_batch_{batch_no}.jsonl"));
    let lines: Vec<String> = cases
        .iter()
        .map(|c| {
            json!({"kind": format!("{:?}", c.kind), "token": c.token, "x_tenant": c.x_tenant, "is_local": c.is_local})
                .to_string()
        })
        .collect();
    match std::fs::write(&path, lines.join("\n")) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("(could not write {}: {e})", path.display()),
    }
}

/// JSON equality with numbers compared by value (jsonb keeps numbers as `numeric`, so
/// `-0.0` comes back as `0` and `1e2` as `100`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The domain of an email claim as the extension reads it (lowercase, one trailing dot off).
fn email_domain(claims: &Value) -> Option<String> {
    let email = claims.get("email")?.as_str()?;
    let (_, domain) = email.rsplit_once('@')?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    Some(domain.to_ascii_lowercase())
}

#[test]
fn fuzz_set_tenant_from_jwt() {
    let cases_total: usize = std::env::var("BOARDS_FUZZ_SQL_CASES")
        .ok()
        .map(|v| {
            v.trim()
                .replace('_', "")
                .parse()
                .unwrap_or_else(|e| panic!("BOARDS_FUZZ_SQL_CASES={v:?}: {e}"))
        })
        .unwrap_or(DEFAULT_CASES);
    let seed: u64 = std::env::var("BOARDS_FUZZ_SQL_SEED")
        .ok()
        .map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|e| panic!("BOARDS_FUZZ_SQL_SEED={v:?}: {e}"))
        })
        .unwrap_or(DEFAULT_SEED);
    eprintln!(
        "fuzz_sql: {cases_total} tokens, seed {seed} (BOARDS_FUZZ_SQL_SEED), batches of {BATCH}"
    );
    let started = Instant::now();

    let cluster = Cluster::shared();
    let log_offset = cluster.server_log().len();
    let db = cluster.create_database();
    setup(&db);
    let mut su = db.superuser();
    let tenants_before = tenants(&mut su);
    let seeded = memberships(&mut su);
    let status: HashMap<String, String> = tenants_before
        .iter()
        .map(|(_, slug, status)| (slug.clone(), status.clone()))
        .collect();

    // Three ways of running: single-tenant defaults; multi-tenant with a custom tenant claim;
    // multi-tenant with required exp, issuer and audience checks and debug logging (which
    // writes the subject of every success to the server log).
    let mut configs = Vec::new();
    configs.push(Config {
        name: "single",
        multi_tenant: false,
        client: db.app(),
    });
    db.set("boards.multi_tenant_mode", "on");
    db.set("boards.jwt_tenant_claim", "company");
    configs.push(Config {
        name: "multi",
        multi_tenant: true,
        client: db.app(),
    });
    db.set("boards.jwt_require_exp", "on");
    db.set("boards.jwt_issuer", ISSUER);
    db.set("boards.jwt_audience", AUDIENCE);
    db.set("boards.debug", "on");
    configs.push(Config {
        name: "multi-strict",
        multi_tenant: true,
        client: db.app(),
    });
    for config in &mut configs {
        let mode: String = config
            .client
            .query_one("SELECT current_setting('boards.multi_tenant_mode')", &[])
            .map(|r| r.get(0))
            .unwrap_or_else(|e| panic!("{}: {}", config.name, error_text(&e)));
        assert_eq!(
            mode == "on",
            config.multi_tenant,
            "{} connection settings",
            config.name
        );
    }

    // A pool of valid tokens for every installed key, to mutate and to replay.
    let mut signed_set = Signed::default();
    let mut pool = Vec::new();
    for alg in jwt::ALGORITHMS {
        for claims in [
            json!({"iat": now(), "sub": MEMBER, "tenant": "acme-corp", "exp": now() + 7200, "iss": ISSUER, "aud": AUDIENCE}),
            json!({"iat": now(), "sub": "pool-user", "org": {"slug": "globex"}, "email": "p@acme-corp.com", "exp": now() + 7200, "iss": ISSUER, "aud": [AUDIENCE]}),
        ] {
            let token = mint(alg, &test_kid(alg), &claims);
            signed_set
                .0
                .insert(signing_input(&token).to_owned(), claims);
            pool.push(token);
        }
    }
    let world = World {
        tenant_ids: tenants_before.iter().map(|(id, _, _)| id.clone()).collect(),
        pool,
        rsa_public: jwt::verification_material("RS256"),
    };

    let mut rng = Rng(seed);
    let mut members = seeded.clone();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<(Kind, String), usize> = BTreeMap::new();
    let mut by_config: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let mut by_message: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    // Every broken property, by kind (the problem text without what it quotes).
    let mut by_problem: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0usize;
    let mut batch_no = 0usize;

    while done < cases_total {
        let n = BATCH.min(cases_total - done);
        let cases: Vec<Case> = (0..n)
            .map(|_| generate(&mut rng, &world, &mut signed_set))
            .collect();
        let config_index = batch_no % configs.len();
        let config = &mut configs[config_index];
        let outcomes = match run_batch(&mut config.client, &cases) {
            Ok(o) => o,
            Err(e) => {
                let dump = dump_batch(seed, batch_no, &cases);
                let log = cluster.server_log();
                panic!(
                    "batch {batch_no} ({}) failed as a whole: {}\nall its cases: {dump}\nfirst cases: {:#?}\n--- server log since the start ---\n{}",
                    config.name,
                    error_text(&e),
                    cases.iter().take(5).map(describe).collect::<Vec<_>>(),
                    log.get(log_offset..).unwrap_or("")
                );
            }
        };
        assert_eq!(outcomes.len(), cases.len(), "one outcome per token");
        for (case, out) in cases.iter().zip(&outcomes) {
            *by_state.entry(out.state.clone()).or_default() += 1;
            *by_kind.entry((case.kind, out.state.clone())).or_default() += 1;
            *by_config
                .entry((config.name, out.state.clone()))
                .or_default() += 1;
            if out.state != SUCCESS {
                let message = out.message.clone().unwrap_or_default();
                // Messages quote kids and claims and name sizes: group by their first words.
                let head: String = message
                    .split('"')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .take(70)
                    .collect();
                *by_message.entry((out.state.clone(), head)).or_default() += 1;
            }
            if let Some(problem) = check(
                case,
                out,
                config.multi_tenant,
                config.name,
                &signed_set,
                &status,
                &mut members,
            ) {
                let kind: String = problem.split('"').step_by(2).collect::<Vec<_>>().join("…");
                let first_of_kind = !by_problem.contains_key(&kind);
                *by_problem.entry(kind).or_default() += 1;
                // Every kind once, then the first few of each.
                if first_of_kind || failures.len() < 20 {
                    failures.push(format!(
                        "{problem}\n    case: {}\n    message: {:?}",
                        describe(case),
                        out.message
                    ));
                }
            }
            if out.state == SUCCESS {
                *by_source
                    .entry(out.source.clone().unwrap_or_default())
                    .or_default() += 1;
            }
        }
        // The connection is still usable, and the context functions answer.
        config
            .client
            .query_one("SELECT 1, boards_current_tenant_slug()", &[])
            .unwrap_or_else(|e| {
                panic!(
                    "connection {} unusable after batch {batch_no}: {}",
                    config.name,
                    error_text(&e)
                )
            });
        done += n;
        batch_no += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Histograms.
    eprintln!("fuzz_sql: {done} tokens in {batch_no} batches, {elapsed:.1}s, seed {seed}");
    eprintln!("outcomes by SQLSTATE:");
    for (state, n) in &by_state {
        eprintln!("  {state}  {n:>7}");
    }
    eprintln!("successes by source:");
    for (source, n) in &by_source {
        eprintln!("  {source:<16} {n:>7}");
    }
    eprintln!("outcomes by token kind:");
    for ((kind, state), n) in &by_kind {
        eprintln!("  {:<20} {state}  {n:>7}", format!("{kind:?}"));
    }
    eprintln!("outcomes by configuration:");
    for ((config, state), n) in &by_config {
        eprintln!("  {config:<14} {state}  {n:>7}");
    }
    eprintln!("errors by message:");
    for ((state, message), n) in &by_message {
        eprintln!("  {state}  {n:>7}  {message}");
    }

    // Nothing crashed.
    let log = cluster.server_log();
    let ours = log.get(log_offset..).unwrap_or("");
    for bad in [
        "terminated by signal",
        "PANIC",
        "TRAP:",
        "terminated by exception",
        "server process (PID",
    ] {
        let lines: Vec<&str> = ours.lines().filter(|l| l.contains(bad)).take(10).collect();
        assert!(
            lines.is_empty(),
            "{bad:?} in the server log:\n{}",
            lines.join("\n")
        );
    }

    // No tenant was created or changed, and the memberships are exactly the seeded ones plus
    // the joins of successful calls.
    assert_eq!(
        tenants(&mut su),
        tenants_before,
        "the fuzz run changed the tenants"
    );
    let after = memberships(&mut su);
    let unexpected: Vec<_> = after.difference(&members).take(10).collect();
    let missing: Vec<_> = members.difference(&after).take(10).collect();
    assert!(
        unexpected.is_empty() && missing.is_empty(),
        "memberships differ from the successes: unexpected {unexpected:?}, missing {missing:?}"
    );

    // Coverage: the run reached every outcome that matters (a generator that drifted into
    // producing only garbage would fail here instead of passing vacuously).
    if done >= 10_000 {
        for state in [
            SUCCESS, "28000", "22023", "22004", "42501", "42704", "55000",
        ] {
            assert!(by_state.contains_key(state), "no case ended with {state}");
        }
        for source in SOURCES {
            assert!(
                by_source.contains_key(*source),
                "no success through {source}"
            );
        }
    }

    let broken: usize = by_problem.values().sum();
    let kinds: Vec<String> = by_problem
        .iter()
        .map(|(k, n)| format!("{n:>6}  {k}"))
        .collect();
    assert!(
        by_problem.is_empty(),
        "{broken} cases broke a property:\n{}\nexamples:\n{}",
        kinds.join("\n"),
        failures.join("\n")
    );
}

/// The properties of one outcome; `members` is the model of memberships, updated on success.
fn check(
    case: &Case,
    out: &Outcome,
    multi_tenant: bool,
    config: &str,
    signed_set: &Signed,
    status: &HashMap<String, String>,
    members: &mut HashSet<(String, String)>,
) -> Option<String> {
    if out.state != SUCCESS {
        if !DOCUMENTED.contains(&out.state.as_str()) {
            return Some(format!("[{config}] undocumented SQLSTATE {}", out.state));
        }
        if case.token.is_none() && out.state != "28000" {
            return Some(format!("[{config}] NULL token gave {}", out.state));
        }
        if let Expect::Succeed = case.expect {
            return Some(format!(
                "[{config}] a valid token was refused with {}",
                out.state
            ));
        }
        return None;
    }
    if let Expect::Fail(why) = case.expect {
        return Some(format!("[{config}] accepted although it must fail: {why}"));
    }
    let token = case.token.as_deref().unwrap_or("");
    // Only bytes we signed with an installed key verify.
    let Some(claims) = signed_set.0.get(signing_input(token)) else {
        return Some(format!("[{config}] FORGED token accepted"));
    };
    let slug = out.tenant_slug.clone().unwrap_or_default();
    let subject = out.subject.clone().unwrap_or_default();
    let source = out.source.clone().unwrap_or_default();
    if status.get(&slug).map(String::as_str) != Some("active") {
        return Some(format!(
            "[{config}] context for tenant {slug:?} that is not active"
        ));
    }
    if claims.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
        return Some(format!(
            "[{config}] subject {subject:?} is not the token's sub"
        ));
    }
    if !SOURCES.contains(&source.as_str()) {
        return Some(format!("[{config}] undocumented source {source:?}"));
    }
    if source == "default" && (multi_tenant || slug != "default") {
        return Some(format!(
            "[{config}] default source in multi-tenant mode or for {slug}"
        ));
    }
    if let Some(header) = &case.x_tenant {
        // With a header, the context is the header's tenant (through the claims when they
        // name the same one): anything else ignores or bypasses the header.
        if *header != slug {
            return Some(format!(
                "[{config}] header {header:?} but tenant {slug} via {source}"
            ));
        }
    }
    let key = (slug.clone(), subject.clone());
    let was_member = members.contains(&key);
    match source.as_str() {
        // The header alone never makes anyone a member.
        "x_tenant" if !was_member => {
            return Some(format!(
                "[{config}] x_tenant gave {slug} to non-member {subject:?}"
            ));
        }
        // An email domain joins a tenant only when the tenant lists the domain.
        "email_domain" if !was_member => {
            let consents =
                slug == "acme-corp" && email_domain(claims).as_deref() == Some("acme-corp.com");
            if !consents {
                return Some(format!(
                    "[{config}] email domain {:?} joined {slug} without its consent",
                    email_domain(claims)
                ));
            }
        }
        _ => {}
    }
    members.insert(key);
    // The context the call reported is the one in force afterwards.
    if out.current_slug.as_deref() != Some(slug.as_str())
        || out.current_subject.as_deref() != Some(subject.as_str())
    {
        return Some(format!(
            "[{config}] set tenant {slug:?} / subject {:?}, but the context reads tenant {:?} / subject {:?}",
            short(&subject),
            out.current_slug,
            out.current_subject.as_deref().map(short)
        ));
    }
    // The claims the context reads back are the verified ones (jsonb may respell numbers).
    if let Some(state) = &out.claims_state {
        return Some(format!(
            "[{config}] boards_current_claims() failed with {state}: {:?}",
            out.claims_message
        ));
    }
    let read_back: Option<Value> = out
        .current_claims
        .as_deref()
        .and_then(|t| serde_json::from_str(t).ok());
    if !read_back.as_ref().is_some_and(|c| same_json(c, claims)) {
        return Some(format!(
            "[{config}] boards_current_claims() reads {:?}, not the token's claims",
            out.current_claims.as_deref().map(short)
        ));
    }
    None
}

/// The boundary the core fuzz run found, through SQL: a token whose claims nest as deep as the
/// verifier accepts must give a context that reads back, or the caller is told "tenant set"
/// and then sees no tenant at all.
#[test]
fn claims_nested_to_the_limit_keep_their_context() {
    let db = Cluster::shared().create_database();
    setup(&db);
    let mut app = db.app();
    let mut broken = Vec::new();
    for depth in 58..=66usize {
        let payload = format!(
            r#"{{"sub":"deep","exp":{},"tenant":"acme-corp","x":{}1{}}}"#,
            now() + 600,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let token = signed("HS256", &payload);
        let set = app.query(
            "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1)",
            &[&token],
        );
        let Ok(rows) = set else {
            continue;
        };
        let slug: Option<String> = rows.first().and_then(|r| r.get(0));
        let current: Option<String> = app
            .query_one("SELECT boards_current_tenant_slug()", &[])
            .map(|r| r.get(0))
            .unwrap_or_else(|e| panic!("boards_current_tenant_slug(): {}", error_text(&e)));
        if current != slug {
            broken.push(format!("depth {depth}: set {slug:?}, reads {current:?}"));
        }
        app.batch_execute("SELECT boards_reset_tenant()")
            .unwrap_or_else(|e| panic!("reset: {}", error_text(&e)));
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// A database of the shared cluster with a collation other than C, dropped on Drop.
struct CollatedDb {
    cluster: &'static Cluster,
    name: String,
}

impl CollatedDb {
    /// `None` when the machine has no such locale.
    fn create(collation: &str) -> Option<CollatedDb> {
        let cluster = Cluster::shared();
        let name = "boards_fuzz_collated".to_owned();
        let mut postgres = cluster
            .connect_to("postgres", SUPERUSER, None)
            .unwrap_or_else(|e| panic!("connecting as superuser: {}", error_text(&e)));
        let created = postgres.batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE '{collation}' LC_CTYPE '{collation}'"
        ));
        if let Err(e) = created {
            eprintln!(
                "skipped: no database with collation {collation}: {}",
                error_text(&e)
            );
            return None;
        }
        let db = CollatedDb { cluster, name };
        exec(&mut db.connect(SUPERUSER), "CREATE EXTENSION boards_tenant");
        Some(db)
    }

    fn connect(&self, role: &str) -> Client {
        self.cluster
            .connect_to(&self.name, role, None)
            .unwrap_or_else(|e| panic!("connecting to {} as {role}: {}", self.name, error_text(&e)))
    }
}

impl Drop for CollatedDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self
            .cluster
            .connect_to("postgres", SUPERUSER, None)
            .and_then(|mut c| c.batch_execute(&sql))
        {
            eprintln!("{sql}: {}", error_text(&e));
        }
    }
}

/// NUL characters are legal in JSON strings (`\u0000`) but not in Postgres text. The fuzz
/// database uses collation C; in a database with a real collation (here C.UTF-8, the default
/// of many installations) a subject with a NUL in it must still get a prompt answer — success
/// as a subject of its own, or a documented error — and the claims of a context must read
/// back. Each call gets 5 seconds.
#[test]
fn nul_characters_in_claims_get_a_prompt_answer_in_a_non_c_collation() {
    let Some(db) = CollatedDb::create("C.UTF-8") else {
        return;
    };
    let mut admin = db.connect(ADMIN_ROLE);
    jwt::install_test_keys(&mut admin);
    exec(
        &mut admin,
        "SELECT boards_tenant_create('Acme Corp', 'acme-corp');
         SELECT boards_tenant_add_member('acme-corp', 'alice', 'owner');",
    );
    let mut app = db.connect(APP_ROLE);
    exec(&mut app, "SET statement_timeout = '5s'");
    let exp = now() + 600;
    let cases = [
        // Just-in-time join of a subject that is an existing member's subject plus a NUL.
        (
            "JIT join",
            json!({"iat": now(), "sub": "alice\u{0}evil", "tenant": "acme-corp", "exp": exp}),
            None,
        ),
        // Membership lookup through the header for such a subject.
        (
            "x_tenant lookup",
            json!({"iat": now(), "sub": "alice\u{0}", "exp": exp}),
            Some("acme-corp"),
        ),
        // A NUL in an ordinary claim, and in the email and name stored with a new member.
        (
            "claims",
            json!({"iat": now(), "sub": "bob", "tenant": "acme-corp", "exp": exp, "nick": "a\u{0}b",
                   "email": "bob\u{0}@acme-corp.com", "name": "B\u{0}b"}),
            None,
        ),
    ];
    let mut problems = Vec::new();
    for (what, claims, header) in cases {
        let token = signed("HS256", &claims.to_string());
        match app.query(
            "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, $2)",
            &[&token, &header],
        ) {
            Ok(_) => {
                if let Err(e) = app.query_one("SELECT boards_current_claims()", &[]) {
                    problems.push(format!(
                        "{what}: the call succeeded, but boards_current_claims() fails: {}",
                        error_text(&e)
                    ));
                }
            }
            Err(e) => {
                let state = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
                if !DOCUMENTED.contains(&state.as_str()) {
                    problems.push(format!("{what}: {}", error_text(&e)));
                }
            }
        }
        exec(&mut app, "SELECT boards_reset_tenant()");
    }
    // Alice's own membership is untouched.
    let mut su = db.connect(SUPERUSER);
    let alice: i64 = su
        .query_one(
            "SELECT count(*) FROM boards.users WHERE auth_subject = 'alice' AND role = 'owner'",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(alice, 1, "alice's membership changed");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
