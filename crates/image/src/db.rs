//! The metadata database: one SQLite file shared by every berth process.
//!
//! SQLite's own locking serializes writers across processes; WAL lets readers go on while a
//! writer works. Every change that spans rows runs in one `BEGIN IMMEDIATE` transaction, so
//! a process killed at any point leaves either the old state or the new one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

#[derive(Debug, thiserror::Error)]
#[error("metadata database {path}: {source}")]
pub struct DbError {
    pub path: PathBuf,
    pub source: rusqlite::Error,
}

/// Bump with every change to [`SCHEMA`] (whose statements must stay idempotent), so that
/// existing databases get it on their next open.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,              -- the config digest, Docker's image ID
    manifest TEXT NOT NULL,           -- digest of the manifest blob describing it
    media_type TEXT NOT NULL,         -- of that manifest
    loaded INTEGER NOT NULL,          -- unix seconds when it arrived here
    size INTEGER NOT NULL DEFAULT 0   -- bytes of its unpacked layers
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,            -- docker.io/library/busybox:latest
    image TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digests (
    name TEXT NOT NULL,               -- docker.io/library/busybox@sha256:...
    image TEXT NOT NULL,
    PRIMARY KEY (name, image)
);
CREATE TABLE IF NOT EXISTS snapshots (
    key TEXT PRIMARY KEY,
    id INTEGER UNIQUE NOT NULL,       -- names the directory, short so 128 lowers fit a page
    parent TEXT,
    kind TEXT NOT NULL,               -- active, view or committed
    size INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,              -- <pid>-<start>-<n> of the process holding it
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS lease_refs (
    lease TEXT NOT NULL,
    kind TEXT NOT NULL,               -- blob or snapshot
    name TEXT NOT NULL,
    PRIMARY KEY (lease, kind, name)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    image TEXT NOT NULL,              -- the image ID the container was made from
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,            -- claimed by the insert: concurrent creates can't both win
    data TEXT NOT NULL DEFAULT '{}'   -- driver, labels, options, created, populated (JSON)
);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,              -- 64 hex, like Docker's
    name TEXT UNIQUE NOT NULL,
    data TEXT NOT NULL                -- the Network record (JSON)
);
CREATE TABLE IF NOT EXISTS endpoints (  -- a running container's attachment to a network
    network TEXT NOT NULL,            -- network id
    ip TEXT NOT NULL,                 -- the container's IPv4 address in it (the IPAM lease)
    container TEXT NOT NULL,          -- container id
    mac TEXT NOT NULL,
    endpoint TEXT NOT NULL,           -- 64 hex endpoint id
    aliases TEXT NOT NULL DEFAULT '[]', -- JSON array: --network-alias values, for DNS
    PRIMARY KEY (network, ip)
);
CREATE INDEX IF NOT EXISTS endpoints_container ON endpoints(container);
CREATE TABLE IF NOT EXISTS ports (    -- published ports of running containers
    host_ip TEXT NOT NULL,            -- '' for all addresses
    host_port INTEGER NOT NULL,
    proto TEXT NOT NULL,              -- tcp or udp
    container TEXT NOT NULL,
    network TEXT NOT NULL,            -- network id the container_ip is on
    container_ip TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    PRIMARY KEY (host_ip, host_port, proto)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// A connection to the metadata database.
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

pub type Result<T> = std::result::Result<T, DbError>;

impl Db {
    pub fn open(path: &Path) -> Result<Db> {
        let err = |source| DbError {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        // Concurrent berth processes wait for each other rather than fail.
        conn.busy_timeout(Duration::from_secs(30)).map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        // Every berth command is a short-lived process, so by default the last one out
        // would checkpoint and delete the WAL and the next one recreate it: five fsyncs per
        // `run`. Keeping the WAL file and leaving checkpoints to SQLite's own threshold
        // (every ~1000 pages, at commit) costs no durability that synchronous=NORMAL gives.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )
        .map_err(err)?;
        // But a WAL that grows to SQLite's default threshold (1000 pages, 4 MB) is read
        // whole by every command that opens the database while no other process has it
        // open, to rebuild its index: 2 ms of a 25 ms `run`. Monitors checkpoint after
        // their container is done (`checkpoint`); this bounds the rest.
        conn.pragma_update(None, "wal_autocheckpoint", 128)
            .map_err(err)?;
        let mut persist: std::ffi::c_int = 1;
        // SAFETY: the handle is this open connection's; PERSIST_WAL reads and writes one int
        // through the pointer, which lives across the call.
        unsafe {
            rusqlite::ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
                (&mut persist as *mut std::ffi::c_int).cast(),
            );
        }
        // Checking every table on every open is a noticeable part of a short command; the
        // version says whether this file already has this schema.
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version != SCHEMA_VERSION {
            // WAL mode is kept in the file itself: set once, with the schema, rather than
            // asked for (a statement and a lock) by every process. Switching needs the
            // database to itself, and SQLite answers "locked" at once rather than waiting
            // when another process is switching it too (several commands on a new store):
            // so wait here, as the busy timeout would.
            let until = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                match conn.pragma_update(None, "journal_mode", "WAL") {
                    Ok(()) => break,
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if matches!(
                            e.code,
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        ) && std::time::Instant::now() < until =>
                    {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return Err(err(e)),
                }
            }
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA}; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(err)?;
        }
        Ok(Db {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn err(&self) -> impl Fn(rusqlite::Error) -> DbError + '_ {
        move |source| DbError {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `f` in a write transaction taken up front, so that read-then-write sequences in
    /// `f` cannot interleave with another process's.
    pub fn write<T, E: From<DbError>>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let path = self.path.clone();
        let err = move |source| DbError {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let out = f(&tx)?;
        tx.commit().map_err(&err)?;
        Ok(out)
    }

    /// For reads: a consistent snapshot is not needed across calls, so no transaction.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Db {
    /// Frees what SQLite caches for this connection, for a process about to idle.
    pub fn release_memory(&self) {
        let _ = self.conn.release_memory();
    }

    /// Copies the WAL into the database, so that the next process to open it alone has
    /// little to read back: for a process whose caller isn't waiting for it any more. A
    /// passive checkpoint never blocks other connections; failing it loses nothing.
    pub fn checkpoint(&self) {
        let _ = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
    }
}
