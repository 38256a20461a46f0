//! The verified tenant context: every resolution strategy end to end with real signed
//! tokens, every refusal with its SQLSTATE, scope and reset rules, parallel workers, and every
//! way the app role could try to forge a context. All as `boards_app` unless stated.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb};
use boards_tenant_tests::fixture::{Layout, TwoTenants, BULK_NOTES};
use boards_tenant_tests::parallel::{install_worker_probe, rows_from_workers, FORCE_PARALLEL};
use boards_tenant_tests::{
    assert_sqlstate, base64url, db_error, error_text, exec, query_text, set_context, try_context,
};
use serde_json::{json, Value};

/// A database with the test keys and tenants `acme-corp`, `globex` (active),
/// `pending-co` (pending_approval) and `frozen-co` (suspended).
fn setup() -> TestDb<'static> {
    let db = Cluster::shared().create_database();
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    admin
        .batch_execute(
            "SELECT boards_tenant_create('Acme Corp', 'acme-corp', '{\"email_domains\": [\"acme-corp.com\"]}');
             SELECT boards_tenant_create('Globex', 'globex');
             SELECT boards_tenant_create('Pending Co', 'pending-co');
             SELECT boards_tenant_suspend('pending-co');
             SELECT boards_tenant_create('Frozen Co', 'frozen-co');
             SELECT boards_tenant_suspend('frozen-co');",
        )
        .unwrap_or_else(|e| panic!("setup: {}", error_text(&e)));
    // pending_approval is what registration stores; set it directly for the test.
    db.superuser()
        .batch_execute(
            "UPDATE boards.tenants SET status = 'pending_approval' WHERE slug = 'pending-co'",
        )
        .unwrap_or_else(|e| panic!("setup: {}", error_text(&e)));
    db
}

fn multi_tenant(db: &TestDb) {
    db.set("boards.multi_tenant_mode", "on");
}

fn hs256(claims: Value) -> String {
    mint("HS256", &test_kid("HS256"), &claims)
}

fn claims(extra: Value) -> Value {
    let mut base = json!({"iat": jwt::now(), "sub": "user123", "exp": jwt::now() + 600});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

/// `(tenant_slug, source)` of a successful `boards_set_tenant_from_jwt`.
#[track_caller]
fn slug_and_source(app: &mut Client, token: &str, x_tenant: Option<&str>) -> (String, String) {
    let row = set_context(app, token, x_tenant);
    (row.tenant_slug, row.source)
}

fn current_slug(app: &mut Client) -> Option<String> {
    query_text(app, "SELECT boards_current_tenant_slug()", &[])
}

fn tenant_count(db: &TestDb) -> i64 {
    db.superuser()
        .query_one("SELECT count(*) FROM boards.tenants", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
}

fn memberships(db: &TestDb, slug: &str, subject: &str) -> i64 {
    db.superuser()
        .query_one(
            "SELECT count(*) FROM boards.users u JOIN boards.tenants t ON t.id = u.tenant_id
             WHERE t.slug = $1 AND u.auth_subject = $2",
            &[&slug, &subject],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
}

/// `boards_set_tenant(slug)` as the admin: the row names the tenant, no subject, source `admin`.
#[track_caller]
fn assert_admin_context_row(admin: &mut Client, slug: &str) {
    let row = admin
        .query_one(
            "SELECT tenant_slug, subject, source FROM boards_set_tenant($1)",
            &[&slug],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(row.get::<_, String>(0), slug);
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, String>(2), "admin");
}

// ---------------------------------------------------------------------------------------------
// Strategies, in DESIGN order.

#[test]
fn tenant_claim_sets_the_context_and_creates_the_membership_on_first_use() {
    let db = setup();
    let mut app = db.app();
    assert_eq!(memberships(&db, "acme-corp", "user123"), 0);
    let token = hs256(claims(
        json!({"tenant": "acme-corp", "email": "user@acme-corp.com"}),
    ));
    let row = app
        .query_one("SELECT * FROM boards_set_tenant_from_jwt($1)", &[&token])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let tenant_id: uuid::Uuid = row.get("tenant_id");
    let user_id: uuid::Uuid = row.get("user_id");
    assert_eq!(row.get::<_, String>("tenant_slug"), "acme-corp");
    assert_eq!(row.get::<_, String>("subject"), "user123");
    assert_eq!(row.get::<_, String>("source"), "claim:tenant");
    assert_eq!(memberships(&db, "acme-corp", "user123"), 1);

    let current: (uuid::Uuid, uuid::Uuid, String) = app
        .query_one(
            "SELECT boards_current_tenant(), boards_current_user_id(), boards_current_subject()",
            &[],
        )
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(current, (tenant_id, user_id, "user123".to_owned()));
    let claims: Value = app
        .query_one("SELECT boards_current_claims()", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(claims["email"], "user@acme-corp.com");

    // Second use: the same membership, no new row.
    let again: uuid::Uuid = app
        .query_one(
            "SELECT user_id FROM boards_set_tenant_from_jwt($1)",
            &[&token],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(again, user_id);
    assert_eq!(memberships(&db, "acme-corp", "user123"), 1);
}

#[test]
fn organisation_claims_in_order_and_as_objects() {
    let db = setup();
    let mut app = db.app();
    for (extra, slug) in [
        (
            json!({"org": "acme-corp", "organization": "Globex"}),
            "acme-corp",
        ),
        (json!({"organization": "Acme Corp"}), "acme-corp"),
        (json!({"org_slug": "globex"}), "globex"),
        (json!({"org_name": "GLOBEX"}), "globex"),
        (
            json!({"org": {"slug": "globex", "name": "Globex Inc"}}),
            "globex",
        ),
        (json!({"organization": {"name": "Acme Corp"}}), "acme-corp"),
    ] {
        let (got, source) = slug_and_source(&mut app, &hs256(claims(extra.clone())), None);
        assert_eq!(
            (got.as_str(), source.as_str()),
            (slug, "claim:org"),
            "claims {extra}"
        );
    }
}

#[test]
fn a_tenant_claim_object_may_name_the_tenant_by_id() {
    let db = setup();
    let mut app = db.app();
    let id: uuid::Uuid = db
        .superuser()
        .query_one("SELECT id FROM boards.tenants WHERE slug = 'globex'", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let token = hs256(claims(json!({"tenant": {"id": id.to_string()}})));
    assert_eq!(
        slug_and_source(&mut app, &token, None),
        ("globex".into(), "claim:tenant".into())
    );
}

#[test]
fn the_custom_claim_is_used_when_configured() {
    let db = setup();
    let token = hs256(claims(
        json!({"company": "globex", "email": "user@acme-corp.com"}),
    ));
    // Not configured: the company claim means nothing, single-tenant mode falls back to default.
    assert_eq!(
        slug_and_source(&mut db.app(), &token, None),
        ("default".into(), "default".into())
    );
    db.set("boards.jwt_tenant_claim", "company");
    assert_eq!(
        slug_and_source(&mut db.app(), &token, None),
        ("globex".into(), "claim:custom".into())
    );
}

#[test]
fn email_domain_in_multi_tenant_mode_only_and_never_for_public_or_unverified_mail() {
    let db = setup();
    let corporate = hs256(claims(json!({"email": "someone@acme-corp.com"})));
    // Single-tenant mode: the email domain is not a strategy; the default tenant is.
    assert_eq!(
        slug_and_source(&mut db.app(), &corporate, None).0,
        "default"
    );

    multi_tenant(&db);
    let mut app = db.app();
    assert_eq!(
        slug_and_source(&mut app, &corporate, None),
        ("acme-corp".into(), "email_domain".into())
    );

    let gmail = hs256(claims(json!({"email": "someone@gmail.com"})));
    assert_sqlstate(try_context(&mut app, &gmail, None), "22004");

    let unverified = hs256(claims(
        json!({"email": "someone@acme-corp.com", "email_verified": false}),
    ));
    assert_sqlstate(try_context(&mut app, &unverified, None), "22004");
}

#[test]
fn the_email_domain_joins_only_tenants_that_list_the_domain() {
    // globex does not list globex.com: a verified globex.com address resolves to it but may
    // not join it on first use (else whoever registered the slug first would collect every
    // globex.com employee); an existing member still gets in.
    let db = setup();
    multi_tenant(&db);
    let mut app = db.app();
    let token = hs256(claims(json!({"email": "someone@globex.com"})));
    let err = db_error(
        "unlisted domain",
        try_context(&mut app, &token, None),
        "42501",
    );
    assert_eq!(err.code().code(), "42501");
    assert_eq!(err.message(), "Access denied");
    assert_eq!(memberships(&db, "globex", "user123"), 0);

    db.admin()
        .execute("SELECT boards_tenant_add_member('globex', 'user123')", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(
        slug_and_source(&mut app, &token, None),
        ("globex".into(), "email_domain".into())
    );

    // Listing the domain opens first-use membership to its other addresses.
    db.admin()
        .execute(
            "SELECT boards_tenant_update('globex', settings => '{\"email_domains\": [\"globex.com\"]}')",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let colleague = hs256(
        json!({"iat": jwt::now(), "sub": "colleague", "email": "c@globex.com", "exp": jwt::now() + 60}),
    );
    assert_eq!(slug_and_source(&mut app, &colleague, None).0, "globex");
    assert_eq!(memberships(&db, "globex", "colleague"), 1);
}

#[test]
fn namespace_claims_come_after_the_email_domain() {
    let db = setup();
    multi_tenant(&db);
    let mut app = db.app();
    for name in ["namespace", "group", "team", "workspace"] {
        let token = hs256(claims(json!({ name: "globex" })));
        assert_eq!(
            slug_and_source(&mut app, &token, None),
            ("globex".into(), "claim:namespace".into()),
            "claim {name}"
        );
    }
    let both = hs256(claims(
        json!({"team": "globex", "email": "x@acme-corp.com"}),
    ));
    assert_eq!(slug_and_source(&mut app, &both, None).0, "acme-corp");
}

#[test]
fn single_tenant_mode_without_a_tenant_uses_the_default_tenant() {
    let db = setup();
    let token = hs256(claims(json!({})));
    assert_eq!(
        slug_and_source(&mut db.app(), &token, None),
        ("default".into(), "default".into())
    );
}

#[test]
fn multi_tenant_mode_without_a_tenant_is_the_missing_header_error() {
    let db = setup();
    multi_tenant(&db);
    let mut app = db.app();
    let token = hs256(claims(json!({})));
    let err = db_error("no tenant", try_context(&mut app, &token, None), "22004");
    assert_eq!(err.code().code(), "22004");
    assert_eq!(err.message(), "Missing X-Tenant header");
    assert_eq!(
        err.detail(),
        Some("X-Tenant header is required in multi-tenant mode for this endpoint")
    );
    assert_eq!(current_slug(&mut app), None);
}

// ---------------------------------------------------------------------------------------------
// X-Tenant.

#[test]
fn x_tenant_selects_a_tenant_the_subject_belongs_to() {
    let db = setup();
    multi_tenant(&db);
    db.admin()
        .execute("SELECT boards_tenant_add_member('globex', 'user123')", &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "acme-corp"})));
    assert_eq!(
        slug_and_source(&mut app, &token, Some("globex")),
        ("globex".into(), "x_tenant".into())
    );
    // The header naming the claims' own tenant is the claims' path.
    assert_eq!(
        slug_and_source(&mut app, &token, Some("acme-corp")),
        ("acme-corp".into(), "claim:tenant".into())
    );
    // Header only, no tenant claim.
    let plain = hs256(claims(json!({})));
    assert_eq!(
        slug_and_source(&mut app, &plain, Some("globex")).0,
        "globex"
    );
}

#[test]
fn x_tenant_of_a_tenant_the_subject_does_not_belong_to_is_access_denied_and_creates_nothing() {
    let db = setup();
    multi_tenant(&db);
    let mut app = db.app();
    let tenants_before = tenant_count(&db);
    let token = hs256(claims(json!({"tenant": "acme-corp"})));
    for header in ["globex", "no-such-tenant"] {
        let err = db_error(header, try_context(&mut app, &token, Some(header)), "42501");
        assert_eq!(err.code().code(), "42501", "{header}");
        assert_eq!(err.message(), "Access denied");
        assert_eq!(err.detail(), Some("User does not belong to tenant"));
        assert_eq!(
            memberships(&db, header, "user123"),
            0,
            "no membership in {header}"
        );
    }
    assert_eq!(tenant_count(&db), tenants_before, "no tenant created");
    assert_eq!(current_slug(&mut app), None);
}

#[test]
fn x_tenant_in_a_bad_format_is_refused_with_the_seed_texts() {
    let db = setup();
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "acme-corp"})));
    for header in [
        "Acme-Corp",
        "acme_corp",
        "acme corp",
        "",
        "-acme",
        "аcme-corp",
        "acme/../x",
    ] {
        let err = db_error(header, try_context(&mut app, &token, Some(header)), "22023");
        assert_eq!(err.code().code(), "22023", "{header:?}");
        assert_eq!(
            err.message(),
            "Invalid X-Tenant header format",
            "{header:?}"
        );
        assert_eq!(
            err.detail(),
            Some("Tenant slug must contain only lowercase letters, numbers, and hyphens")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tenants that cannot be used.

#[test]
fn unknown_tenants_are_refused_and_never_created() {
    let db = setup();
    let mut app = db.app();
    let before = tenant_count(&db);
    for extra in [
        json!({"tenant": "initech"}),
        json!({"org": "Initech"}),
        json!({"team": "initech"}),
    ] {
        let msg = assert_sqlstate(try_context(&mut app, &hs256(claims(extra)), None), "42704");
        assert!(msg.contains("initech"), "{msg}");
    }
    assert_eq!(tenant_count(&db), before);
}

#[test]
fn pending_and_suspended_tenants_are_refused() {
    let db = setup();
    db.admin()
        .execute(
            "SELECT boards_tenant_add_member('frozen-co', 'user123')",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    for slug in ["pending-co", "frozen-co"] {
        let token = hs256(claims(json!({ "tenant": slug })));
        assert_sqlstate(try_context(&mut app, &token, None), "55000");
        assert_eq!(
            memberships(&db, slug, "user123"),
            if slug == "frozen-co" { 1 } else { 0 }
        );
    }
    // Through the header, as a member: still refused.
    let token = hs256(claims(json!({})));
    assert_sqlstate(try_context(&mut app, &token, Some("frozen-co")), "55000");
    assert_eq!(current_slug(&mut app), None);
}

#[test]
fn a_bad_tenant_claim_is_an_error_not_a_fallback() {
    let db = setup();
    let mut app = db.app();
    for extra in [
        json!({"tenant": "Acme Corp"}),
        json!({"tenant": 42}),
        json!({"tenant": ["acme-corp"]}),
        json!({"tenant": true}),
        json!({"org": {"unrelated": 1}}),
        json!({"org": "аcme-corp"}),
    ] {
        assert_sqlstate(
            try_context(&mut app, &hs256(claims(extra.clone())), None),
            "22023",
        );
        assert_eq!(current_slug(&mut app), None, "{extra}");
    }
}

// ---------------------------------------------------------------------------------------------
// Keys and verification.

#[test]
fn every_supported_algorithm_verifies() {
    let db = setup();
    let mut app = db.app();
    for alg in jwt::ALGORITHMS {
        let token = mint(alg, &test_kid(alg), &claims(json!({"tenant": "globex"})));
        assert_eq!(slug_and_source(&mut app, &token, None).0, "globex", "{alg}");
    }
}

#[test]
fn token_refusals_each_have_their_own_message_and_sqlstate_28000() {
    let db = setup();
    let mut app = db.app();
    let good = claims(json!({"tenant": "acme-corp"}));
    let now = jwt::now();
    let header_b64 = |h: &Value| base64url(h.to_string());
    let payload = base64url(good.to_string());
    let unsigned = format!(
        "{}.{payload}.",
        header_b64(&json!({"alg": "none", "typ": "JWT"}))
    );
    // HS256 signed with the RS256 public key as the secret, against the RS256 key's kid.
    let confused = {
        let key =
            jsonwebtoken::EncodingKey::from_secret(jwt::verification_material("RS256").as_bytes());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(test_kid("RS256"));
        jsonwebtoken::encode(&header, &good, &key).unwrap_or_default()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "none"),
        ("algorithm confusion", confused, "does not match"),
        ("unknown kid", mint("HS256", "nope", &good), "no key"),
        (
            "path-like kid",
            mint("HS256", "../../etc/passwd", &good),
            "no key",
        ),
        (
            "other key",
            jwt::mint_with_other_key("RS256", &test_kid("RS256"), &good),
            "signature",
        ),
        (
            "expired",
            hs256(claims(json!({"tenant": "acme-corp", "exp": now - 3600}))),
            "expired",
        ),
        (
            "not yet valid",
            hs256(claims(json!({"tenant": "acme-corp", "nbf": now + 3600}))),
            "not yet valid",
        ),
        (
            "no subject",
            hs256(json!({"tenant": "acme-corp", "exp": now + 60})),
            "subject",
        ),
        ("empty", String::new(), "malformed"),
        ("not base64", "!!!.@@@.###".into(), "malformed"),
    ];
    for (what, token, needle) in cases {
        let msg = assert_sqlstate(try_context(&mut app, &token, None), "28000");
        assert!(msg.to_lowercase().contains(needle), "{what}: {msg}");
        assert_eq!(current_slug(&mut app), None, "{what}");
    }
}

#[test]
fn tampered_tokens_are_refused() {
    let db = setup();
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "acme-corp"})));
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = base64url(claims(json!({"tenant": "globex"})).to_string());
    let forged_header = base64url(json!({"alg": "HS384", "kid": test_kid("HS256")}).to_string());
    for tampered in [
        format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        format!("{forged_header}.{}.{}", parts[1], parts[2]),
    ] {
        assert_sqlstate(try_context(&mut app, &tampered, None), "28000");
    }
}

#[test]
fn leeway_issuer_and_audience_are_enforced_when_configured() {
    let db = setup();
    let now = jwt::now();
    let just_expired =
        hs256(json!({"iat": jwt::now(), "sub": "u", "tenant": "globex", "exp": now - 5}));
    assert_eq!(
        slug_and_source(&mut db.app(), &just_expired, None).0,
        "globex",
        "within 30s leeway"
    );
    db.set("boards.jwt_leeway", "0");
    assert_sqlstate(try_context(&mut db.app(), &just_expired, None), "28000");

    db.set("boards.jwt_issuer", "https://issuer.example.com");
    db.set("boards.jwt_audience", "boards-api");
    let mut app = db.app();
    let base = json!({"iat": jwt::now(), "sub": "u", "tenant": "globex", "exp": now + 600});
    let with = |extra: Value| {
        let mut c = base.clone();
        if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        hs256(c)
    };
    let ok = with(json!({"iss": "https://issuer.example.com", "aud": ["other", "boards-api"]}));
    assert_eq!(slug_and_source(&mut app, &ok, None).0, "globex");
    for (what, token, needle) in [
        (
            "wrong iss",
            with(json!({"iss": "https://evil.example.com", "aud": "boards-api"})),
            "issuer",
        ),
        ("no iss", with(json!({"aud": "boards-api"})), "issuer"),
        (
            "wrong aud",
            with(json!({"iss": "https://issuer.example.com", "aud": "other"})),
            "audience",
        ),
    ] {
        let msg = assert_sqlstate(try_context(&mut app, &token, None), "28000");
        assert!(msg.contains(needle), "{what}: {msg}");
    }
}

#[test]
fn keys_rotate_and_a_removed_key_stops_verifying_at_once_even_when_cached() {
    let db = setup();
    let mut admin = db.admin();
    let claims = claims(json!({"tenant": "globex"}));
    let old = mint("HS256", &test_kid("HS256"), &claims);
    let mut app = db.app();
    let mut other_session = db.app();
    // Both sessions verify (and cache) the old token.
    slug_and_source(&mut app, &old, None);
    slug_and_source(&mut other_session, &old, None);

    admin
        .execute(
            "SELECT boards_jwt_add_key('rotated', 'RS256', $1)",
            &[&jwt::other_verification_material("RS256")],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let new = jwt::mint_with_other_key("RS256", "rotated", &claims);
    assert_eq!(slug_and_source(&mut app, &new, None).0, "globex");

    admin
        .execute("SELECT boards_jwt_remove_key($1)", &[&test_kid("HS256")])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    for session in [&mut app, &mut other_session] {
        let msg = assert_sqlstate(try_context(session, &old, None), "28000");
        assert!(msg.contains("no key"), "{msg}");
    }
    assert_eq!(slug_and_source(&mut other_session, &new, None).0, "globex");
    assert_sqlstate(
        admin.execute("SELECT boards_jwt_remove_key('rotated-twice')", &[]),
        "42704",
    );
}

#[test]
fn jwks_import_adds_keys_selected_by_kid_and_is_repeatable() {
    let db = setup();
    let mut admin = db.admin();
    let jwks = json!({"keys": [
        {"kty": "oct", "kid": "jwks-hs", "alg": "HS256",
         "k": base64url(jwt::hmac_secret()).trim_end_matches('=')}
    ]});
    let added: i32 = admin
        .query_one("SELECT boards_jwt_import_jwks($1)", &[&jwks])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(added, 1);
    let again: i32 = admin
        .query_one("SELECT boards_jwt_import_jwks($1)", &[&jwks])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(again, 0, "re-importing the same document adds nothing");
    let token = mint("HS256", "jwks-hs", &claims(json!({"tenant": "globex"})));
    assert_eq!(slug_and_source(&mut db.app(), &token, None).0, "globex");
}

#[test]
fn keys_listing_never_shows_a_secret_and_key_functions_are_admin_only() {
    let db = setup();
    let mut admin = db.admin();
    let rows = admin
        .query(
            "SELECT kid, alg, format, fingerprint FROM boards_jwt_keys()",
            &[],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(rows.len(), jwt::ALGORITHMS.len());
    let listing = format!(
        "{:?}",
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, Option<String>>(3)))
            .collect::<Vec<_>>()
    );
    assert!(
        !listing.contains(jwt::hmac_secret().trim()),
        "secret leaked"
    );
    for row in &rows {
        let alg: String = row.get(1);
        let fingerprint: Option<String> = row.get(3);
        assert_eq!(fingerprint.is_none(), alg.starts_with("HS"), "{alg}");
    }
    let mut app = db.app();
    for sql in [
        "SELECT * FROM boards_jwt_keys()",
        "SELECT boards_jwt_add_key('x', 'HS256', 'abcdefghijklmnopqrstuvwxyz0123456789')",
        "SELECT boards_jwt_remove_key('test-hs256')",
        "SELECT boards_jwt_import_jwks('{\"keys\": []}')",
    ] {
        assert_sqlstate(app.query(sql, &[]), "42501");
    }
}

#[test]
fn adding_a_key_refuses_confusable_or_unusable_material() {
    let db = setup();
    let mut admin = db.admin();
    let rsa_public = jwt::verification_material("RS256");
    for (alg, material) in [
        ("HS256", rsa_public.as_str()),
        ("none", "secret"),
        ("RS256", "not a pem"),
        ("ES384", jwt::verification_material("ES256").leak() as &str),
    ] {
        assert_sqlstate(
            admin.execute(
                "SELECT boards_jwt_add_key('bad', $1, $2)",
                &[&alg, &material],
            ),
            "22023",
        );
    }
    assert_sqlstate(
        admin.execute(
            "SELECT boards_jwt_add_key($1, 'HS256', 'abcdefghijklmnopqrstuvwxyz0123456789')",
            &[&test_kid("HS256")],
        ),
        "23505",
    );
}

// ---------------------------------------------------------------------------------------------
// Scope and reset.

/// The row a setter returns is the context it installed, every call: the rows of repeated
/// tokens are kept per context (`context_row.rs`), so alternating tokens, a repeated one, an
/// X-Tenant choice and `boards_set_tenant` in one session must each return their own row.
#[test]
fn the_returned_row_is_the_installed_context_every_call() {
    let db = setup();
    let mut admin = db.admin();
    for (slug, subject) in [
        ("acme-corp", "alice"),
        ("globex", "alice"),
        ("globex", "bob"),
    ] {
        admin
            .execute(
                "SELECT boards_tenant_add_member($1, $2, 'member')",
                &[&slug, &subject],
            )
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    }
    let alice = hs256(claims(json!({"sub": "alice", "tenant": "acme-corp"})));
    let bob = hs256(claims(json!({"sub": "bob", "tenant": "globex"})));
    let mut app = db.app();
    let readers = "SELECT boards_current_tenant()::text, boards_current_tenant_slug(), \
                   boards_current_user_id()::text, boards_current_subject()";
    let calls: [(&str, Option<&str>, &str, &str); 6] = [
        (&alice, None, "acme-corp", "claim:tenant"),
        (&alice, None, "acme-corp", "claim:tenant"),
        (&bob, None, "globex", "claim:tenant"),
        (&alice, Some("globex"), "globex", "x_tenant"),
        (&alice, None, "acme-corp", "claim:tenant"),
        (&bob, None, "globex", "claim:tenant"),
    ];
    for (i, (token, x_tenant, slug, source)) in calls.into_iter().enumerate() {
        let row = set_context(&mut app, token, x_tenant);
        let now = app
            .query_one(readers, &[])
            .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        assert_eq!(
            (row.tenant_slug.as_str(), row.source.as_str()),
            (slug, source),
            "call {i}"
        );
        let now: [Option<String>; 4] = std::array::from_fn(|c| now.get(c));
        assert_eq!(
            now,
            [
                Some(row.tenant_id),
                Some(row.tenant_slug),
                Some(row.user_id),
                Some(row.subject)
            ],
            "call {i}"
        );
    }
    // The admin removes alice from acme-corp and adds her back after her rows were returned:
    // the same token's next row names her new user row, not the one returned before.
    let before = set_context(&mut app, &alice, None);
    admin
        .batch_execute(
            "SELECT boards_tenant_remove_member('acme-corp', 'alice');
             SELECT boards_tenant_add_member('acme-corp', 'alice', 'member');",
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let after = set_context(&mut app, &alice, None);
    let now = query_text(&mut app, "SELECT boards_current_user_id()::text", &[]);
    assert_ne!(
        after.user_id, before.user_id,
        "a new user row after re-adding"
    );
    assert_eq!(Some(after.user_id), now);
    // The admin's setter shares the row code: its row has no subject, and the next token's row
    // is that token's again.
    assert_admin_context_row(&mut admin, "globex");
    let row = set_context(&mut admin, &alice, None);
    assert_eq!(
        (row.tenant_slug.as_str(), row.subject.as_str()),
        ("acme-corp", "alice")
    );
}

#[test]
fn session_scope_lasts_across_transactions_until_reset() {
    let db = setup();
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "globex"})));
    for reset in ["SELECT boards_reset_tenant()", "RESET ALL", "DISCARD ALL"] {
        slug_and_source(&mut app, &token, None);
        app.batch_execute("BEGIN; SELECT 1; COMMIT;")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(current_slug(&mut app).as_deref(), Some("globex"));
        app.batch_execute(reset)
            .unwrap_or_else(|e| panic!("{reset}: {}", error_text(&e)));
        assert_eq!(current_slug(&mut app), None, "after {reset}");
    }
}

#[test]
fn a_context_set_in_an_aborted_transaction_does_not_survive() {
    let db = setup();
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "globex"})));
    let mut tx = app.transaction().unwrap_or_else(|e| panic!("{e}"));
    tx.query("SELECT * FROM boards_set_tenant_from_jwt($1)", &[&token])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    tx.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current_slug(&mut app), None);
}

#[test]
fn local_scope_ends_with_commit_and_with_abort() {
    let db = setup();
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "globex"})));
    for end in ["COMMIT", "ROLLBACK"] {
        app.batch_execute("BEGIN").unwrap_or_else(|e| panic!("{e}"));
        app.query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
            &[&token],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        assert_eq!(current_slug(&mut app).as_deref(), Some("globex"));
        app.batch_execute(end).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(current_slug(&mut app), None, "after {end}");
    }
    // Outside a transaction block, a local context lasts one statement.
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
        &[&token],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(current_slug(&mut app), None);
}

#[test]
fn a_local_context_overrides_the_session_one_for_one_transaction() {
    let db = setup();
    let mut app = db.app();
    slug_and_source(
        &mut app,
        &hs256(claims(json!({"tenant": "acme-corp"}))),
        None,
    );
    app.batch_execute("BEGIN").unwrap_or_else(|e| panic!("{e}"));
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
        &[&hs256(claims(json!({"tenant": "globex"})))],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(current_slug(&mut app).as_deref(), Some("globex"));
    app.batch_execute("COMMIT")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(current_slug(&mut app).as_deref(), Some("acme-corp"));
}

#[test]
fn rollback_to_savepoint_undoes_a_context_switch() {
    let db = setup();
    let mut app = db.app();
    let acme = hs256(claims(json!({"tenant": "acme-corp"})));
    let globex = hs256(claims(json!({"tenant": "globex"})));
    for is_local in [true, false] {
        app.batch_execute("BEGIN").unwrap_or_else(|e| panic!("{e}"));
        app.query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, $2)",
            &[&acme, &is_local],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        app.batch_execute("SAVEPOINT s")
            .unwrap_or_else(|e| panic!("{e}"));
        app.query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, $2)",
            &[&globex, &is_local],
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        assert_eq!(current_slug(&mut app).as_deref(), Some("globex"));
        app.batch_execute("ROLLBACK TO SAVEPOINT s")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            current_slug(&mut app).as_deref(),
            Some("acme-corp"),
            "is_local {is_local}"
        );
        app.batch_execute("ROLLBACK")
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn require_local_context_refuses_session_scope() {
    let db = setup();
    db.superuser()
        .batch_execute("ALTER ROLE boards_app IN DATABASE CURRENT_DATABASE SET boards.require_local_context = on")
        .or_else(|_| {
            let sql = format!(
                "ALTER ROLE boards_app IN DATABASE {} SET boards.require_local_context = on",
                db.name()
            );
            db.superuser().batch_execute(&sql)
        })
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    let token = hs256(claims(json!({"tenant": "globex"})));
    assert_sqlstate(try_context(&mut app, &token, None), "55000");
    app.batch_execute("BEGIN").unwrap_or_else(|e| panic!("{e}"));
    app.query(
        "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
        &[&token],
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(current_slug(&mut app).as_deref(), Some("globex"));
    app.batch_execute("COMMIT")
        .unwrap_or_else(|e| panic!("{e}"));
}

// ---------------------------------------------------------------------------------------------
// Execution paths.

/// The context reaches parallel workers: a scan whose every row a worker computed (its pid
/// is not the session's) reports, from the workers' own context functions, the session's
/// tenant, slug, subject and membership, and returns exactly the tenant's notes.
#[test]
fn parallel_workers_see_the_context() {
    let mut f = TwoTenants::in_cluster(
        Cluster::shared(),
        Layout {
            boards: [1, 1],
            app_owned_table: false,
        },
    );
    f.add_bulk_notes();
    install_worker_probe(&f.db);
    let mut app = f.app_as(&f.a);
    exec(&mut app, FORCE_PARALLEL);
    let rows = rows_from_workers(
        &mut app,
        "boards_current_tenant()::text, boards_current_tenant_slug(), boards_current_subject(),
         boards_current_user_id()::text, id::text",
        "FROM public.notes",
    );
    let expected_context = [
        f.a.id.as_str(),
        "tenant-a",
        "tenant-a-owner",
        f.a.owner_id.as_str(),
    ];
    for row in &rows {
        let context: Vec<Option<String>> = (1..=4).map(|i| row.get(i)).collect();
        assert_eq!(
            context,
            expected_context.map(|v| Some(v.to_owned())),
            "a worker's context functions"
        );
    }
    let mut seen: Vec<String> = rows.iter().map(|row| row.get(5)).collect();
    seen.sort();
    let own = f.note_ids(&f.a);
    assert!(own.len() as i64 > BULK_NOTES, "fixture: A's notes");
    assert_eq!(seen, own, "the workers' rows are exactly A's notes");
}

#[test]
fn plpgsql_and_prepared_statements_read_the_current_context() {
    let db = setup();
    db.superuser()
        .batch_execute(
            "CREATE FUNCTION public.whose() RETURNS text LANGUAGE plpgsql AS $$
             BEGIN RETURN boards_current_tenant_slug(); END $$;",
        )
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    let stmt = app
        .prepare("SELECT boards_current_tenant_slug(), public.whose()")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    for slug in ["acme-corp", "globex"] {
        slug_and_source(&mut app, &hs256(claims(json!({ "tenant": slug }))), None);
        for _ in 0..6 {
            // Past the generic-plan threshold (5 executions), too.
            let row = app
                .query_one(&stmt, &[])
                .unwrap_or_else(|e| panic!("{}", error_text(&e)));
            assert_eq!(row.get::<_, String>(0), slug);
            assert_eq!(row.get::<_, String>(1), slug);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Forging: every SQL path of DESIGN section 1 (the context lives in boards.context).

fn assert_context_is(app: &mut Client, slug: Option<&str>) {
    assert_eq!(current_slug(app).as_deref(), slug);
}

#[test]
fn set_and_set_config_and_reset_of_the_context_are_refused() {
    let db = setup();
    let mut app = db.app();
    slug_and_source(
        &mut app,
        &hs256(claims(json!({"tenant": "acme-corp"}))),
        None,
    );
    let forged = r#"{"v":1,"tenant_id":null,"tenant_slug":"globex"}"#;
    for sql in [
        format!("SET boards.context = '{forged}'"),
        format!("SET LOCAL boards.context = '{forged}'"),
        format!("SELECT set_config('boards.context', '{forged}', false)"),
        format!("SELECT set_config('boards.context', '{forged}', true)"),
        "RESET boards.context".to_owned(),
        "SET boards.context TO DEFAULT".to_owned(),
    ] {
        app.batch_execute("BEGIN").unwrap_or_else(|e| panic!("{e}"));
        assert_sqlstate(app.batch_execute(&sql), "42501");
        app.batch_execute("ROLLBACK")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_context_is(&mut app, Some("acme-corp"));
    }
}

#[test]
fn startup_options_and_role_settings_cannot_carry_a_context() {
    let db = setup();
    let forged = "-c boards.context={}";
    assert_sqlstate(db.connect("boards_app", Some(forged)), "42501");
    let mut app = db.app();
    assert_sqlstate(
        app.batch_execute("ALTER ROLE boards_app SET boards.context = '{}'"),
        "42501",
    );
    let sql = format!("ALTER DATABASE {} SET boards.context = '{{}}'", db.name());
    assert_sqlstate(app.batch_execute(&sql), "42501");
    assert_context_is(&mut app, None);
}

#[test]
fn the_app_role_cannot_use_the_trusted_setter_or_switch_role() {
    let db = setup();
    let mut app = db.app();
    assert_sqlstate(
        app.query("SELECT * FROM boards_set_tenant('globex')", &[]),
        "42501",
    );
    assert_sqlstate(app.batch_execute("SET ROLE boards_tenant_admin"), "42501");
    assert_sqlstate(app.batch_execute("SET ROLE postgres"), "42501");
    assert_sqlstate(
        app.batch_execute("SET SESSION AUTHORIZATION postgres"),
        "42501",
    );
    assert_context_is(&mut app, None);
    // The admin role can, for background jobs: a context without a subject.
    let mut admin = db.admin();
    assert_admin_context_row(&mut admin, "globex");
    assert_sqlstate(
        admin.query("SELECT * FROM boards_set_tenant('frozen-co')", &[]),
        "55000",
    );
    assert_sqlstate(
        admin.query("SELECT * FROM boards_set_tenant('nope')", &[]),
        "42704",
    );
}

#[test]
fn a_function_of_the_same_name_earlier_in_search_path_changes_nothing() {
    let db = setup();
    let globex = query_text(
        &mut db.superuser(),
        "SELECT id::text FROM boards.tenants WHERE slug = 'globex'",
        &[],
    )
    .unwrap_or_else(|| panic!("setup: no globex"));
    db.superuser()
        .batch_execute("CREATE SCHEMA evil AUTHORIZATION boards_app")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    // The shadow names another tenant: resolved anywhere that matters, it would move the
    // session into globex.
    app.batch_execute(&format!(
        "CREATE FUNCTION evil.boards_current_tenant() RETURNS uuid LANGUAGE sql
             AS $$ SELECT '{globex}'::uuid $$;
         CREATE FUNCTION evil.set_config(text, text, boolean) RETURNS text LANGUAGE sql
             AS $$ SELECT 'hijacked' $$;
         SET search_path = evil, public, pg_catalog;"
    ))
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    slug_and_source(
        &mut app,
        &hs256(claims(json!({"tenant": "acme-corp"}))),
        None,
    );
    // The extension's own functions pin their search_path; the context is acme-corp's.
    assert_eq!(
        query_text(&mut app, "SELECT public.boards_current_tenant_slug()", &[]).as_deref(),
        Some("acme-corp")
    );
    // The shadow is in effect for the session's own unqualified calls (globex's id where the
    // real function answers acme-corp's)...
    assert_eq!(
        query_text(
            &mut app,
            "SELECT boards_current_tenant()::text || ' ' || (SELECT slug FROM boards.tenants
                    WHERE id = public.boards_current_tenant())",
            &[],
        )
        .as_deref(),
        Some(format!("{globex} acme-corp").as_str()),
        "the shadowing function is not the one an unqualified call reaches"
    );
    // ...but not for the tenant policy or the column default, which name the real function:
    // a row written and read in acme-corp's context under this search_path is acme-corp's.
    app.batch_execute(
        "INSERT INTO boards.boards (owner_id, title) VALUES (public.boards_current_user_id(), 'under a hostile search_path')",
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(
        query_text(
            &mut app,
            "SELECT string_agg(t.slug || ':' || b.title, ',') FROM boards.boards b
             JOIN boards.tenants t ON t.id = b.tenant_id",
            &[],
        )
        .as_deref(),
        Some("acme-corp:under a hostile search_path")
    );
}

#[test]
fn a_security_definer_function_of_the_app_role_cannot_set_the_context() {
    let db = setup();
    db.superuser()
        .batch_execute("CREATE SCHEMA mine AUTHORIZATION boards_app")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let mut app = db.app();
    app.batch_execute(
        "CREATE FUNCTION mine.sneak() RETURNS text LANGUAGE sql SECURITY DEFINER
             AS $$ SELECT set_config('boards.context', '{}', false) $$",
    )
    .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_sqlstate(app.query("SELECT mine.sneak()", &[]), "42501");
    // A function-level SET clause is refused at creation.
    assert_sqlstate(
        app.batch_execute(
            "CREATE FUNCTION mine.sneak2() RETURNS int LANGUAGE sql
                 SET boards.multi_tenant_mode = off AS $$ SELECT 1 $$",
        ),
        "42501",
    );
}

// ---------------------------------------------------------------------------------------------
// Garbage and diagnostics.

#[test]
fn garbage_tokens_get_errors_never_a_crash() {
    let db = setup();
    let mut app = db.app();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bomb_payload = base64url(format!(r#"{{"sub":"x","tenant":{nested}}}"#));
    let header = base64url(r#"{"alg":"HS256","kid":"test-hs256"}"#);
    let garbage = [
        String::new(),
        " ".into(),
        "a".repeat(1 << 20),
        "....".into(),
        "eyJ.eyJ.x".into(),
        format!("{header}.{bomb_payload}.sig"),
        format!("{header}.{}.sig", base64url("not json")),
        "\u{0}".replace('\u{0}', "x"),
        "ŝ.ŝ.ŝ".into(),
    ];
    for token in &garbage {
        assert_sqlstate(try_context(&mut app, token, None), "28000");
    }
    // Signed but strange claims.
    for weird in [
        json!({"iat": jwt::now(), "sub": 5}),
        json!({"iat": jwt::now(), "sub": ""}),
        json!({"iat": jwt::now(), "sub": "x", "exp": "soon"}),
    ] {
        assert_sqlstate(try_context(&mut app, &hs256(weird), None), "28000");
    }
    assert_sqlstate(
        app.query("SELECT * FROM boards_set_tenant_from_jwt(NULL)", &[]),
        "28000",
    );
    // Still the same, healthy backend.
    assert_eq!(
        query_text(&mut app, "SELECT 'alive'", &[]).as_deref(),
        Some("alive")
    );
    let log = db.cluster().server_log();
    assert!(
        !log.contains("terminated by signal"),
        "a backend crashed:\n{log}"
    );
}

#[test]
fn debug_logs_the_resolved_tenant() {
    let db = setup();
    db.set("boards.debug", "on");
    let mut app = db.app();
    app.batch_execute("SET client_min_messages = log")
        .unwrap_or_else(|e| panic!("{e}"));
    slug_and_source(&mut app, &hs256(claims(json!({"tenant": "globex"}))), None);
    let log = db.cluster().server_log();
    assert!(
        log.contains("Tenant resolved for authenticated request tenant_slug=globex"),
        "no resolution line in the server log"
    );
}

#[test]
fn authenticate_sets_an_identity_without_a_tenant() {
    let db = setup();
    let mut app = db.app();
    let subject = query_text(
        &mut app,
        "SELECT boards_authenticate($1)",
        &[&hs256(claims(json!({"tenant": "globex"})))],
    );
    assert_eq!(subject.as_deref(), Some("user123"));
    assert_eq!(
        query_text(&mut app, "SELECT boards_current_subject()", &[]).as_deref(),
        Some("user123")
    );
    assert_context_is(&mut app, None);
    let none: Option<uuid::Uuid> = app
        .query_one("SELECT boards_current_tenant()", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none, None);
    assert_sqlstate(
        app.query("SELECT boards_authenticate('x.y.z')", &[]),
        "28000",
    );
}
