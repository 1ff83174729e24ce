//! Garbage collection, driven by references: what an image, a container's snapshot or a live
//! lease names stays; every other blob and snapshot goes. The decision and the unlinking run
//! inside one write transaction, so a concurrent pull (whose lease is written before its
//! first byte) can never lose a blob.

use std::collections::{HashMap, HashSet};

use crate::db::DbError;
use crate::digest::Digest;
use crate::lease::{self, RefKind};
use crate::spec;
use crate::store::{Image, Removed, Result, Store, StoreError};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    pub blobs: usize,
    pub snapshots: usize,
    pub bytes: u64,
}

/// `system df` for images.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub images: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
    pub blobs: u64,
}

impl Store {
    /// Blobs and snapshots every image needs.
    fn image_refs(&self) -> Result<(HashSet<Digest>, HashSet<String>)> {
        let mut blobs = HashSet::new();
        let mut snaps = HashSet::new();
        for img in self.images()? {
            blobs.insert(img.manifest.clone());
            blobs.insert(img.id.clone());
            // An image whose documents are unreadable keeps what it can name.
            if let Ok(m) = self.manifest(&img) {
                blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
            }
            if let Ok(c) = self.config(&img) {
                snaps.extend(
                    spec::chain_ids(&c.rootfs.diff_ids)
                        .iter()
                        .map(|c| c.to_string()),
                );
            }
        }
        Ok((blobs, snaps))
    }

    /// Removes every blob and snapshot nothing refers to, and crashed writers' leftovers.
    pub fn collect_garbage(&mut self) -> Result<Collected> {
        let mut out = Collected::default();
        self.content.clean_ingest()?;
        out.snapshots += self.snapshots.cleanup(&mut self.db)?;
        let (keep_blobs, keep_snaps) = self.image_refs()?;
        let content = self.content.clone();
        let snapshots = self.snapshots.clone();
        let all = snapshots.list(&self.db)?;
        let (removed, trash) = self.db.write(|tx| {
            let e = |source| {
                StoreError::Db(DbError {
                    path: "gc".into(),
                    source,
                })
            };
            let leased_blobs = lease::live_refs(tx, RefKind::Blob).map_err(e)?;
            let leased_snaps = lease::live_refs(tx, RefKind::Snapshot).map_err(e)?;
            // Images registered since image_refs ran are found by their rows.
            let mut st = tx.prepare("SELECT id, manifest FROM images").map_err(e)?;
            let rows: Vec<(String, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(e)?
                .collect::<rusqlite::Result<_>>()
                .map_err(e)?;
            drop(st);
            let row_blobs: HashSet<String> = rows.into_iter().flat_map(|(a, b)| [a, b]).collect();
            let mut bytes = 0;
            let mut blobs = 0;
            for d in content.list()? {
                let name = d.to_string();
                if keep_blobs.contains(&d)
                    || leased_blobs.contains(&name)
                    || row_blobs.contains(&name)
                {
                    continue;
                }
                bytes += content.size(&d).unwrap_or(0);
                if content.remove(&d).is_ok() {
                    blobs += 1;
                }
            }
            // Snapshots: keep those named by images and leases, every active or view one (a
            // container's), and all their ancestors.
            let by_key: HashMap<&str, &crate::snapshot::Info> =
                all.iter().map(|i| (i.key.as_str(), i)).collect();
            let mut keep: HashSet<&str> = HashSet::new();
            for i in &all {
                let root = keep_snaps.contains(&i.key)
                    || leased_snaps.contains(&i.key)
                    || i.kind != crate::snapshot::Kind::Committed;
                if root {
                    let mut next = Some(i.key.as_str());
                    while let Some(k) = next {
                        if !keep.insert(k) {
                            break;
                        }
                        next = by_key.get(k).and_then(|i| i.parent.as_deref());
                    }
                }
            }
            let mut trash = Vec::new();
            for i in all.iter().filter(|i| !keep.contains(i.key.as_str())) {
                bytes += i.size;
                tx.execute("DELETE FROM snapshots WHERE key = ?1", [&i.key])
                    .map_err(e)?;
                trash.push(snapshots.fs_dir(i).parent().map(|p| p.to_path_buf()));
            }
            Ok::<_, StoreError>((
                Collected {
                    blobs,
                    snapshots: trash.len(),
                    bytes,
                },
                trash,
            ))
        })?;
        for dir in trash.into_iter().flatten() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        out.blobs += removed.blobs;
        out.snapshots += removed.snapshots;
        out.bytes += removed.bytes;
        Ok(out)
    }

    /// `image prune`: dangling images (no tag), or with `all` every image no container uses;
    /// then garbage collection.
    pub fn prune(&mut self, all: bool) -> Result<(Removed, Collected)> {
        let mut removed = Removed::default();
        for img in self.images()? {
            if !img.tags.is_empty() && !all {
                continue;
            }
            if !self.users(&img.id)?.is_empty() {
                continue;
            }
            let r = self.remove_image_record(&img)?;
            removed.untagged.extend(r.untagged);
            removed.deleted.extend(r.deleted);
        }
        let collected = self.collect_garbage()?;
        Ok((removed, collected))
    }

    fn remove_image_record(&mut self, img: &Image) -> Result<Removed> {
        let id = img.id.to_string();
        self.db.write(|tx| {
            let e = |source| {
                StoreError::Db(DbError {
                    path: "images".into(),
                    source,
                })
            };
            tx.execute("DELETE FROM tags WHERE image = ?1", [&id])
                .map_err(e)?;
            tx.execute("DELETE FROM digests WHERE image = ?1", [&id])
                .map_err(e)?;
            tx.execute("DELETE FROM images WHERE id = ?1", [&id])
                .map_err(e)?;
            Ok::<_, StoreError>(())
        })?;
        let familiar = |s: &String| crate::Reference::parse(s).map_or(s.clone(), |r| r.familiar());
        Ok(Removed {
            untagged: img.tags.iter().chain(&img.digests).map(familiar).collect(),
            deleted: vec![img.id.clone()],
        })
    }

    /// Sizes for `system df`.
    pub fn usage(&self) -> Result<Usage> {
        let mut u = Usage::default();
        for img in self.images()? {
            u.images += 1;
            u.size += img.size;
            if self.users(&img.id)?.is_empty() {
                u.reclaimable += img.size;
            } else {
                u.active += 1;
            }
        }
        for d in self.content.list()? {
            u.blobs += self.content.size(&d).unwrap_or(0);
        }
        Ok(u)
    }
}
