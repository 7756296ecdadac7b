//! Waiting-list queries shared by the reads and the writer: one entry, a pool's queue, an entry's
//! position, the measured promotion rate, and the tenant's priority classes.

use super::rows::{ENTRY_COLUMNS, ENTRY_FROM, EntryRecord, entry_from_row};
use crate::StoreError;
use crate::model::{TenantId, WaitlistEntryView};
use allot_core::UnixMillis;
use allot_core::waitlist::RECENT_PROMOTIONS;
use allot_core::waitlist::{PriorityClasses, RATE_WINDOW_MS};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeMap;

pub(super) fn load_entry(
    conn: &Connection,
    tenant: &TenantId,
    id: &str,
) -> Result<Option<EntryRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM} WHERE e.tenant_id = ?1 AND e.id = ?2"
    ))?;
    let mut rows = stmt.query(params![tenant.0, id])?;
    match rows.next()? {
        Some(row) => Ok(Some(entry_from_row(row)?)),
        None => Ok(None),
    }
}

/// A pool's waiting entries in queue order, at most `limit`, skipping the first `offset`.
/// Entries past their deadline are left out when `now` is given (reads), and kept for the
/// writer, which expires them as their turn comes.
pub(super) fn queue(
    conn: &Connection,
    tenant: &TenantId,
    pool_id: &str,
    now: Option<UnixMillis>,
    offset: i64,
    limit: i64,
) -> Result<Vec<EntryRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ENTRY_COLUMNS} FROM {ENTRY_FROM}
         WHERE e.tenant_id = ?1 AND e.pool_id = ?2 AND e.status = 'waiting' AND e.expires_at > ?3
         ORDER BY e.priority DESC, e.seq LIMIT ?4 OFFSET ?5"
    ))?;
    let after = now.map_or(i64::MIN, |now| now.0);
    let mut rows = stmt.query(params![tenant.0, pool_id, after, limit, offset])?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        entries.push(entry_from_row(row)?);
    }
    Ok(entries)
}

/// 1 for the entry served next: the waiting entries of its pool ahead of it, plus one.
/// Computed when asked, so positions are right after any cancellation or expiry.
pub(super) fn position(
    conn: &Connection,
    tenant: &TenantId,
    entry: &EntryRecord,
    now: UnixMillis,
) -> Result<u64, StoreError> {
    let ahead: i64 = conn
        .prepare_cached(
            "SELECT COUNT(*) FROM waitlist_entries
             WHERE tenant_id = ?1 AND pool_id = ?2 AND status = 'waiting' AND expires_at > ?3
               AND (priority > ?4 OR (priority = ?4 AND seq < ?5))",
        )?
        .query_row(
            params![tenant.0, entry.pool_id, now.0, entry.priority, entry.seq],
            |row| row.get(0),
        )?;
    Ok(ahead as u64 + 1)
}

/// The times of the pool's latest promotions in the rate window, newest first.
pub(super) fn recent_promotions(
    conn: &Connection,
    tenant: &TenantId,
    pool_id: &str,
    now: UnixMillis,
) -> Result<Vec<UnixMillis>, StoreError> {
    let since = UnixMillis(now.0 - RATE_WINDOW_MS);
    promotions_since(conn, tenant, pool_id, since, RECENT_PROMOTIONS)
}

/// The times of the pool's promotions after `since`, newest first, at most `limit`.
pub(super) fn promotions_since(
    conn: &Connection,
    tenant: &TenantId,
    pool_id: &str,
    since: UnixMillis,
    limit: i64,
) -> Result<Vec<UnixMillis>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT promoted_at FROM waitlist_entries
         WHERE tenant_id = ?1 AND pool_id = ?2 AND promoted_at IS NOT NULL AND promoted_at > ?3
         ORDER BY promoted_at DESC LIMIT ?4",
    )?;
    let times = stmt
        .query_map(params![tenant.0, pool_id, since.0, limit], |row| {
            row.get(0).map(UnixMillis)
        })?
        .collect::<Result<_, _>>()?;
    Ok(times)
}

/// The entry as of `now`, with its position and the pool's recent promotions while it waits.
pub(super) fn entry_view(
    conn: &Connection,
    tenant: &TenantId,
    row: &EntryRecord,
    now: UnixMillis,
) -> Result<WaitlistEntryView, StoreError> {
    row.view_in_line(now, |since, limit| {
        let position = position(conn, tenant, row, now)?;
        let recent = promotions_since(conn, tenant, &row.pool_id, since, limit)?;
        Ok((position, recent))
    })
}

/// The tenant's priority classes; the default (base 1, no classes) until it sets its own.
pub(super) fn priority_classes(
    conn: &Connection,
    tenant: &TenantId,
) -> Result<PriorityClasses, StoreError> {
    let stored: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT priority_base, priority_classes FROM tenant_settings WHERE tenant_id = ?1",
        )?
        .query_row([&tenant.0], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    match stored {
        None => Ok(PriorityClasses::default()),
        Some((base, classes)) => Ok(PriorityClasses {
            base,
            classes: serde_json::from_str::<BTreeMap<String, i64>>(&classes)?,
        }),
    }
}
