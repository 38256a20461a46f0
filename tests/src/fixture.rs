//! Two tenants with rows everywhere, written through the app role: the set-up the RLS and
//! attack suites share (`Layout` says what differs), with the per-tenant snapshots that let a
//! test check that B's (or A's) rows did not change.

use boards_tenant_harness::jwt::{self, mint, test_kid};
use boards_tenant_harness::postgres::Client;
use boards_tenant_harness::{Cluster, TestDb};
use serde_json::json;

use crate::snapshot::{self, TableState};
use crate::{column, exec, exec_params, query_text, set_context, text};

/// The tables a tenant context reads through row level security, as the fixture fills them
/// without `Layout::app_owned_table`.
pub const TENANT_TABLES: &[&str] = &[
    "boards.users",
    "boards.boards",
    "boards.board_members",
    "boards.generations",
    "public.notes",
];

/// The same with `public.owned` (`Layout::app_owned_table`).
pub const TENANT_TABLES_WITH_OWNED: &[&str] = &[
    "boards.users",
    "boards.boards",
    "boards.board_members",
    "boards.generations",
    "public.notes",
    "public.owned",
];

/// How many notes [`TwoTenants::add_bulk_notes`] adds to each tenant.
pub const BULK_NOTES: i64 = 5000;

/// What the two tenants get.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Boards of A and of B. Each board has two memberships (the owner as admin, the member
    /// as viewer), one generation and one note (and one row of `public.owned`).
    pub boards: [usize; 2],
    /// `public.owned`, protected and then handed to `boards_app` as owner (bound by `FORCE
    /// ROW LEVEL SECURITY`), and schema `evil` owned by `boards_app`: an attacker's objects.
    pub app_owned_table: bool,
}

/// One tenant of the fixture and the ids of the rows written for it.
pub struct Tenant {
    pub slug: &'static str,
    pub id: String,
    /// Token of `<slug>-owner`, who created the tenant's rows.
    pub token: String,
    pub owner_id: String,
    pub member_id: String,
    pub boards: Vec<String>,
    pub generations: Vec<String>,
    pub notes: Vec<String>,
    /// The tenant's rows right after the set-up (or the last [`TwoTenants::remember`]).
    pub before: Vec<TableState>,
}

impl Tenant {
    /// How many rows of `table` the tenant had at the last snapshot.
    #[track_caller]
    pub fn rows(&self, table: &str) -> i64 {
        self.before
            .iter()
            .find(|s| s.table == table)
            .map(|s| s.rows)
            .unwrap_or_else(|| panic!("{table} is not a fixture table"))
    }
}

/// A fresh database in multi-tenant mode with the test keys installed and:
/// - tenants `tenant-a` and `tenant-b`, each with two members (JIT memberships of
///   `<slug>-owner` and `<slug>-member`) and the rows `Layout` says, all written by
///   `boards_app` under the tenant's own context;
/// - `public.notes`, created by the superuser (auto-protected) with `GRANT ALL` to
///   `boards_app`, as an application's migration would write it;
/// - with `Layout::app_owned_table`, `public.owned` and schema `evil`.
pub struct TwoTenants<'c> {
    pub db: TestDb<'c>,
    pub a: Tenant,
    pub b: Tenant,
    tables: &'static [&'static str],
}

impl<'c> TwoTenants<'c> {
    pub fn in_cluster(cluster: &'c Cluster, layout: Layout) -> TwoTenants<'c> {
        let db = cluster.create_database();
        db.set("boards.multi_tenant_mode", "on");
        let mut admin = db.admin();
        jwt::install_test_keys(&mut admin);
        let mut schema = String::from(
            "CREATE TABLE public.notes (
                 tenant_id uuid,
                 id uuid DEFAULT gen_random_uuid(),
                 body text,
                 PRIMARY KEY (tenant_id, id)
             );
             GRANT ALL ON public.notes TO boards_app;",
        );
        if layout.app_owned_table {
            schema.push_str(
                "CREATE TABLE public.owned (
                     tenant_id uuid,
                     id uuid DEFAULT gen_random_uuid(),
                     body text,
                     PRIMARY KEY (tenant_id, id)
                 );
                 ALTER TABLE public.owned OWNER TO boards_app;
                 CREATE SCHEMA evil AUTHORIZATION boards_app;",
            );
        }
        exec(&mut db.superuser(), &schema);
        let [boards_a, boards_b] = layout.boards;
        let a = create_tenant(&db, &mut admin, "tenant-a", "Tenant A", boards_a, layout);
        let b = create_tenant(&db, &mut admin, "tenant-b", "Tenant B", boards_b, layout);
        let tables = if layout.app_owned_table {
            TENANT_TABLES_WITH_OWNED
        } else {
            TENANT_TABLES
        };
        let mut fixture = TwoTenants { db, a, b, tables };
        fixture.remember();
        for tenant in [&fixture.a, &fixture.b] {
            for state in &tenant.before {
                assert!(
                    state.rows > 0,
                    "fixture: {} has no rows in {}",
                    tenant.slug,
                    state.table
                );
            }
        }
        fixture
    }

    /// The tables holding tenant rows (what `TENANT_TABLES` or `TENANT_TABLES_WITH_OWNED`
    /// lists for the layout).
    pub fn tenant_tables(&self) -> &'static [&'static str] {
        self.tables
    }

    /// The state of the tenant's rows: its tenant row and its rows of every tenant table.
    pub fn snapshot(&self, tenant_id: &str) -> Vec<TableState> {
        let tables = std::iter::once(("boards.tenants", "id"))
            .chain(self.tables.iter().map(|table| (*table, "tenant_id")));
        snapshot::snapshot(&self.db, tenant_id, tables)
    }

    /// Takes the snapshots later compared by [`TwoTenants::assert_b_untouched`] and
    /// [`TwoTenants::assert_a_untouched`] (after a change the test makes on purpose).
    pub fn remember(&mut self) {
        self.a.before = self.snapshot(&self.a.id);
        self.b.before = self.snapshot(&self.b.id);
    }

    /// Adds [`BULK_NOTES`] notes to each tenant (written by the superuser, `<slug> bulk <n>`)
    /// and analyzes the table: enough rows for a parallel scan. Takes the snapshots anew.
    pub fn add_bulk_notes(&mut self) {
        exec(
            &mut self.db.superuser(),
            &format!(
                "INSERT INTO public.notes (tenant_id, body)
                 SELECT t.id, t.slug || ' bulk ' || g
                 FROM boards.tenants t, generate_series(1, {BULK_NOTES}) g
                 WHERE t.slug IN ('tenant-a', 'tenant-b');
                 ANALYZE public.notes;"
            ),
        );
        self.remember();
    }

    /// The ids of `tenant`'s notes now (read as superuser), sorted.
    pub fn note_ids(&self, tenant: &Tenant) -> Vec<String> {
        let mut ids = column(
            &mut self.db.superuser(),
            &format!(
                "SELECT id::text FROM public.notes WHERE tenant_id = '{}'",
                tenant.id
            ),
        );
        ids.sort();
        ids
    }

    /// A `boards_app` connection without a context.
    pub fn app(&self) -> Client {
        self.db.app()
    }

    /// A `boards_app` connection acting for `tenant` (session-scoped context).
    pub fn app_as(&self, tenant: &Tenant) -> Client {
        let mut app = self.db.app();
        set_context(&mut app, &tenant.token, None);
        app
    }

    /// B's rows, compared with the snapshot: same count and same digest in every table.
    #[track_caller]
    pub fn assert_b_untouched(&self) {
        assert_untouched(&self.b, &self.snapshot(&self.b.id));
    }

    /// A's rows, compared with the snapshot.
    #[track_caller]
    pub fn assert_a_untouched(&self) {
        assert_untouched(&self.a, &self.snapshot(&self.a.id));
    }
}

#[track_caller]
fn assert_untouched(tenant: &Tenant, now: &[TableState]) {
    assert_eq!(now.len(), tenant.before.len(), "{}: tables", tenant.slug);
    for (before, after) in tenant.before.iter().zip(now) {
        assert_eq!(
            after, before,
            "{}'s rows of {} changed",
            tenant.slug, before.table
        );
    }
}

/// Asserts every value is `tenant_id` and there are `expected` of them.
#[track_caller]
pub fn assert_all_of(what: &str, tenant_ids: &[String], tenant_id: &str, expected: i64) {
    let foreign: Vec<&String> = tenant_ids.iter().filter(|t| *t != tenant_id).collect();
    assert!(
        foreign.is_empty(),
        "{what}: rows of other tenants {foreign:?} (expected only {tenant_id})"
    );
    assert_eq!(tenant_ids.len() as i64, expected, "{what}: row count");
}

/// A valid token (an hour) of `subject` naming `tenant`, signed with the HS256 test key.
pub fn token_for(subject: &str, tenant: &str) -> String {
    mint(
        "HS256",
        &test_kid("HS256"),
        &json!({"iat": jwt::now(), "sub": subject, "tenant": tenant, "exp": jwt::now() + 3600}),
    )
}

fn create_tenant(
    db: &TestDb,
    admin: &mut Client,
    slug: &'static str,
    name: &str,
    board_count: usize,
    layout: Layout,
) -> Tenant {
    let id = query_text(
        admin,
        "SELECT id::text FROM boards_tenant_create($1, $2)",
        &[&name, &slug],
    )
    .unwrap_or_else(|| panic!("boards_tenant_create({slug}) returned no id"));
    let token = token_for(&format!("{slug}-owner"), slug);
    let member_token = token_for(&format!("{slug}-member"), slug);

    let mut app = db.app();
    let member = set_context(&mut app, &member_token, None);
    let owner = set_context(&mut app, &token, None);
    assert_eq!(
        (member.tenant_id.as_str(), owner.tenant_id.as_str()),
        (id.as_str(), id.as_str()),
        "{slug}: the tokens act for another tenant"
    );
    let (owner_id, member_id) = (owner.user_id, member.user_id);

    let mut boards = Vec::new();
    let mut generations = Vec::new();
    let mut notes = Vec::new();
    for i in 0..board_count {
        let board = text(
            &mut app,
            "INSERT INTO boards.boards (owner_id, title) VALUES ($1::text::uuid, $2)
             RETURNING id::text",
            &[&owner_id, &format!("{slug} board {i}")],
        );
        exec_params(
            &mut app,
            "INSERT INTO boards.board_members (board_id, user_id, role, invited_by)
             VALUES ($1::text::uuid, $2::text::uuid, 'admin', NULL),
                    ($1::text::uuid, $3::text::uuid, 'viewer', $2::text::uuid)",
            &[&board, &owner_id, &member_id],
        );
        generations.push(text(
            &mut app,
            "INSERT INTO boards.generations (board_id, user_id, generator_name, artifact_type)
             VALUES ($1::text::uuid, $2::text::uuid, 'flux', 'image') RETURNING id::text",
            &[&board, &owner_id],
        ));
        notes.push(text(
            &mut app,
            "INSERT INTO public.notes (body) VALUES ($1) RETURNING id::text",
            &[&format!("{slug} note {i}")],
        ));
        if layout.app_owned_table {
            exec_params(
                &mut app,
                "INSERT INTO public.owned (body) VALUES ($1)",
                &[&format!("{slug} owned {i}")],
            );
        }
        boards.push(board);
    }
    Tenant {
        slug,
        id,
        token,
        owner_id,
        member_id,
        boards,
        generations,
        notes,
        before: Vec::new(),
    }
}
