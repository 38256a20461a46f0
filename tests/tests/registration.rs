//! Self-service registration: `boards_tenant_register` and
//! `boards_tenant_registration_status`, called as the app role by a subject who proved who
//! they are with `boards_authenticate(token)`, in multi-tenant mode.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};
use std::thread;

use boards_tenant_harness::{jwt, Cluster, TestDb};
use boards_tenant_tests::{assert_sqlstate, assert_sqlstate_in, error_text, query_text};
use postgres::types::ToSql;
use postgres::Client;
use serde_json::{json, Value};

use boards_tenant_tests::sqlstate::INSUFFICIENT_PRIVILEGE as PERMISSION_DENIED;
use boards_tenant_tests::sqlstate::INVALID_AUTHORIZATION_SPECIFICATION as UNAUTHENTICATED;
use boards_tenant_tests::sqlstate::INVALID_PARAMETER_VALUE as INVALID_PARAMETER;
use boards_tenant_tests::sqlstate::OBJECT_NOT_IN_PREREQUISITE_STATE as NOT_IN_PREREQUISITE_STATE;
use boards_tenant_tests::sqlstate::PROGRAM_LIMIT_EXCEEDED as LIMIT_EXCEEDED;
use boards_tenant_tests::sqlstate::UNIQUE_VIOLATION;

const BASE_URL: &str = "https://boards.example.com";

/// A fresh database in multi-tenant mode with the test keys installed.
fn multi_tenant_db() -> TestDb<'static> {
    let db = Cluster::shared().create_database();
    db.set("boards.multi_tenant_mode", "on");
    jwt::install_test_keys(&mut db.admin());
    db
}

/// A token for `subject`, with `extra` claims merged in.
fn token(subject: &str, extra: Value) -> String {
    let mut claims = json!({"iat": jwt::now(), "sub": subject, "exp": jwt::now() + 3600});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    jwt::mint("HS256", &jwt::test_kid("HS256"), &claims)
}

/// A token of `subject` with a verified email address.
fn token_with_email(subject: &str, email: &str) -> String {
    token(subject, json!({"email": email, "email_verified": true}))
}

/// An app connection authenticated as the token's subject (no tenant).
#[track_caller]
fn authenticated(db: &TestDb, token: &str) -> Client {
    let mut app = db.app();
    app.query_one("SELECT boards_authenticate($1)", &[&token])
        .unwrap_or_else(|e| panic!("boards_authenticate: {}", error_text(&e)));
    app
}

/// What a registration asks for; `None` leaves an argument out (its default applies).
#[derive(Clone, Default)]
struct Request<'a> {
    name: &'a str,
    email: &'a str,
    use_case: Option<&'a str>,
    size: Option<&'a str>,
    slug: Option<&'a str>,
    sample_data: Option<bool>,
}

impl<'a> Request<'a> {
    fn new(name: &'a str, email: &'a str) -> Self {
        Request {
            name,
            email,
            // Sample rows only where a test looks at them.
            sample_data: Some(false),
            ..Request::default()
        }
    }
}

fn try_register(app: &mut Client, req: &Request) -> Result<Value, postgres::Error> {
    let mut sql = String::from(
        "SELECT boards_tenant_register($1, $2, use_case => $3, organization_size => $4, \
         organization_slug => $5",
    );
    let mut params: Vec<&(dyn ToSql + Sync)> =
        vec![&req.name, &req.email, &req.use_case, &req.size, &req.slug];
    if let Some(sample) = &req.sample_data {
        sql.push_str(", include_sample_data => $6");
        params.push(sample);
    }
    sql.push_str(")::text");
    let text: String = app.query_one(&sql, &params)?.get(0);
    Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("response {text:?}: {e}")))
}

#[track_caller]
fn register(app: &mut Client, req: &Request) -> Value {
    try_register(app, req)
        .unwrap_or_else(|e| panic!("registering {:?}: {}", req.name, error_text(&e)))
}

fn slug_of(response: &Value) -> String {
    response["tenant_slug"]
        .as_str()
        .unwrap_or_else(|| panic!("no tenant_slug in {response}"))
        .to_owned()
}

/// Rows of `table` in the tenant with `slug`, as the superuser sees them.
fn count_in(su: &mut Client, table: &str, slug: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM {table} x JOIN boards.tenants t ON t.id = x.tenant_id \
         WHERE t.slug = $1"
    );
    su.query_one(&sql, &[&slug])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {}", error_text(&e)))
}

fn tenant_count(su: &mut Client) -> i64 {
    su.query_one("SELECT count(*) FROM boards.tenants", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("counting tenants: {}", error_text(&e)))
}

/// `(subject, role)` of the tenant's members, as the admin lists them.
fn members(db: &TestDb, slug: &str) -> Vec<(String, String)> {
    db.admin()
        .query(
            "SELECT subject, role FROM boards_tenant_members($1)",
            &[&slug],
        )
        .unwrap_or_else(|e| panic!("members of {slug}: {}", error_text(&e)))
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn owner(subject: &str) -> (String, String) {
    (subject.to_owned(), "owner".to_owned())
}

/// Slugs of the tenants `subject` owns.
fn owned_slugs(su: &mut Client, subject: &str) -> Vec<String> {
    su.query(
        "SELECT t.slug FROM boards.users u JOIN boards.tenants t ON t.id = u.tenant_id \
         WHERE u.auth_subject = $1 AND u.role = 'owner' ORDER BY 1",
        &[&subject],
    )
    .unwrap_or_else(|e| panic!("tenants of {subject}: {}", error_text(&e)))
    .iter()
    .map(|row| row.get(0))
    .collect()
}

fn seed_request() -> Request<'static> {
    Request {
        use_case: Some("AI content creation for marketing"),
        size: Some("small"),
        sample_data: None,
        ..Request::new("New Startup Inc", "ceo@new-startup.com")
    }
}

#[test]
fn the_seed_example_registers_new_startup_owned_by_the_caller() {
    let db = multi_tenant_db();
    db.set("boards.frontend_base_url", BASE_URL);
    let mut app = authenticated(&db, &token_with_email("ceo-sub", "ceo@new-startup.com"));
    let response = register(&mut app, &seed_request());

    assert_eq!(response["tenant_slug"], "new-startup");
    assert_eq!(response["organization_name"], "New Startup Inc");
    assert_eq!(response["status"], "active");
    assert_eq!(
        response["dashboard_url"],
        format!("{BASE_URL}/?tenant=new-startup")
    );
    assert_eq!(
        response["api_access"],
        json!({"tenant_header": "X-Tenant: new-startup", "graphql_endpoint": "/graphql"})
    );
    let steps = response["next_steps"]
        .as_array()
        .unwrap_or_else(|| panic!("next_steps is no array: {response}"));
    assert!(
        !steps.is_empty()
            && steps
                .iter()
                .all(|s| s.as_str().is_some_and(|s| !s.is_empty()))
    );

    let id = response["tenant_id"]
        .as_str()
        .unwrap_or_else(|| panic!("tenant_id is no string: {response}"));
    uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("tenant_id {id:?}: {e}"));
    let mut su = db.superuser();
    let stored = su
        .query(
            "SELECT slug, name, status FROM boards.tenants WHERE id = $1::text::uuid",
            &[&id],
        )
        .unwrap_or_else(|e| panic!("reading the tenant: {}", error_text(&e)));
    assert_eq!(stored.len(), 1, "tenant_id {id} is no stored tenant");
    let stored: (String, String, String) = (stored[0].get(0), stored[0].get(1), stored[0].get(2));
    assert_eq!(
        stored,
        (
            "new-startup".to_owned(),
            "New Startup Inc".to_owned(),
            "active".to_owned()
        )
    );

    let owners: Vec<_> = members(&db, "new-startup")
        .into_iter()
        .filter(|(_, role)| role == "owner")
        .collect();
    assert_eq!(owners, [owner("ceo-sub")], "the caller owns the new tenant");

    // include_sample_data defaults to true: real sample rows, in this tenant only.
    for table in [
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        assert_eq!(count_in(&mut su, table, "new-startup"), 1, "{table}");
        assert_eq!(count_in(&mut su, table, "default"), 0, "{table} in default");
    }
    assert_eq!(
        count_in(&mut su, "boards.users", "new-startup"),
        2,
        "the owner and the sample user"
    );

    // The owner can now use the tenant.
    let mut app = db.app();
    let slug = query_text(
        &mut app,
        "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, x_tenant => 'new-startup')",
        &[&token("ceo-sub", json!({}))],
    );
    assert_eq!(slug.as_deref(), Some("new-startup"));
}

#[test]
fn without_a_frontend_url_the_dashboard_url_is_null_and_no_sample_data_when_declined() {
    let db = multi_tenant_db();
    let mut app = authenticated(&db, &token("founder", json!({})));
    let response = register(&mut app, &Request::new("Other Co", "founder@other-co.com"));
    assert_eq!(response["dashboard_url"], Value::Null, "{response}");
    assert!(response.get("dashboard_url").is_some(), "{response}");
    let slug = slug_of(&response);

    let mut su = db.superuser();
    for table in [
        "boards.boards",
        "boards.board_members",
        "boards.generations",
    ] {
        assert_eq!(count_in(&mut su, table, &slug), 0, "{table}");
    }
    assert_eq!(members(&db, &slug), [owner("founder")], "only the owner");
}

#[test]
fn a_requested_slug_is_used() {
    let db = multi_tenant_db();
    let mut app = authenticated(&db, &token("founder", json!({})));
    let response = register(
        &mut app,
        &Request {
            slug: Some("acme-hq"),
            ..Request::new("Acme Corporation", "founder@acme.com")
        },
    );
    assert_eq!(slug_of(&response), "acme-hq");
    assert_eq!(response["api_access"]["tenant_header"], "X-Tenant: acme-hq");
    assert_eq!(members(&db, "acme-hq"), [owner("founder")]);
}

#[test]
fn a_taken_slug_is_refused_and_its_tenant_is_not_handed_over() {
    let db = multi_tenant_db();
    let mut admin = db.admin();
    admin
        .query(
            "SELECT * FROM boards_tenant_create('Globex', 'globex')",
            &[],
        )
        .unwrap_or_else(|e| panic!("creating globex: {}", error_text(&e)));
    admin
        .query(
            "SELECT boards_tenant_add_member('globex', 'hank', 'owner')",
            &[],
        )
        .unwrap_or_else(|e| panic!("adding hank: {}", error_text(&e)));
    let mut su = db.superuser();
    let tenants_before = tenant_count(&mut su);

    let mallory = token("mallory", json!({}));
    let mut app = authenticated(&db, &mallory);
    let message = assert_sqlstate(
        try_register(
            &mut app,
            &Request {
                slug: Some("globex"),
                ..Request::new("Globex", "mallory@globex.com")
            },
        ),
        UNIQUE_VIOLATION,
    );
    // One answer for every unavailable slug, whatever holds it.
    assert_eq!(message, "slug is not available");
    assert_eq!(
        members(&db, "globex"),
        [owner("hank")],
        "globex was handed over"
    );
    assert_eq!(tenant_count(&mut su), tenants_before);
    assert!(owned_slugs(&mut su, "mallory").is_empty());
    // Nor can the registrant act for it.
    let mut app = db.app();
    assert_sqlstate(
        app.query(
            "SELECT * FROM boards_set_tenant_from_jwt($1, x_tenant => 'globex')",
            &[&mallory],
        ),
        PERMISSION_DENIED,
    );
}

#[test]
fn a_generated_slug_that_is_taken_gets_a_suffix() {
    let db = multi_tenant_db();
    let mut first = authenticated(&db, &token("first", json!({})));
    let mut second = authenticated(&db, &token("second", json!({})));
    let a = register(
        &mut first,
        &Request::new("Collision Labs", "a@collision.io"),
    );
    let b = register(
        &mut second,
        &Request::new("Collision Labs", "b@collision.io"),
    );
    let base = slug_of(&a);
    assert_eq!(base, "collision-labs");
    assert_eq!(slug_of(&b), format!("{base}-2"));
    assert_ne!(a["tenant_id"], b["tenant_id"]);
    assert_eq!(members(&db, &base), [owner("first")]);
    assert_eq!(members(&db, &format!("{base}-2")), [owner("second")]);
}

#[test]
fn registration_needs_an_authenticated_subject() {
    let db = multi_tenant_db();
    let mut app = db.app();
    let mut su = db.superuser();
    let before = tenant_count(&mut su);
    assert_sqlstate(
        try_register(&mut app, &Request::new("Anon Inc", "anon@anon.com")),
        UNAUTHENTICATED,
    );
    // A context that was reset is no authentication either.
    let mut app = authenticated(&db, &token("someone", json!({})));
    app.execute("SELECT boards_reset_tenant()", &[])
        .unwrap_or_else(|e| panic!("boards_reset_tenant: {}", error_text(&e)));
    assert_sqlstate(
        try_register(&mut app, &Request::new("Anon Inc", "anon@anon.com")),
        UNAUTHENTICATED,
    );
    assert_eq!(tenant_count(&mut su), before);
}

#[test]
fn registration_is_refused_in_single_tenant_mode() {
    let db = Cluster::shared().create_database();
    jwt::install_test_keys(&mut db.admin());
    let mut app = authenticated(&db, &token("founder", json!({})));
    assert_sqlstate(
        try_register(&mut app, &Request::new("Solo Inc", "founder@solo.com")),
        NOT_IN_PREREQUISITE_STATE,
    );
    assert_eq!(tenant_count(&mut db.superuser()), 1);
}

#[test]
fn registration_refuses_invalid_fields() {
    let db = multi_tenant_db();
    let mut app = authenticated(&db, &token("founder", json!({})));
    let base = Request::new("Valid Org", "founder@valid.com");
    let long_name = "x".repeat(300);
    let cases = [
        (
            "invalid email",
            Request {
                email: "not-an-email",
                ..base.clone()
            },
        ),
        (
            "email without a domain",
            Request {
                email: "founder@localhost",
                ..base.clone()
            },
        ),
        (
            "invalid size",
            Request {
                size: Some("huge"),
                ..base.clone()
            },
        ),
        (
            "invalid requested slug",
            Request {
                slug: Some("Bad Slug!"),
                ..base.clone()
            },
        ),
        (
            "requested slug with an underscore",
            Request {
                slug: Some("bad_slug"),
                ..base.clone()
            },
        ),
        (
            "empty name",
            Request {
                name: "  ",
                ..base.clone()
            },
        ),
        (
            "name of 300 chars",
            Request {
                name: &long_name,
                ..base.clone()
            },
        ),
    ];
    for (what, req) in &cases {
        assert_sqlstate_in(what, try_register(&mut app, req), INVALID_PARAMETER);
    }
    assert_eq!(
        tenant_count(&mut db.superuser()),
        1,
        "a refusal left a tenant"
    );
    // The same connection still registers a valid request.
    let ok = register(&mut app, &base);
    assert_eq!(slug_of(&ok), "valid-org");
}

#[test]
fn allowed_domains_restrict_who_may_register() {
    let db = multi_tenant_db();
    db.set(
        "boards.tenant_registration_allowed_domains",
        "company1.com,company2.com",
    );
    let mut su = db.superuser();

    let mut insider = authenticated(&db, &token_with_email("insider", "me@company1.com"));
    let message = assert_sqlstate(
        try_register(&mut insider, &Request::new("Evil Corp", "ceo@evil.com")),
        PERMISSION_DENIED,
    );
    assert_eq!(
        message,
        "Email domain 'evil.com' is not allowed for registration"
    );

    // The token must prove an address in an allowed domain, too.
    let mut no_email = authenticated(&db, &token("no-email", json!({})));
    assert_sqlstate_in(
        "token without email",
        try_register(
            &mut no_email,
            &Request::new("Sneaky One", "ceo@company1.com"),
        ),
        PERMISSION_DENIED,
    );
    let unverified = token(
        "unverified",
        json!({"email": "me@company1.com", "email_verified": false}),
    );
    let mut unverified = authenticated(&db, &unverified);
    assert_sqlstate_in(
        "unverified token email",
        try_register(
            &mut unverified,
            &Request::new("Sneaky Two", "ceo@company1.com"),
        ),
        PERMISSION_DENIED,
    );
    let mut outsider = authenticated(&db, &token_with_email("outsider", "me@evil.com"));
    let message = assert_sqlstate_in(
        "token email outside the list",
        try_register(
            &mut outsider,
            &Request::new("Sneaky Three", "ceo@company1.com"),
        ),
        PERMISSION_DENIED,
    );
    assert_eq!(
        message,
        "Email domain 'evil.com' is not allowed for registration"
    );
    assert_eq!(
        tenant_count(&mut su),
        1,
        "a refused registration left a tenant"
    );

    // Inside the list, registration works.
    let response = register(
        &mut insider,
        &Request::new("Company One", "ceo@company1.com"),
    );
    assert_eq!(members(&db, &slug_of(&response)), [owner("insider")]);
}

#[test]
fn approval_keeps_a_registered_tenant_pending_until_approved() {
    let db = multi_tenant_db();
    db.set("boards.tenant_registration_requires_approval", "on");
    let founder = token("founder", json!({}));
    let mut app = authenticated(&db, &founder);
    let response = register(&mut app, &Request::new("Pending Co", "founder@pending.com"));
    assert_eq!(response["status"], "pending_approval");
    let slug = slug_of(&response);

    let mut su = db.superuser();
    let status = query_text(
        &mut su,
        "SELECT status FROM boards.tenants WHERE slug = $1",
        &[&slug],
    );
    assert_eq!(status.as_deref(), Some("pending_approval"), "not stored");
    assert_eq!(members(&db, &slug), [owner("founder")]);

    let use_tenant = |app: &mut Client| {
        app.query_one(
            "SELECT tenant_slug FROM boards_set_tenant_from_jwt($1, x_tenant => $2)",
            &[&founder, &slug],
        )
        .map(|row| row.get::<_, String>(0))
    };
    let mut app = db.app();
    assert_sqlstate(use_tenant(&mut app), NOT_IN_PREREQUISITE_STATE);
    let tenant = query_text(&mut app, "SELECT boards_current_tenant()::text", &[]);
    assert_eq!(tenant, None, "a pending tenant became the context");

    db.admin()
        .query("SELECT * FROM boards_tenant_approve($1)", &[&slug])
        .unwrap_or_else(|e| panic!("approving {slug}: {}", error_text(&e)));
    let used = use_tenant(&mut app)
        .unwrap_or_else(|e| panic!("using {slug} after approval: {}", error_text(&e)));
    assert_eq!(used, slug);
}

#[test]
fn the_tenant_limit_refuses_the_fourth_registration_of_a_subject() {
    let db = multi_tenant_db();
    db.set("boards.max_tenants_per_user", "3");
    let mut serial = authenticated(&db, &token("serial", json!({})));
    for name in ["Org One", "Org Two", "Org Three"] {
        register(&mut serial, &Request::new(name, "serial@orgs.com"));
    }
    let mut su = db.superuser();
    let before = tenant_count(&mut su);
    assert_sqlstate(
        try_register(&mut serial, &Request::new("Org Four", "serial@orgs.com")),
        LIMIT_EXCEEDED,
    );
    assert_eq!(tenant_count(&mut su), before);
    assert_eq!(owned_slugs(&mut su, "serial").len(), 3);

    let mut other = authenticated(&db, &token("other", json!({})));
    let response = register(&mut other, &Request::new("Org Four", "other@orgs.com"));
    assert_eq!(members(&db, &slug_of(&response)), [owner("other")]);
}

#[test]
fn concurrent_registrations_of_one_subject_respect_the_limit() {
    const THREADS: usize = 32;
    let db = multi_tenant_db();
    db.set("boards.max_tenants_per_user", "3");
    let racer = token("racer", json!({}));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let mut app = authenticated(&db, &racer);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let name = format!("Race Org {i}");
                barrier.wait();
                try_register(&mut app, &Request::new(&name, "racer@race.com"))
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| panic!("a registration thread panicked"))
        })
        .collect();

    let mut registered = Vec::new();
    for result in results {
        match result {
            Ok(response) => registered.push(slug_of(&response)),
            Err(e) => {
                let code = e.as_db_error().map(|d| d.code().code().to_owned());
                assert_eq!(
                    code.as_deref(),
                    Some(LIMIT_EXCEEDED),
                    "a registration failed otherwise: {}",
                    error_text(&e)
                );
            }
        }
    }
    registered.sort();
    let mut su = db.superuser();
    assert_eq!(owned_slugs(&mut su, "racer"), registered);
    assert_eq!(registered.len(), 3, "registered: {registered:?}");
    assert_eq!(
        tenant_count(&mut su),
        4,
        "tenants other than default and the 3 registered"
    );
}

#[test]
fn concurrent_registrations_of_one_name_get_distinct_slugs() {
    let db = multi_tenant_db();
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = ["twin-a", "twin-b"]
        .into_iter()
        .map(|subject| {
            let mut app = authenticated(&db, &token(subject, json!({})));
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                (
                    subject,
                    try_register(&mut app, &Request::new("Twin Labs", "ceo@twin.io")),
                )
            })
        })
        .collect();
    let mut slugs = BTreeMap::new();
    for handle in handles {
        let (subject, result) = handle
            .join()
            .unwrap_or_else(|_| panic!("a registration thread panicked"));
        let response =
            result.unwrap_or_else(|e| panic!("{subject} could not register: {}", error_text(&e)));
        slugs.insert(slug_of(&response), subject);
    }
    let got: Vec<&String> = slugs.keys().collect();
    assert_eq!(got, ["twin-labs", "twin-labs-2"]);
    for (slug, subject) in &slugs {
        assert_eq!(members(&db, slug), [owner(subject)], "{slug}");
    }
}

fn registration_status(db: &TestDb) -> Value {
    let text = query_text(
        &mut db.app(),
        "SELECT boards_tenant_registration_status()::text",
        &[],
    )
    .unwrap_or_else(|| panic!("boards_tenant_registration_status() is NULL"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status {text:?}: {e}"))
}

#[test]
fn registration_status_reflects_the_settings() {
    let db = Cluster::shared().create_database();
    let status = registration_status(&db);
    for (key, expected) in [
        ("enabled", json!(false)),
        ("requires_approval", json!(false)),
        ("max_tenants_per_user", Value::Null),
        ("allowed_domains", Value::Null),
    ] {
        assert!(status.get(key).is_some(), "{key} missing in {status}");
        assert_eq!(status[key], expected, "{key} by default in {status}");
    }

    db.set("boards.multi_tenant_mode", "on");
    db.set("boards.tenant_registration_requires_approval", "on");
    db.set("boards.max_tenants_per_user", "3");
    db.set(
        "boards.tenant_registration_allowed_domains",
        "company1.com, company2.com",
    );
    let status = registration_status(&db);
    for (key, expected) in [
        ("enabled", json!(true)),
        ("requires_approval", json!(true)),
        ("max_tenants_per_user", json!(3)),
        ("allowed_domains", json!(["company1.com", "company2.com"])),
    ] {
        assert_eq!(status[key], expected, "{key} in {status}");
    }
}

/// Registering the slug a company's email domain maps to does not collect that company's
/// employees: first-use membership through the email domain needs the tenant to list the
/// domain, and registration lists only the registrant's own verified domain.
#[test]
fn a_squatted_slug_does_not_collect_another_companys_employees() {
    let db = Cluster::shared().create_database();
    db.set("boards.multi_tenant_mode", "on");
    jwt::install_test_keys(&mut db.admin());
    let mut mallory = db.app();
    let token = jwt::mint(
        "HS256",
        &jwt::test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "mallory", "email": "m@evil.com", "exp": jwt::now() + 600}),
    );
    mallory
        .query("SELECT boards_authenticate($1)", &[&token])
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    let registered: serde_json::Value = mallory
        .query_one(
            "SELECT boards_tenant_register('Bigcorp', 'm@evil.com', organization_slug => 'bigcorp')",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(registered["tenant_slug"], "bigcorp");
    let listed: serde_json::Value = db
        .superuser()
        .query_one(
            "SELECT settings->'email_domains' FROM boards.tenants WHERE slug = 'bigcorp'",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(listed, json!(["evil.com"]));

    let victim = jwt::mint(
        "HS256",
        &jwt::test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": "victim", "email": "v@bigcorp.com", "email_verified": true, "exp": jwt::now() + 600}),
    );
    let mut app = db.app();
    assert_sqlstate(
        app.query("SELECT * FROM boards_set_tenant_from_jwt($1)", &[&victim]),
        "42501",
    );
    let joined: i64 = db
        .superuser()
        .query_one(
            "SELECT count(*) FROM boards.users WHERE auth_subject = 'victim'",
            &[],
        )
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("{}", error_text(&e)));
    assert_eq!(joined, 0, "the victim joined the squatted tenant");
}
