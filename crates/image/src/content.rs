//! The content store: blobs named by their sha256, written once and never changed.
//!
//! A blob is streamed into `ingest/` while it is hashed, checked against the digest and size
//! it was announced with, fsynced, made read-only and renamed into `blobs/sha256/<hex>`.
//! Readers therefore see whole, verified blobs or nothing. Ingest files carry the writer's
//! pid and start time, so that a crash leaves files the next [`ContentStore::clean_ingest`]
//! can tell from a concurrent writer's.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::Digest as _;

use crate::digest::Digest;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("digest mismatch: expected {expected}, got {actual} ({size} bytes)")]
    DigestMismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("size mismatch for {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("blob exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("blob {0} not found")]
    NotFound(Digest),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ContentError + '_ {
    move |source| ContentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub type Result<T> = std::result::Result<T, ContentError>;

/// A content store rooted at a directory of berth's.
#[derive(Debug, Clone)]
pub struct ContentStore {
    blobs: PathBuf,
    ingest: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// This process's pid and start time, for ingest names.
fn owner() -> (i32, u64) {
    let pid = std::process::id() as i32;
    (pid, berth_sys::proc::start_time(pid).map_or(0, |(s, _)| s))
}

/// Whether the writer named by an ingest file (`<pid>-<start>-<n>`) is gone.
fn writer_gone(name: &str) -> bool {
    crate::lease::owner_gone(name)
}

/// Removes the ingest file unless the blob made it into the store.
struct Partial {
    path: Option<PathBuf>,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl ContentStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self> {
        let blobs = root.join("blobs/sha256");
        let ingest = root.join("ingest");
        for d in [&blobs, &ingest] {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        Ok(ContentStore { blobs, ingest })
    }

    /// Where the blob lives (whether or not it does yet).
    pub fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    pub fn contains(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    /// Streams `reader` into the store. The blob lands only if it matches `expected` and
    /// `expected_size` (when given) and stays within `limit` bytes; otherwise nothing is left.
    pub fn ingest(
        &self,
        mut reader: impl Read,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        limit: u64,
    ) -> Result<Digest> {
        let mut w = self.writer(expected, expected_size, limit)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(ContentError::Io {
                        path: w.tmp.clone(),
                        source: e,
                    })
                }
            };
            w.push(&buf[..got])?;
        }
        w.commit()
    }

    /// A blob written piece by piece (a download that is also being unpacked, say); it lands
    /// only through [`Writer::commit`], and vanishes if dropped before.
    pub fn writer(
        &self,
        expected: Option<&Digest>,
        expected_size: Option<u64>,
        limit: u64,
    ) -> Result<Writer> {
        let (pid, start) = owner();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = self.ingest.join(format!("{pid}-{start}-{n}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(io(&tmp))?;
        Ok(Writer {
            store: self.clone(),
            file,
            partial: Partial {
                path: Some(tmp.clone()),
            },
            tmp,
            hasher: sha2::Sha256::new(),
            size: 0,
            cap: expected_size.map_or(limit, |s| s.min(limit)),
            limit,
            expected: expected.cloned(),
            expected_size,
        })
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.path(d);
        File::open(&p).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ContentError::NotFound(d.clone()),
            _ => ContentError::Io { path: p, source: e },
        })
    }

    pub fn size(&self, d: &Digest) -> Result<u64> {
        Ok(self
            .open_blob(d)?
            .metadata()
            .map_err(io(&self.path(d)))?
            .len())
    }

    /// Removes a blob (garbage collection decides which).
    pub fn remove(&self, d: &Digest) -> Result<()> {
        let p = self.path(d);
        match std::fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(ContentError::NotFound(d.clone()))
            }
            Err(e) => Err(ContentError::Io { path: p, source: e }),
        }
    }

    /// Every blob in the store; files with names that aren't digests are ignored.
    pub fn list(&self) -> Result<Vec<Digest>> {
        let mut out: Vec<Digest> = std::fs::read_dir(&self.blobs)
            .map_err(io(&self.blobs))?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                format!("sha256:{name}").parse().ok()
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes ingest files whose writer is gone (crashed); a live writer's stay.
    pub fn clean_ingest(&self) -> Result<usize> {
        let mut removed = 0;
        for e in std::fs::read_dir(&self.ingest).map_err(io(&self.ingest))? {
            let e = e.map_err(io(&self.ingest))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if writer_gone(&name) && std::fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// An ingest in progress; see [`ContentStore::writer`].
pub struct Writer {
    store: ContentStore,
    file: File,
    partial: Partial,
    tmp: PathBuf,
    hasher: sha2::Sha256,
    size: u64,
    cap: u64,
    limit: u64,
    expected: Option<Digest>,
    expected_size: Option<u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("tmp", &self.tmp).finish()
    }
}

impl Writer {
    /// Appends bytes, failing as soon as the blob grows past what it may be.
    pub fn push(&mut self, data: &[u8]) -> Result<()> {
        self.size += data.len() as u64;
        if self.size > self.cap {
            return Err(match self.expected_size {
                Some(e) if self.size > e && e <= self.limit => ContentError::SizeMismatch {
                    digest: self
                        .expected
                        .as_ref()
                        .map_or_else(String::new, |d| d.to_string()),
                    expected: e,
                    actual: self.size,
                },
                _ => ContentError::TooLarge { limit: self.limit },
            });
        }
        self.hasher.update(data);
        self.file.write_all(data).map_err(io(&self.tmp))
    }

    pub fn written(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far: what [`Writer::commit`] will publish, known
    /// before it is, so that a lease can name the blob before it becomes collectable.
    pub fn digest(&self) -> Digest {
        Digest::from_hash(&self.hasher.clone().finalize())
    }

    /// Verifies, syncs and publishes the blob.
    pub fn commit(mut self) -> Result<Digest> {
        let actual = Digest::from_hash(&self.hasher.clone().finalize());
        let size = self.size;
        if let Some(e) = self.expected_size.filter(|e| *e != size) {
            return Err(ContentError::SizeMismatch {
                digest: actual.to_string(),
                expected: e,
                actual: size,
            });
        }
        if let Some(e) = self.expected.as_ref().filter(|e| **e != actual) {
            return Err(ContentError::DigestMismatch {
                expected: e.clone(),
                actual,
                size,
            });
        }
        let tmp = self.tmp.clone();
        self.file.sync_all().map_err(io(&tmp))?;
        self.file
            .set_permissions(std::fs::Permissions::from_mode(0o444))
            .map_err(io(&tmp))?;
        let dest = self.store.path(&actual);
        // Same content under the same name: replacing a concurrent writer's copy is harmless.
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
        self.partial.path = None;
        File::open(&self.store.blobs)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.store.blobs))?;
        Ok(actual)
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.push(buf)
            .map(|()| buf.len())
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1 << 20;

    fn store() -> (tempfile::TempDir, ContentStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = ContentStore::open(dir.path()).unwrap();
        (dir, s)
    }

    fn ingest_files(s: &ContentStore) -> usize {
        std::fs::read_dir(&s.ingest).unwrap().count()
    }

    #[test]
    fn round_trip_read_only_and_listed() {
        let (_d, s) = store();
        let d = s.ingest(&b"hello"[..], None, Some(5), LIMIT).unwrap();
        assert_eq!(d, Digest::of(b"hello"));
        let mut text = String::new();
        s.open_blob(&d).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        let mode = std::fs::metadata(s.path(&d)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444);
        assert_eq!(s.list().unwrap(), vec![d.clone()]);
        assert_eq!(s.size(&d).unwrap(), 5);
        // Ingesting the same content again is fine and changes nothing.
        assert_eq!(s.ingest(&b"hello"[..], Some(&d), None, LIMIT).unwrap(), d);
        s.remove(&d).unwrap();
        assert!(matches!(s.open_blob(&d), Err(ContentError::NotFound(_))));
        assert_eq!(ingest_files(&s), 0);
    }

    #[test]
    fn bad_content_leaves_nothing() {
        let (_d, s) = store();
        let wrong = Digest::of(b"other");
        let e = s
            .ingest(&b"hello"[..], Some(&wrong), None, LIMIT)
            .unwrap_err();
        assert!(e.to_string().contains(&wrong.to_string()), "{e}");
        let e = s.ingest(&b"hello"[..], None, Some(4), LIMIT).unwrap_err();
        assert!(
            matches!(e, ContentError::SizeMismatch { expected: 4, .. }),
            "{e}"
        );
        let e = s.ingest(&b"hello"[..], None, Some(6), LIMIT).unwrap_err();
        assert!(
            matches!(e, ContentError::SizeMismatch { actual: 5, .. }),
            "{e}"
        );
        // A stream that never ends stops at the limit.
        let e = s
            .ingest(std::io::repeat(0), None, None, 3 << 16)
            .unwrap_err();
        assert!(matches!(e, ContentError::TooLarge { .. }), "{e}");
        assert!(s.list().unwrap().is_empty());
        assert_eq!(ingest_files(&s), 0);
    }

    #[test]
    fn crashed_writers_are_cleaned_live_ones_kept() {
        let (_d, s) = store();
        let (pid, start) = owner();
        std::fs::write(s.ingest.join(format!("{pid}-{start}-99")), b"live").unwrap();
        std::fs::write(s.ingest.join(format!("{}-1-0", i32::MAX - 1)), b"dead").unwrap();
        std::fs::write(s.ingest.join("garbage"), b"?").unwrap();
        assert_eq!(s.clean_ingest().unwrap(), 2);
        assert_eq!(ingest_files(&s), 1);
    }

    #[test]
    fn concurrent_ingests_of_the_same_blob() {
        let (_d, s) = store();
        let data = vec![7u8; 300_000];
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (s, data) = (s.clone(), data.clone());
                std::thread::spawn(move || s.ingest(&data[..], None, None, LIMIT).unwrap())
            })
            .collect();
        let digests: Vec<Digest> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(digests.iter().all(|d| *d == Digest::of(&data)));
        assert_eq!(s.size(&digests[0]).unwrap(), 300_000);
        assert_eq!(ingest_files(&s), 0);
    }
}
