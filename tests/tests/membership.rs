//! Membership attacks, as the app role: revocation that sticks (a removed member's still-valid
//! token, in a new connection and in a session already set; a platform-wide block), roles in
//! policies (members read, only admins delete), and in-tenant self-service (invitations used
//! twice, after expiry, by another email, from another tenant, with a guessed secret; a member
//! or a demoted admin managing; granting above one's own role; the last owner).
//!
//! Tenants `acme` (owner `olga`, admin `adam`, member `mia`) and `globex` (owner `gus`); the
//! tokens carry `tenant`, `email` and `iat`, signed by the HS256 test key.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb};
use boards_tenant_tests::{assert_sqlstate, count, exec, query_text, set_context, try_context};
use serde_json::json;

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
use boards_tenant_tests::sqlstate::INVALID_GRANT_OPERATION;
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_IN_PREREQUISITE_STATE;
use boards_tenant_tests::sqlstate::UNDEFINED_OBJECT;
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;

fn token_with(subject: &str, tenant: &str, email: Option<&str>, verified: bool) -> String {
    let mut claims = json!({
        "sub": subject, "tenant": tenant, "iat": jwt::now(), "exp": jwt::now() + 3600,
        "email_verified": verified,
    });
    if let Some(email) = email {
        claims["email"] = json!(email);
    }
    mint("HS256", &test_kid("HS256"), &claims)
}

/// A token of `subject` for `tenant`, with the verified address `<subject>@<tenant>.example`.
fn token(subject: &str, tenant: &str) -> String {
    let email = format!("{subject}@{tenant}.example");
    token_with(subject, tenant, Some(&email), true)
}

fn setup() -> TestDb<'static> {
    let db = Cluster::shared().create_database();
    let mut admin = db.admin();
    jwt::install_test_keys(&mut admin);
    exec(
        &mut admin,
        "SELECT * FROM boards_tenant_create('Acme', 'acme');
         SELECT * FROM boards_tenant_create('Globex', 'globex');
         SELECT boards_tenant_add_member('acme', 'olga', 'owner');
         SELECT boards_tenant_add_member('acme', 'adam', 'admin');
         SELECT boards_tenant_add_member('acme', 'mia', 'member');
         SELECT boards_tenant_add_member('globex', 'gus', 'owner');",
    );
    db
}

/// An app connection in `subject`'s context for `tenant`.
fn acting(db: &TestDb, subject: &str, tenant: &str) -> Client {
    let mut app = db.app();
    set_context(&mut app, &token(subject, tenant), None);
    app
}

fn role(app: &mut Client) -> Option<String> {
    query_text(app, "SELECT boards_current_role()", &[])
}

fn boards_seen(app: &mut Client) -> i64 {
    count(app, "SELECT count(*) FROM boards.users")
}

/// Invites `email` as `role` in the caller's tenant; the secret.
fn invite(app: &mut Client, email: &str, role: &str) -> Result<String, postgres::Error> {
    app.query_one(
        "SELECT secret FROM boards_invitation_create($1, $2)",
        &[&email, &role],
    )
    .map(|row| row.get(0))
}

fn accept(app: &mut Client, secret: &str) -> Result<String, postgres::Error> {
    app.query_one(
        "SELECT tenant_slug FROM boards_invitation_accept($1)",
        &[&secret],
    )
    .map(|row| row.get(0))
}

/// An identity-only context for `token` (no tenant), as an invitee has before accepting.
fn authenticated(db: &TestDb, token: &str) -> Client {
    let mut app = db.app();
    app.query_one("SELECT boards_authenticate($1)", &[&token])
        .unwrap_or_else(|e| panic!("boards_authenticate: {e}"));
    app
}

// ---------------------------------------------------------------------------------------------
// Point 4: revocation that sticks

#[test]
fn a_removed_member_does_not_come_back_with_the_same_token() {
    let db = setup();
    let mut admin = db.admin();
    let rita = token("rita", "acme");
    // First use makes rita a member just in time.
    let mut app = db.app();
    set_context(&mut app, &rita, None);
    assert_eq!(role(&mut app).as_deref(), Some("member"));
    exec(
        &mut admin,
        "SELECT boards_tenant_remove_member('acme', 'rita')",
    );
    // The session already set fails closed from its next statement ...
    assert_eq!(role(&mut app), None);
    assert_eq!(boards_seen(&mut app), 0);
    // ... and the same still-valid token does not re-create the membership.
    let mut fresh = db.app();
    let message = assert_sqlstate(try_context(&mut fresh, &rita, None), PERMISSION_DENIED);
    assert!(message.contains("removed"), "{message}");
    assert_eq!(
        count(
            &mut db.superuser(),
            "SELECT count(*) FROM boards.users WHERE auth_subject = 'rita'"
        ),
        0
    );
    // An admin re-adding her lifts the block.
    exec(
        &mut admin,
        "SELECT boards_tenant_add_member('acme', 'rita')",
    );
    set_context(&mut fresh, &rita, None);
    assert_eq!(role(&mut fresh).as_deref(), Some("member"));
}

#[test]
fn a_removal_by_an_owner_sticks_too_and_ends_the_session() {
    let db = setup();
    let mut mia = acting(&db, "mia", "acme");
    let mut olga = acting(&db, "olga", "acme");
    exec(&mut olga, "SELECT boards_member_remove('mia')");
    assert_eq!(role(&mut mia), None);
    assert_eq!(boards_seen(&mut mia), 0);
    assert_sqlstate(
        try_context(&mut db.app(), &token("mia", "acme"), None),
        PERMISSION_DENIED,
    );
}

#[test]
fn a_demotion_shows_from_the_next_statement_and_a_demoted_admin_cannot_invite() {
    let db = setup();
    let mut adam = acting(&db, "adam", "acme");
    assert_eq!(role(&mut adam).as_deref(), Some("admin"));
    invite(&mut adam, "first@acme.example", "member").expect("an admin invites");
    let mut olga = acting(&db, "olga", "acme");
    exec(&mut olga, "SELECT boards_member_set_role('adam', 'member')");
    assert_eq!(role(&mut adam).as_deref(), Some("member"));
    assert_sqlstate(
        invite(&mut adam, "second@acme.example", "member"),
        PERMISSION_DENIED,
    );
}

#[test]
fn a_platform_block_ends_every_context_of_the_subject() {
    let db = setup();
    let mut admin = db.admin();
    let mut mia = acting(&db, "mia", "acme");
    // An identity-only session (registration, invitations, operators read its subject).
    let mut identity = authenticated(&db, &token("mia", "globex"));
    exec(
        &mut admin,
        "SELECT boards_subject_block('mia', 'compromised')",
    );
    assert_eq!(role(&mut mia), None);
    assert_eq!(boards_seen(&mut mia), 0);
    assert_eq!(
        query_text(&mut identity, "SELECT boards_current_subject()", &[]),
        None
    );
    assert_eq!(
        query_text(&mut identity, "SELECT boards_current_claims()::text", &[]),
        None
    );
    let mia_token = token("mia", "acme");
    assert_sqlstate(
        try_context(&mut db.app(), &mia_token, None),
        PERMISSION_DENIED,
    );
    // Nor can the subject join another tenant on first use, or authenticate.
    assert_sqlstate(
        try_context(&mut db.app(), &token("mia", "globex"), None),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        db.app()
            .query_one("SELECT boards_authenticate($1)", &[&mia_token]),
        PERMISSION_DENIED,
    );
    // Others are untouched; the app role cannot ask about other subjects.
    let mut olga = acting(&db, "olga", "acme");
    assert_eq!(role(&mut olga).as_deref(), Some("owner"));
    assert_eq!(
        query_text(
            &mut olga,
            "SELECT boards.caller_subject_blocked('mia')::text",
            &[]
        ),
        None
    );
    assert_sqlstate(
        olga.query_one("SELECT boards_subject_block('gus')", &[]),
        PERMISSION_DENIED,
    );
    exec(&mut admin, "SELECT boards_subject_unblock('mia')");
    assert_eq!(role(&mut mia).as_deref(), Some("member"));
    assert_eq!(
        query_text(&mut identity, "SELECT boards_current_subject()", &[]).as_deref(),
        Some("mia")
    );
}

// ---------------------------------------------------------------------------------------------
// Point 5: roles in policies

#[test]
fn members_read_and_only_admins_delete_through_a_role_policy() {
    let db = setup();
    exec(
        &mut db.superuser(),
        "CREATE TABLE public.docs (tenant_id uuid, id serial, body text, PRIMARY KEY (tenant_id, id));
         SELECT boards_tenant_protect('public.docs');
         GRANT SELECT, INSERT, DELETE ON public.docs TO boards_app;
         GRANT USAGE ON SEQUENCE public.docs_id_seq TO boards_app;
         CREATE POLICY docs_read_members ON public.docs AS RESTRICTIVE FOR SELECT
             USING ((SELECT boards_has_role('member')));
         CREATE POLICY docs_delete_admins ON public.docs AS RESTRICTIVE FOR DELETE
             USING ((SELECT boards_has_role('admin')));",
    );
    let mut mia = acting(&db, "mia", "acme");
    exec(
        &mut mia,
        "INSERT INTO public.docs (body) VALUES ('one'), ('two')",
    );
    assert_eq!(count(&mut mia, "SELECT count(*) FROM public.docs"), 2);
    assert_eq!(
        mia.execute("DELETE FROM public.docs", &[]).expect("delete"),
        0,
        "a member deletes nothing"
    );
    let mut adam = acting(&db, "adam", "acme");
    assert_eq!(
        adam.execute("DELETE FROM public.docs WHERE body = 'one'", &[])
            .expect("delete"),
        1
    );
    assert_eq!(count(&mut mia, "SELECT count(*) FROM public.docs"), 1);
    // An unknown role name is a clear error, not a silent false.
    assert_sqlstate(
        mia.query_one("SELECT boards_has_role('root')", &[]),
        INVALID_PARAMETER,
    );
    // Without a context there is no role.
    let mut nobody = db.app();
    assert_eq!(role(&mut nobody), None);
    assert_eq!(
        query_text(&mut nobody, "SELECT boards_has_role('member')::text", &[]).as_deref(),
        Some("false")
    );
}

// ---------------------------------------------------------------------------------------------
// Point 6: invitations and member management inside the tenant

#[test]
fn an_invitation_is_accepted_once_by_its_address_only() {
    let db = setup();
    let mut olga = acting(&db, "olga", "acme");
    let secret = invite(&mut olga, "Nina@Acme.Example", "admin").expect("invite");
    // Another address, or an unverified one, cannot use it.
    let mut eve = authenticated(
        &db,
        &token_with("eve", "acme", Some("eve@evil.example"), true),
    );
    assert_sqlstate(accept(&mut eve, &secret), PERMISSION_DENIED);
    let mut unverified = authenticated(
        &db,
        &token_with("nina", "acme", Some("nina@acme.example"), false),
    );
    assert_sqlstate(accept(&mut unverified, &secret), PERMISSION_DENIED);
    // The invitee accepts with her own verified token.
    let nina_token = token_with("nina", "acme", Some("nina@acme.example"), true);
    let mut nina = authenticated(&db, &nina_token);
    assert_eq!(accept(&mut nina, &secret).expect("accept"), "acme");
    set_context(&mut nina, &nina_token, None);
    assert_eq!(role(&mut nina).as_deref(), Some("admin"));
    // Used twice: refused.
    assert_sqlstate(accept(&mut nina, &secret), UNIQUE_VIOLATION);
    // Guessed or malformed secrets say nothing about any tenant.
    let guess = format!("bti_{}", "A".repeat(43));
    let message = assert_sqlstate(accept(&mut nina, &guess), UNDEFINED_OBJECT);
    assert_eq!(message, "invitation not found");
    assert_sqlstate(accept(&mut nina, "acme"), UNDEFINED_OBJECT);
    // Only the hash is stored.
    let stored = count(
        &mut db.superuser(),
        &format!("SELECT count(*) FROM boards.invitations WHERE secret_sha256 = sha256('{secret}'::bytea)"),
    );
    assert_eq!(stored, 1);
}

#[test]
fn expired_and_revoked_invitations_are_refused_with_their_own_codes() {
    let db = setup();
    let mut olga = acting(&db, "olga", "acme");
    let expired = invite(&mut olga, "late@acme.example", "member").expect("invite");
    exec(
        &mut db.superuser(),
        "UPDATE boards.invitations SET expires_at = now() - interval '1 minute'
         WHERE email = 'late@acme.example'",
    );
    let mut late = authenticated(&db, &token("late", "acme"));
    assert_sqlstate(accept(&mut late, &expired), NOT_IN_PREREQUISITE_STATE);
    let revoked = invite(&mut olga, "gone@acme.example", "member").expect("invite");
    let id = query_text(
        &mut olga,
        "SELECT invitation_id::text FROM boards_invitation_list() WHERE email = 'gone@acme.example'",
        &[],
    )
    .expect("listed");
    exec(
        &mut olga,
        &format!("SELECT boards_invitation_revoke('{id}')"),
    );
    let mut gone = authenticated(&db, &token("gone", "acme"));
    assert_sqlstate(accept(&mut gone, &revoked), INVALID_GRANT_OPERATION);
    // The audit reports the expired invitation until it is purged.
    let mut admin = db.admin();
    let findings = |admin: &mut Client| {
        count(
            admin,
            "SELECT count(*) FROM boards_tenant_audit() WHERE check_name = 'expired_invitations'",
        )
    };
    assert_eq!(findings(&mut admin), 1);
    assert_eq!(
        count(&mut admin, "SELECT boards_tenant_purge_invitations()"),
        2
    );
    assert_eq!(findings(&mut admin), 0);
}

#[test]
fn another_tenants_invitations_are_invisible_and_unusable() {
    let db = setup();
    let mut gus = acting(&db, "gus", "globex");
    invite(&mut gus, "x@globex.example", "member").expect("invite");
    let globex_id = query_text(
        &mut gus,
        "SELECT invitation_id::text FROM boards_invitation_list()",
        &[],
    )
    .expect("listed");
    let mut olga = acting(&db, "olga", "acme");
    assert_eq!(
        count(&mut olga, "SELECT count(*) FROM boards_invitation_list()"),
        0
    );
    let message = assert_sqlstate(
        olga.query_one(
            "SELECT boards_invitation_revoke($1::text::uuid)",
            &[&globex_id],
        ),
        UNDEFINED_OBJECT,
    );
    let unknown = assert_sqlstate(
        olga.query_one(
            "SELECT boards_invitation_revoke('00000000-0000-0000-0000-000000000001')",
            &[],
        ),
        UNDEFINED_OBJECT,
    );
    assert_eq!(
        message, unknown,
        "another tenant's id reads like an unknown one"
    );
    // The app role cannot read the table itself.
    assert_sqlstate(
        olga.query_one("SELECT count(*) FROM boards.invitations", &[]),
        PERMISSION_DENIED,
    );
}

#[test]
fn members_cannot_manage_and_nobody_grants_above_their_role() {
    let db = setup();
    let mut mia = acting(&db, "mia", "acme");
    assert_sqlstate(
        invite(&mut mia, "a@acme.example", "member"),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        mia.query("SELECT * FROM boards_invitation_list()", &[]),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        mia.query_one(
            "SELECT boards_invitation_revoke('00000000-0000-0000-0000-000000000001')",
            &[],
        ),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        mia.query_one("SELECT boards_member_remove('adam')", &[]),
        PERMISSION_DENIED,
    );
    // Any member may list the members.
    assert_eq!(
        count(&mut mia, "SELECT count(*) FROM boards_member_list()"),
        3
    );
    let mut adam = acting(&db, "adam", "acme");
    assert_sqlstate(
        invite(&mut adam, "boss@acme.example", "owner"),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        adam.query_one("SELECT boards_member_set_role('mia', 'owner')", &[]),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        adam.query_one("SELECT boards_member_remove('olga')", &[]),
        PERMISSION_DENIED,
    );
    assert_sqlstate(
        adam.query_one("SELECT boards_member_set_role('olga', 'member')", &[]),
        PERMISSION_DENIED,
    );
    exec(&mut adam, "SELECT boards_member_set_role('mia', 'admin')");
    // A context without a subject (a trusted server role) has no role to manage with.
    let mut server = db.admin();
    exec(&mut server, "SELECT * FROM boards_set_tenant('acme')");
    assert_sqlstate(
        invite(&mut server, "a@acme.example", "member"),
        PERMISSION_DENIED,
    );
}

#[test]
fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let db = setup();
    let mut olga = acting(&db, "olga", "acme");
    assert_sqlstate(
        olga.query_one("SELECT boards_member_remove('olga')", &[]),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert_sqlstate(
        olga.query_one("SELECT boards_member_set_role('olga', 'admin')", &[]),
        NOT_IN_PREREQUISITE_STATE,
    );
    exec(&mut olga, "SELECT boards_member_set_role('adam', 'owner')");
    exec(&mut olga, "SELECT boards_member_set_role('olga', 'admin')");
    assert_eq!(role(&mut olga).as_deref(), Some("admin"));
}

#[test]
fn a_tenant_created_with_an_admin_email_awaits_its_owner_in_the_audit() {
    let db = setup();
    let mut admin = db.admin();
    exec(
        &mut admin,
        r#"SELECT * FROM boards_tenant_create('Initech', 'initech', '{"admin_email": "peter@initech.example"}');
           SELECT boards_tenant_add_member('initech', 'milton', 'member');"#,
    );
    let check = |admin: &mut Client, name: &str| {
        count(
            admin,
            &format!(
                "SELECT count(*) FROM boards_tenant_audit('initech') WHERE check_name = '{name}'"
            ),
        )
    };
    assert_eq!(check(&mut admin, "tenant_without_owner"), 0);
    assert_eq!(check(&mut admin, "owner_invitation_pending"), 1);
    // The admin gets a deliverable secret (replacing the recorded one); the owner accepts.
    let secret = query_text(
        &mut admin,
        "SELECT secret FROM boards_tenant_invite_owner('initech', 'peter@initech.example')",
        &[],
    )
    .expect("secret");
    let peter_token = token("peter", "initech");
    let mut peter = authenticated(&db, &peter_token);
    assert_eq!(accept(&mut peter, &secret).expect("accept"), "initech");
    set_context(&mut peter, &peter_token, None);
    assert_eq!(role(&mut peter).as_deref(), Some("owner"));
    assert_eq!(check(&mut admin, "owner_invitation_pending"), 0);
    // An expired owner invitation no longer excuses a tenant without owner.
    exec(
        &mut admin,
        r#"SELECT * FROM boards_tenant_create('Hooli', 'hooli', '{"admin_email": "gavin@hooli.example"}');
           SELECT boards_tenant_add_member('hooli', 'dinesh', 'member');"#,
    );
    exec(
        &mut db.superuser(),
        "UPDATE boards.invitations i SET expires_at = now() - interval '1 day'
         FROM boards.tenants t WHERE t.id = i.tenant_id AND t.slug = 'hooli'",
    );
    assert_eq!(
        count(
            &mut admin,
            "SELECT count(*) FROM boards_tenant_audit('hooli') WHERE check_name = 'tenant_without_owner'"
        ),
        1
    );
}
