//! Identity providers, attacked as the app role: issuer-bound keys (a token of one identity
//! provider never passes as another's, also with the same kid), audiences bound to keys (the
//! global settings stay a floor), tenant-scoped keys (a bring-your-own IdP reaches only its
//! tenants, by every resolution strategy) and `boards_jwt_sync_jwks` (rotation with grace,
//! alg change under a kid, malformed documents, keys it does not manage).

use boards_tenant_harness::{jwt, Cluster, TestDb};
use boards_tenant_tests::{assert_sqlstate, assert_sqlstate_in, error_text};
use postgres::Client;
use serde_json::{json, Value};

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as ACCESS_DENIED;
use boards_tenant_tests::sqlstate::INVALID_AUTHORIZATION_SPECIFICATION as INVALID_AUTHORIZATION;
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;

const IDP_A: &str = "https://idp-a.example";
const IDP_B: &str = "https://idp-b.example";

fn fresh_db() -> TestDb<'static> {
    Cluster::shared().create_database()
}

#[track_caller]
fn exec(client: &mut Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)));
}

fn create_tenant(admin: &mut Client, slug: &str) {
    admin
        .execute("SELECT boards_tenant_create($1, $1)", &[&slug])
        .unwrap_or_else(|e| panic!("creating {slug}: {}", error_text(&e)));
}

/// A fresh token's claims: issued now (so first-use membership may join tenants created
/// before it), valid for ten minutes.
fn claims(sub: &str, iss: &str, extra: Value) -> Value {
    let mut c = json!({"sub": sub, "iss": iss, "aud": "boards", "iat": jwt::now(), "exp": jwt::now() + 600});
    if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
        c.extend(extra);
    }
    c
}

/// Signed with the fixture HMAC secret (provider A's in these tests).
fn token_a(kid: &str, claims: &Value) -> String {
    jwt::mint("HS256", kid, claims)
}

/// Signed with the other fixture HMAC secret (provider B's).
fn token_b(kid: &str, claims: &Value) -> String {
    jwt::mint_with_other_key("HS256", kid, claims)
}

fn set_from_jwt(
    app: &mut Client,
    token: &str,
    x_tenant: Option<&str>,
) -> Result<String, postgres::Error> {
    app.query_one(
        "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, $2)",
        &[&token, &x_tenant],
    )
    .map(|row| row.get(0))
}

/// Two providers publishing the same kid, each bound to its issuer; tenant `acme` belongs to
/// provider A's users, `globex` to B's.
fn two_providers(db: &TestDb) {
    let mut admin = db.admin();
    create_tenant(&mut admin, "acme");
    create_tenant(&mut admin, "globex");
    admin
        .execute(
            "SELECT boards_jwt_add_key('shared', 'HS256', $1, $2)",
            &[&jwt::hmac_secret(), &IDP_A],
        )
        .unwrap();
    admin
        .execute(
            "SELECT boards_jwt_add_key('shared', 'HS256', $1, $2)",
            &[&jwt::other_verification_material("HS256"), &IDP_B],
        )
        .unwrap();
}

#[test]
fn the_same_kid_at_two_issuers_verifies_only_each_issuers_own_tokens() {
    let db = fresh_db();
    two_providers(&db);
    let mut app = db.app();
    let alice = token_a("shared", &claims("alice", IDP_A, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &alice, None).unwrap(), "acme");
    let bob = token_b("shared", &claims("bob", IDP_B, json!({"tenant": "globex"})));
    assert_eq!(set_from_jwt(&mut app, &bob, None).unwrap(), "globex");

    // Provider A's administrator mints a token that claims to come from B, for B's tenant.
    let forged = token_a(
        "shared",
        &claims("mallory", IDP_B, json!({"tenant": "globex"})),
    );
    assert_sqlstate(set_from_jwt(&mut app, &forged, None), INVALID_AUTHORIZATION);
    // A token without iss is no provider's token for a bound key.
    let anonymous = token_a(
        "shared",
        &json!({"sub": "mallory", "tenant": "globex", "iat": jwt::now(), "exp": jwt::now() + 600}),
    );
    assert_sqlstate(
        set_from_jwt(&mut app, &anonymous, None),
        INVALID_AUTHORIZATION,
    );
}

#[test]
fn removing_a_shared_kid_needs_the_issuer() {
    let db = fresh_db();
    two_providers(&db);
    let mut admin = db.admin();
    let message = assert_sqlstate(
        admin.execute("SELECT boards_jwt_remove_key('shared')", &[]),
        INVALID_PARAMETER,
    );
    assert!(message.contains("name the issuer"), "{message}");
    admin
        .execute("SELECT boards_jwt_remove_key('shared', $1)", &[&IDP_B])
        .unwrap();
    let left: Vec<Option<String>> = admin
        .query(
            "SELECT issuer FROM boards_jwt_keys() WHERE kid = 'shared'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [Some(IDP_A.to_owned())]);
    // B's tokens stop verifying at once; A's still verify.
    let mut app = db.app();
    let bob = token_b("shared", &claims("bob", IDP_B, json!({"tenant": "globex"})));
    assert_sqlstate(set_from_jwt(&mut app, &bob, None), INVALID_AUTHORIZATION);
    let alice = token_a("shared", &claims("alice", IDP_A, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &alice, None).unwrap(), "acme");
}

#[test]
fn a_bound_keys_audiences_are_checked_and_the_global_floor_stays() {
    let db = fresh_db();
    let mut admin = db.admin();
    create_tenant(&mut admin, "acme");
    admin
        .execute(
            "SELECT boards_jwt_add_key('a1', 'HS256', $1, $2, ARRAY['boards'])",
            &[&jwt::hmac_secret(), &IDP_A],
        )
        .unwrap();
    let mut app = db.app();
    let right = token_a("a1", &claims("alice", IDP_A, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &right, None).unwrap(), "acme");
    let other_app = token_a(
        "a1",
        &claims("alice", IDP_A, json!({"tenant": "acme", "aud": "billing"})),
    );
    assert_sqlstate(
        set_from_jwt(&mut app, &other_app, None),
        INVALID_AUTHORIZATION,
    );

    // The global settings still apply to every key.
    db.set("boards.jwt_issuer", IDP_B);
    let mut app = db.app();
    assert_sqlstate(set_from_jwt(&mut app, &right, None), INVALID_AUTHORIZATION);
    db.set("boards.jwt_issuer", IDP_A);
    db.set("boards.jwt_audience", "platform");
    let mut app = db.app();
    assert_sqlstate(set_from_jwt(&mut app, &right, None), INVALID_AUTHORIZATION);
}

/// Provider B is an enterprise customer's own IdP, scoped to its tenant `globex`; its
/// administrator can mint any claims.
fn scoped_provider(db: &TestDb) -> Client {
    let mut admin = db.admin();
    create_tenant(&mut admin, "acme");
    create_tenant(&mut admin, "globex");
    admin
        .execute(
            "SELECT boards_jwt_add_key('byo', 'HS256', $1, $2, NULL, ARRAY['globex'])",
            &[&jwt::other_verification_material("HS256"), &IDP_B],
        )
        .unwrap();
    admin
}

#[test]
fn a_tenant_scoped_key_reaches_no_other_tenant_by_any_strategy() {
    let db = fresh_db();
    let mut admin = scoped_provider(&db);
    // The victim tenant has a member with the subject the attacker will impersonate.
    admin
        .execute(
            "SELECT boards_tenant_add_member('acme', 'ceo', 'owner')",
            &[],
        )
        .unwrap();
    let mut app = db.app();
    let own = token_b("byo", &claims("eve", IDP_B, json!({"tenant": "globex"})));
    assert_eq!(set_from_jwt(&mut app, &own, None).unwrap(), "globex");

    let attacks = [
        (
            "a tenant claim of another tenant",
            json!({"tenant": "acme"}),
            None,
        ),
        (
            "an existing member's subject",
            json!({"sub": "ceo", "tenant": "acme"}),
            None,
        ),
        (
            "x_tenant of another tenant",
            json!({"sub": "ceo"}),
            Some("acme"),
        ),
        (
            "claim and x_tenant",
            json!({"sub": "ceo", "tenant": "globex"}),
            Some("acme"),
        ),
        ("the default tenant", json!({}), None),
    ];
    for (what, extra, x_tenant) in attacks {
        let token = token_b("byo", &claims("eve", IDP_B, extra));
        assert_sqlstate_in(
            what,
            set_from_jwt(&mut app, &token, x_tenant),
            ACCESS_DENIED,
        );
    }
    // No first-use membership was created anywhere else.
    let mut su = db.superuser();
    let elsewhere: i64 = su
        .query_one(
            "SELECT count(*) FROM boards.users u JOIN boards.tenants t ON t.id = u.tenant_id
             WHERE t.slug <> 'globex' AND u.auth_subject IN ('eve')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(elsewhere, 0);
}

#[test]
fn a_tenant_scoped_key_reaches_no_other_tenant_by_invitation_registration_or_a_later_restriction() {
    let db = fresh_db();
    let mut admin = scoped_provider(&db);
    let mut app = db.app();

    // An invitation to acme, whose secret the customer's IdP administrator got hold of: the
    // address matches (they mint any claims), the key's scope still says no.
    let secret: String = admin
        .query_one(
            "SELECT secret FROM boards_tenant_invite_owner('acme', 'eve@corp.example')",
            &[],
        )
        .unwrap()
        .get(0);
    let eve = token_b(
        "byo",
        &claims(
            "eve",
            IDP_B,
            json!({"email": "eve@corp.example", "email_verified": true}),
        ),
    );
    app.query_one("SELECT boards_authenticate($1)", &[&eve])
        .unwrap();
    assert_sqlstate(
        app.query_one(
            "SELECT tenant_slug FROM boards_invitation_accept($1)",
            &[&secret],
        ),
        ACCESS_DENIED,
    );
    // Nor may it found tenants of the platform.
    assert_sqlstate(
        app.query_one(
            "SELECT boards_tenant_register('Eve Corp', 'eve@corp.example')",
            &[],
        ),
        ACCESS_DENIED,
    );
    let members: i64 = db
        .superuser()
        .query_one(
            "SELECT count(*) FROM boards.users WHERE auth_subject = 'eve'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(members, 0, "no membership anywhere");

    // A key widened to acme, a session set there, the key narrowed again: the session's next
    // statement has no tenant.
    exec(
        &mut admin,
        "SELECT boards_jwt_restrict_key('byo', ARRAY['globex', 'acme'])",
    );
    let in_acme = token_b("byo", &claims("eve", IDP_B, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &in_acme, None).unwrap(), "acme");
    exec(
        &mut admin,
        "SELECT boards_jwt_restrict_key('byo', ARRAY['globex'])",
    );
    let tenant: Option<String> = app
        .query_one("SELECT boards_current_tenant_slug()", &[])
        .unwrap()
        .get(0);
    assert_eq!(tenant, None);

    // The same from a REPEATABLE READ transaction whose snapshot predates the narrowing.
    exec(
        &mut admin,
        "SELECT boards_jwt_restrict_key('byo', ARRAY['globex', 'acme'])",
    );
    exec(&mut app, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(set_from_jwt(&mut app, &in_acme, None).unwrap(), "acme");
    exec(
        &mut admin,
        "SELECT boards_jwt_restrict_key('byo', ARRAY['globex'])",
    );
    let tenant: Option<String> = app
        .query_one("SELECT boards_current_tenant_slug()", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        tenant, None,
        "an open transaction's snapshot keeps a narrowed key's tenant"
    );
    exec(&mut app, "ROLLBACK");
}

#[test]
fn restricting_and_listing_a_keys_tenants() {
    let db = fresh_db();
    let mut admin = scoped_provider(&db);
    let row = admin
        .query_one(
            "SELECT issuer, tenants FROM boards_jwt_keys() WHERE kid = 'byo'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some(IDP_B));
    assert_eq!(
        row.get::<_, Option<Vec<String>>>(1),
        Some(vec!["globex".to_owned()])
    );
    // Widen to acme too, then the acme claim works.
    admin
        .execute(
            "SELECT boards_jwt_restrict_key('byo', ARRAY['globex', 'acme'])",
            &[],
        )
        .unwrap();
    let mut app = db.app();
    let token = token_b("byo", &claims("eve", IDP_B, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &token, None).unwrap(), "acme");
    // Deleting globex and acme leaves the key restricted to nothing, never unrestricted.
    exec(&mut admin, "SELECT boards_tenant_delete('acme')");
    create_tenant(&mut admin, "initech");
    let mut app = db.app();
    let token = token_b("byo", &claims("eve", IDP_B, json!({"tenant": "initech"})));
    assert_sqlstate(set_from_jwt(&mut app, &token, None), ACCESS_DENIED);
    let unknown = assert_sqlstate(
        admin.execute(
            "SELECT boards_jwt_restrict_key('byo', ARRAY['no-such'])",
            &[],
        ),
        "42704",
    );
    assert!(unknown.contains("no-such"), "{unknown}");
    assert_sqlstate(
        admin.execute(
            "SELECT boards_jwt_restrict_key('byo', ARRAY[]::text[])",
            &[],
        ),
        INVALID_PARAMETER,
    );
}

fn jwks(keys: &[(&str, &str, &str)]) -> Value {
    use base64::Engine;
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, alg, secret)| {
            json!({"kty": "oct", "kid": kid, "alg": alg,
                   "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)})
        })
        .collect();
    json!({ "keys": keys })
}

fn sync(
    admin: &mut Client,
    doc: &Value,
    grace: &str,
) -> Result<Vec<(String, String)>, postgres::Error> {
    admin
        .query(
            "SELECT kid, action FROM boards_jwt_sync_jwks($1::text::jsonb, $2, NULL, $3::text::interval)",
            &[&doc.to_string(), &IDP_A, &grace],
        )
        .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn actions(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, a)| ((*k).to_owned(), (*a).to_owned()))
        .collect()
}

fn synced_kids(admin: &mut Client) -> Vec<(String, bool)> {
    admin
        .query(
            "SELECT kid, retired_at IS NOT NULL FROM boards_jwt_keys() WHERE issuer = $1 ORDER BY kid",
            &[&IDP_A],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

const SECRET_1: &str = "sync-secret-one-sync-secret-one-sync-secret-one!";
const SECRET_2: &str = "sync-secret-two-sync-secret-two-sync-secret-two!";

fn sync_token(kid: &str, secret: &str) -> String {
    use jsonwebtoken::{EncodingKey, Header};
    let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        &claims("alice", IDP_A, json!({"tenant": "acme"})),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn sync_rotates_with_a_grace_period_and_is_idempotent() {
    let db = fresh_db();
    let mut admin = db.admin();
    create_tenant(&mut admin, "acme");
    let v1 = jwks(&[("k1", "HS256", SECRET_1)]);
    assert_eq!(
        sync(&mut admin, &v1, "1 day").unwrap(),
        actions(&[("k1", "added")])
    );
    assert_eq!(
        sync(&mut admin, &v1, "1 day").unwrap(),
        actions(&[("k1", "kept")])
    );
    let old = sync_token("k1", SECRET_1);
    let mut app = db.app();
    assert_eq!(set_from_jwt(&mut app, &old, None).unwrap(), "acme");

    // Rotation: k1 leaves the document, k2 arrives; a token signed just before still verifies.
    let v2 = jwks(&[("k2", "HS256", SECRET_2)]);
    assert_eq!(
        sync(&mut admin, &v2, "1 day").unwrap(),
        actions(&[("k2", "added"), ("k1", "retiring")])
    );
    assert_eq!(set_from_jwt(&mut app, &old, None).unwrap(), "acme");
    assert_eq!(
        set_from_jwt(&mut app, &sync_token("k2", SECRET_2), None).unwrap(),
        "acme"
    );
    assert_eq!(
        synced_kids(&mut admin),
        [("k1".to_owned(), true), ("k2".to_owned(), false)]
    );
    // After the grace period (zero here) the retired key goes, and its tokens with it.
    assert_eq!(
        sync(&mut admin, &v2, "0").unwrap(),
        actions(&[("k2", "kept"), ("k1", "removed")])
    );
    assert_sqlstate(set_from_jwt(&mut app, &old, None), INVALID_AUTHORIZATION);
    assert_eq!(
        sync(&mut admin, &v2, "0").unwrap(),
        actions(&[("k2", "kept")])
    );
}

#[test]
fn sync_replaces_a_kid_whose_algorithm_changed() {
    let db = fresh_db();
    let mut admin = db.admin();
    create_tenant(&mut admin, "acme");
    sync(&mut admin, &jwks(&[("k1", "HS256", SECRET_1)]), "1 day").unwrap();
    let before = sync_token("k1", SECRET_1);
    assert_eq!(
        sync(&mut admin, &jwks(&[("k1", "HS512", SECRET_2)]), "1 day").unwrap(),
        actions(&[("k1", "replaced")])
    );
    let alg: String = admin
        .query_one("SELECT alg FROM boards_jwt_keys() WHERE kid = 'k1'", &[])
        .unwrap()
        .get(0);
    assert_eq!(alg, "HS512");
    // The old material verifies nothing any more.
    let mut app = db.app();
    assert_sqlstate(set_from_jwt(&mut app, &before, None), INVALID_AUTHORIZATION);
}

#[test]
fn a_malformed_or_empty_document_changes_nothing() {
    let db = fresh_db();
    let mut admin = db.admin();
    sync(&mut admin, &jwks(&[("k1", "HS256", SECRET_1)]), "0").unwrap();
    let before = synced_kids(&mut admin);
    for bad in [
        json!({"keys": []}),
        json!({"nokeys": 1}),
        json!({"keys": [{"kty": "oct", "kid": "k2", "alg": "none", "k": "eA"}]}),
        json!({"keys": [{"kty": "oct", "kid": "k2", "k": "c2VjcmV0"}, {"kty": "RSA", "kid": "k3"}]}),
    ] {
        assert_sqlstate_in(
            &bad.to_string(),
            sync(&mut admin, &bad, "0"),
            INVALID_PARAMETER,
        );
        assert_eq!(synced_kids(&mut admin), before, "{bad}");
    }
}

#[test]
fn sync_never_touches_keys_it_did_not_install() {
    let db = fresh_db();
    let mut admin = db.admin();
    // A key of the same issuer added by hand, and another issuer's synced key.
    admin
        .execute(
            "SELECT boards_jwt_add_key('manual', 'HS256', $1, $2)",
            &[&SECRET_2, &IDP_A],
        )
        .unwrap();
    admin
        .execute(
            "SELECT * FROM boards_jwt_sync_jwks($1::text::jsonb, $2)",
            &[&jwks(&[("k1", "HS256", SECRET_1)]).to_string(), &IDP_B],
        )
        .unwrap();
    assert_eq!(
        sync(&mut admin, &jwks(&[("k1", "HS256", SECRET_1)]), "0").unwrap(),
        actions(&[("k1", "added")])
    );
    sync(&mut admin, &jwks(&[("k9", "HS256", SECRET_1)]), "0").unwrap();
    sync(&mut admin, &jwks(&[("k9", "HS256", SECRET_1)]), "0").unwrap();
    let all: Vec<(String, Option<String>, String)> = admin
        .query(
            "SELECT kid, issuer, origin FROM boards_jwt_keys() WHERE issuer IS NOT NULL
             ORDER BY issuer, kid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        all,
        [
            ("k9".into(), Some(IDP_A.into()), "sync".into()),
            ("manual".into(), Some(IDP_A.into()), "manual".into()),
            ("k1".into(), Some(IDP_B.into()), "sync".into()),
        ]
    );
    // A document kid that collides with the hand-added key is refused.
    let message = assert_sqlstate(
        sync(&mut admin, &jwks(&[("manual", "HS256", SECRET_1)]), "0"),
        INVALID_PARAMETER,
    );
    assert!(message.contains("added by hand"), "{message}");
}

#[test]
fn a_context_lasts_only_while_its_own_issuers_key_is_installed() {
    let db = fresh_db();
    two_providers(&db);
    let mut app = db.app();
    let alice = token_a("shared", &claims("alice", IDP_A, json!({"tenant": "acme"})));
    assert_eq!(set_from_jwt(&mut app, &alice, None).unwrap(), "acme");
    // Provider A's key goes; B's key with the same kid stays. Alice's context must go too.
    db.admin()
        .execute("SELECT boards_jwt_remove_key('shared', $1)", &[&IDP_A])
        .unwrap();
    let slug: Option<String> = app
        .query_one("SELECT boards_current_tenant_slug()", &[])
        .unwrap()
        .get(0);
    assert_eq!(slug, None);
}

fn audit_checks(admin: &mut Client) -> Vec<(String, String)> {
    admin
        .query(
            "SELECT check_name, detail::text FROM boards_tenant_audit()
             WHERE check_name IN ('key_without_issuer_binding', 'scoped_key_tenant_missing')
             ORDER BY 1",
            &[],
        )
        .unwrap_or_else(|e| panic!("audit: {}", error_text(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn the_audit_reports_unbound_keys_among_several_issuers_and_stale_tenant_scopes() {
    let db = fresh_db();
    let mut admin = db.admin();
    create_tenant(&mut admin, "globex");
    admin
        .execute(
            "SELECT boards_jwt_add_key('byo', 'HS256', $1, $2, NULL, ARRAY['globex'])",
            &[&jwt::other_verification_material("HS256"), &IDP_B],
        )
        .unwrap();
    // One issuer configured (the key's), and an unbound key: nothing to report.
    exec(
        &mut admin,
        &format!(
            "SELECT boards_jwt_add_key('loose', 'HS256', '{}')",
            jwt::hmac_secret()
        ),
    );
    assert_eq!(audit_checks(&mut admin), []);

    // A second issuer in the setting: the unbound key is reported.
    db.set("boards.jwt_issuer", &format!("{IDP_A},{IDP_B}"));
    let mut admin = db.admin();
    let found = audit_checks(&mut admin);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "key_without_issuer_binding");
    assert!(found[0].1.contains("loose"), "{found:?}");

    // The scoped key's tenant is deleted: reported too.
    exec(&mut admin, "SELECT boards_tenant_delete('globex')");
    let found = audit_checks(&mut admin);
    assert_eq!(
        found.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        ["key_without_issuer_binding", "scoped_key_tenant_missing"]
    );
    assert!(found[1].1.contains("byo"), "{found:?}");
}

#[test]
fn null_arguments_are_refused_with_a_clear_error() {
    let db = fresh_db();
    let mut admin = db.admin();
    for call in [
        "SELECT boards_jwt_add_key(NULL, 'HS256', 'x')",
        "SELECT boards_jwt_import_jwks(NULL)",
        "SELECT boards_jwt_remove_key(NULL)",
        "SELECT boards_jwt_restrict_key(NULL, NULL)",
        "SELECT * FROM boards_jwt_sync_jwks('{\"keys\": []}', NULL)",
    ] {
        let message = assert_sqlstate_in(call, admin.execute(call, &[]), INVALID_PARAMETER);
        assert!(message.contains("must not be NULL"), "{call}: {message}");
    }
}
