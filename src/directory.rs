//! The tenant directory: tenants and memberships as the context, the policy reader and the
//! management functions look them up, with the backend's caches of both. Knows nothing of
//! blocks, invitations or keys; the modules that manage tenants (`tenants.rs`, `members.rs`,
//! `registration.rs`, `invitations.rs`) and the ones that check them (`tenant_status.rs`,
//! `roles.rs`, `auth.rs`) sit above it.

use boards_tenant_core::cache::{Admission, FastHashMap};
use std::cell::{Cell, RefCell};

use boards_tenant_core::claims::TenantRef;
use boards_tenant_core::membership::MemberRole;
use boards_tenant_core::tenant_status::TenantStatus;
use pgrx::pg_sys;

use crate::context;
use crate::db;
use crate::error::{ExtError, ExtResult};
use crate::invalidation;
use crate::settings;
use crate::uuids::to_pg_uuid;

/// The `default` tenant's fixed id (sql/schema.sql): single-tenant data lives there.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000000";
pub const DEFAULT_SLUG: &str = "default";

#[derive(Debug, Clone)]
pub struct TenantRow {
    pub id: pgrx::Uuid,
    pub slug: String,
    pub status: TenantStatus,
    /// `created_at`, in whole seconds since 1970 (rounded down).
    pub created_unix: i64,
}

impl TenantRow {
    /// Roughly what the cache entry takes: the struct, the slug twice (by id and by slug), map
    /// slots.
    fn approximate_bytes(&self) -> usize {
        self.slug.len().saturating_mul(2).saturating_add(160)
    }
}

/// A status read from `boards.tenants`. Its check constraint admits only `TenantStatus`'s
/// spellings; should anything else (or NULL) ever be read, the tenant counts as suspended, so
/// a damaged row refuses requests instead of admitting them.
fn stored_status(text: Option<String>) -> TenantStatus {
    text.as_deref()
        .and_then(|s| s.parse().ok())
        .unwrap_or(TenantStatus::Suspended)
}

fn tenant_of(row: &pgrx::spi::SpiHeapTupleData) -> pgrx::spi::Result<Option<TenantRow>> {
    Ok(match row.get::<pgrx::Uuid>(1)? {
        Some(id) => Some(TenantRow {
            id,
            slug: row.get(2)?.unwrap_or_default(),
            status: stored_status(row.get(3)?),
            created_unix: 0,
        }),
        None => None,
    })
}

/// A membership: the subject's user row in a tenant, and its role.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: pgrx::Uuid,
    /// `None` for a stored role outside the vocabulary (a damaged row): it grants nothing.
    pub role: Option<MemberRole>,
}

thread_local! {
    /// Tenants by id and by slug, and memberships by tenant and subject: the context path
    /// consults them on every request, the policy reader on every statement. Dropped when
    /// `boards.tenants` / `boards.users` change (statement triggers, `invalidation.rs`); only
    /// filled from the latest committed state (`db::latest_rows`), never from a lookup that an
    /// invalidation overtook. Each is bounded in entries and in bytes (its share of
    /// `boards.cache_budget`, `settings::cache_budget_bytes`); past a bound it restarts empty.
    static TENANTS: RefCell<FastHashMap<pgrx::Uuid, TenantRow>> = RefCell::new(FastHashMap::default());
    static SLUGS: RefCell<FastHashMap<String, pgrx::Uuid>> = RefCell::new(FastHashMap::default());
    static TENANT_BYTES: Cell<usize> = const { Cell::new(0) };
    static MEMBERS: RefCell<FastHashMap<pgrx::Uuid, FastHashMap<String, Member>>> =
        RefCell::new(FastHashMap::default());
    static MEMBER_ENTRIES: Cell<usize> = const { Cell::new(0) };
    static MEMBER_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Enough for every tenant and active subject a backend serves; past it the cache restarts.
const CACHE_ENTRIES: usize = 50_000;

fn forget_tenants() {
    TENANTS.with(|t| t.borrow_mut().clear());
    SLUGS.with(|s| s.borrow_mut().clear());
    TENANT_BYTES.with(|b| b.set(0));
}

fn forget_members() {
    MEMBERS.with(|m| m.borrow_mut().clear());
    MEMBER_ENTRIES.with(|n| n.set(0));
    MEMBER_BYTES.with(|b| b.set(0));
}

/// Only committed rows are cached: a row this transaction wrote may still be rolled back, and
/// rows of other transactions are invisible until they commit. And only what no invalidation
/// overtook (see `invalidation.rs`).
fn may_cache(generation: invalidation::Generation) -> bool {
    // SAFETY: reads the current transaction's id, if one was assigned (i.e. it wrote).
    let wrote = unsafe { pg_sys::GetCurrentTransactionIdIfAny() != pg_sys::InvalidTransactionId };
    !wrote && generation.still_current()
}

fn remember_tenant(tenant: &TenantRow, table: pg_sys::Oid, generation: invalidation::Generation) {
    invalidation::watch(table, forget_tenants);
    if !may_cache(generation) {
        return;
    }
    let bytes = tenant.approximate_bytes();
    let budget = settings::cache_budget_bytes() / 8;
    let (entries, used) = (
        TENANTS.with(|t| t.borrow().len()),
        TENANT_BYTES.with(|b| b.get()),
    );
    if !Admission::of(entries, CACHE_ENTRIES, used, bytes, budget).apply(forget_tenants) {
        return;
    }
    TENANTS.with(|t| t.borrow_mut().insert(tenant.id, tenant.clone()));
    SLUGS.with(|s| s.borrow_mut().insert(tenant.slug.clone(), tenant.id));
    TENANT_BYTES.with(|b| b.set(b.get().saturating_add(bytes)));
}

/// Reads a tenant from the latest committed state. The query qualifies its operator: it also
/// runs as the caller (see `tenant_status.rs`), whose `search_path` must not change its meaning.
fn load_tenant(column: &str, value: pgrx::datum::DatumWithOid) -> ExtResult<Option<TenantRow>> {
    let generation = invalidation::Generation::begin();
    let found = db::latest_rows(
        &format!(
            "SELECT t.id, t.slug, t.status,
                    pg_catalog.floor(pg_catalog.date_part('epoch', t.created_at))::pg_catalog.int8,
                    'boards.tenants'::pg_catalog.regclass::pg_catalog.oid
             FROM boards.tenants t WHERE t.{column} OPERATOR(pg_catalog.=) $1"
        ),
        &[value],
        |row| {
            let tenant = row.get::<pgrx::Uuid>(1).map(|id| TenantRow {
                id,
                slug: row.get(2).unwrap_or_default(),
                status: stored_status(row.get(3)),
                created_unix: row.get(4).unwrap_or(i64::MAX),
            });
            (tenant, row.get::<pg_sys::Oid>(5))
        },
    )?
    .into_iter()
    .next();
    Ok(match found {
        Some((Some(tenant), Some(table))) => {
            remember_tenant(&tenant, table, generation);
            Some(tenant)
        }
        _ => None,
    })
}

pub fn find_by_slug(slug: &str) -> ExtResult<Option<TenantRow>> {
    let cached = SLUGS
        .with(|s| s.borrow().get(slug).copied())
        .and_then(|id| TENANTS.with(|t| t.borrow().get(&id).cloned()));
    match cached {
        Some(tenant) => Ok(Some(tenant)),
        None => load_tenant("slug", slug.into()),
    }
}

pub fn find_by_id(id: pgrx::Uuid) -> ExtResult<Option<TenantRow>> {
    match TENANTS.with(|t| t.borrow().get(&id).cloned()) {
        Some(tenant) => Ok(Some(tenant)),
        None => load_tenant("id", id.into()),
    }
}

pub fn find(tenant: &TenantRef) -> ExtResult<Option<TenantRow>> {
    match tenant {
        TenantRef::Slug(slug) => find_by_slug(slug),
        TenantRef::Id(id) => find_by_id(to_pg_uuid(*id)),
    }
}

/// How a tenant reference reads in messages.
pub fn describe(tenant: &TenantRef) -> String {
    match tenant {
        TenantRef::Slug(slug) => slug.clone(),
        TenantRef::Id(id) => id.to_string(),
    }
}

/// A tenant the admin named, or 42704.
pub fn existing(slug: &str) -> ExtResult<TenantRow> {
    find_by_slug(slug)?.ok_or_else(|| ExtError::TenantNotFound(slug.to_owned()))
}

/// Serializes membership changes of one tenant (last-owner checks must not race).
pub fn lock_tenant(slug: &str) -> ExtResult<TenantRow> {
    locked(
        "SELECT id, slug, status FROM boards.tenants WHERE slug = $1 FOR UPDATE",
        slug.into(),
        slug,
    )
}

/// Like [`lock_tenant`], by id (the self-service functions know their tenant by the context's id).
pub fn lock_tenant_id(id: pgrx::Uuid) -> ExtResult<TenantRow> {
    locked(
        "SELECT id, slug, status FROM boards.tenants WHERE id = $1 FOR UPDATE",
        id.into(),
        &id.to_string(),
    )
}

/// The one tenant row `sql` locks, or 42704 naming `shown`.
fn locked(sql: &str, key: pgrx::datum::DatumWithOid, shown: &str) -> ExtResult<TenantRow> {
    db::rows_mut(sql, &[key], tenant_of)?
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| ExtError::TenantNotFound(shown.to_owned()))
}

/// The subject's user row in the tenant: its membership.
pub fn member_id(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<Option<pgrx::Uuid>> {
    Ok(member(tenant_id, subject)?.map(|m| m.id))
}

/// The subject's membership in the tenant, from the cache or the latest committed state. An
/// absent membership is not cached (adding one sends no invalidation).
pub fn member(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<Option<Member>> {
    let cached = MEMBERS.with(|m| {
        m.borrow()
            .get(&tenant_id)
            .and_then(|by_subject| by_subject.get(subject).cloned())
    });
    if let Some(found) = cached {
        return Ok(Some(found));
    }
    let generation = invalidation::Generation::begin();
    let found = db::latest_rows(
        "SELECT u.id, u.role, 'boards.users'::pg_catalog.regclass::pg_catalog.oid
         FROM boards.users u
         WHERE u.tenant_id OPERATOR(pg_catalog.=) $1 AND u.auth_subject OPERATOR(pg_catalog.=) $2",
        &[tenant_id.into(), subject.into()],
        |row| {
            (
                row.get::<pgrx::Uuid>(1),
                row.get::<String>(2)
                    .and_then(|r| MemberRole::from_stored(&r)),
                row.get::<pg_sys::Oid>(3),
            )
        },
    )?
    .into_iter()
    .next();
    let Some((Some(id), role, Some(table))) = found else {
        return Ok(None);
    };
    let found = Member { id, role };
    invalidation::watch(table, forget_members);
    if may_cache(generation) {
        remember_member(tenant_id, subject, &found);
    }
    Ok(Some(found))
}

fn remember_member(tenant_id: pgrx::Uuid, subject: &str, found: &Member) {
    let bytes = subject.len().saturating_add(128);
    let budget = settings::cache_budget_bytes() / 4;
    let (entries, used) = (
        MEMBER_ENTRIES.with(|n| n.get()),
        MEMBER_BYTES.with(|b| b.get()),
    );
    if !Admission::of(entries, CACHE_ENTRIES, used, bytes, budget).apply(forget_members) {
        return;
    }
    MEMBERS.with(|m| {
        m.borrow_mut()
            .entry(tenant_id)
            .or_default()
            .insert(subject.to_owned(), found.clone())
    });
    MEMBER_ENTRIES.with(|n| n.set(n.get().saturating_add(1)));
    MEMBER_BYTES.with(|b| b.set(b.get().saturating_add(bytes)));
}

/// Whether the tenant lets subjects with a verified address at `domain` join on first use.
pub fn accepts_email_domain(tenant_id: pgrx::Uuid, domain: &str) -> ExtResult<bool> {
    Ok(db::latest_one::<bool>(
        "SELECT coalesce(settings -> 'email_domains', '[]'::jsonb) ? $2
         FROM boards.tenants WHERE id = $1",
        &[tenant_id.into(), domain.into()],
    )?
    .unwrap_or(false))
}

/// Who is acting, for `created_by`: the verified subject, else the calling role.
pub fn actor() -> String {
    if let Some(subject) = context::current().and_then(|c| c.subject.clone()) {
        return subject;
    }
    // SAFETY: a catalog lookup of the calling role's name.
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), true);
        if name.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(name)
                .to_string_lossy()
                .into_owned()
        }
    }
}

pub fn owner_count(tenant_id: pgrx::Uuid) -> ExtResult<i64> {
    Ok(db::one::<i64>(
        "SELECT count(*) FROM boards.users WHERE tenant_id = $1 AND role = $2",
        &[tenant_id.into(), MemberRole::Owner.as_str().into()],
    )?
    .unwrap_or(0))
}

pub fn current_role(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<Option<MemberRole>> {
    Ok(db::one::<String>(
        "SELECT role FROM boards.users WHERE tenant_id = $1 AND auth_subject = $2",
        &[tenant_id.into(), subject.into()],
    )?
    .and_then(|r| MemberRole::from_stored(&r)))
}
