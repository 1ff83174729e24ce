//! Overlay snapshots, in containerd's shape: `prepare` an active (writable) snapshot on a
//! parent, `commit` it under a name, `view` a read-only one, `remove` what has no children.
//! Like containerd's snapshotters, these functions only describe mounts and never mount.
//!
//! Each snapshot is a directory `s/<id>` holding `fs` (its files; the overlay upper dir while
//! active) and `work` (overlay's scratch). Ids are base-36 counters, so a lowerdir costs about
//! 25 bytes of the mount option page and 128 layers still fit.
//!
//! The row is written in the same transaction that creates the directory, and a directory is
//! moved aside before its row goes, so a crash leaves at worst a directory without a row,
//! which [`Snapshots::cleanup`] removes.

use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::db::{now, Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("snapshot {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("snapshot {0:?} not found")]
    NotFound(String),
    #[error("snapshot {0:?} already exists")]
    Exists(String),
    #[error("snapshot {0:?} is not active")]
    NotActive(String),
    #[error("parent snapshot {0:?} is not committed")]
    ParentNotCommitted(String),
    #[error("snapshot {0:?} has dependent snapshots")]
    HasChildren(String),
}

pub type Result<T> = std::result::Result<T, SnapshotError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Active,
    View,
    Committed,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Active => "active",
            Kind::View => "view",
            Kind::Committed => "committed",
        }
    }
    fn parse(s: &str) -> Kind {
        match s {
            "active" => Kind::Active,
            "view" => Kind::View,
            _ => Kind::Committed,
        }
    }
}

/// A mount for whoever sets up the rootfs (the engine, through the runtime's config.json).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub key: String,
    pub id: i64,
    pub parent: Option<String>,
    pub kind: Kind,
    pub size: u64,
    pub created: i64,
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::Io(p.to_path_buf(), e)
}

fn base36(mut n: i64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Info> {
    Ok(Info {
        key: r.get(0)?,
        id: r.get(1)?,
        parent: r.get(2)?,
        kind: Kind::parse(&r.get::<_, String>(3)?),
        size: r.get::<_, i64>(4)? as u64,
        created: r.get(5)?,
    })
}

const COLUMNS: &str = "key, id, parent, kind, size, created";

fn get(conn: &rusqlite::Connection, key: &str) -> rusqlite::Result<Option<Info>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM snapshots WHERE key = ?1"),
        [key],
        row,
    )
    .optional()
}

/// Bytes used by the files under `p`, counting each inode once.
pub fn disk_usage(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

impl Snapshots {
    pub fn open(dir: &Path) -> Result<Snapshots> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        // Spread layers over ext4's block groups (see berth_sys::fsflags::TOPDIR). Only a
        // tuning: a filesystem without inode flags, or a refusal, changes nothing else.
        if let Ok(d) = std::fs::File::open(dir) {
            use std::os::fd::AsFd;
            let _ = berth_sys::fsflags::add(d.as_fd(), berth_sys::fsflags::TOPDIR);
        }
        Ok(Snapshots {
            dir: dir.to_path_buf(),
        })
    }

    fn path_of(&self, id: i64) -> PathBuf {
        self.dir.join(base36(id))
    }

    /// The directory holding a snapshot's files (the upper dir of an active one).
    pub fn fs_dir(&self, info: &Info) -> PathBuf {
        self.path_of(info.id).join("fs")
    }

    pub fn stat(&self, db: &Db, key: &str) -> Result<Info> {
        get(db.conn(), key)
            .map_err(db.err())?
            .ok_or_else(|| SnapshotError::NotFound(key.into()))
    }

    pub fn exists(&self, db: &Db, key: &str) -> Result<bool> {
        Ok(get(db.conn(), key).map_err(db.err())?.is_some())
    }

    pub fn list(&self, db: &Db) -> Result<Vec<Info>> {
        let mut st = db
            .conn()
            .prepare(&format!("SELECT {COLUMNS} FROM snapshots ORDER BY id"))
            .map_err(db.err())?;
        let rows = st.query_map([], row).map_err(db.err())?;
        Ok(rows.collect::<rusqlite::Result<_>>().map_err(db.err())?)
    }

    /// A writable snapshot on top of `parent`.
    pub fn prepare(&self, db: &mut Db, key: &str, parent: Option<&str>) -> Result<Vec<Mount>> {
        self.create(db, key, parent, Kind::Active)?;
        self.mounts(db, key)
    }

    /// A read-only snapshot of `parent`.
    pub fn view(&self, db: &mut Db, key: &str, parent: Option<&str>) -> Result<Vec<Mount>> {
        self.create(db, key, parent, Kind::View)?;
        self.mounts(db, key)
    }

    fn create(&self, db: &mut Db, key: &str, parent: Option<&str>, kind: Kind) -> Result<Info> {
        let dir = self.dir.clone();
        db.write(|tx| {
            let e = |source| DbError {
                path: dir.clone(),
                source,
            };
            if get(tx, key).map_err(e)?.is_some() {
                return Err(SnapshotError::Exists(key.into()));
            }
            if let Some(p) = parent {
                match get(tx, p).map_err(e)? {
                    Some(i) if i.kind == Kind::Committed => {}
                    Some(_) => return Err(SnapshotError::ParentNotCommitted(p.into())),
                    None => return Err(SnapshotError::NotFound(p.into())),
                }
            }
            let id: i64 = tx
                .query_row(
                    "INSERT INTO counters (name, value) VALUES ('snapshot', 1)
                     ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                    [],
                    |r| r.get(0),
                )
                .map_err(e)?;
            let created = now();
            tx.execute(
                "INSERT INTO snapshots (key, id, parent, kind, size, created)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                rusqlite::params![key, id, parent, kind.as_str(), created],
            )
            .map_err(e)?;
            let path = dir.join(base36(id));
            // A leftover directory with this id can only be a crashed attempt's.
            let _ = std::fs::remove_dir_all(&path);
            for sub in ["fs", "work"] {
                let p = path.join(sub);
                std::fs::create_dir_all(&p).map_err(io(&p))?;
            }
            Ok(Info {
                key: key.into(),
                id,
                parent: parent.map(Into::into),
                kind,
                size: 0,
                created,
            })
        })
    }

    /// The snapshot's chain of parents, nearest first.
    fn ancestors(&self, db: &Db, info: &Info) -> Result<Vec<Info>> {
        let mut out = Vec::new();
        let mut next = info.parent.clone();
        while let Some(p) = next {
            let i = self.stat(db, &p)?;
            next = i.parent.clone();
            out.push(i);
        }
        Ok(out)
    }

    /// The mounts that make up the snapshot.
    pub fn mounts(&self, db: &Db, key: &str) -> Result<Vec<Mount>> {
        let info = self.stat(db, key)?;
        let lowers: Vec<String> = self
            .ancestors(db, &info)?
            .iter()
            .map(|i| self.fs_dir(i).display().to_string())
            .collect();
        let own = self.path_of(info.id);
        let bind = |source: String, ro: bool| Mount {
            kind: "bind".into(),
            source,
            options: vec![if ro { "ro" } else { "rw" }.into(), "rbind".into()],
        };
        Ok(vec![match (info.kind, lowers.len()) {
            (Kind::View, 0) | (Kind::Committed, 0) => {
                bind(own.join("fs").display().to_string(), true)
            }
            (Kind::View, 1) => bind(lowers[0].clone(), true),
            (Kind::View, _) => Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![format!("lowerdir={}", lowers.join(":"))],
            },
            (Kind::Committed, _) => Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![format!(
                    "lowerdir={}:{}",
                    own.join("fs").display(),
                    lowers.join(":")
                )],
            },
            (Kind::Active, 0) => bind(own.join("fs").display().to_string(), false),
            (Kind::Active, _) => Mount {
                kind: "overlay".into(),
                source: "overlay".into(),
                options: vec![
                    "index=off".into(),
                    format!("workdir={}", own.join("work").display()),
                    format!("upperdir={}", own.join("fs").display()),
                    format!("lowerdir={}", lowers.join(":")),
                ],
            },
        }])
    }

    /// Turns active snapshot `key` into committed snapshot `name`, recording its size.
    pub fn commit(&self, db: &mut Db, name: &str, key: &str) -> Result<()> {
        let parent = self.stat(db, key)?.parent;
        self.commit_onto(db, name, key, parent.as_deref())
    }

    /// [`Snapshots::commit`], placing the snapshot on `parent`. Layers are extracted each into
    /// a directory of its own, in parallel, and only stacked here, in order.
    pub fn commit_onto(
        &self,
        db: &mut Db,
        name: &str,
        key: &str,
        parent: Option<&str>,
    ) -> Result<()> {
        let info = self.stat(db, key)?;
        if info.kind != Kind::Active {
            return Err(SnapshotError::NotActive(key.into()));
        }
        let size = disk_usage(&self.fs_dir(&info));
        let dir = self.dir.clone();
        db.write(|tx| {
            let e = |source| DbError {
                path: dir.clone(),
                source,
            };
            if get(tx, name).map_err(e)?.is_some() {
                return Err(SnapshotError::Exists(name.into()));
            }
            if let Some(p) = parent {
                match get(tx, p).map_err(e)? {
                    Some(i) if i.kind == Kind::Committed => {}
                    Some(_) => return Err(SnapshotError::ParentNotCommitted(p.into())),
                    None => return Err(SnapshotError::NotFound(p.into())),
                }
            }
            let n = tx
                .execute(
                    "UPDATE snapshots SET key = ?1, kind = 'committed', size = ?2, parent = ?4
                     WHERE key = ?3 AND kind = 'active'",
                    rusqlite::params![name, size as i64, key, parent],
                )
                .map_err(e)?;
            if n == 0 {
                return Err(SnapshotError::NotFound(key.into()));
            }
            Ok(())
        })
    }

    /// Removes a snapshot that nothing is built on.
    pub fn remove(&self, db: &mut Db, key: &str) -> Result<()> {
        let trash = self.detach(db, key)?;
        remove_tree(&trash)
    }

    /// The first half of [`Snapshots::remove`]: the row goes and the directory is renamed
    /// out of the way, to a name [`Snapshots::cleanup`] deletes should nobody else. Returns
    /// that directory, for [`Snapshots::purge`] when the caller has the time.
    pub fn detach(&self, db: &mut Db, key: &str) -> Result<PathBuf> {
        db.write(|tx| self.detach_in(tx, key))
    }

    /// [`Snapshots::detach`] as part of the caller's write transaction: the directory is
    /// renamed at once, and a rolled-back transaction leaves it where a sweep finds it.
    pub fn detach_in(&self, tx: &rusqlite::Transaction<'_>, key: &str) -> Result<PathBuf> {
        let e = |source| DbError {
            path: self.dir.clone(),
            source,
        };
        let info = get(tx, key)
            .map_err(e)?
            .ok_or_else(|| SnapshotError::NotFound(key.into()))?;
        let children: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM snapshots WHERE parent = ?1",
                [key],
                |r| r.get(0),
            )
            .map_err(e)?;
        if children > 0 {
            return Err(SnapshotError::HasChildren(key.into()));
        }
        let path = self.dir.join(base36(info.id));
        let trash = self.dir.join(format!("rm-{}", base36(info.id)));
        match std::fs::rename(&path, &trash) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(SnapshotError::Io(path, err)),
        }
        tx.execute("DELETE FROM snapshots WHERE key = ?1", [key])
            .map_err(e)?;
        Ok(trash)
    }

    /// Deletes a directory [`Snapshots::detach`] returned.
    pub fn purge(&self, trash: &Path) -> Result<()> {
        remove_tree(trash)
    }

    /// Removes directories no row names (left by crashes) and active snapshots whose key says
    /// they belong to an extraction by a process that is gone. Returns how many went.
    pub fn cleanup(&self, db: &mut Db) -> Result<usize> {
        let mut dead = Vec::new();
        for info in self.list(db)? {
            if let Some(owner) = info.key.strip_prefix("extract-") {
                let owner = owner.split(' ').next().unwrap_or_default();
                if crate::lease::owner_gone(owner) {
                    dead.push(info.key);
                }
            }
        }
        let mut removed = 0;
        for key in dead {
            if self.remove(db, &key).is_ok() {
                removed += 1;
            }
        }
        let dir = self.dir.clone();
        let orphans = db.write(|tx| {
            let e = |source| DbError {
                path: dir.clone(),
                source,
            };
            let mut st = tx.prepare("SELECT id FROM snapshots").map_err(e)?;
            let ids: std::collections::HashSet<String> = st
                .query_map([], |r| r.get::<_, i64>(0))
                .map_err(e)?
                .filter_map(|r| r.ok().map(base36))
                .collect();
            let mut orphans = Vec::new();
            for ent in std::fs::read_dir(&dir).map_err(io(&dir))?.flatten() {
                let name = ent.file_name().to_string_lossy().into_owned();
                if name.starts_with("rm-") {
                    orphans.push(ent.path());
                } else if !ids.contains(&name) {
                    let trash = dir.join(format!("rm-{name}"));
                    if std::fs::rename(ent.path(), &trash).is_ok() {
                        orphans.push(trash);
                    }
                }
            }
            Ok::<_, SnapshotError>(orphans)
        })?;
        for o in orphans {
            remove_tree(&o)?;
            removed += 1;
        }
        Ok(removed)
    }
}

fn remove_tree(p: &Path) -> Result<()> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SnapshotError::Io(p.to_path_buf(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Db, Snapshots) {
        let d = tempfile::tempdir().unwrap();
        let db = Db::open(&d.path().join("db")).unwrap();
        let s = Snapshots::open(&d.path().join("s")).unwrap();
        (d, db, s)
    }

    #[test]
    fn prepare_commit_view_remove() {
        let (_d, mut db, s) = setup();
        let m = s.prepare(&mut db, "a-active", None).unwrap();
        assert_eq!(m[0].kind, "bind");
        let a = s.stat(&db, "a-active").unwrap();
        std::fs::write(s.fs_dir(&a).join("f"), b"12345").unwrap();
        s.commit(&mut db, "a", "a-active").unwrap();
        assert_eq!(s.stat(&db, "a").unwrap().size, 5);
        assert!(matches!(
            s.stat(&db, "a-active"),
            Err(SnapshotError::NotFound(_))
        ));
        s.prepare(&mut db, "b-active", Some("a")).unwrap();
        s.commit(&mut db, "b", "b-active").unwrap();
        let m = s.prepare(&mut db, "ctr", Some("b")).unwrap();
        assert_eq!(m[0].kind, "overlay");
        let lower = m[0]
            .options
            .iter()
            .find(|o| o.starts_with("lowerdir="))
            .unwrap();
        assert_eq!(lower.matches(':').count(), 1, "{lower}");
        let v = s.view(&mut db, "v", Some("a")).unwrap();
        assert_eq!(v[0].kind, "bind");
        assert!(v[0].options.contains(&"ro".to_string()));
        assert!(matches!(
            s.remove(&mut db, "a"),
            Err(SnapshotError::HasChildren(_))
        ));
        assert!(matches!(
            s.prepare(&mut db, "x", Some("ctr")),
            Err(SnapshotError::ParentNotCommitted(_))
        ));
        for k in ["ctr", "v", "b", "a"] {
            s.remove(&mut db, k).unwrap();
        }
        assert_eq!(std::fs::read_dir(&s.dir).unwrap().count(), 0);
    }

    #[test]
    fn ids_stay_short_and_orphans_are_cleaned() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(36 * 36 - 1), "zz");
        let (_d, mut db, s) = setup();
        std::fs::create_dir_all(s.dir.join("zz/fs")).unwrap();
        s.prepare(&mut db, "keep", None).unwrap();
        assert_eq!(s.cleanup(&mut db).unwrap(), 1);
        assert!(s.exists(&db, "keep").unwrap());
        assert!(s.fs_dir(&s.stat(&db, "keep").unwrap()).is_dir());
    }
}
