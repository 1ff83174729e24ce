//! The image store: blobs, snapshots and the metadata that ties them into named images.
//!
//! An image is registered only after all its blobs are verified and all its layers are
//! unpacked and committed, in one transaction, so that a failure or a crash part way leaves
//! no half-registered image; what such an attempt wrote is held by a lease until then and is
//! collected afterwards.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::OptionalExtension;

use crate::apply::{self, ApplyOptions, Whiteouts};
use crate::content::{ContentError, ContentStore};
use crate::db::{now, Db, DbError};
use crate::digest::Digest;
use crate::lease::{self, Lease, RefKind};
use crate::reference::{Reference, ReferenceError};
use crate::snapshot::{SnapshotError, Snapshots};
use crate::spec::{self, ImageConfig, Manifest, SpecError, MAX_DOCUMENT};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("layer {index} ({digest}): {source}")]
    Layer {
        index: usize,
        digest: Digest,
        source: apply::ApplyError,
    },
    #[error("image config {config} lists {diff_ids} layer diff IDs but its manifest has {layers} layers")]
    LayerCount {
        config: Digest,
        diff_ids: usize,
        layers: usize,
    },
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// One image as `images` and `inspect` see it.
#[derive(Debug, Clone)]
pub struct Image {
    pub id: Digest,
    pub manifest: Digest,
    pub media_type: String,
    pub loaded: i64,
    pub size: u64,
    /// Full references, `docker.io/library/busybox:latest`.
    pub tags: Vec<String>,
    /// `docker.io/library/busybox@sha256:...`
    pub digests: Vec<String>,
}

/// What the store removed, in Docker's words (`Untagged: ...`, `Deleted: ...`).
#[derive(Debug, Default)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<Digest>,
}

/// Limits on what an image may make the store write.
#[derive(Debug, Clone)]
pub struct Limits {
    pub layer: apply::Limits,
    /// Largest compressed blob accepted.
    pub blob: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            layer: apply::Limits::default(),
            blob: 64 << 30,
        }
    }
}

pub struct Store {
    root: PathBuf,
    pub content: ContentStore,
    pub db: Db,
    pub snapshots: Snapshots,
    pub limits: Limits,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish()
    }
}

fn io(p: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// A layer to unpack: where its bytes come from and what they must hash to once decompressed.
pub struct LayerSource<'a> {
    pub diff_id: Digest,
    pub open: Box<dyn FnOnce() -> Result<Box<dyn Read + Send + 'a>> + Send + 'a>,
}

impl Store {
    /// Opens (creating) the store under `root`, e.g. `/var/lib/berth`.
    pub fn open(root: &Path) -> Result<Store> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        let content = ContentStore::open(root)?;
        let db = Db::open(&root.join("berth.db"))?;
        let snapshots = Snapshots::open(&root.join("s"))?;
        Ok(Store {
            root: root.to_path_buf(),
            content,
            db,
            snapshots,
            limits: Limits::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A scratch directory on the store's filesystem.
    pub fn tmp_dir(&self) -> Result<PathBuf> {
        let p = self.root.join("tmp");
        std::fs::create_dir_all(&p).map_err(io(&p))?;
        Ok(p)
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut f = self.content.open_blob(d)?;
        let mut buf = Vec::new();
        (&mut f)
            .take(MAX_DOCUMENT + 1)
            .read_to_end(&mut buf)
            .map_err(io(&self.content.path(d)))?;
        if buf.len() as u64 > MAX_DOCUMENT {
            return Err(ContentError::TooLarge {
                limit: MAX_DOCUMENT,
            }
            .into());
        }
        Ok(buf)
    }

    pub fn manifest(&self, img: &Image) -> Result<Manifest> {
        match spec::parse_document(&self.read_blob(&img.manifest)?, Some(&img.media_type))? {
            spec::Document::Manifest(m) => Ok(m),
            spec::Document::Index(_) => Err(SpecError::MediaType(img.media_type.clone()).into()),
        }
    }

    pub fn config(&self, img: &Image) -> Result<ImageConfig> {
        Ok(ImageConfig::parse(&self.read_blob(&img.id)?)?)
    }

    fn image_row(&self, id: &str) -> Result<Option<Image>> {
        let c = self.db.conn();
        let row = c
            .query_row(
                "SELECT id, manifest, media_type, loaded, size FROM images WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(self.db.err())?;
        let Some((id, manifest, media_type, loaded, size)) = row else {
            return Ok(None);
        };
        let names = |sql: &str| -> Result<Vec<String>> {
            let mut st = c.prepare(sql).map_err(self.db.err())?;
            let v = st
                .query_map([&id], |r| r.get(0))
                .map_err(self.db.err())?
                .collect::<rusqlite::Result<Vec<String>>>()
                .map_err(self.db.err())?;
            Ok(v)
        };
        let tags = names("SELECT name FROM tags WHERE image = ?1 ORDER BY name")?;
        let digests = names("SELECT name FROM digests WHERE image = ?1 ORDER BY name")?;
        let bad = |s: &str| StoreError::Conflict(format!("corrupt image record: {s:?}"));
        Ok(Some(Image {
            id: id.parse().map_err(|_| bad(&id))?,
            manifest: manifest.parse().map_err(|_| bad(&manifest))?,
            media_type,
            loaded,
            size: size as u64,
            tags,
            digests,
        }))
    }

    /// Every image, newest first.
    pub fn images(&self) -> Result<Vec<Image>> {
        let ids: Vec<String> = {
            let mut st = self
                .db
                .conn()
                .prepare("SELECT id FROM images ORDER BY loaded DESC, id")
                .map_err(self.db.err())?;
            let v = st
                .query_map([], |r| r.get(0))
                .map_err(self.db.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.db.err())?;
            v
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(i) = self.image_row(&id)? {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Finds an image the way Docker does: by reference (`busybox`, `busybox:1`,
    /// `busybox@sha256:...`), by full ID (`sha256:...`) or by a unique ID prefix.
    pub fn resolve(&self, s: &str) -> Result<Image> {
        let missing = || StoreError::NoSuchImage(s.to_string());
        if let Ok(d) = s.parse::<Digest>() {
            return self.image_row(&d.to_string())?.ok_or_else(missing);
        }
        if let Ok(r) = Reference::parse(s) {
            let (table, name) = match &r.digest {
                Some(_) => (
                    "digests",
                    format!(
                        "{}@{}",
                        r.name(),
                        r.digest.as_ref().map(|d| d.to_string()).unwrap_or_default()
                    ),
                ),
                None => ("tags", r.to_string()),
            };
            let id: Option<String> = self
                .db
                .conn()
                .query_row(
                    &format!("SELECT image FROM {table} WHERE name = ?1"),
                    [&name],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.db.err())?;
            if let Some(id) = id {
                return self.image_row(&id)?.ok_or_else(missing);
            }
            // A digest reference also finds an image whose manifest has that digest.
            if let Some(d) = &r.digest {
                let id: Option<String> = self
                    .db
                    .conn()
                    .query_row(
                        "SELECT id FROM images WHERE manifest = ?1",
                        [d.to_string()],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(self.db.err())?;
                if let Some(id) = id {
                    return self.image_row(&id)?.ok_or_else(missing);
                }
            }
        }
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut st = self
                .db
                .conn()
                .prepare("SELECT id FROM images WHERE substr(id, 8, ?1) = ?2")
                .map_err(self.db.err())?;
            let ids: Vec<String> = st
                .query_map(rusqlite::params![hex.len() as i64, hex], |r| r.get(0))
                .map_err(self.db.err())?
                .collect::<rusqlite::Result<_>>()
                .map_err(self.db.err())?;
            match ids.len() {
                1 => return self.image_row(&ids[0])?.ok_or_else(missing),
                0 => {}
                _ => {
                    return Err(StoreError::Conflict(format!(
                        "image ID prefix {s:?} is ambiguous"
                    )))
                }
            }
        }
        Err(missing())
    }

    /// Containers (by ID) made from `image`.
    pub fn users(&self, image: &Digest) -> Result<Vec<String>> {
        let mut st = self
            .db
            .conn()
            .prepare("SELECT id FROM containers WHERE image = ?1 ORDER BY id")
            .map_err(self.db.err())?;
        let v = st
            .query_map([image.to_string()], |r| r.get(0))
            .map_err(self.db.err())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.db.err())?;
        Ok(v)
    }

    /// Points `reference` (a tag) at image `id`, moving it off any image that had it.
    pub fn tag(&mut self, id: &Digest, reference: &Reference) -> Result<()> {
        let name = reference.to_string();
        let id = id.to_string();
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO tags (name, image) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image = excluded.image",
                [&name, &id],
            )
            .map(|_| ())
            .map_err(|source| {
                StoreError::Db(DbError {
                    path: "tags".into(),
                    source,
                })
            })
        })
    }

    /// Records that a registry knows `image` under `name` (`registry/repo@sha256:...`).
    pub fn add_repo_digest(&mut self, image: &Digest, name: &str) -> Result<()> {
        let id = image.to_string();
        self.db.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO digests (name, image) VALUES (?1, ?2)",
                [name, id.as_str()],
            )
            .map(|_| ())
            .map_err(|source| {
                StoreError::Db(DbError {
                    path: "digests".into(),
                    source,
                })
            })
        })
    }

    /// Records a fully unpacked image under its names, in one transaction. Blobs and
    /// snapshots must already be in place (held by `lease` until now).
    pub fn register(
        &mut self,
        manifest: &Digest,
        media_type: &str,
        config: &Digest,
        tags: &[Reference],
        repo_digests: &[String],
        size: u64,
    ) -> Result<()> {
        let id = config.to_string();
        let manifest = manifest.to_string();
        self.db.write(|tx| {
            let e = |source| {
                StoreError::Db(DbError {
                    path: "images".into(),
                    source,
                })
            };
            tx.execute(
                "INSERT INTO images (id, manifest, media_type, loaded, size)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET manifest = excluded.manifest,
                     media_type = excluded.media_type, loaded = excluded.loaded,
                     size = excluded.size",
                rusqlite::params![id, manifest, media_type, now(), size as i64],
            )
            .map_err(e)?;
            for t in tags {
                tx.execute(
                    "INSERT INTO tags (name, image) VALUES (?1, ?2)
                     ON CONFLICT(name) DO UPDATE SET image = excluded.image",
                    [t.to_string(), id.clone()],
                )
                .map_err(e)?;
            }
            for d in repo_digests {
                tx.execute(
                    "INSERT OR IGNORE INTO digests (name, image) VALUES (?1, ?2)",
                    [d, &id],
                )
                .map_err(e)?;
            }
            Ok(())
        })
    }

    /// `docker rmi` for one argument: a tag is untagged, and the image goes when no tag is
    /// left; an ID removes the image, which with several tags needs `force`. An image a
    /// container uses is never removed (with `force` only its tag goes, as in Docker).
    pub fn remove(&mut self, what: &str, force: bool) -> Result<Removed> {
        let img = self.resolve(what)?;
        let short = &img.id.hex()[..12];
        let by_tag = Reference::parse(what)
            .ok()
            .filter(|r| img.tags.contains(&r.to_string()));
        let users = self.users(&img.id)?;
        let mut out = Removed::default();
        let mut untag: Vec<String> = Vec::new();
        if let Some(r) = &by_tag {
            if !users.is_empty() && img.tags.len() == 1 && !force {
                return Err(StoreError::Conflict(format!(
                    "conflict: unable to remove repository reference {what:?} (must force) - container {} is using its referenced image {short}",
                    &users[0][..users[0].len().min(12)]
                )));
            }
            untag.push(r.to_string());
        } else {
            if !users.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "conflict: unable to delete {short} (cannot be forced) - image is being used by running container {}",
                    &users[0][..users[0].len().min(12)]
                )));
            }
            if img.tags.len() > 1 && !force {
                return Err(StoreError::Conflict(format!(
                    "conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories"
                )));
            }
            untag.extend(img.tags.iter().cloned());
        }
        let remaining = img.tags.len() - untag.len();
        let delete = remaining == 0 && users.is_empty();
        let id = img.id.to_string();
        self.db.write(|tx| {
            let e = |source| {
                StoreError::Db(DbError {
                    path: "images".into(),
                    source,
                })
            };
            for t in &untag {
                tx.execute("DELETE FROM tags WHERE name = ?1", [t])
                    .map_err(e)?;
            }
            if delete {
                tx.execute("DELETE FROM digests WHERE image = ?1", [&id])
                    .map_err(e)?;
                tx.execute("DELETE FROM images WHERE id = ?1", [&id])
                    .map_err(e)?;
            }
            Ok::<_, StoreError>(())
        })?;
        out.untagged = untag
            .iter()
            .map(|t| Reference::parse(t).map_or(t.clone(), |r| r.familiar()))
            .collect();
        if delete {
            out.untagged.extend(
                img.digests
                    .iter()
                    .map(|d| Reference::parse(d).map_or(d.clone(), |r| r.familiar())),
            );
            out.deleted.push(img.id.clone());
        }
        Ok(out)
    }

    /// Unpacks layers into committed snapshots named by their chain IDs: each missing layer is
    /// applied into its own directory, several at once, and the snapshots are committed
    /// bottom-up once all succeeded. Returns the unpacked size of the whole stack.
    pub fn unpack(&mut self, lease: &Lease, layers: Vec<LayerSource<'_>>) -> Result<u64> {
        let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let chain = spec::chain_ids(&diff_ids);
        lease::add(
            &mut self.db,
            lease,
            RefKind::Snapshot,
            &chain.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        )?;
        let mut jobs = Vec::new();
        for (i, layer) in layers.into_iter().enumerate() {
            if self.snapshots.exists(&self.db, &chain[i].to_string())? {
                continue;
            }
            let key = format!("extract-{} {}", lease.id, chain[i]);
            self.snapshots.prepare(&mut self.db, &key, None)?;
            let dir = self.snapshots.fs_dir(&self.snapshots.stat(&self.db, &key)?);
            jobs.push((i, key, dir, layer));
        }
        let keys: Vec<(usize, String)> = jobs.iter().map(|(i, k, ..)| (*i, k.clone())).collect();
        let result = self.apply_all(jobs);
        let result = result.and_then(|()| {
            for (i, key) in &keys {
                let parent = (*i > 0).then(|| chain[i - 1].to_string());
                match self.snapshots.commit_onto(
                    &mut self.db,
                    &chain[*i].to_string(),
                    key,
                    parent.as_deref(),
                ) {
                    Ok(()) => {}
                    // Another process unpacked the same layer first: theirs is as good.
                    Err(SnapshotError::Exists(_)) => self.snapshots.remove(&mut self.db, key)?,
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            for (_, key) in &keys {
                let _ = self.snapshots.remove(&mut self.db, key);
            }
            return Err(e);
        }
        let mut size = 0;
        for c in &chain {
            size += self.snapshots.stat(&self.db, &c.to_string())?.size;
        }
        Ok(size)
    }

    fn apply_all(&self, jobs: Vec<(usize, String, PathBuf, LayerSource<'_>)>) -> Result<()> {
        let limits = self.limits.layer.clone();
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        let queue = std::sync::Mutex::new(jobs.into_iter());
        let first_error: std::sync::Mutex<Option<StoreError>> = std::sync::Mutex::new(None);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    let job = queue.lock().ok().and_then(|mut q| q.next());
                    let Some((index, _key, dir, layer)) = job else {
                        break;
                    };
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    let diff_id = layer.diff_id.clone();
                    let res = (layer.open)().and_then(|reader| {
                        let opts = ApplyOptions {
                            whiteouts: Whiteouts::Overlay,
                            limits: limits.clone(),
                            expected_diff_id: Some(diff_id.clone()),
                            preserve_owner: true,
                        };
                        apply::apply(&dir, reader, &opts)
                            .map(|_| ())
                            .map_err(|source| StoreError::Layer {
                                index,
                                digest: diff_id.clone(),
                                source,
                            })
                    });
                    if let Err(e) = res {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                    }
                });
            }
        });
        match first_error.into_inner() {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// The chain IDs (snapshot names) of an image's layers.
    pub fn chain(&self, img: &Image) -> Result<Vec<Digest>> {
        Ok(spec::chain_ids(&self.config(img)?.rootfs.diff_ids))
    }

    /// Ingests a JSON document (manifest or config) under a lease.
    pub fn put_document(&mut self, lease: &Lease, bytes: &[u8]) -> Result<Digest> {
        let d = Digest::of(bytes);
        lease::add(&mut self.db, lease, RefKind::Blob, &[d.to_string()])?;
        self.content
            .ingest(bytes, Some(&d), Some(bytes.len() as u64), MAX_DOCUMENT)?;
        Ok(d)
    }

    pub fn lease(&mut self) -> Result<Lease> {
        Ok(lease::create(&mut self.db)?)
    }

    pub fn hold(&mut self, lease: &Lease, blobs: &[Digest]) -> Result<()> {
        Ok(lease::add(
            &mut self.db,
            lease,
            RefKind::Blob,
            &blobs.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        )?)
    }

    pub fn release(&mut self, lease: Lease) -> Result<()> {
        Ok(lease::release(&mut self.db, lease)?)
    }

    /// Verifies a manifest against its config and unpacks its layers from the content store.
    pub fn unpack_stored(
        &mut self,
        lease: &Lease,
        manifest: &Manifest,
        config_digest: &Digest,
    ) -> Result<(ImageConfig, u64)> {
        let config = ImageConfig::parse(&self.read_blob(config_digest)?)?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(StoreError::LayerCount {
                config: config_digest.clone(),
                diff_ids: config.rootfs.diff_ids.len(),
                layers: manifest.layers.len(),
            });
        }
        let content = self.content.clone();
        let layers = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(desc, diff_id)| {
                let content = content.clone();
                let digest = desc.digest.clone();
                LayerSource {
                    diff_id: diff_id.clone(),
                    open: Box::new(move || {
                        let f = content.open_blob(&digest)?;
                        Ok(Box::new(std::io::BufReader::with_capacity(256 << 10, f))
                            as Box<dyn Read + Send>)
                    }),
                }
            })
            .collect();
        let size = self.unpack(lease, layers)?;
        Ok((config, size))
    }
}

/// Labels and such are shown sorted, as Go's maps print.
pub type Labels = BTreeMap<String, String>;
