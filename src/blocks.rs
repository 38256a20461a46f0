//! Blocks: what makes a revocation stick. A member removed from a tenant is blocked there, so
//! just-in-time membership (`tenants::join`) does not let their still-valid token back in; an
//! admin re-adding them, or their accepting an invitation, clears the block. A subject blocked
//! platform-wide (`boards_subject_block`) gets no context at all, and sessions already acting
//! for it fail closed from their next statement (`tenant_status.rs`).
//!
//! The platform-wide answer is read on the per-statement path whenever the validity verdict
//! must be recomputed, so it is cached per backend (positive and negative answers: every change
//! of `boards.subject_blocks`, inserts included, invalidates, sql/finalize.sql) and filled only
//! from the latest committed state, like the other security caches (`invalidation.rs`).

use boards_tenant_core::cache::{Admission, FastHashMap};
use std::cell::{Cell, RefCell};

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::db;
use crate::directory;
use crate::error::{ExtError, ExtResult, SqlResult};
use crate::invalidation;

thread_local! {
    static SUBJECTS: RefCell<FastHashMap<String, bool>> = RefCell::new(FastHashMap::default());
    static SUBJECT_BYTES: Cell<usize> = const { Cell::new(0) };
}

/// Enough for every subject a backend serves; past it the cache restarts.
const CACHE_ENTRIES: usize = 50_000;

fn forget_subjects() {
    SUBJECTS.with(|s| s.borrow_mut().clear());
    SUBJECT_BYTES.with(|b| b.set(0));
}

/// Whether the block tables exist: a database still at 0.1.0 (library updated, `ALTER
/// EXTENSION boards_tenant UPDATE` not yet run) has none, and blocks nobody.
fn installed() -> ExtResult<bool> {
    Ok(db::one::<bool>(
        "SELECT pg_catalog.to_regclass('boards.subject_blocks') IS NOT NULL",
        &[],
    )?
    .unwrap_or(false))
}

/// Whether `subject` is blocked platform-wide; queried only when the cache has no answer.
pub fn subject_blocked(subject: &str) -> ExtResult<bool> {
    if let Some(known) = SUBJECTS.with(|s| s.borrow().get(subject).copied()) {
        return Ok(known);
    }
    let generation = invalidation::Generation::begin();
    if !installed()? {
        return Ok(false);
    }
    // The context readers run as the caller, who may not read the table: a SECURITY DEFINER
    // helper answers, for the caller's own verified subject only. The setters run as the
    // extension owner and read it directly.
    // SAFETY: reads the current user's superuser flag from the catalog cache.
    let sql = if unsafe { pg_sys::superuser() } {
        "SELECT EXISTS (SELECT FROM boards.subject_blocks b WHERE b.subject = $1),
                'boards.subject_blocks'::pg_catalog.regclass::pg_catalog.oid"
    } else {
        "SELECT boards.caller_subject_blocked($1),
                'boards.subject_blocks'::pg_catalog.regclass::pg_catalog.oid"
    };
    let found = db::latest_rows(sql, &[subject.into()], |row| {
        (row.get::<bool>(1), row.get::<pg_sys::Oid>(2))
    })?
    .into_iter()
    .next();
    let (Some(blocked), Some(table)) = found.unwrap_or((None, None)) else {
        // No answer is no proof of innocence.
        return Ok(true);
    };
    invalidation::watch(table, forget_subjects);
    if generation.still_current() {
        remember(subject, blocked);
    }
    Ok(blocked)
}

fn remember(subject: &str, blocked: bool) {
    let bytes = subject.len().saturating_add(64);
    let budget = crate::settings::cache_budget_bytes() / 16;
    let (entries, used) = (
        SUBJECTS.with(|s| s.borrow().len()),
        SUBJECT_BYTES.with(|b| b.get()),
    );
    if !Admission::of(entries, CACHE_ENTRIES, used, bytes, budget).apply(forget_subjects) {
        return;
    }
    SUBJECTS.with(|s| s.borrow_mut().insert(subject.to_owned(), blocked));
    SUBJECT_BYTES.with(|b| b.set(b.get().saturating_add(bytes)));
}

/// Refuses a blocked subject (42501).
pub fn refuse_blocked_subject(subject: &str) -> ExtResult<()> {
    if subject_blocked(subject)? {
        return Err(ExtError::Forbidden {
            message: "this subject is blocked".into(),
            detail: Some(
                "An administrator blocked it platform-wide (boards_subject_block).".into(),
            ),
        });
    }
    Ok(())
}

/// Whether `subject` was removed from the tenant and not re-admitted since (latest committed
/// state: a removal committed after this transaction's snapshot still counts).
pub fn member_blocked(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<bool> {
    if !installed()? {
        return Ok(false);
    }
    Ok(db::latest_rows(
        "SELECT 1 FROM boards.member_blocks b
         WHERE b.tenant_id OPERATOR(pg_catalog.=) $1 AND b.subject OPERATOR(pg_catalog.=) $2",
        &[tenant_id.into(), subject.into()],
        |_| (),
    )?
    .into_iter()
    .next()
    .is_some())
}

/// Remembers a removal: just-in-time membership refuses the subject in this tenant.
pub fn block_member(tenant_id: pgrx::Uuid, subject: &str, reason: &str) -> ExtResult<()> {
    if !installed()? {
        return Ok(());
    }
    db::run(
        "INSERT INTO boards.member_blocks (tenant_id, subject, reason, blocked_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, subject) DO UPDATE
         SET reason = EXCLUDED.reason, blocked_by = EXCLUDED.blocked_by, blocked_at = now()",
        &[
            tenant_id.into(),
            subject.into(),
            reason.into(),
            directory::actor().into(),
        ],
    )
}

/// Re-admits a removed subject (an admin's add, an accepted invitation).
pub fn clear_member_block(tenant_id: pgrx::Uuid, subject: &str) -> ExtResult<()> {
    if !installed()? {
        return Ok(());
    }
    db::run(
        "DELETE FROM boards.member_blocks WHERE tenant_id = $1 AND subject = $2",
        &[tenant_id.into(), subject.into()],
    )
}

/// Blocks a subject platform-wide (admin role): no context for it from the next statement on,
/// in every session, and no first-use membership anywhere.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_subject_block(
    subject: Option<String>,
    reason: default!(Option<String>, "NULL"),
) -> SqlResult<()> {
    let subject = subject
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ExtError::InvalidArgument("subject must not be empty".into()))?;
    db::run(
        "INSERT INTO boards.subject_blocks (subject, reason, blocked_by) VALUES ($1, $2, $3)
         ON CONFLICT (subject) DO UPDATE
         SET reason = EXCLUDED.reason, blocked_by = EXCLUDED.blocked_by, blocked_at = now()",
        &[subject.into(), reason.into(), directory::actor().into()],
    )?;
    Ok(())
}

/// Lifts a platform-wide block; `false` when the subject was not blocked.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn boards_subject_unblock(subject: Option<String>) -> SqlResult<bool> {
    let subject =
        subject.ok_or_else(|| ExtError::InvalidArgument("subject must not be NULL".into()))?;
    Ok(db::one_mut::<bool>(
        "WITH d AS (DELETE FROM boards.subject_blocks WHERE subject = $1 RETURNING 1)
         SELECT EXISTS (SELECT FROM d)",
        &[subject.into()],
    )?
    .unwrap_or(false))
}
