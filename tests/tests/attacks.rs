//! The attack catalog: one named test per attack on the security model of
//! docs/DESIGN.md section 1.
//!
//! Every case acts as a tenant: `boards_app` (no superuser, no owner of the Boards tables) with
//! a valid token for tenant A, in a database with tenants A and B that both have rows in every
//! Boards table, in an auto-protected application table (`public.notes`) and in an
//! application table the app role owns (`public.owned`). Each case tries to reach tenant B,
//! asserts that the attempt fails with the right SQLSTATE (and the contract's wording where it
//! fixes one), and asserts that B's rows are exactly what they were, by comparing row count
//! and an md5 of the rows of every table, read as superuser, before and after.
//!
//! Each case's doc comment names the promise of DESIGN section 1 it attacks:
//! 1 unforgeable context, 2 fail closed, 3 policies bind everyone but superusers,
//! 4 correct context in every execution path, 5 pooler-safe, 6 no side channels,
//! 7 bad input gets a clear error, never a crash.
//!
//! Out of scope, on purpose: `LISTEN`/`NOTIFY` and advisory locks (not tenant data), and the
//! query text of other sessions in `pg_stat_activity`, which Postgres shows to every session of
//! the same role (boards_app is one role for all tenants; that is a property of the role, not
//! of the tenant context).

use std::io::{Read, Write};

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::error::DbError;
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::Cluster;
use boards_tenant_tests::fixture::{
    assert_all_of, Layout, TwoTenants, TENANT_TABLES_WITH_OWNED as TENANT_TABLES,
};
use boards_tenant_tests::parallel::{install_worker_probe, rows_from_workers, workers_launched};
use boards_tenant_tests::{
    base64url, column, count, db_error, error_text, exec, exec_params, query_text,
    server_version_num, sql_literal, text, try_context, FORCE_PARALLEL,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// SQLSTATEs (README "Errors", DESIGN section 5)
// ---------------------------------------------------------------------------------------------

// invalid_authorization_specification: a token that does not verify or whose claims are refused.
use boards_tenant_tests::sqlstate::INVALID_AUTHORIZATION_SPECIFICATION as TOKEN_REJECTED;
// insufficient_privilege: access denied, missing grants, RLS WITH CHECK, the DDL guard.
use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
// invalid_parameter_value: a bad slug, X-Tenant header or tenant claim.
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
// object_not_in_prerequisite_state: a tenant that is not active.
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_ACTIVE;
// foreign_key_violation.
use boards_tenant_tests::sqlstate::FOREIGN_KEY_VIOLATION;
// unique_violation: a slug that is taken.
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;
// feature_not_supported: COPY FROM into a table with row level security.
use boards_tenant_tests::sqlstate::FEATURE_NOT_SUPPORTED;
// invalid_cursor_name.
use boards_tenant_tests::sqlstate::INVALID_CURSOR_NAME;
// null_value_not_allowed: multi-tenant mode and nothing names a tenant.
use boards_tenant_tests::sqlstate::NULL_VALUE_NOT_ALLOWED as MISSING_TENANT;

/// The seed's words for a refused tenant (DESIGN sections 4 and 5).
const ACCESS_DENIED: &str = "Access denied";
const NOT_A_MEMBER: &str = "User does not belong to tenant";
const INVALID_X_TENANT: &str = "Invalid X-Tenant header format";
const SLUG_RULES: &str = "Tenant slug must contain only lowercase letters, numbers, and hyphens";

// ---------------------------------------------------------------------------------------------
// The fixture: tenants A and B with rows everywhere
// ---------------------------------------------------------------------------------------------

/// Two tenants with two boards each and the attacker's objects (`public.owned`, owned by
/// `boards_app`, and schema `evil`): see [`TwoTenants`].
type Fixture<'c> = TwoTenants<'c>;

fn fixture() -> Fixture<'static> {
    TwoTenants::in_cluster(
        Cluster::shared(),
        Layout {
            boards: [2, 2],
            app_owned_table: true,
        },
    )
}

/// What the attack suite asks of the fixture beyond the shared set-up.
trait AttackFixture {
    /// The attacker: a `boards_app` connection acting for A.
    fn attacker(&self) -> Client;
    /// What the connection sees of B: no tenant id of B from the context functions and not
    /// one of B's rows in any table.
    fn assert_sees_nothing_of_b(&self, app: &mut Client);
    /// How many rows of `table` tenant A has now (read as superuser).
    fn a_rows(&self, table: &str) -> i64;
}

impl AttackFixture for Fixture<'_> {
    fn attacker(&self) -> Client {
        self.app_as(&self.a)
    }

    #[track_caller]
    fn assert_sees_nothing_of_b(&self, app: &mut Client) {
        let current = query_text(app, "SELECT public.boards_current_tenant()::text", &[]);
        assert_ne!(
            current.as_deref(),
            Some(self.b.id.as_str()),
            "the connection acts for B"
        );
        for table in TENANT_TABLES {
            let n = count(
                app,
                &format!(
                    "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
                    self.b.id
                ),
            );
            assert_eq!(n, 0, "the connection sees {n} of B's rows in {table}");
        }
        let n = count(
            app,
            &format!(
                "SELECT count(*) FROM boards.tenants WHERE id = '{}'",
                self.b.id
            ),
        );
        assert_eq!(n, 0, "the connection sees B's tenant row");
    }

    fn a_rows(&self, table: &str) -> i64 {
        count(
            &mut self.db.superuser(),
            &format!(
                "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
                self.a.id
            ),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Minting and presenting tokens
// ---------------------------------------------------------------------------------------------

/// Claims of a valid token: `sub`, an hour of validity, and `extra` on top.
fn claims(sub: &str, extra: Value) -> Value {
    let mut base = json!({"iat": jwt::now(), "sub": sub, "exp": jwt::now() + 3600});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

/// A token signed with the installed HS256 test key.
fn hs256(claims: Value) -> String {
    mint("HS256", &test_kid("HS256"), &claims)
}

/// A token whose header and payload are exactly the given JSON texts, signed with the
/// installed HS256 key: for payloads `serde_json` would not write (duplicate members, deep
/// nesting).
fn hs256_raw(header: &str, payload: &str) -> String {
    let signing_input = format!(
        "{}.{}",
        base64url(header.as_bytes()),
        base64url(payload.as_bytes())
    );
    let key = jsonwebtoken::EncodingKey::from_secret(jwt::hmac_secret().as_bytes());
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &key,
        jsonwebtoken::Algorithm::HS256,
    )
    .unwrap_or_else(|e| panic!("signing a raw token: {e}"));
    format!("{signing_input}.{signature}")
}

/// `(tenant_id, user_id)` of a successful `boards_set_tenant_from_jwt`.
#[track_caller]
fn set_context(app: &mut Client, token: &str, x_tenant: Option<&str>) -> (String, String) {
    let row = boards_tenant_tests::set_context(app, token, x_tenant);
    (row.tenant_id, row.user_id)
}

fn hs256_header() -> String {
    json!({"alg": "HS256", "typ": "JWT", "kid": test_kid("HS256")}).to_string()
}

/// Asserts that `result` failed with SQLSTATE `code` and returns the server's error.
#[track_caller]
fn refused<T>(what: &str, result: Result<T, postgres::Error>, code: &str) -> DbError {
    let e = db_error(what, result, code);
    assert_eq!(
        e.code().code(),
        code,
        "{what}: expected SQLSTATE {code}, got {}: {}",
        e.code().code(),
        e.message()
    );
    e
}

/// The attacker (acting for A) presents `token` (and `x_tenant`): the call must fail with
/// `code`, leave the connection acting for no one but A, and leave B untouched. Returns the
/// error for checks of its wording.
#[track_caller]
fn attack_with_token(
    f: &Fixture,
    what: &str,
    token: &str,
    x_tenant: Option<&str>,
    code: &str,
) -> DbError {
    let mut app = f.attacker();
    let e = refused(what, try_context(&mut app, token, x_tenant), code);
    f.assert_sees_nothing_of_b(&mut app);
    // And in a fresh connection, where the attacker has no context at all.
    let mut fresh = f.app();
    refused(what, try_context(&mut fresh, token, x_tenant), code);
    f.assert_sees_nothing_of_b(&mut fresh);
    f.assert_b_untouched();
    e
}

#[track_caller]
fn assert_message_contains(what: &str, e: &DbError, needle: &str) {
    assert!(
        e.message().contains(needle),
        "{what}: the message does not say \"{needle}\": {}",
        e.message()
    );
}

// ---------------------------------------------------------------------------------------------
// SQL helpers
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Helpers of the cases
// ---------------------------------------------------------------------------------------------

/// Sets `boards.jwt_issuer` and `boards.jwt_audience`, checks that a correct token still
/// works (the control: the refusals below are about iss/aud, not about the set-up) and gives
/// the attacker such a token for A.
fn configure_issuer_and_audience(f: &mut Fixture) {
    f.db.set("boards.jwt_issuer", "https://idp.example.com");
    f.db.set("boards.jwt_audience", "boards-api");
    let good = hs256(claims(
        "tenant-a-owner",
        json!({"tenant": "tenant-a", "iss": "https://idp.example.com", "aud": "boards-api"}),
    ));
    let (tenant, _) = set_context(&mut f.app(), &good, None);
    assert_eq!(
        tenant, f.a.id,
        "a token with the right iss and aud must work"
    );
    // The attacker holds such a token.
    f.a.token = good;
}

/// The cluster still runs and no backend died from a signal.
#[track_caller]
fn assert_backend_alive(f: &Fixture) {
    let mut app = f.app();
    assert_eq!(
        query_text(&mut app, "SELECT 'alive'", &[]).as_deref(),
        Some("alive")
    );
    let log = f.db.cluster().server_log();
    assert!(
        !log.contains("terminated by signal"),
        "a backend crashed:\n{log}"
    );
}

/// A context for B as the extension would encode it (core/src/context.rs): what an attacker
/// would write into `boards.context` if anything let it.
fn forged_context(f: &Fixture) -> String {
    json!({
        "v": 1,
        "tenant_id": f.b.id,
        "tenant_slug": "tenant-b",
        "user_id": f.b.owner_id,
        "subject": "tenant-b-owner",
        "source": "claim:tenant",
        "claims": {"sub": "tenant-b-owner", "tenant": "tenant-b"}
    })
    .to_string()
}

/// Every `boards.*` setting with a valid value different from its current one (so that a
/// refusal is about privilege, not about the value): the ones `pg_settings` lists, plus the
/// hidden `boards.context` with a forged context for B.
fn boards_settings(f: &Fixture) -> Vec<(String, String)> {
    let rows =
        f.db.superuser()
            .query(
                "SELECT name, vartype, setting, enumvals FROM pg_settings
             WHERE name LIKE 'boards.%' ORDER BY name",
                &[],
            )
            .unwrap_or_else(|e| panic!("pg_settings: {}", error_text(&e)));
    let mut out: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            let name: String = row.get(0);
            let vartype: String = row.get(1);
            let setting: String = row.get(2);
            let enumvals: Option<Vec<String>> = row.get(3);
            let forged = match vartype.as_str() {
                "bool" if setting == "on" => "off".to_owned(),
                "bool" => "on".to_owned(),
                "integer" | "real" => if setting == "7" { "8" } else { "7" }.to_owned(),
                "enum" => enumvals
                    .unwrap_or_default()
                    .into_iter()
                    .find(|v| *v != setting)
                    .unwrap_or_default(),
                _ => "evil.example".to_owned(),
            };
            (name, forged)
        })
        .collect();
    out.push(("boards.context".to_owned(), forged_context(f)));
    // DESIGN section 5 lists 13; the extension adds auto_protect, jwt_require_exp,
    // require_local_context and the context itself.
    assert!(out.len() >= 14, "too few boards.* settings found: {out:?}");
    out
}

/// `current_setting` of every setting, as the connection sees it.
fn shown(client: &mut Client, settings: &[(String, String)]) -> Vec<(String, String)> {
    settings
        .iter()
        .map(|(name, _)| {
            (
                name.clone(),
                text(client, "SELECT current_setting($1)", &[name]),
            )
        })
        .collect()
}

/// Runs each statement in its own transaction (rolled back) and returns, for every one that
/// did not fail with `code`, what happened instead.
fn failures_of(client: &mut Client, statements: &[(String, bool)], code: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for (sql, in_transaction) in statements {
        if *in_transaction {
            exec(client, "BEGIN");
        }
        match client.batch_execute(sql) {
            Ok(()) => failures.push(format!("{sql}: succeeded")),
            Err(e) => match e.as_db_error() {
                Some(db) if db.code().code() == code => {}
                _ => failures.push(format!("{sql}: {}", error_text(&e))),
            },
        }
        if *in_transaction {
            exec(client, "ROLLBACK");
        }
    }
    failures
}

/// The lines `COPY ... TO STDOUT` returns.
#[track_caller]
fn copy_out(client: &mut Client, sql: &str) -> Vec<String> {
    let mut out = String::new();
    client
        .copy_out(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
        .read_to_string(&mut out)
        .unwrap_or_else(|e| panic!("{sql}: reading: {e}"));
    out.lines().map(str::to_owned).collect()
}

/// Functions PUBLIC may execute (sql/finalize.sql, README "SQL surface").
const PUBLIC_FUNCTIONS: &[&str] = &[
    "boards_current_tenant",
    "boards_current_tenant_slug",
    "boards_current_subject",
    "boards_current_user_id",
    "boards_current_claims",
    "boards_reset_tenant",
    "boards_set_tenant_from_jwt",
    "boards_authenticate",
    "boards_ensure_tenant_isolation",
    "ensure_tenant_isolation_internal",
    "boards_tenant_register",
    "boards_tenant_registration_status",
    // Seals the caller's own context (sql/finalize.sql grants it to PUBLIC).
    "boards_context_seal",
    // Platform operators (sql/operators.sql): callable by anyone, each checks the verified
    // subject against boards.operators itself (gateway/tests/http_api.rs attacks them).
    "boards_is_operator",
    "boards_operator_tenant_create",
    "boards_operator_tenant_list",
    "boards_operator_tenant_get",
    "boards_operator_tenant_update",
    "boards_operator_tenant_approve",
    "boards_operator_tenant_suspend",
    "boards_operator_tenant_delete",
    "boards_operator_tenant_members",
    "boards_operator_tenant_add_member",
    "boards_operator_tenant_remove_member",
    // Roles and self-service membership (src/roles.rs, src/members.rs, src/invitations.rs):
    // callable by anyone, each checks the caller's role from the verified context itself
    // (tests/tests/membership.rs attacks them); the block check answers only for the caller's
    // own subject (src/blocks.rs).
    "boards_current_role",
    "boards_has_role",
    "boards_member_list",
    "boards_member_set_role",
    "boards_member_remove",
    "boards_invitation_create",
    "boards_invitation_list",
    "boards_invitation_revoke",
    "boards_invitation_accept",
    "caller_subject_blocked",
];

// =============================================================================================
// Tokens
// =============================================================================================

/// Promise 1 (only a verified signature gives a context): an unsigned token, `alg: none` in
/// any spelling, with an empty or a made-up signature, naming B.
#[test]
fn attack_token_alg_none() {
    let f = fixture();
    let payload = base64url(
        claims("tenant-b-owner", json!({"tenant": "tenant-b"}))
            .to_string()
            .as_bytes(),
    );
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = base64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = format!("{header}.{payload}.{signature}");
            let what = format!("alg {alg}, signature {signature:?}");
            let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
            assert_message_contains(&what, &e, "unsigned tokens (alg \"none\") are not accepted");
        }
    }
}

/// Promise 1: algorithm confusion. An HS256 token whose HMAC secret is the RS256 *public*
/// key (which anyone has), with the RS256 key's kid, with no kid, and the reverse (an RS256
/// header on the HMAC key's kid).
#[test]
fn attack_token_hs_rs_confusion() {
    let f = fixture();
    let forged = claims("tenant-b-owner", json!({"tenant": "tenant-b"}));
    let public_pem = jwt::verification_material("RS256");
    let key = jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes());
    let sign = |kid: Option<String>| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = kid;
        jsonwebtoken::encode(&header, &forged, &key)
            .unwrap_or_else(|e| panic!("signing the confused token: {e}"))
    };
    let e = attack_with_token(
        &f,
        "HS256 on the RS256 kid",
        &sign(Some(test_kid("RS256"))),
        None,
        TOKEN_REJECTED,
    );
    assert_message_contains("HS256 on the RS256 kid", &e, "does not match key");
    let e = attack_with_token(&f, "HS256 without kid", &sign(None), None, TOKEN_REJECTED);
    assert_message_contains("HS256 without kid", &e, "signature is invalid");
    // The reverse: a header claiming RS256 on the HMAC key's kid, signed with the secret.
    let header = base64url(
        json!({"alg": "RS256", "kid": test_kid("HS256")})
            .to_string()
            .as_bytes(),
    );
    let payload = base64url(forged.to_string().as_bytes());
    let input = format!("{header}.{payload}");
    let secret = jsonwebtoken::EncodingKey::from_secret(jwt::hmac_secret().as_bytes());
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &secret, jsonwebtoken::Algorithm::HS256)
        .unwrap_or_else(|e| panic!("{e}"));
    let e = attack_with_token(
        &f,
        "RS256 on the HMAC kid",
        &format!("{input}.{sig}"),
        None,
        TOKEN_REJECTED,
    );
    assert_message_contains("RS256 on the HMAC kid", &e, "does not match key");
}

/// Promise 1: a kid no admin installed, signed with a key the attacker holds.
#[test]
fn attack_token_unknown_kid() {
    let f = fixture();
    let forged = claims("tenant-b-owner", json!({"tenant": "tenant-b"}));
    for kid in ["attacker-key", "test-hs256 ", "TEST-HS256", ""] {
        let token = jwt::mint_with_other_key("HS256", kid, &forged);
        let what = format!("kid {kid:?}");
        let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "no key with kid");
    }
}

/// Promise 1 and 7: kids that look like paths, URLs or SQL must select no key (and read no
/// file): the key is looked up by exact kid among the installed keys.
#[test]
fn attack_token_path_like_kid() {
    let f = fixture();
    let forged = claims("tenant-b-owner", json!({"tenant": "tenant-b"}));
    for kid in [
        "../../../../../../etc/passwd",
        "/dev/null",
        "file:///etc/hostname",
        "https://evil.example/jwks.json",
        "test-hs256/../test-hs256",
        "x' OR '1'='1",
        "test-hs256\u{0}",
    ] {
        // /dev/null as an HMAC secret is the empty key: sign with it too.
        for token in [jwt::mint_with_other_key("HS256", kid, &forged), {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some(kid.to_owned());
            jsonwebtoken::encode(
                &header,
                &forged,
                &jsonwebtoken::EncodingKey::from_secret(b""),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        }] {
            let what = format!("kid {kid:?}");
            let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
            // A NUL never gets as far as the key lookup: the header is refused first.
            let expected = if kid.contains('\0') {
                "malformed"
            } else {
                "no key with kid"
            };
            assert_message_contains(&what, &e, expected);
        }
    }
}

/// Promise 1: A's valid token with its header changed (another algorithm of the same key
/// family, another kid, a `crit` extension, the kid removed) and its signature kept.
#[test]
fn attack_token_tampered_header() {
    let f = fixture();
    let parts: Vec<String> = f.a.token.split('.').map(str::to_owned).collect();
    let headers = [
        json!({"alg": "HS384", "typ": "JWT", "kid": test_kid("HS256")}),
        json!({"alg": "HS384", "typ": "JWT", "kid": test_kid("HS384")}),
        json!({"alg": "HS256", "typ": "JWT", "kid": test_kid("HS512")}),
        json!({"alg": "HS256", "typ": "JWT", "kid": test_kid("HS256"), "crit": ["exp"]}),
        json!({"alg": "HS256", "typ": "JWT"}),
        json!({"alg": "HS256", "typ": "JWT", "kid": test_kid("HS256"), "x": "tenant-b"}),
    ];
    for header in headers {
        let token = format!(
            "{}.{}.{}",
            base64url(header.to_string().as_bytes()),
            parts[1],
            parts[2]
        );
        attack_with_token(
            &f,
            &format!("header {header}"),
            &token,
            None,
            TOKEN_REJECTED,
        );
    }
}

/// Promise 1: A's valid token with its payload changed to name B (and B's owner as subject),
/// the signature kept.
#[test]
fn attack_token_tampered_payload() {
    let f = fixture();
    let parts: Vec<&str> = f.a.token.split('.').collect();
    for forged in [
        claims("tenant-a-owner", json!({"tenant": "tenant-b"})),
        claims("tenant-b-owner", json!({"tenant": "tenant-b"})),
        claims(
            "tenant-a-owner",
            json!({"tenant": "tenant-a", "org": "tenant-b"}),
        ),
    ] {
        let token = format!(
            "{}.{}.{}",
            parts[0],
            base64url(forged.to_string().as_bytes()),
            parts[2]
        );
        let what = format!("payload {forged}");
        let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "signature is invalid");
    }
}

/// Promise 1: a well-formed token for B, with the right kid, signed by another key of the
/// same algorithm (a second RSA key, another HMAC secret, ...), for every algorithm.
#[test]
fn attack_token_resigned_with_another_key() {
    let f = fixture();
    let forged = claims("tenant-b-owner", json!({"tenant": "tenant-b"}));
    for alg in jwt::ALGORITHMS {
        let token = jwt::mint_with_other_key(alg, &test_kid(alg), &forged);
        let what = format!("{alg} re-signed");
        let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "signature is invalid");
    }
}

/// Promise 2 (an expired token: no context): B's owner's token, expired an hour ago and just
/// past the leeway; the same token with a fresh `exp` is the control.
#[test]
fn attack_token_expired() {
    let f = fixture();
    let now = jwt::now();
    for exp in [now - 3600, now - 31, 0] {
        let token = hs256(
            json!({"iat": jwt::now(), "sub": "tenant-b-owner", "tenant": "tenant-b", "exp": exp}),
        );
        let what = format!("exp {exp}");
        let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "token has expired");
    }
}

/// Promise 2: a token that is not valid yet (`nbf` an hour ahead, and just past the leeway).
#[test]
fn attack_token_not_yet_valid() {
    let f = fixture();
    let now = jwt::now();
    for nbf in [now + 3600, now + 60] {
        let token = hs256(claims(
            "tenant-b-owner",
            json!({"tenant": "tenant-b", "nbf": nbf}),
        ));
        let what = format!("nbf {nbf}");
        let e = attack_with_token(&f, &what, &token, None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "token is not yet valid");
    }
}

/// Promise 1: with an issuer configured, a token from another issuer (or none), naming B.
#[test]
fn attack_token_wrong_issuer() {
    let mut f = fixture();
    configure_issuer_and_audience(&mut f);
    for iss in [
        json!("https://evil.example.com"),
        json!("https://idp.example.com/"),
        json!("HTTPS://IDP.EXAMPLE.COM"),
        json!(["https://idp.example.com"]),
        Value::Null,
    ] {
        let mut c = claims(
            "tenant-b-owner",
            json!({"tenant": "tenant-b", "aud": "boards-api"}),
        );
        if !iss.is_null() {
            c["iss"] = iss.clone();
        }
        let what = format!("iss {iss}");
        let e = attack_with_token(&f, &what, &hs256(c), None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "token issuer is not accepted");
    }
}

/// Promise 1: with an audience configured, a token for another audience (or none), naming B.
#[test]
fn attack_token_wrong_audience() {
    let mut f = fixture();
    configure_issuer_and_audience(&mut f);
    for aud in [
        json!("other-api"),
        json!(["other-api", "more"]),
        json!("boards-api "),
        json!(["boards-api-2"]),
        json!({"aud": "boards-api"}),
        Value::Null,
    ] {
        let mut c = claims(
            "tenant-b-owner",
            json!({"tenant": "tenant-b", "iss": "https://idp.example.com"}),
        );
        if !aud.is_null() {
            c["aud"] = aud.clone();
        }
        let what = format!("aud {aud}");
        let e = attack_with_token(&f, &what, &hs256(c), None, TOKEN_REJECTED);
        assert_message_contains(&what, &e, "token audience is not accepted");
    }
}

/// Promise 7: a 1 MiB token (a validly signed one, with a huge claim, and plain garbage) is
/// refused before it is parsed, and the backend stays healthy.
#[test]
fn attack_token_one_mebibyte() {
    let f = fixture();
    let signed = hs256(claims(
        "tenant-b-owner",
        json!({"tenant": "tenant-b", "pad": "x".repeat(1 << 20)}),
    ));
    let garbage = format!("{}.{}.{}", "a".repeat(1 << 19), "b".repeat(1 << 19), "c");
    for (what, token) in [("signed 1 MiB", signed), ("garbage 1 MiB", garbage)] {
        let e = attack_with_token(&f, what, &token, None, TOKEN_REJECTED);
        assert_message_contains(what, &e, "token is too large");
    }
    assert_backend_alive(&f);
}

/// Promise 7: a validly signed token whose payload nests 20,000 arrays (under the size
/// limit) gets a clear error, not a stack overflow.
#[test]
fn attack_token_deeply_nested_payload() {
    let f = fixture();
    for nested in [
        format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)),
        format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)),
    ] {
        let payload = format!(
            r#"{{"sub":"tenant-b-owner","tenant":"tenant-b","exp":{},"deep":{nested}}}"#,
            jwt::now() + 3600
        );
        let token = hs256_raw(&hs256_header(), &payload);
        assert!(
            token.len() < 65536,
            "the token must stay under the size limit"
        );
        let e = attack_with_token(&f, "nested payload", &token, None, TOKEN_REJECTED);
        assert_message_contains("nested payload", &e, "nested deeper");
    }
    // The tenant claim itself nested.
    let payload = format!(
        r#"{{"sub":"tenant-b-owner","tenant":{}"tenant-b"{}}}"#,
        "{\"slug\":".repeat(100),
        "}".repeat(100)
    );
    attack_with_token(
        &f,
        "nested tenant claim",
        &hs256_raw(&hs256_header(), &payload),
        None,
        TOKEN_REJECTED,
    );
    assert_backend_alive(&f);
}

// =============================================================================================
// Claims, X-Tenant and tenant status
// =============================================================================================

/// Promise 7 (bad input gets a clear error): a tenant claim that is not a string nor an
/// object with a string `slug`/`id`/`name` is an error, never a fall-back to another strategy
/// (which could pick B from a later claim).
#[test]
fn attack_tenant_claim_not_a_string() {
    let f = fixture();
    for (claim, value) in [
        ("tenant", json!(42)),
        ("tenant", json!(true)),
        ("tenant", json!(1.5)),
        ("tenant", json!({"slug": 7})),
        ("tenant", json!({"id": "not-a-uuid"})),
        ("tenant", json!({"id": 12})),
        ("tenant", json!({"owner": "tenant-b"})),
        ("org", json!(42)),
        ("org", json!({"name": ["tenant-b"]})),
    ] {
        let mut c = claims("tenant-a-owner", json!({"namespace": "tenant-b"}));
        c[claim] = value.clone();
        let what = format!("{claim}: {value}");
        let e = attack_with_token(&f, &what, &hs256(c), None, INVALID_PARAMETER);
        assert_message_contains(&what, &e, "Invalid tenant claim");
    }
}

/// Promise 7: an array tenant claim naming A and B (or only B) is refused, not resolved to
/// either element.
#[test]
fn attack_tenant_claim_array() {
    let f = fixture();
    for (claim, value) in [
        ("tenant", json!(["tenant-a", "tenant-b"])),
        ("tenant", json!(["tenant-b"])),
        ("tenant", json!([{"slug": "tenant-b"}])),
        ("org", json!(["tenant-b", "tenant-a"])),
        ("namespace", json!(["tenant-b"])),
    ] {
        let mut c = claims("tenant-a-owner", json!({}));
        c[claim] = value.clone();
        let what = format!("{claim}: {value}");
        let e = attack_with_token(&f, &what, &hs256(c), None, INVALID_PARAMETER);
        assert_message_contains(&what, &e, "Invalid tenant claim");
    }
}

/// Promise 1 and 7: Unicode look-alikes of B's slug in a claim (Cyrillic 'а', full-width
/// letters, a zero-width space, a Unicode hyphen, upper case) never resolve to B nor create a
/// look-alike tenant.
#[test]
fn attack_lookalike_slug_in_claim() {
    let f = fixture();
    let tenants_before = count(&mut f.db.superuser(), "SELECT count(*) FROM boards.tenants");
    for (claim, value) in [
        ("tenant", json!("ten\u{430}nt-b")),
        (
            "tenant",
            json!("\u{ff54}\u{ff45}\u{ff4e}\u{ff41}\u{ff4e}\u{ff54}-\u{ff42}"),
        ),
        ("tenant", json!("tenant-b\u{200b}")),
        ("tenant", json!("tenant\u{2010}b")),
        ("tenant", json!("TENANT-B")),
        ("tenant", json!({"slug": "ten\u{430}nt-b"})),
        ("org", json!("ten\u{430}nt-b")),
        ("org", json!("Tenant\u{2010}B")),
        ("org", json!("\u{ff34}enant B")),
        ("namespace", json!("tenant-\u{0432}")),
        ("org", json!({"name": "Tenant B\u{301}"})),
    ] {
        let mut c = claims("tenant-a-owner", json!({}));
        c[claim] = value.clone();
        let what = format!("{claim}: {value}");
        let e = attack_with_token(&f, &what, &hs256(c), None, INVALID_PARAMETER);
        assert!(
            e.message().starts_with("Invalid tenant"),
            "{what}: {}",
            e.message()
        );
    }
    assert_eq!(
        count(&mut f.db.superuser(), "SELECT count(*) FROM boards.tenants"),
        tenants_before,
        "a look-alike claim created a tenant"
    );
}

/// Promise 1 and 7: look-alikes and near-misses of B's slug as the X-Tenant header get the
/// seed's `Invalid X-Tenant header format` with the slug rules as detail, whatever the
/// token's claims say.
#[test]
fn attack_lookalike_slug_in_x_tenant() {
    let f = fixture();
    let no_claim = hs256(claims("tenant-a-owner", json!({})));
    for header in [
        "ten\u{430}nt-b",
        "\u{ff54}\u{ff45}\u{ff4e}\u{ff41}\u{ff4e}\u{ff54}-\u{ff42}",
        "tenant-b\u{200b}",
        "tenant\u{2010}b",
        "TENANT-B",
        "Tenant-B",
        " tenant-b",
        "tenant-b ",
        "tenant-b\n",
        "tenant_b",
        "-tenant-b",
        "tenant-b;",
        "tenant-b' OR '1'='1",
        "",
    ] {
        for token in [&f.a.token, &no_claim] {
            let what = format!("x_tenant {header:?}");
            let e = attack_with_token(&f, &what, token, Some(header), INVALID_PARAMETER);
            assert_eq!(e.message(), INVALID_X_TENANT, "{what}");
            assert_eq!(e.detail(), Some(SLUG_RULES), "{what}");
        }
    }
}

/// Promise 1: X-Tenant naming B, which A's subject is not a member of, with a token that
/// names A and with one that names no tenant: the seed's `Access denied` / `User does not
/// belong to tenant`, the same answer as for a tenant that does not exist, and no membership
/// in B is created.
#[test]
fn attack_x_tenant_of_a_tenant_not_a_member_of() {
    let f = fixture();
    let no_claim = hs256(claims("tenant-a-owner", json!({})));
    let mut answers = Vec::new();
    // B's id is a well-formed slug (hex digits and hyphens) but names no tenant as a slug.
    for header in ["tenant-b", "no-such-tenant", &f.b.id] {
        for token in [&f.a.token, &no_claim] {
            let what = format!("x_tenant {header}");
            let e = attack_with_token(&f, &what, token, Some(header), PERMISSION_DENIED);
            assert_eq!(e.message(), ACCESS_DENIED, "{what}");
            assert_eq!(e.detail(), Some(NOT_A_MEMBER), "{what}");
            answers.push((e.message().to_owned(), e.detail().map(str::to_owned)));
        }
    }
    answers.dedup();
    assert_eq!(
        answers.len(),
        1,
        "B and an unknown tenant are told apart: {answers:?}"
    );
}

/// Promise 2 (an unusable tenant: no context): B awaiting approval cannot be entered, by its
/// own owner's token, by its member through X-Tenant, nor by A through X-Tenant.
#[test]
fn attack_pending_approval_tenant() {
    let mut f = fixture();
    exec(
        &mut f.db.superuser(),
        "UPDATE boards.tenants SET status = 'pending_approval' WHERE slug = 'tenant-b'",
    );
    f.remember();
    let e = attack_with_token(&f, "B's owner", &f.b.token.clone(), None, NOT_ACTIVE);
    assert_message_contains("B's owner", &e, "pending_approval");
    let member = hs256(claims("tenant-b-member", json!({})));
    attack_with_token(
        &f,
        "B's member via X-Tenant",
        &member,
        Some("tenant-b"),
        NOT_ACTIVE,
    );
    let e = attack_with_token(
        &f,
        "A via X-Tenant",
        &f.a.token.clone(),
        Some("tenant-b"),
        PERMISSION_DENIED,
    );
    assert_eq!(e.message(), ACCESS_DENIED);
}

/// Promise 2: a suspended B cannot be entered, by its own owner's token, by its member
/// through X-Tenant, nor by A through X-Tenant.
#[test]
fn attack_suspended_tenant() {
    let mut f = fixture();
    exec(
        &mut f.db.admin(),
        "SELECT boards_tenant_suspend('tenant-b')",
    );
    f.remember();
    let e = attack_with_token(&f, "B's owner", &f.b.token.clone(), None, NOT_ACTIVE);
    assert_message_contains("B's owner", &e, "suspended");
    let member = hs256(claims("tenant-b-member", json!({})));
    attack_with_token(
        &f,
        "B's member via X-Tenant",
        &member,
        Some("tenant-b"),
        NOT_ACTIVE,
    );
    let e = attack_with_token(
        &f,
        "A via X-Tenant",
        &f.a.token.clone(),
        Some("tenant-b"),
        PERMISSION_DENIED,
    );
    assert_eq!(e.message(), ACCESS_DENIED);
}

/// Promise 1: a signed token for B without a usable subject (none, empty, null, not a
/// string) gives no context, and no user row without a subject is created in B.
#[test]
fn attack_token_without_sub() {
    let f = fixture();
    let exp = jwt::now() + 3600;
    for sub in [
        None,
        Some(json!("")),
        Some(Value::Null),
        Some(json!(42)),
        Some(json!(["tenant-b-owner"])),
    ] {
        let mut c = json!({"tenant": "tenant-b", "exp": exp});
        if let Some(sub) = &sub {
            c["sub"] = sub.clone();
        }
        let what = format!("sub {sub:?}");
        let e = attack_with_token(&f, &what, &hs256(c), None, TOKEN_REJECTED);
        assert!(
            e.message().contains("subject") || e.message().contains("\"sub\""),
            "{what}: {}",
            e.message()
        );
    }
}

/// Promise 2: a session already acting for B when B is suspended. From its next statement
/// it sees and writes nothing of B, and B's (still correctly signed) token no longer sets a
/// context, in session or transaction scope, directly or through X-Tenant.
#[test]
fn attack_token_for_b_reused_after_suspension_by_a_session_in_b() {
    let mut f = fixture();
    let mut in_b = f.app_as(&f.b);
    let seen = count(&mut in_b, "SELECT count(*) FROM public.notes");
    assert!(seen > 0, "control: the session in B sees B's notes");
    exec(
        &mut f.db.admin(),
        "SELECT boards_tenant_suspend('tenant-b')",
    );
    f.remember();

    f.assert_sees_nothing_of_b(&mut in_b);
    assert_eq!(
        query_text(&mut in_b, "SELECT boards_current_tenant_slug()", &[]),
        None
    );
    refused(
        "insert after suspension",
        in_b.execute(
            "INSERT INTO public.notes (body) VALUES ('after suspension')",
            &[],
        ),
        PERMISSION_DENIED,
    );
    refused(
        "insert with B's id after suspension",
        in_b.execute(
            "INSERT INTO boards.boards (tenant_id, owner_id, title) VALUES ($1::text::uuid, $2::text::uuid, 'x')",
            &[&f.b.id, &f.b.owner_id],
        ),
        PERMISSION_DENIED,
    );
    for sql in [
        "UPDATE public.notes SET body = 'changed'",
        "DELETE FROM boards.generations",
        "UPDATE boards.users SET display_name = 'changed'",
    ] {
        assert_eq!(exec_params(&mut in_b, sql, &[]), 0, "{sql}");
    }
    let e = refused(
        "B's token again",
        try_context(&mut in_b, &f.b.token, None),
        NOT_ACTIVE,
    );
    assert_message_contains("B's token again", &e, "suspended");
    exec(&mut in_b, "BEGIN");
    refused(
        "B's token, transaction scope",
        in_b.query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
            &[&f.b.token],
        ),
        NOT_ACTIVE,
    );
    exec(&mut in_b, "ROLLBACK");
    refused(
        "B's token with X-Tenant",
        try_context(&mut in_b, &f.b.token, Some("tenant-b")),
        NOT_ACTIVE,
    );
    f.assert_sees_nothing_of_b(&mut in_b);
    f.assert_b_untouched();
}

/// Promise 1 and 7: a signed payload with two `tenant` (or `sub`) members. Parsers disagree
/// on which duplicate wins, so the token is refused rather than read either way.
#[test]
fn attack_duplicate_claims() {
    let f = fixture();
    let exp = jwt::now() + 3600;
    for payload in [
        format!(
            r#"{{"sub":"tenant-a-owner","tenant":"tenant-a","tenant":"tenant-b","exp":{exp}}}"#
        ),
        format!(
            r#"{{"sub":"tenant-a-owner","tenant":"tenant-b","tenant":"tenant-a","exp":{exp}}}"#
        ),
        format!(r#"{{"sub":"tenant-a-owner","sub":"tenant-b-owner","exp":{exp}}}"#),
        format!(
            r#"{{"sub":"tenant-a-owner","tenant":{{"slug":"tenant-a","slug":"tenant-b"}},"exp":{exp}}}"#
        ),
    ] {
        let token = hs256_raw(&hs256_header(), &payload);
        let e = attack_with_token(&f, &payload, &token, Some("tenant-b"), TOKEN_REJECTED);
        assert_message_contains(&payload, &e, "malformed");
    }
    // A duplicate in the header, too.
    let header = format!(
        r#"{{"alg":"HS256","kid":"{}","kid":"other"}}"#,
        test_kid("HS256")
    );
    let payload = claims("tenant-b-owner", json!({"tenant": "tenant-b"})).to_string();
    attack_with_token(
        &f,
        "duplicate kid",
        &hs256_raw(&header, &payload),
        None,
        TOKEN_REJECTED,
    );
}

/// Promise 1: subjects that differ from B's owner only by trailing or look-alike characters
/// are other subjects: X-Tenant with them is `Access denied`, never B's owner's membership;
/// a NUL byte (which some collations compare as the end of the string) is a malformed token.
#[test]
fn attack_subject_lookalike_of_a_member_of_b() {
    let f = fixture();
    for sub in ["tenant-b-owner\u{0}", "tenant-b-owner\u{0}evil"] {
        let token = hs256(claims(sub, json!({})));
        let what = format!("sub {sub:?}");
        let e = attack_with_token(&f, &what, &token, Some("tenant-b"), TOKEN_REJECTED);
        assert_message_contains(&what, &e, "malformed");
    }
    for sub in [
        "tenant-b-owner ",
        " tenant-b-owner",
        "TENANT-B-OWNER",
        "tenant-b-owne\u{433}",
        "tenant-b-owner\u{200b}",
    ] {
        let token = hs256(claims(sub, json!({})));
        let what = format!("sub {sub:?}");
        let e = attack_with_token(&f, &what, &token, Some("tenant-b"), PERMISSION_DENIED);
        assert_eq!(e.message(), ACCESS_DENIED, "{what}");
    }
}

/// Promise 1: the email-domain strategy. An address at B's domain (a self-asserted one at an
/// identity provider, unverified, in another case or a subdomain) never joins B unless B
/// lists the domain: `Access denied`, and no membership in B.
#[test]
fn attack_email_domain_of_b() {
    let f = fixture();
    for email in [
        "eve@tenant-b.com",
        "eve@TENANT-B.COM",
        "eve@mail.tenant-b.co.uk",
        "eve@tenant-b.com.",
    ] {
        let token = hs256(claims("eve", json!({"email": email})));
        for header in [None, Some("tenant-b")] {
            let what = format!("email {email}, x_tenant {header:?}");
            let e = attack_with_token(&f, &what, &token, header, PERMISSION_DENIED);
            assert_eq!(e.message(), ACCESS_DENIED, "{what}");
        }
    }
    // An unverified address is no strategy at all: nothing names a tenant.
    let token = hs256(claims(
        "eve",
        json!({"email": "eve@tenant-b.com", "email_verified": false}),
    ));
    let e = attack_with_token(&f, "unverified email", &token, None, MISSING_TENANT);
    assert_eq!(e.message(), "Missing X-Tenant header");
}

// =============================================================================================
// Forging the context through SQL
// =============================================================================================

/// Promise 1 ("every boards.* setting that could weaken isolation is superuser-only"): SET,
/// SET SESSION, SET LOCAL, set_config (session and local), a NULL set_config, RESET,
/// SET TO DEFAULT and an UPDATE of pg_settings, on every setting, as A. Each refusal must be
/// `permission denied`; the test names every statement that is not.
#[test]
fn attack_set_every_boards_setting() {
    let f = fixture();
    let settings = boards_settings(&f);
    let mut app = f.attacker();
    let before = shown(&mut app, &settings);
    let mut statements = Vec::new();
    for (name, forged) in &settings {
        let v = sql_literal(forged);
        for sql in [
            format!("SET {name} = {v}"),
            format!("SET SESSION {name} = {v}"),
            format!("SET LOCAL {name} = {v}"),
            format!("SELECT pg_catalog.set_config('{name}', {v}, false)"),
            format!("SELECT pg_catalog.set_config('{name}', {v}, true)"),
            format!("SELECT pg_catalog.set_config('{name}', NULL, false)"),
            format!("RESET {name}"),
            format!("SET {name} TO DEFAULT"),
        ] {
            statements.push((sql, true));
        }
        // pg_settings does not list the hidden context (an UPDATE of it matches no row).
        if name != "boards.context" {
            statements.push((
                format!("UPDATE pg_catalog.pg_settings SET setting = {v} WHERE name = '{name}'"),
                true,
            ));
        }
    }
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    assert_eq!(shown(&mut app, &settings), before, "a setting changed");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1: settings stored for later sessions — ALTER ROLE (own role, in this database,
/// all roles), ALTER DATABASE, ALTER SYSTEM, GRANT SET / ALTER SYSTEM ON PARAMETER — on every
/// setting. All `permission denied`; nothing is stored and a new connection starts as before.
#[test]
fn attack_alter_role_and_database_settings() {
    let f = fixture();
    let settings = boards_settings(&f);
    let reference = shown(&mut f.app(), &settings);
    let stored = |f: &Fixture| {
        count(
            &mut f.db.superuser(),
            "SELECT count(*) FROM pg_db_role_setting s, unnest(s.setconfig) c
             WHERE c LIKE 'boards.%'
               AND s.setdatabase IN (0, (SELECT oid FROM pg_database
                                         WHERE datname = current_database()))",
        )
    };
    let stored_before = stored(&f);
    let db = f.db.name().to_owned();
    let mut app = f.attacker();
    let parameter_privileges = server_version_num(&mut app) >= 150000;
    let mut statements = Vec::new();
    for (name, forged) in &settings {
        let v = sql_literal(forged);
        statements.extend([
            (format!("ALTER ROLE boards_app SET {name} = {v}"), true),
            (format!("ALTER ROLE CURRENT_USER SET {name} = {v}"), true),
            (
                format!("ALTER ROLE boards_app IN DATABASE {db} SET {name} = {v}"),
                true,
            ),
            (format!("ALTER ROLE ALL SET {name} = {v}"), true),
            (format!("ALTER DATABASE {db} SET {name} = {v}"), true),
            (
                format!("ALTER ROLE boards_app SET {name} FROM CURRENT"),
                true,
            ),
            (format!("ALTER SYSTEM SET {name} = {v}"), false),
        ]);
        // Privileges on parameters exist from PostgreSQL 15 on.
        if parameter_privileges {
            statements.extend([
                (format!("GRANT SET ON PARAMETER {name} TO boards_app"), true),
                (
                    format!("GRANT ALTER SYSTEM ON PARAMETER {name} TO boards_app"),
                    true,
                ),
            ]);
        }
    }
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    assert_eq!(stored(&f), stored_before, "a boards.* setting was stored");
    assert_eq!(
        shown(&mut f.app(), &settings),
        reference,
        "a new connection starts with other settings"
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1: startup-packet options (what `PGOPTIONS='-c ...'` sends) carrying a forged
/// context, switching multi-tenant mode off, or loosening token checks; also `role` and
/// `session_authorization`. The connection is refused with `permission denied`.
#[test]
fn attack_pgoptions() {
    let f = fixture();
    let forged = forged_context(&f);
    for options in [
        format!("-c boards.context={forged}"),
        format!("--boards.context={forged}"),
        "-c boards.context=".to_owned(),
        "-c boards.multi_tenant_mode=off".to_owned(),
        "--boards.multi_tenant_mode=off".to_owned(),
        "-c boards.jwt_leeway=3600".to_owned(),
        "-c boards.public_email_domains=".to_owned(),
        "-c boards.auto_protect=off".to_owned(),
        "-c boards.require_local_context=off".to_owned(),
        "-c role=boards_tenant_admin".to_owned(),
        "-c role=postgres".to_owned(),
        "-c session_authorization=postgres".to_owned(),
    ] {
        refused(
            &options,
            f.db.connect("boards_app", Some(&options)),
            PERMISSION_DENIED,
        );
    }
    // A setting the app may set is accepted the same way: the refusals are about privilege.
    let mut ok =
        f.db.connect("boards_app", Some("-c application_name=attacker"))
            .unwrap_or_else(|e| panic!("control connection: {}", error_text(&e)));
    f.assert_sees_nothing_of_b(&mut ok);
    f.assert_b_untouched();
}

/// Promise 1 ("no SET ROLE ... lets it pick another tenant"): becoming the admin role, a
/// member of it, or the superuser, by SET ROLE, SET SESSION AUTHORIZATION or set_config —
/// then using the trusted setter for B.
#[test]
fn attack_set_role_to_admin_or_superuser() {
    let f = fixture();
    let mut app = f.attacker();
    let statements: Vec<(String, bool)> = [
        "SET ROLE boards_tenant_admin",
        "SET ROLE boards_admin",
        "SET ROLE postgres",
        "SET LOCAL ROLE boards_tenant_admin",
        "SET SESSION AUTHORIZATION postgres",
        "SET SESSION AUTHORIZATION boards_admin",
        "SELECT pg_catalog.set_config('role', 'boards_tenant_admin', false)",
        "SELECT pg_catalog.set_config('session_authorization', 'postgres', false)",
        "SELECT * FROM boards_set_tenant('tenant-b')",
        "SELECT * FROM boards_set_tenant('tenant-b', true)",
        "GRANT boards_tenant_admin TO boards_app",
        "ALTER ROLE boards_app BYPASSRLS",
        "ALTER ROLE boards_app SUPERUSER",
    ]
    .iter()
    .map(|s| ((*s).to_owned(), true))
    .collect();
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        query_text(&mut app, "SELECT current_user::text", &[]).as_deref(),
        Some("boards_app")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1 and 3: functions named like the extension's (`boards_current_tenant`,
/// `boards_current_tenant_slug`) and like `set_config` / `current_setting`, in a schema the
/// attacker puts first in `search_path` (before pg_catalog). The shadows answer B, but the
/// policies, the column defaults and the context functions keep using the real ones.
#[test]
fn attack_shadow_functions_in_search_path() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        &format!(
            "CREATE FUNCTION evil.boards_current_tenant() RETURNS uuid
                 LANGUAGE sql STABLE AS $$ SELECT '{b}'::uuid $$;
             CREATE FUNCTION evil.boards_current_tenant_slug() RETURNS text
                 LANGUAGE sql STABLE AS $$ SELECT 'tenant-b' $$;
             CREATE FUNCTION evil.set_config(text, text, boolean) RETURNS text
                 LANGUAGE sql AS $$ SELECT $2 $$;
             CREATE FUNCTION evil.current_setting(text) RETURNS text
                 LANGUAGE sql STABLE AS $$ SELECT {ctx} $$;
             SET search_path = evil, pg_catalog, public;",
            b = f.b.id,
            ctx = sql_literal(&forged_context(&f)),
        ),
    );
    assert_eq!(
        query_text(&mut app, "SELECT boards_current_tenant()::text", &[]).as_deref(),
        Some(f.b.id.as_str()),
        "the shadow is not what an unqualified call reaches: the test would prove nothing"
    );
    // Setting the context again with the shadows in place.
    let (tenant, _) = set_context(&mut app, &f.a.token, None);
    assert_eq!(tenant, f.a.id);
    for table in TENANT_TABLES {
        let ids = column(&mut app, &format!("SELECT tenant_id::text FROM {table}"));
        assert_all_of(table, &ids, &f.a.id, f.a_rows(table));
    }
    let inserted = text(
        &mut app,
        "INSERT INTO public.notes (body) VALUES ('shadowed') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(inserted, f.a.id, "the column default used the shadow");
    refused(
        "insert with the shadow's tenant",
        app.execute(
            "INSERT INTO public.notes (tenant_id, body) VALUES (boards_current_tenant(), 'planted')",
            &[],
        ),
        PERMISSION_DENIED,
    );
    refused(
        "the real set_config",
        app.query(
            "SELECT pg_catalog.set_config('boards.context', $1, false)",
            &[&forged_context(&f)],
        ),
        PERMISSION_DENIED,
    );
    assert_eq!(
        query_text(&mut app, "SELECT public.boards_current_tenant_slug()", &[]).as_deref(),
        Some("tenant-a")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1 and 3: an `=` operator for uuid that is always true, in a schema first in
/// `search_path` (before pg_catalog). It changes the attacker's own comparisons, never the
/// policies (bound to the real operator when they were created) nor the extension's lookups.
#[test]
fn attack_operator_uuid_eq_in_search_path() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        "CREATE FUNCTION evil.uuid_always_equal(uuid, uuid) RETURNS boolean
             LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
         CREATE OPERATOR evil.= (LEFTARG = uuid, RIGHTARG = uuid,
                                 FUNCTION = evil.uuid_always_equal);
         SET search_path = evil, pg_catalog, public;",
    );
    assert_eq!(
        query_text(
            &mut app,
            &format!("SELECT ('{}'::uuid = '{}'::uuid)::text", f.a.id, f.b.id),
            &[]
        )
        .as_deref(),
        Some("true"),
        "the shadow operator is not what `=` reaches: the test would prove nothing"
    );
    for table in TENANT_TABLES {
        let ids = column(
            &mut app,
            &format!(
                "SELECT tenant_id::text FROM {table} WHERE tenant_id = '{}'::uuid",
                f.b.id
            ),
        );
        assert_all_of(table, &ids, &f.a.id, f.a_rows(table));
    }
    let n = exec_params(
        &mut app,
        &format!(
            "UPDATE public.notes SET body = 'hit' WHERE tenant_id = '{}'::uuid",
            f.b.id
        ),
        &[],
    );
    assert_eq!(
        n as i64,
        f.a_rows("public.notes"),
        "the update reached other rows"
    );
    let n = exec_params(
        &mut app,
        &format!(
            "DELETE FROM boards.board_members WHERE board_id = '{}'::uuid",
            f.b.boards[0]
        ),
        &[],
    );
    assert_eq!(
        n, 4,
        "the delete reached other rows than A's four memberships"
    );
    assert_eq!(
        query_text(&mut app, "SELECT public.boards_current_tenant()::text", &[]).as_deref(),
        Some(f.a.id.as_str())
    );
    let e = refused(
        "X-Tenant with the shadow operator",
        try_context(&mut app, &f.a.token, Some("tenant-b")),
        PERMISSION_DENIED,
    );
    assert_eq!(e.message(), ACCESS_DENIED);
    exec(&mut app, "RESET search_path");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1: SECURITY DEFINER functions written by the app run as the app, so they gain
/// nothing: writing the context, the trusted setter, X-Tenant for B, the internal functions.
#[test]
fn attack_security_definer_function_of_the_app() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        &format!(
            "CREATE FUNCTION evil.sneak_set_config() RETURNS text LANGUAGE sql SECURITY DEFINER
                 AS $$ SELECT pg_catalog.set_config('boards.context', {ctx}, false) $$;
             CREATE FUNCTION evil.sneak_set_local() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
                 SET search_path = pg_catalog
                 AS $$ BEGIN EXECUTE 'SET LOCAL boards.context = ' || quote_literal({ctx}); END $$;
             CREATE FUNCTION evil.sneak_trusted() RETURNS SETOF record LANGUAGE sql SECURITY DEFINER
                 AS $$ SELECT * FROM public.boards_set_tenant('tenant-b') $$;
             CREATE FUNCTION evil.sneak_header(token text) RETURNS SETOF record
                 LANGUAGE sql SECURITY DEFINER
                 AS $$ SELECT * FROM public.boards_set_tenant_from_jwt(token, 'tenant-b') $$;
             CREATE FUNCTION evil.sneak_internal() RETURNS uuid LANGUAGE sql SECURITY DEFINER
                 AS $$ SELECT boards.tenant_set_status_internal('tenant-b', 'suspended') $$;",
            ctx = sql_literal(&forged_context(&f)),
        ),
    );
    for (sql, code) in [
        ("SELECT evil.sneak_set_config()", PERMISSION_DENIED),
        ("SELECT evil.sneak_set_local()", PERMISSION_DENIED),
        (
            "SELECT * FROM evil.sneak_trusted() AS t(a uuid, b text, c uuid, d text, e text)",
            PERMISSION_DENIED,
        ),
        ("SELECT evil.sneak_internal()", PERMISSION_DENIED),
    ] {
        exec(&mut app, "BEGIN");
        refused(sql, app.batch_execute(sql), code);
        exec(&mut app, "ROLLBACK");
    }
    let e = refused(
        "X-Tenant from a SECURITY DEFINER function",
        app.query(
            "SELECT * FROM evil.sneak_header($1) AS t(a uuid, b text, c uuid, d text, e text)",
            &[&f.a.token],
        ),
        PERMISSION_DENIED,
    );
    assert_eq!(e.message(), ACCESS_DENIED);
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1: a function (or procedure) whose SET clause carries a forged context or
/// loosens a setting, at CREATE and at ALTER, including `SET ... FROM CURRENT`.
#[test]
fn attack_create_function_with_set_clause() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        "CREATE FUNCTION evil.plain() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
    );
    let ctx = sql_literal(&forged_context(&f));
    let statements: Vec<(String, bool)> = [
        format!("CREATE FUNCTION evil.f1() RETURNS int LANGUAGE sql SET boards.context = {ctx} AS $$ SELECT 1 $$"),
        "CREATE FUNCTION evil.f2() RETURNS int LANGUAGE sql SET boards.context FROM CURRENT AS $$ SELECT 1 $$".to_owned(),
        "CREATE FUNCTION evil.f3() RETURNS int LANGUAGE sql SET boards.multi_tenant_mode = off AS $$ SELECT 1 $$".to_owned(),
        "CREATE FUNCTION evil.f4() RETURNS int LANGUAGE sql SET boards.jwt_leeway = 3600 AS $$ SELECT 1 $$".to_owned(),
        format!("CREATE PROCEDURE evil.p1() LANGUAGE sql SET boards.context = {ctx} AS $$ SELECT 1 $$"),
        format!("ALTER FUNCTION evil.plain() SET boards.context = {ctx}"),
        "ALTER FUNCTION evil.plain() SET boards.context FROM CURRENT".to_owned(),
        "ALTER FUNCTION evil.plain() SET boards.multi_tenant_mode = off".to_owned(),
        "ALTER FUNCTION public.boards_current_tenant() SET boards.multi_tenant_mode = off".to_owned(),
        "ALTER FUNCTION public.boards_current_tenant() SECURITY DEFINER".to_owned(),
    ]
    .into_iter()
    .map(|s| (s, true))
    .collect();
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

// =============================================================================================
// Reading and writing B's rows through every data path
// =============================================================================================

/// Promise 3 (TRUNCATE bypasses row level security, so nobody but the admin role has it):
/// TRUNCATE of every tenant table, with CASCADE, ONLY, from a DO block, and on the table the
/// app owns, also right after granting TRUNCATE to itself.
#[test]
fn attack_truncate() {
    let f = fixture();
    let mut app = f.attacker();
    let mut statements: Vec<(String, bool)> = TENANT_TABLES
        .iter()
        .map(|t| (format!("TRUNCATE {t}"), true))
        .collect();
    statements.extend(
        [
            "TRUNCATE boards.boards CASCADE",
            "TRUNCATE ONLY public.notes",
            "TRUNCATE boards.tenants CASCADE",
            "TRUNCATE public.notes, public.owned RESTART IDENTITY",
            "DO $$ BEGIN EXECUTE 'TRUNCATE public.owned'; END $$",
            "GRANT TRUNCATE ON public.owned TO boards_app; TRUNCATE public.owned",
            "GRANT ALL ON public.owned TO PUBLIC; TRUNCATE public.owned",
            "GRANT TRUNCATE ON public.notes TO boards_app; TRUNCATE public.notes",
        ]
        .iter()
        .map(|s| ((*s).to_owned(), true)),
    );
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_a_untouched();
    f.assert_b_untouched();
}

/// Promise 4 (COPY): COPY TO of every tenant table and of queries aimed at B returns A's rows
/// only; COPY to a server file or program, and COPY with row security off, are refused.
#[test]
fn attack_copy_to() {
    let f = fixture();
    let mut app = f.attacker();
    for table in TENANT_TABLES {
        let sql = format!("COPY {table} (tenant_id) TO STDOUT");
        assert_all_of(&sql, &copy_out(&mut app, &sql), &f.a.id, f.a_rows(table));
        let sql = format!(
            "COPY (SELECT tenant_id FROM {table} WHERE tenant_id = '{}') TO STDOUT",
            f.b.id
        );
        assert_eq!(copy_out(&mut app, &sql), Vec::<String>::new(), "{sql}");
    }
    let sql = "COPY boards.tenants (id) TO STDOUT";
    assert_eq!(copy_out(&mut app, sql), [f.a.id.as_str()], "{sql}");
    for sql in [
        "COPY boards.boards TO '/tmp/boards_tenant_attack.csv'",
        "COPY boards.boards TO PROGRAM 'cat > /dev/null'",
        "COPY (SELECT * FROM public.notes) TO '/tmp/boards_tenant_attack.csv'",
    ] {
        refused(sql, app.batch_execute(sql), PERMISSION_DENIED);
    }
    exec(&mut app, "SET row_security = off");
    refused(
        "COPY with row_security off",
        app.copy_out("COPY public.notes TO STDOUT").map(|_| ()),
        PERMISSION_DENIED,
    );
    exec(&mut app, "RESET row_security");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 4 (COPY): COPY FROM cannot apply WITH CHECK per row, so Postgres refuses it on a
/// protected table — also on the one the app owns; COPY from a server file or program is
/// refused too. No row lands in B.
#[test]
fn attack_copy_from() {
    let f = fixture();
    let attempts = [
        (
            "COPY public.notes (tenant_id, body) FROM STDIN",
            format!("{}\tplanted by A\n", f.b.id),
        ),
        (
            "COPY public.owned (tenant_id, body) FROM STDIN",
            format!("{}\tplanted by A\n", f.b.id),
        ),
        (
            "COPY public.notes (body) FROM STDIN",
            "planted with the default tenant\n".to_owned(),
        ),
        (
            "COPY boards.boards (tenant_id, owner_id, title) FROM STDIN",
            format!("{}\t{}\tplanted\n", f.b.id, f.b.owner_id),
        ),
    ];
    for (sql, line) in &attempts {
        // One connection per COPY: a refused COPY leaves the client's protocol state behind.
        let mut app = f.attacker();
        let started = app.copy_in(*sql);
        match started {
            Err(e) => {
                refused(sql, Err::<(), _>(e), FEATURE_NOT_SUPPORTED);
            }
            Ok(mut writer) => {
                let _ = writer.write_all(line.as_bytes());
                refused(sql, writer.finish(), FEATURE_NOT_SUPPORTED);
            }
        };
    }
    let mut app = f.attacker();
    for sql in [
        "COPY public.notes (body) FROM '/etc/hostname'",
        "COPY public.notes (body) FROM PROGRAM 'echo planted'",
    ] {
        refused(sql, app.batch_execute(sql), PERMISSION_DENIED);
    }
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 6 (no side channel through foreign keys): rows referencing B's board, user and
/// generation fail exactly like rows referencing ids that exist nowhere — same SQLSTATE,
/// message and detail once the id is masked — and the error names nothing of B.
#[test]
fn attack_foreign_key_probing() {
    let f = fixture();
    let mut app = f.attacker();
    let random = || uuid::Uuid::new_v4().to_string();
    let probes: Vec<(&str, String, Vec<String>)> = vec![
        (
            "INSERT INTO boards.board_members (board_id, user_id) VALUES ($1::text::uuid, $2::text::uuid)",
            f.b.boards[0].clone(),
            vec![f.a.member_id.clone()],
        ),
        (
            "INSERT INTO boards.board_members (board_id, user_id) VALUES ($2::text::uuid, $1::text::uuid)",
            f.b.member_id.clone(),
            vec![f.a.boards[0].clone()],
        ),
        (
            "INSERT INTO boards.boards (owner_id, title) VALUES ($1::text::uuid, $2)",
            f.b.owner_id.clone(),
            vec!["probe".to_owned()],
        ),
        (
            "INSERT INTO boards.generations (board_id, user_id, generator_name, artifact_type, parent_generation_id)
             VALUES ($2::text::uuid, $3::text::uuid, 'flux', 'image', $1::text::uuid)",
            f.b.generations[0].clone(),
            vec![f.a.boards[0].clone(), f.a.owner_id.clone()],
        ),
    ];
    for (sql, b_id, rest) in &probes {
        let mut answer = |id: &str| {
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![&id];
            for r in rest {
                params.push(r);
            }
            let e = refused(sql, app.execute(*sql, &params), FOREIGN_KEY_VIOLATION);
            let detail = e.detail().unwrap_or_default().to_owned();
            (
                e.message().replace(id, "<id>"),
                detail.replace(id, "<id>"),
                detail,
            )
        };
        let (b_message, b_detail, raw) = answer(b_id);
        let other = random();
        let (r_message, r_detail, _) = answer(&other);
        assert_eq!(
            (&b_message, &b_detail),
            (&r_message, &r_detail),
            "{sql}: B's row is answered differently from a row that does not exist"
        );
        for secret in [&f.b.id, &f.b.owner_id, &f.b.member_id] {
            assert!(
                !raw.contains(secret.as_str()),
                "{sql}: the error names B: {raw}"
            );
        }
    }
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 6 (no side channel through unique keys): reusing B's primary key values succeeds
/// as A's own row, an upsert on them touches A's copy only, and an insert aimed at B's key is
/// refused the same way whether or not B has that key.
#[test]
fn attack_unique_key_probing() {
    let f = fixture();
    let mut app = f.attacker();
    let tenant = text(
        &mut app,
        "INSERT INTO boards.boards (id, owner_id, title) VALUES ($1::text::uuid, $2::text::uuid, 'B''s id')
         RETURNING tenant_id::text",
        &[&f.b.boards[0], &f.a.owner_id],
    );
    assert_eq!(tenant, f.a.id);
    for table in ["public.notes", "public.owned"] {
        let sql = format!(
            "INSERT INTO {table} (id, body) VALUES ($1::text::uuid, 'B''s id') RETURNING tenant_id::text"
        );
        assert_eq!(text(&mut app, &sql, &[&f.b.notes[0]]), f.a.id, "{sql}");
        let sql = format!(
            "INSERT INTO {table} (id, body) VALUES ($1::text::uuid, 'again')
             ON CONFLICT (tenant_id, id) DO UPDATE SET body = 'upserted'"
        );
        assert_eq!(exec_params(&mut app, &sql, &[&f.b.notes[0]]), 1, "{sql}");
        let mine = column(
            &mut app,
            &format!("SELECT body FROM {table} WHERE id = '{}'", f.b.notes[0]),
        );
        assert_eq!(mine, ["upserted"], "{table}: the rows A sees with B's key");
    }
    let mut answers = Vec::new();
    for id in [f.b.notes[0].clone(), uuid::Uuid::new_v4().to_string()] {
        for sql in [
            "INSERT INTO public.notes (tenant_id, id, body) VALUES ($1::text::uuid, $2::text::uuid, 'x')
             ON CONFLICT DO NOTHING",
            "INSERT INTO public.notes (tenant_id, id, body) VALUES ($1::text::uuid, $2::text::uuid, 'x')
             ON CONFLICT (tenant_id, id) DO UPDATE SET body = 'overwritten'",
            "INSERT INTO public.notes (tenant_id, id, body) VALUES ($1::text::uuid, $2::text::uuid, 'x')",
        ] {
            let e = refused(sql, app.execute(sql, &[&f.b.id, &id]), PERMISSION_DENIED);
            answers.push((sql, e.message().replace(&id, "<id>")));
        }
    }
    let (with_b, with_random) = answers.split_at(3);
    assert_eq!(
        with_b, with_random,
        "B's key is answered differently from a free key"
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 3: every way to write a row into B or move a row there — INSERT, UPDATE of the
/// tenant column, MERGE, writable CTEs, upserts — is refused; UPDATE/DELETE/SELECT FOR UPDATE
/// aimed at B's rows find none; the tenants table and the users' tenant column are not
/// writable at all.
#[test]
fn attack_write_rows_into_b() {
    let f = fixture();
    let mut app = f.attacker();
    let b = &f.b.id;
    let statements: Vec<(String, bool)> = [
        format!("INSERT INTO public.notes (tenant_id, body) VALUES ('{b}', 'planted')"),
        format!("INSERT INTO public.owned (tenant_id, body) VALUES ('{b}', 'planted')"),
        format!(
            "INSERT INTO boards.boards (tenant_id, owner_id, title) VALUES ('{b}', '{}', 'planted')",
            f.b.owner_id
        ),
        format!(
            "INSERT INTO boards.board_members (tenant_id, board_id, user_id) VALUES ('{b}', '{}', '{}')",
            f.b.boards[0], f.b.member_id
        ),
        format!("INSERT INTO public.notes (tenant_id, body) SELECT '{b}', body FROM public.notes"),
        format!("UPDATE public.notes SET tenant_id = '{b}'"),
        format!("UPDATE public.owned SET tenant_id = '{b}'"),
        format!("UPDATE boards.boards SET tenant_id = '{b}', owner_id = '{}'", f.b.owner_id),
        format!("UPDATE boards.users SET tenant_id = '{b}'"),
        format!(
            "WITH moved AS (UPDATE public.notes SET tenant_id = '{b}' RETURNING 1) SELECT count(*) FROM moved"
        ),
        "INSERT INTO boards.tenants (slug, name) VALUES ('tenant-b2', 'B2')".to_owned(),
        format!("UPDATE boards.tenants SET status = 'suspended' WHERE id = '{b}'"),
        format!("DELETE FROM boards.tenants WHERE id = '{b}'"),
        format!(
            "INSERT INTO boards.users (tenant_id, auth_subject, role) VALUES ('{b}', 'tenant-a-owner', 'owner')"
        ),
    ]
    .into_iter()
    .chain(
        // MERGE exists from PostgreSQL 15 on.
        (server_version_num(&mut app) >= 150000)
            .then(|| {
                [
                    format!(
                        "MERGE INTO public.notes n USING (VALUES ('{b}'::uuid, 'merged')) v(t, body)
                         ON n.tenant_id = v.t WHEN NOT MATCHED THEN INSERT (tenant_id, body) VALUES (v.t, v.body)"
                    ),
                    format!(
                        "MERGE INTO public.notes n USING public.notes s ON n.id = s.id
                         WHEN MATCHED THEN UPDATE SET tenant_id = '{b}'"
                    ),
                ]
            })
            .into_iter()
            .flatten(),
    )
    .map(|s| (s, true))
    .collect();
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    for sql in [
        format!("UPDATE public.notes SET body = 'hit' WHERE tenant_id = '{b}'"),
        format!("UPDATE public.owned SET body = 'hit' WHERE tenant_id = '{b}'"),
        format!("UPDATE boards.users SET display_name = 'hit' WHERE tenant_id = '{b}'"),
        format!(
            "DELETE FROM boards.generations WHERE id = '{}'",
            f.b.generations[0]
        ),
        format!("DELETE FROM boards.boards WHERE tenant_id = '{b}'"),
        format!("DELETE FROM public.owned WHERE tenant_id = '{b}'"),
    ] {
        assert_eq!(exec_params(&mut app, &sql, &[]), 0, "{sql}");
    }
    let locked = column(
        &mut app,
        &format!("SELECT id::text FROM boards.boards WHERE tenant_id = '{b}' FOR UPDATE"),
    );
    assert!(locked.is_empty(), "locked B's rows: {locked:?}");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 4 and 5 (subtransactions): a pooled connection serving A that switches to B inside
/// a savepoint (transaction or session scope) and rolls the savepoint back acts for A again,
/// and what it wrote for B is gone; a failed switch inside a savepoint changes nothing; a
/// PL/pgSQL exception block behaves the same.
#[test]
fn attack_rollback_to_savepoint_around_a_context_switch() {
    let f = fixture();
    let mut app = f.attacker();
    let current =
        |app: &mut Client| query_text(app, "SELECT public.boards_current_tenant()::text", &[]);
    exec(&mut app, "BEGIN");
    for is_local in [true, false] {
        exec(&mut app, "SAVEPOINT s");
        let tenant = text(
            &mut app,
            "SELECT tenant_id::text FROM boards_set_tenant_from_jwt($1, NULL, $2)",
            &[&f.b.token, &is_local],
        );
        assert_eq!(tenant, f.b.id, "control: the switch to B happened");
        exec(
            &mut app,
            "INSERT INTO public.notes (body) VALUES ('inside the savepoint')",
        );
        exec(&mut app, "ROLLBACK TO SAVEPOINT s");
        assert_eq!(
            current(&mut app).as_deref(),
            Some(f.a.id.as_str()),
            "is_local {is_local}"
        );
    }
    exec(&mut app, "SAVEPOINT s");
    refused(
        "X-Tenant for B inside a savepoint",
        try_context(&mut app, &f.a.token, Some("tenant-b")),
        PERMISSION_DENIED,
    );
    exec(&mut app, "ROLLBACK TO SAVEPOINT s");
    assert_eq!(current(&mut app).as_deref(), Some(f.a.id.as_str()));
    exec(
        &mut app,
        &format!(
            "DO $$ BEGIN
                 PERFORM public.boards_set_tenant_from_jwt({}, NULL, true);
                 INSERT INTO public.notes (body) VALUES ('inside the exception block');
                 RAISE EXCEPTION 'undo';
             EXCEPTION WHEN raise_exception THEN NULL;
             END $$",
            sql_literal(&f.b.token)
        ),
    );
    assert_eq!(current(&mut app).as_deref(), Some(f.a.id.as_str()));
    let inserted = text(
        &mut app,
        "INSERT INTO public.notes (body) VALUES ('after the rollbacks') RETURNING tenant_id::text",
        &[],
    );
    assert_eq!(inserted, f.a.id);
    exec(&mut app, "COMMIT");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 5 (a connection that served B must not hand B's rows to the next client): a WITH
/// HOLD cursor opened while the connection served B is gone once a session pooler hands the
/// connection to the next client (`DISCARD ALL`). What a cursor computed belongs to the session,
/// not to the tenant context: under *transaction* pooling, session objects (WITH HOLD cursors,
/// temporary tables, prepared statements) are shared by every client of the server connection,
/// which is PgBouncer's documented limit of that mode (README, Pooling) — not a way to switch
/// the tenant context, which ends with each transaction.
#[test]
fn attack_with_hold_cursor_across_a_switch() {
    let f = fixture();
    let mut conn = f.app_as(&f.b);
    exec(
        &mut conn,
        "BEGIN;
         DECLARE left_by_b CURSOR WITH HOLD FOR SELECT tenant_id::text FROM boards.boards;
         COMMIT;",
    );
    exec(&mut conn, "DISCARD ALL");
    set_context(&mut conn, &f.a.token, None);
    refused(
        "after DISCARD ALL",
        conn.query("FETCH ALL FROM left_by_b", &[]),
        INVALID_CURSOR_NAME,
    );
    let left = column(
        &mut conn,
        "SELECT name FROM pg_cursors WHERE is_holdable AND name <> ''",
    );
    assert!(
        left.is_empty(),
        "holdable cursors survive DISCARD ALL: {left:?}"
    );
    f.assert_sees_nothing_of_b(&mut conn);
    f.assert_b_untouched();
}

/// Promise 4 (prepared statements): statements prepared while the connection served B —
/// protocol-level and SQL `PREPARE`, forced to a generic plan and run often enough to be
/// cached — return A's rows once the connection acts for A, and nothing without a context.
#[test]
fn attack_prepared_statement_across_a_switch() {
    let f = fixture();
    let mut conn = f.app_as(&f.b);
    exec(
        &mut conn,
        "SET plan_cache_mode = force_generic_plan;
         PREPARE all_boards AS SELECT tenant_id::text FROM boards.boards;
         PREPARE note_by_id(uuid) AS SELECT tenant_id::text FROM public.notes WHERE id = $1;",
    );
    let protocol = conn
        .prepare("SELECT tenant_id::text FROM public.owned")
        .unwrap_or_else(|e| panic!("prepare: {}", error_text(&e)));
    for _ in 0..6 {
        let ids = column(&mut conn, "EXECUTE all_boards");
        assert_all_of("control under B", &ids, &f.b.id, 2);
        let ids: Vec<String> = conn
            .query(&protocol, &[])
            .unwrap_or_else(|e| panic!("{}", error_text(&e)))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_all_of("control under B", &ids, &f.b.id, 2);
    }
    set_context(&mut conn, &f.a.token, None);
    let ids = column(&mut conn, "EXECUTE all_boards");
    assert_all_of(
        "SQL PREPARE under A",
        &ids,
        &f.a.id,
        f.a_rows("boards.boards"),
    );
    let ids = column(
        &mut conn,
        &format!("EXECUTE note_by_id('{}')", f.b.notes[0]),
    );
    assert!(ids.is_empty(), "B's note by id: {ids:?}");
    let ids: Vec<String> = conn
        .query(&protocol, &[])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_all_of(
        "protocol prepare under A",
        &ids,
        &f.a.id,
        f.a_rows("public.owned"),
    );
    exec(&mut conn, "SELECT boards_reset_tenant()");
    assert!(
        column(&mut conn, "EXECUTE all_boards").is_empty(),
        "rows without a context"
    );
    f.assert_sees_nothing_of_b(&mut conn);
    f.assert_b_untouched();
}

/// Promise 4 (parallel workers): with every row read by a worker, A's queries aimed at B
/// return nothing of B, counts are A's, and a connection without a context sees nothing.
#[test]
fn attack_parallel_workers() {
    let mut f = fixture();
    f.add_bulk_notes();
    install_worker_probe(&f.db);
    let mut app = f.attacker();
    exec(&mut app, FORCE_PARALLEL);
    let own = f.a_rows("public.notes");
    // Every probe below is answered by workers only (rows_from_workers checks that workers
    // launched and that no row came from the leader).
    let aimed_at_b = format!(
        "FROM public.notes WHERE tenant_id = '{}' OR body LIKE 'tenant-b%'",
        f.b.id
    );
    assert_eq!(
        rows_from_workers(&mut app, "tenant_id::text", &aimed_at_b).len(),
        0,
        "parallel workers returned B's rows"
    );
    let tenants: Vec<String> = rows_from_workers(&mut app, "tenant_id::text", "FROM public.notes")
        .iter()
        .map(|row| row.get(1))
        .collect();
    assert_all_of("parallel scan as A", &tenants, &f.a.id, own);
    assert_eq!(count(&mut app, "SELECT count(*) FROM public.notes"), own);
    assert_eq!(
        count(
            &mut app,
            "SELECT count(*) FROM public.notes WHERE tenant_id = boards_current_tenant()"
        ),
        own
    );
    let mut nobody = f.app();
    exec(&mut nobody, FORCE_PARALLEL);
    assert_eq!(
        rows_from_workers(&mut nobody, "tenant_id::text", "FROM public.notes").len(),
        0,
        "parallel workers read rows without a context"
    );
    exec(&mut app, "SELECT boards_reset_tenant()");
    assert_eq!(
        rows_from_workers(&mut app, "tenant_id::text", "FROM public.notes").len(),
        0,
        "parallel workers read rows after the reset"
    );
    f.assert_b_untouched();
}

/// Promise 3 and 6: leaky functions and expressions in the attacker's WHERE clauses run
/// after the tenant policy (they are not LEAKPROOF, and only a superuser can make one so):
/// a function that records its argument, a cast that would fail on B's titles and a
/// division by zero that only B's rows would trigger see A's rows only.
#[test]
fn attack_leaky_function_in_where() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        "CREATE TABLE evil.seen (v text);
         CREATE FUNCTION evil.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
         BEGIN INSERT INTO evil.seen VALUES ($1); RETURN true; END $$;",
    );
    for sql in [
        "SELECT count(*) FROM boards.boards WHERE evil.leak(title)",
        "SELECT count(*) FROM boards.users WHERE evil.leak(auth_subject)",
        "SELECT count(*) FROM public.notes WHERE evil.leak(body)",
        "SELECT count(*) FROM public.owned WHERE evil.leak(body)",
        "SELECT count(*) FROM boards.tenants WHERE evil.leak(slug)",
        "SELECT count(*) FROM public.notes n JOIN boards.boards b ON evil.leak(n.body || b.title)",
        "SELECT count(*) FROM (SELECT body FROM public.notes ORDER BY evil.leak(body)) s",
    ] {
        count(&mut app, sql);
    }
    let seen = column(&mut app, "SELECT v FROM evil.seen");
    assert!(
        !seen.is_empty(),
        "the leaky function never ran: the test proves nothing"
    );
    let leaked: Vec<&String> = seen.iter().filter(|v| v.contains("tenant-b")).collect();
    assert!(
        leaked.is_empty(),
        "the leaky function saw B's values: {leaked:?}"
    );
    for sql in [
        "SELECT count(*) FROM boards.boards WHERE 1 / (CASE WHEN title LIKE 'tenant-b%' THEN 0 ELSE 1 END) = 1",
        "SELECT count(*) FROM public.notes WHERE 1 / (CASE WHEN body LIKE 'tenant-b%' THEN 0 ELSE 1 END) = 1",
        "SELECT count(*) FROM boards.users WHERE 1 / (CASE WHEN auth_subject LIKE 'tenant-b%' THEN 0 ELSE 1 END) = 1",
    ] {
        count(&mut app, sql);
    }
    let e = refused(
        "a cast that fails on every title",
        app.query("SELECT * FROM boards.boards WHERE title::int > 0", &[]),
        "22P02",
    );
    assert!(
        !e.message().contains("tenant-b"),
        "the error shows B's title: {}",
        e.message()
    );
    refused(
        "a LEAKPROOF function",
        app.batch_execute(
            "CREATE FUNCTION evil.lp(text) RETURNS boolean LANGUAGE sql LEAKPROOF AS $$ SELECT true $$",
        ),
        PERMISSION_DENIED,
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

// =============================================================================================
// Objects the app creates: triggers, views, materialized views, functions
// =============================================================================================

/// Promise 3 and 4 (triggers): triggers the app writes on a table it owns and on a table of
/// its own schema — a BEFORE trigger that rewrites the tenant column to B, an AFTER trigger
/// that copies every board and note it can read — run with A's context: the rewrite is
/// refused by WITH CHECK and the copy holds A's rows only.
#[test]
fn attack_app_trigger_on_its_own_table() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        &format!(
            "CREATE FUNCTION evil.to_b() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN NEW.tenant_id := '{b}'; RETURN NEW; END $$;
             CREATE TRIGGER to_b BEFORE INSERT OR UPDATE ON public.owned
                 FOR EACH ROW EXECUTE FUNCTION evil.to_b();
             CREATE TABLE evil.events (n int);
             CREATE TABLE evil.loot (owner uuid, what text);
             CREATE FUNCTION evil.steal() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO evil.loot SELECT tenant_id, title FROM boards.boards;
                 INSERT INTO evil.loot SELECT tenant_id, body FROM public.notes;
                 INSERT INTO evil.loot SELECT tenant_id, body FROM public.owned;
                 UPDATE public.notes SET body = 'changed by the trigger' WHERE tenant_id = '{b}';
                 RETURN NULL;
             END $$;
             CREATE TRIGGER steal AFTER INSERT ON evil.events
                 FOR EACH STATEMENT EXECUTE FUNCTION evil.steal();",
            b = f.b.id
        ),
    );
    refused(
        "BEFORE trigger moving the row to B",
        app.execute(
            "INSERT INTO public.owned (body) VALUES ('moved by a trigger')",
            &[],
        ),
        PERMISSION_DENIED,
    );
    refused(
        "BEFORE trigger moving an update to B",
        app.execute("UPDATE public.owned SET body = 'moved'", &[]),
        PERMISSION_DENIED,
    );
    exec(&mut app, "INSERT INTO evil.events VALUES (1)");
    let loot = column(&mut f.db.superuser(), "SELECT owner::text FROM evil.loot");
    let expected = f.a_rows("boards.boards") + f.a_rows("public.notes") + f.a_rows("public.owned");
    assert_all_of("rows the trigger copied", &loot, &f.a.id, expected);
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 3 (shared role): the app role is one role for every tenant, so a trigger A plants
/// on a protected table through the TRIGGER privilege that `GRANT ALL` includes would run in
/// B's sessions too. The DDL guard revokes TRIGGER from everyone but the owner, so planting is
/// refused. (An app role that *owns* a tenant table can do this and worse: that deployment is
/// `attack_table_owner_reads_rows_of_b_through_ddl`'s, reported by the audit.)
#[test]
fn attack_trojan_trigger_fired_by_b() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        "CREATE TABLE evil.loot (owner uuid, what text);
         GRANT ALL ON evil.loot TO PUBLIC;
         CREATE FUNCTION evil.copy_row() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO evil.loot VALUES (NEW.tenant_id, NEW.body); RETURN NULL; END $$;",
    );
    let planted = app.batch_execute(
        "CREATE TRIGGER trojan AFTER INSERT OR UPDATE ON public.notes
             FOR EACH ROW EXECUTE FUNCTION evil.copy_row()",
    );
    refused("CREATE TRIGGER on public.notes", planted, PERMISSION_DENIED);
    // B's own client, on the same role, writes its own rows as usual.
    exec(
        &mut f.app_as(&f.b),
        "INSERT INTO public.notes (body) VALUES ('tenant-b secret')",
    );
    let loot = column(&mut app, "SELECT what FROM evil.loot");
    assert!(
        loot.is_empty(),
        "a planted trigger handed A B's rows: {loot:?}"
    );
}

/// Promise 3: views the app creates (default owner's rights, security_barrier,
/// security_invoker, a UNION over every table) show A's rows to A; the same view evaluated
/// for B shows B's: a view is evaluated per query, never with its creator's context.
#[test]
fn attack_app_view() {
    let f = fixture();
    let mut app = f.attacker();
    let union = TENANT_TABLES
        .iter()
        .map(|t| format!("SELECT tenant_id::text AS t FROM {t}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    exec(
        &mut app,
        &format!(
            "CREATE VIEW evil.all_rows AS {union};
             CREATE VIEW evil.barrier WITH (security_barrier) AS SELECT tenant_id::text AS t FROM public.notes;
             CREATE VIEW evil.tenants AS SELECT id::text AS t FROM boards.tenants;"
        ),
    );
    // security_invoker views exist from PostgreSQL 15 on.
    let mut views = vec!["evil.barrier", "evil.tenants"];
    if server_version_num(&mut app) >= 150000 {
        exec(
            &mut app,
            "CREATE VIEW evil.invoker WITH (security_invoker = true) AS SELECT tenant_id::text AS t FROM public.owned",
        );
        views.push("evil.invoker");
    }
    exec(
        &mut app,
        "GRANT SELECT ON ALL TABLES IN SCHEMA evil TO PUBLIC",
    );
    let total_a: i64 = TENANT_TABLES.iter().map(|t| f.a_rows(t)).sum();
    for (tenant, total) in [(&f.a, total_a), (&f.b, -1)] {
        let mut client = f.app_as(tenant);
        let rows = column(&mut client, "SELECT t FROM evil.all_rows");
        let expected = if total >= 0 { total } else { rows.len() as i64 };
        assert_all_of(
            &format!("all_rows as {}", tenant.slug),
            &rows,
            &tenant.id,
            expected,
        );
        for view in &views {
            let rows = column(&mut client, &format!("SELECT t FROM {view}"));
            let expected = rows.len() as i64;
            assert!(expected > 0, "{view} as {}: no rows", tenant.slug);
            assert_all_of(
                &format!("{view} as {}", tenant.slug),
                &rows,
                &tenant.id,
                expected,
            );
        }
    }
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 3: a materialized view stores rows, and row level security cannot apply to it.
/// One the app created under A holds A's rows; refreshed by a client of B (same role), it
/// must not then show B's rows to A — creating or refreshing it over protected tables must
/// be refused, or what it holds must stay out of A's reach.
#[test]
fn attack_app_materialized_view() {
    let f = fixture();
    let mut app = f.attacker();
    let created = app.batch_execute(
        "CREATE MATERIALIZED VIEW evil.snapshot AS
             SELECT tenant_id::text AS t, title AS what FROM boards.boards
             UNION ALL SELECT tenant_id::text, body FROM public.notes;
         GRANT SELECT ON evil.snapshot TO PUBLIC;",
    );
    if let Err(e) = created {
        refused(
            "CREATE MATERIALIZED VIEW",
            Err::<(), _>(e),
            PERMISSION_DENIED,
        );
        f.assert_b_untouched();
        return;
    }
    let rows = column(&mut app, "SELECT t FROM evil.snapshot");
    let expected = f.a_rows("boards.boards") + f.a_rows("public.notes");
    assert_all_of("snapshot made under A", &rows, &f.a.id, expected);
    let mut b_client = f.app_as(&f.b);
    let refreshed = b_client.batch_execute("REFRESH MATERIALIZED VIEW evil.snapshot");
    if let Err(e) = refreshed {
        refused("REFRESH under B", Err::<(), _>(e), PERMISSION_DENIED);
    }
    let rows = column(&mut app, "SELECT t FROM evil.snapshot");
    let of_b = rows.iter().filter(|t| **t == f.b.id).count();
    assert_eq!(
        of_b, 0,
        "A reads {of_b} of B's rows from a materialized view refreshed under B"
    );
    f.assert_b_untouched();
}

/// Promise 1 (shared role): A plants `evil.boards_set_tenant_from_jwt` and makes `evil` the
/// first schema of every new `boards_app` session in this database (`ALTER ROLE boards_app IN
/// DATABASE ... SET search_path`, which a role may do for itself). That needs a schema the app
/// role can create in — a deployment the README rules out and the audit reports
/// (`login_role_can_create`). And a client that calls the extension's functions by their
/// qualified name, as the README's quick start does, never reaches the plant.
#[test]
fn attack_trojan_search_path_captures_tokens() {
    let f = fixture();
    let mut app = f.attacker();
    exec(
        &mut app,
        "CREATE TABLE evil.tokens (token text);
         GRANT ALL ON evil.tokens TO PUBLIC;
         GRANT USAGE ON SCHEMA evil TO PUBLIC;
         CREATE FUNCTION evil.boards_set_tenant_from_jwt(
             token text, x_tenant text DEFAULT NULL, is_local boolean DEFAULT false)
         RETURNS TABLE (tenant_id uuid, tenant_slug text, user_id uuid, subject text, source text)
         LANGUAGE plpgsql AS $$
         BEGIN
             INSERT INTO evil.tokens VALUES (token);
             RETURN QUERY SELECT * FROM public.boards_set_tenant_from_jwt(token, x_tenant, is_local);
         END $$;",
    );
    // IN DATABASE keeps the plant to this test's database (role settings are cluster-wide).
    exec(
        &mut app,
        &format!(
            "ALTER ROLE boards_app IN DATABASE {} SET search_path = evil, public",
            f.db.name()
        ),
    );
    // B's client connects later and sets its context by the qualified name.
    let mut b_client = f.app();
    let row = b_client
        .query_one(
            "SELECT tenant_id::text FROM public.boards_set_tenant_from_jwt($1)",
            &[&f.b.token],
        )
        .unwrap_or_else(|e| panic!("B's client: {}", error_text(&e)));
    assert_eq!(
        row.get::<_, String>(0),
        f.b.id,
        "control: B's client acts for B"
    );
    let captured = column(&mut app, "SELECT token FROM evil.tokens");
    assert!(
        captured.is_empty(),
        "A captured {} token(s) through its search_path plant",
        captured.len()
    );
    // The deployment that made the plant possible is what the audit reports.
    let mut admin = f.db.admin();
    let finding = admin
        .query_opt(
            "SELECT severity, detail FROM boards_tenant_audit()
             WHERE check_name = 'login_role_can_create' AND object_name = 'boards_app'",
            &[],
        )
        .unwrap_or_else(|e| panic!("audit: {}", error_text(&e)))
        .expect("the audit reports that boards_app can create objects");
    let detail: serde_json::Value = finding.get(1);
    assert!(
        detail["schemas"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "evil")),
        "the finding names the schema: {detail}"
    );
    assert!(
        detail["search_path_settings"].to_string().contains("evil"),
        "the finding shows the planted search_path: {detail}"
    );
    f.assert_b_untouched();
}

// =============================================================================================
// Privileged functions and bookkeeping
// =============================================================================================

/// Promise 1 (only admins manage): the trusted setter and every admin function, aimed at B
/// (read it, rename it, suspend it, delete it, join it as owner, remove its owner, add a key,
/// unprotect a table, audit it), as A: `permission denied`.
#[test]
fn attack_call_admin_functions() {
    let f = fixture();
    let mut app = f.attacker();
    let secret = "x".repeat(64);
    let statements: Vec<(String, bool)> = [
        "SELECT * FROM boards_set_tenant('tenant-b')".to_owned(),
        "SELECT * FROM boards_set_tenant('tenant-b', true)".to_owned(),
        "SELECT * FROM boards_tenant_get('tenant-b')".to_owned(),
        "SELECT * FROM boards_tenant_list()".to_owned(),
        "SELECT * FROM boards_tenant_members('tenant-b')".to_owned(),
        "SELECT * FROM boards_tenant_update('tenant-b', 'Owned by A')".to_owned(),
        "SELECT * FROM boards_tenant_update('tenant-b', NULL, 'tenant-a-too')".to_owned(),
        "SELECT * FROM boards_tenant_suspend('tenant-b')".to_owned(),
        "SELECT * FROM boards_tenant_approve('tenant-b')".to_owned(),
        "SELECT * FROM boards_tenant_delete('tenant-b')".to_owned(),
        "SELECT * FROM boards_tenant_create('Tenant B', 'tenant-b-evil')".to_owned(),
        "SELECT boards_tenant_add_member('tenant-b', 'tenant-a-owner', 'owner')".to_owned(),
        "SELECT boards_tenant_remove_member('tenant-b', 'tenant-b-owner')".to_owned(),
        format!("SELECT boards_jwt_add_key('evil', 'HS256', '{secret}')"),
        format!(
            "SELECT boards_jwt_import_jwks('{{\"keys\": [{{\"kty\": \"oct\", \"kid\": \"evil\", \"alg\": \"HS256\", \"k\": \"{secret}\"}}]}}')"
        ),
        "SELECT boards_jwt_remove_key('test-hs256')".to_owned(),
        "SELECT * FROM boards_jwt_keys()".to_owned(),
        "SELECT boards_tenant_protect('evil.t')".to_owned(),
        "SELECT boards_tenant_unprotect('public.notes')".to_owned(),
        "SELECT boards_tenant_unprotect('public.owned')".to_owned(),
        "SELECT * FROM boards_tenant_protected_tables()".to_owned(),
        "SELECT boards_tenant_migrate_table('public.owned')".to_owned(),
        "SELECT * FROM boards_tenant_audit('tenant-b')".to_owned(),
        "SELECT boards_tenant_audit_json('tenant-b')".to_owned(),
    ]
    .into_iter()
    .map(|s| (s, true))
    .collect();
    exec(&mut app, "CREATE TABLE evil.t (x int)");
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1: every other function of the extension — the admin surface and every internal
/// helper in schema `boards` (status changes, slug lookups, trigger helpers, the DDL hook) —
/// called directly by A: `permission denied`, each failure named. The arguments are NULLs
/// behind a sub-select: a literal NULL would let the planner fold a STRICT call away before
/// the executor checks EXECUTE, and nothing would be attacked.
#[test]
fn attack_call_internal_functions() {
    let f = fixture();
    let functions =
        f.db.superuser()
            .query(
                "SELECT format('%I.%I', n.nspname, p.proname), p.prokind::text,
                    coalesce((SELECT string_agg(format('(SELECT NULL::%s)', format_type(a.t, NULL)), ', '
                                                ORDER BY a.ord)
                              FROM unnest(p.proargtypes) WITH ORDINALITY a(t, ord)), ''),
                    p.proname::text
             FROM pg_depend d
             JOIN pg_proc p ON p.oid = d.objid
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
               AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'boards_tenant')
             ORDER BY 1, 3",
                &[],
            )
            .unwrap_or_else(|e| panic!("listing functions: {}", error_text(&e)));
    let mut statements = Vec::new();
    for row in &functions {
        let name: String = row.get(0);
        let kind: String = row.get(1);
        let args: String = row.get(2);
        let bare: String = row.get(3);
        if PUBLIC_FUNCTIONS.contains(&bare.as_str()) {
            continue;
        }
        let sql = if kind == "p" {
            format!("CALL {name}({args})")
        } else {
            format!("SELECT {name}({args})")
        };
        statements.push((sql, true));
    }
    assert!(
        statements.len() >= 30,
        "only {} non-public functions found: {statements:?}",
        statements.len()
    );
    let mut app = f.attacker();
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// DESIGN section 3 ("bookkeeping is readable only by the admin role"): the key table (HMAC
/// secrets) and the registry cannot be read or written by A, the tenants table shows A's
/// row only, and pg_settings does not list the context.
#[test]
fn attack_read_bookkeeping_tables() {
    let f = fixture();
    let mut app = f.attacker();
    let statements: Vec<(String, bool)> = [
        "SELECT * FROM boards.jwt_keys",
        "SELECT count(*) FROM boards.jwt_keys",
        "SELECT material FROM boards.jwt_keys WHERE kid = 'test-hs256'",
        "SELECT * FROM boards.protected_tables",
        "SELECT count(*) FROM boards.protected_tables",
        "COPY boards.jwt_keys TO STDOUT",
        "INSERT INTO boards.jwt_keys (kid, alg, format, material) VALUES ('evil', 'HS256', 'secret', 'x')",
        "UPDATE boards.jwt_keys SET material = 'x'",
        "DELETE FROM boards.protected_tables",
        "INSERT INTO boards.protected_tables (tbl, tenant_column, policy_name) VALUES ('evil.t', 'x', 'y')",
    ]
    .iter()
    .map(|s| ((*s).to_owned(), true))
    .collect();
    exec(&mut app, "CREATE TABLE evil.t (x int)");
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    assert_eq!(
        column(&mut app, "SELECT slug FROM boards.tenants"),
        ["tenant-a"]
    );
    assert_eq!(
        count(
            &mut app,
            "SELECT count(*) FROM pg_settings WHERE name = 'boards.context'"
        ),
        0
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 3 (the DDL guard keeps a table protected, also against its owner): A owns
/// `public.owned` and tries to disable, un-force or drop its protection, to OR in a policy
/// of its own, to alter the tenant policy — directly, from a DO block and in a transaction
/// that then reads. Each is refused and rolled back; `row_security = off` errors instead of
/// bypassing.
#[test]
fn attack_ddl_guard_on_a_table_the_app_owns() {
    let f = fixture();
    let mut app = f.attacker();
    let flags = |f: &Fixture| {
        let row =
            f.db.superuser()
                .query_one(
                    "SELECT relrowsecurity, relforcerowsecurity,
                        (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid)
                 FROM pg_class c WHERE oid = 'public.owned'::regclass",
                    &[],
                )
                .unwrap_or_else(|e| panic!("{}", error_text(&e)));
        (
            row.get::<_, bool>(0),
            row.get::<_, bool>(1),
            row.get::<_, i64>(2),
        )
    };
    let before = flags(&f);
    assert_eq!(
        before,
        (true, true, 1),
        "control: public.owned is protected"
    );
    for sql in [
        "ALTER TABLE public.owned DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE public.owned NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY boards_tenant_isolation ON public.owned",
        "CREATE POLICY see_all ON public.owned FOR SELECT USING (true)",
        "CREATE POLICY see_all ON public.owned AS PERMISSIVE FOR ALL TO boards_app USING (true) WITH CHECK (true)",
        "ALTER POLICY boards_tenant_isolation ON public.owned USING (true) WITH CHECK (true)",
        "ALTER POLICY boards_tenant_isolation ON public.owned TO boards_admin",
        "ALTER POLICY boards_tenant_isolation ON public.owned RENAME TO other",
        "DO $$ BEGIN EXECUTE 'ALTER TABLE public.owned DISABLE ROW LEVEL SECURITY'; END $$",
        "ALTER TABLE public.owned DISABLE ROW LEVEL SECURITY; SELECT count(*) FROM public.owned",
    ] {
        exec(&mut app, "BEGIN");
        let e = refused(sql, app.batch_execute(sql), PERMISSION_DENIED);
        assert!(
            e.message().contains("protected by boards_tenant"),
            "{sql}: refused for another reason: {}",
            e.message()
        );
        exec(&mut app, "ROLLBACK");
        assert_eq!(flags(&f), before, "{sql}: the protection changed");
    }
    exec(&mut app, "SET row_security = off");
    refused(
        "row_security off",
        app.query("SELECT * FROM public.owned", &[]),
        PERMISSION_DENIED,
    );
    exec(&mut app, "RESET row_security");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 3: the extension's own objects — the extension, its functions, event triggers,
/// the Boards tables' policies and RLS flags, triggers on them — cannot be altered, replaced
/// or disabled by A, nor can A switch triggers off for its session.
#[test]
fn attack_tamper_with_extension_objects() {
    let f = fixture();
    let mut app = f.attacker();
    let statements: Vec<(String, bool)> = [
        "DROP EXTENSION boards_tenant CASCADE",
        "ALTER EXTENSION boards_tenant DROP FUNCTION public.boards_current_tenant()",
        "DROP FUNCTION public.boards_current_tenant() CASCADE",
        "CREATE OR REPLACE FUNCTION public.boards_current_tenant() RETURNS uuid LANGUAGE sql AS $$ SELECT NULL::uuid $$",
        "CREATE FUNCTION public.boards_current_tenant(VARIADIC text[]) RETURNS uuid LANGUAGE sql AS $$ SELECT NULL::uuid $$",
        "ALTER FUNCTION public.boards_current_tenant() RENAME TO gone",
        "ALTER EVENT TRIGGER boards_tenant_ddl_command_end DISABLE",
        "DROP EVENT TRIGGER boards_tenant_ddl_command_end",
        "CREATE EVENT TRIGGER evil ON ddl_command_start EXECUTE FUNCTION evil.nothing()",
        "DROP POLICY boards_tenant_isolation ON boards.boards",
        "CREATE POLICY see_all ON boards.boards FOR SELECT USING (true)",
        "ALTER POLICY tenants_own_row ON boards.tenants USING (true)",
        "ALTER TABLE boards.boards DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE boards.users NO FORCE ROW LEVEL SECURITY",
        "ALTER TABLE boards.boards OWNER TO boards_app",
        "ALTER TABLE boards.generations ALTER COLUMN tenant_id DROP DEFAULT",
        "CREATE TRIGGER evil AFTER INSERT ON boards.boards FOR EACH ROW EXECUTE FUNCTION evil.nothing()",
        "ALTER TABLE boards.tenants DISABLE TRIGGER tenants_changed",
        "SET session_replication_role = replica",
        "GRANT TRUNCATE ON boards.boards TO boards_app; TRUNCATE boards.boards CASCADE",
    ]
    .iter()
    .map(|s| ((*s).to_owned(), true))
    .collect();
    exec(
        &mut app,
        "CREATE FUNCTION evil.nothing() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
    );
    let failures = failures_of(&mut app, &statements, PERMISSION_DENIED);
    assert!(
        failures.is_empty(),
        "not refused with 42501:\n{}",
        failures.join("\n")
    );
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 1 (DESIGN section 6: "registering an existing slug silently returned the other
/// organisation's tenant"): A's subject registers an organisation with B's slug — refused as
/// taken — and with B's name — a new slug, never B.
#[test]
fn attack_register_the_slug_of_b() {
    let f = fixture();
    let mut app = f.app();
    let subject = text(&mut app, "SELECT boards_authenticate($1)", &[&f.a.token]);
    assert_eq!(subject, "tenant-a-owner");
    let e = refused(
        "register with B's slug",
        app.query(
            "SELECT boards_tenant_register('Tenant B', 'eve@evil.example', NULL, NULL, 'tenant-b')",
            &[],
        ),
        UNIQUE_VIOLATION,
    );
    // One answer for every unavailable slug, naming nothing.
    assert_message_contains("register with B's slug", &e, "slug is not available");
    let registered = text(
        &mut app,
        "SELECT boards_tenant_register('Tenant B', 'eve@evil.example', NULL, NULL, NULL, false)->>'tenant_slug'",
        &[],
    );
    assert_ne!(registered, "tenant-b", "registration handed over B");
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

/// Promise 6: `boards_ensure_tenant_isolation` never answers questions about B for A: asked
/// about B's tenant, users or rows it says `Access denied`, and about B's rows within A's own
/// tenant it answers exactly as for ids that exist nowhere.
#[test]
fn attack_ensure_isolation_as_an_oracle() {
    let f = fixture();
    let mut app = f.attacker();
    let ensure = |app: &mut Client,
                  user: Option<&str>,
                  tenant: &str,
                  kind: &str,
                  id: Option<&str>| {
        app.execute(
            "SELECT boards_ensure_tenant_isolation($1::text::uuid, $2::text::uuid, $3, $4::text::uuid)",
            &[&user, &tenant, &kind, &id],
        )
    };
    for (what, user, tenant, kind, id) in [
        (
            "B's board in B",
            Some(f.b.owner_id.as_str()),
            f.b.id.as_str(),
            "board",
            Some(f.b.boards[0].as_str()),
        ),
        (
            "B's tenant, no resource",
            None,
            f.b.id.as_str(),
            "board",
            None,
        ),
        (
            "B's user in A",
            Some(f.b.owner_id.as_str()),
            f.a.id.as_str(),
            "user",
            None,
        ),
    ] {
        let e = refused(
            what,
            ensure(&mut app, user, tenant, kind, id),
            PERMISSION_DENIED,
        );
        assert_eq!(e.message(), ACCESS_DENIED, "{what}");
    }
    let random = uuid::Uuid::new_v4().to_string();
    for (kind, b_id) in [
        ("board", &f.b.boards[0]),
        ("generation", &f.b.generations[0]),
        ("user", &f.b.member_id),
        ("public.notes", &f.b.notes[0]),
    ] {
        let mut answer = |id: &str| {
            let e = refused(
                kind,
                ensure(&mut app, Some(&f.a.owner_id), &f.a.id, kind, Some(id)),
                PERMISSION_DENIED,
            );
            (
                e.message().to_owned(),
                e.detail().unwrap_or_default().replace(id, "<id>"),
            )
        };
        let with_b = answer(b_id);
        assert_eq!(
            with_b,
            answer(&random),
            "{kind}: B's row is answered differently"
        );
    }
    f.assert_sees_nothing_of_b(&mut app);
    f.assert_b_untouched();
}

// =============================================================================================
// Side channels, owners, suspension edge cases, connection reuse, library loading
// =============================================================================================

/// Promise 6: planner statistics. After ANALYZE (by the superuser, and by A on the table it
/// owns, with extended statistics of its own), `pg_stats`,
/// `pg_stats_ext` and `pg_stats_ext_exprs` show A nothing of B's values, and `pg_statistic`
/// is not readable.
#[test]
fn attack_planner_statistics() {
    let f = fixture();
    exec(&mut f.db.superuser(), "ANALYZE");
    let mut app = f.attacker();
    // What the owner may do: statistics objects in its own schema and ANALYZE; an index needs
    // CREATE on the table's schema, which the app does not have on public.
    for (sql, refusal) in [
        (
            "CREATE STATISTICS evil.owned_mcv (mcv) ON tenant_id, body FROM public.owned",
            None,
        ),
        (
            "CREATE STATISTICS evil.owned_expr ON lower(body) FROM public.owned",
            None,
        ),
        (
            "CREATE INDEX owned_lower_body ON public.owned (lower(body))",
            Some(PERMISSION_DENIED),
        ),
        ("ANALYZE public.owned", None),
    ] {
        let result = app.batch_execute(sql);
        match refusal {
            None => {
                result.unwrap_or_else(|e| panic!("set-up: {sql}: {}", error_text(&e)));
            }
            Some(code) => {
                refused(sql, result, code);
            }
        }
    }
    // The statistics exist and hold B's values (as the superuser reads them), in each view
    // searched below: were any to show them to the attacker, the search would find them.
    let views = [
        (
            "pg_stats",
            "coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '')",
        ),
        ("pg_stats_ext", "coalesce(most_common_vals::text, '')"),
        (
            "pg_stats_ext_exprs",
            "coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '')",
        ),
    ];
    let mut su = f.db.superuser();
    for (view, values) in views {
        let held = count(
            &mut su,
            &format!(
                "SELECT count(*) FROM pg_catalog.{view}
                 WHERE schemaname = 'public' AND tablename = 'owned'
                   AND ({values} LIKE '%{}%' OR {values} LIKE '%tenant-b%')",
                f.b.id
            ),
        );
        assert!(
            held > 0,
            "set-up: no statistics of public.owned in {view} hold B's values"
        );
    }
    let mut leaks = Vec::new();
    for (view, values) in views {
        let rows = column(
            &mut app,
            &format!("SELECT {view}::text || ' ' || {values} FROM {view}"),
        );
        for row in rows {
            if row.contains("tenant-b") || row.contains(&f.b.id) || row.contains(&f.b.owner_id) {
                leaks.push(format!("{view}: {row}"));
            }
        }
    }
    refused(
        "pg_statistic",
        app.query("SELECT * FROM pg_statistic", &[]),
        PERMISSION_DENIED,
    );
    f.assert_b_untouched();
    assert!(
        leaks.is_empty(),
        "statistics show B's values:\n{}",
        leaks.join("\n")
    );
}

/// Promise 3 ("the table owner is bound too") holds for queries, not for DDL: the owner of a
/// table can run DDL that evaluates expressions over every row (a CHECK constraint, a column
/// type change with USING), which row level security does not filter — Postgres has no hook to
/// stop that before it runs. So the role an API connects as must own no tenant table (README,
/// Security), and an app role that does is what the audit reports as
/// `login_role_owns_tenant_table` (high). The fixture's boards_app owns `public.owned`.
#[test]
fn attack_table_owner_reads_rows_of_b_through_ddl() {
    let f = fixture();
    let mut admin = f.db.admin();
    let rows = admin
        .query(
            "SELECT severity, object_name FROM boards_tenant_audit()
             WHERE check_name = 'login_role_owns_tenant_table'",
            &[],
        )
        .unwrap_or_else(|e| panic!("audit: {}", error_text(&e)));
    assert!(
        rows.iter()
            .any(|r| r.get::<_, String>(0) == "high" && r.get::<_, String>(1) == "public.owned"),
        "the audit does not report that a login role owns public.owned"
    );
    // Handing a protected table to the app role is as visible as creating it owned.
    f.db.superuser()
        .batch_execute("ALTER TABLE public.notes OWNER TO boards_app")
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let owned: Vec<String> = admin
        .query(
            "SELECT object_name FROM boards_tenant_audit()
             WHERE check_name = 'login_role_owns_tenant_table' ORDER BY 1",
            &[],
        )
        .unwrap_or_else(|e| panic!("audit: {}", error_text(&e)))
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(owned, ["public.notes", "public.owned"]);
    f.assert_b_untouched();
}

/// Promise 6: a foreign key from a table of A's own schema to a protected table (through the
/// REFERENCES privilege `GRANT ALL` includes) — Postgres checks foreign keys
/// without row level security, so such a key would tell A whether B has a row with a given
/// id. Creating it must be refused, or the probe must answer B's row like a missing one.
#[test]
fn attack_references_privilege_probe() {
    let f = fixture();
    let mut app = f.attacker();
    // Through `GRANT ALL`'s REFERENCES, which the DDL guard revokes; the owner's implicit one
    // is the owned-table deployment the audit reports (see the DDL test above).
    let created = app.batch_execute(
        "CREATE TABLE evil.probe_notes (t uuid, n uuid,
             FOREIGN KEY (t, n) REFERENCES public.notes (tenant_id, id))",
    );
    refused("a foreign key to public.notes", created, PERMISSION_DENIED);
    f.assert_b_untouched();
}

/// Promise 2 and 4: a session acting for B when B is suspended, running its queries in
/// parallel workers only: the workers must not read B's rows either.
#[test]
fn attack_suspended_tenant_in_parallel_workers() {
    let mut f = fixture();
    f.add_bulk_notes();
    let mut in_b = f.app_as(&f.b);
    exec(&mut in_b, FORCE_PARALLEL);
    // Control: before the suspension, B's session reads exactly B's notes, every row through
    // a parallel worker.
    install_worker_probe(&f.db);
    let mut seen: Vec<String> = rows_from_workers(&mut in_b, "id::text", "FROM public.notes")
        .iter()
        .map(|row| row.get(1))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        f.note_ids(&f.b),
        "control: B's session reads B's notes in parallel"
    );
    exec(
        &mut f.db.admin(),
        "SELECT boards_tenant_suspend('tenant-b')",
    );
    f.remember();
    // The policy's scan, run by workers, returns nothing.
    assert_eq!(
        rows_from_workers(&mut in_b, "id::text", "FROM public.notes").len(),
        0,
        "parallel workers read rows of a suspended tenant"
    );
    // Nor do filters on the context functions. (Not all of these plans are parallel: on
    // PostgreSQL 15 a filter that the planner turns into a one-time filter above the policy's
    // init plan keeps the Gather away; the scan above is the parallel one.)
    for sql in [
        "SELECT count(*) FROM public.notes WHERE tenant_id = boards_current_tenant()",
        "SELECT count(*) FROM public.notes WHERE boards_current_tenant_slug() = 'tenant-b'",
        "SELECT count(*) FROM public.notes WHERE boards_current_user_id() IS NOT NULL",
    ] {
        assert_eq!(
            count(&mut in_b, sql),
            0,
            "{sql}: rows of a suspended tenant"
        );
    }
    f.assert_b_untouched();
}

/// Promise 2 ("from the next statement on"): a READ COMMITTED transaction of B that is open
/// when B is suspended sees and writes nothing of B from its next statement on.
#[test]
fn attack_open_transaction_in_b_across_its_suspension() {
    let mut f = fixture();
    let mut in_b = f.app_as(&f.b);
    exec(&mut in_b, "BEGIN ISOLATION LEVEL READ COMMITTED");
    assert!(
        count(&mut in_b, "SELECT count(*) FROM public.notes") > 0,
        "control: B's transaction reads B's notes"
    );
    exec(
        &mut f.db.admin(),
        "SELECT boards_tenant_suspend('tenant-b')",
    );
    f.remember();
    assert_eq!(
        query_text(
            &mut in_b,
            "SELECT public.boards_current_tenant()::text",
            &[]
        ),
        None,
        "the open transaction still acts for the suspended tenant"
    );
    for table in TENANT_TABLES {
        let n = count(&mut in_b, &format!("SELECT count(*) FROM {table}"));
        assert_eq!(n, 0, "{table}: the open transaction still reads B's rows");
    }
    refused(
        "insert in the open transaction",
        in_b.execute(
            "INSERT INTO public.notes (body) VALUES ('after suspension')",
            &[],
        ),
        PERMISSION_DENIED,
    );
    exec(&mut in_b, "ROLLBACK");
    f.assert_b_untouched();
}

/// Promise 5: a connection that served B and was reset the documented ways — DISCARD ALL,
/// RESET ALL, boards_reset_tenant(), the end (commit or abort) of a transaction-scoped
/// context — serves A's next request without any of B's rows.
#[test]
fn attack_connection_reused_after_b() {
    let f = fixture();
    let check = |conn: &mut Client, how: &str| {
        for table in TENANT_TABLES {
            let n = count(conn, &format!("SELECT count(*) FROM {table}"));
            assert_eq!(n, 0, "after {how}: {table} shows rows without a context");
        }
        f.assert_sees_nothing_of_b(conn);
        set_context(conn, &f.a.token, None);
        f.assert_sees_nothing_of_b(conn);
    };
    for reset in ["DISCARD ALL", "RESET ALL", "SELECT boards_reset_tenant()"] {
        let mut conn = f.app_as(&f.b);
        exec(&mut conn, reset);
        check(&mut conn, reset);
    }
    for end in ["COMMIT", "ROLLBACK"] {
        let mut conn = f.app();
        exec(&mut conn, "BEGIN");
        exec_params(
            &mut conn,
            "SELECT * FROM boards_set_tenant_from_jwt($1, NULL, true)",
            &[&f.b.token],
        );
        assert!(
            count(&mut conn, "SELECT count(*) FROM boards.boards") > 0,
            "control"
        );
        exec(&mut conn, end);
        check(
            &mut conn,
            &format!("a transaction-scoped context and {end}"),
        );
    }
    f.assert_b_untouched();
}

/// Promise 2 and 4: the context functions evaluated inside parallel workers, for a session
/// whose tenant B was suspended: in a worker as in the leader they must name no tenant, so
/// a filter on them (`WHERE owner = boards_current_tenant()` in a view or an application
/// query over a table keyed another way) yields nothing.
#[test]
fn attack_context_functions_in_parallel_workers_after_suspension() {
    let mut f = fixture();
    install_worker_probe(&f.db);
    let mut in_b = f.app_as(&f.b);
    exec(
        &mut in_b,
        &format!(
            "CREATE TABLE evil.numbers AS SELECT g AS n FROM generate_series(1, 10000) g;
             ANALYZE evil.numbers;
             {FORCE_PARALLEL}"
        ),
    );
    const CONTEXT: &str = "boards_current_tenant()::text, boards_current_tenant_slug(),
                           boards_current_user_id()::text";
    /// What the context functions return in each of the rows the workers computed.
    fn context_in_workers(in_b: &mut Client) -> Vec<[Option<String>; 3]> {
        rows_from_workers(in_b, CONTEXT, "FROM evil.numbers")
            .iter()
            .map(|row| [row.get(1), row.get(2), row.get(3)])
            .collect()
    }
    let probes = [
        "SELECT count(*) FROM evil.numbers WHERE boards_current_tenant() IS NOT NULL",
        "SELECT count(*) FROM evil.numbers WHERE boards_current_tenant_slug() = 'tenant-b'",
        "SELECT count(*) FROM evil.numbers WHERE boards_current_user_id() IS NOT NULL",
    ];
    // Before the suspension the workers' context functions name B in every row, and the
    // filters on them match every row: what follows is the suspension's doing, not probes
    // that could never match.
    let b = [
        Some(f.b.id.clone()),
        Some("tenant-b".to_owned()),
        Some(f.b.owner_id.clone()),
    ];
    let before = context_in_workers(&mut in_b);
    assert_eq!(before.len(), 10000, "rows computed by workers");
    assert!(
        before.iter().all(|context| *context == b),
        "before the suspension, a worker named another context than B's: {:?}",
        before.iter().find(|context| **context != b)
    );
    for sql in probes {
        assert!(workers_launched(&mut in_b, sql) >= 1, "{sql}: not parallel");
        assert_eq!(count(&mut in_b, sql), 10000, "{sql}: before the suspension");
    }
    exec(
        &mut f.db.admin(),
        "SELECT boards_tenant_suspend('tenant-b')",
    );
    f.remember();
    let after = context_in_workers(&mut in_b);
    assert_eq!(after.len(), 10000, "rows computed by workers");
    assert!(
        after.iter().all(|context| *context == [None, None, None]),
        "parallel workers act for the suspended tenant: {:?}",
        after.iter().find(|context| **context != [None, None, None])
    );
    for sql in probes {
        assert!(workers_launched(&mut in_b, sql) >= 1, "{sql}: not parallel");
        assert_eq!(
            count(&mut in_b, sql),
            0,
            "{sql}: parallel workers act for the suspended tenant"
        );
    }
    assert_eq!(
        query_text(
            &mut in_b,
            "SELECT public.boards_current_tenant()::text",
            &[]
        ),
        None,
        "control: the leader acts for no tenant"
    );
    f.assert_b_untouched();
}
