//! Leases: what a running operation (a pull, a load) has written but not yet registered.
//! Garbage collection keeps everything a live lease names. A lease is named after its
//! process (pid and start time), so one left by a crashed process is known to be dead.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::{now, Db, DbError};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `<pid>-<start>-<n>`: unique among live processes and recognisably dead after a crash.
pub fn owner_tag() -> String {
    let pid = std::process::id() as i32;
    let start = berth_sys::proc::start_time(pid).map_or(0, |(s, _)| s);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{pid}-{start}-{n}")
}

/// Whether the process that made `tag` (see [`owner_tag`]) is gone.
pub fn owner_gone(tag: &str) -> bool {
    let mut parts = tag.split('-');
    match (
        parts.next().and_then(|p| p.parse::<i32>().ok()),
        parts.next().and_then(|s| s.parse::<u64>().ok()),
    ) {
        (Some(pid), Some(start)) => !berth_sys::proc::alive(pid, start),
        _ => true,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    Blob,
    Snapshot,
}

impl RefKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefKind::Blob => "blob",
            RefKind::Snapshot => "snapshot",
        }
    }
}

#[derive(Debug)]
pub struct Lease {
    pub id: String,
}

pub fn create(db: &mut Db) -> Result<Lease, DbError> {
    let id = owner_tag();
    db.write(|tx| {
        tx.execute(
            "INSERT INTO leases (id, created) VALUES (?1, ?2)",
            rusqlite::params![id, now()],
        )
        .map(|_| ())
        .map_err(|source| DbError {
            path: "leases".into(),
            source,
        })
    })?;
    Ok(Lease { id })
}

pub fn add(db: &mut Db, lease: &Lease, kind: RefKind, names: &[String]) -> Result<(), DbError> {
    db.write(|tx| {
        for n in names {
            tx.execute(
                "INSERT OR IGNORE INTO lease_refs (lease, kind, name) VALUES (?1, ?2, ?3)",
                rusqlite::params![lease.id, kind.as_str(), n],
            )
            .map_err(|source| DbError {
                path: "leases".into(),
                source,
            })?;
        }
        Ok(())
    })
}

pub fn release(db: &mut Db, lease: Lease) -> Result<(), DbError> {
    db.write(|tx| {
        tx.execute("DELETE FROM lease_refs WHERE lease = ?1", [&lease.id])
            .and_then(|_| tx.execute("DELETE FROM leases WHERE id = ?1", [&lease.id]))
            .map(|_| ())
            .map_err(|source| DbError {
                path: "leases".into(),
                source,
            })
    })
}

/// Names held by live leases, after dropping the leases of dead processes. Call inside the
/// transaction that decides what to collect.
pub(crate) fn live_refs(
    tx: &rusqlite::Transaction<'_>,
    kind: RefKind,
) -> rusqlite::Result<std::collections::HashSet<String>> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM leases")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in ids.iter().filter(|id| owner_gone(id)) {
        tx.execute("DELETE FROM lease_refs WHERE lease = ?1", [id])?;
        tx.execute("DELETE FROM leases WHERE id = ?1", [id])?;
    }
    let mut st = tx.prepare("SELECT name FROM lease_refs WHERE kind = ?1")?;
    let names = st
        .query_map([kind.as_str()], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(names)
}
