//! `commit`, `export` and `diff`: a container's filesystem as a new image layer, as a
//! tarball, and as a list of changes. All three read the container's own snapshot: its upper
//! directory (the changes) or the whole stacked view.

use std::path::{Path, PathBuf};

use berth_image::spec::{self, Descriptor, History, ImageConfig, Manifest};
use berth_image::{Digest, Reference};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::{EngineError, Result};

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub reference: Option<Reference>,
    pub message: Option<String>,
    pub author: Option<String>,
    /// `--change` instructions already applied.
    pub config: Option<spec::RunConfig>,
    pub pause: bool,
}

fn store_err(e: impl Into<berth_image::StoreError>) -> EngineError {
    EngineError::Store(e.into())
}

impl Engine {
    /// The container's upper directory (what it changed).
    fn upper(&self, id: &str) -> Result<PathBuf> {
        let info = self
            .store
            .snapshots
            .stat(&self.store.db, id)
            .map_err(store_err)?;
        Ok(self.store.snapshots.fs_dir(&info))
    }

    /// The lower directories of the container's snapshot, nearest first.
    fn lowers(&self, id: &str) -> Result<Vec<PathBuf>> {
        let mounts = self
            .store
            .snapshots
            .mounts(&self.store.db, id)
            .map_err(store_err)?;
        Ok(mounts
            .first()
            .and_then(|m| m.options.iter().find_map(|o| o.strip_prefix("lowerdir=")))
            .map(|l| l.split(':').map(PathBuf::from).collect())
            .unwrap_or_default())
    }

    /// `docker commit`: the container's changes become a new top layer on its image.
    pub fn commit(&mut self, id: &str, o: &CommitOptions) -> Result<Digest> {
        let c = self.refresh(id)?;
        let paused = o.pause && c.state.status == Status::Running;
        if paused {
            self.pause(&c.id)?;
        }
        let res = self.commit_inner(&c, o);
        if paused {
            let _ = self.unpause(&c.id);
        }
        res
    }

    fn commit_inner(
        &mut self,
        c: &crate::container::Container,
        o: &CommitOptions,
    ) -> Result<Digest> {
        let base = self.store.resolve(&c.image)?;
        let mut cfg: ImageConfig = self.store.config(&base)?;
        let base_manifest = self.store.manifest(&base)?;
        let upper = self.upper(&c.id)?;
        let lease = self.store.lease()?;
        let res = (|| -> Result<Digest> {
            let mut w = self
                .store
                .content
                .writer(None, None, self.store.limits.blob)
                .map_err(store_err)?;
            let skip = mount_artifacts(c, &upper);
            let diff_id = berth_image::diff::write_layer_except(&upper, &mut w, skip)
                .map_err(|e| EngineError::Invalid(format!("commit: {e}")))?;
            let size = w.written();
            self.store.hold(&lease, &[w.digest()])?;
            let layer = w.commit().map_err(store_err)?;
            if layer != diff_id {
                return Err(EngineError::Invalid(format!(
                    "commit: layer {layer} is not its diffID {diff_id}"
                )));
            }
            let now = berth_image::timefmt::now();
            cfg.created = Some(now.clone());
            if let Some(a) = &o.author {
                cfg.author = Some(a.clone());
            }
            let image_health = cfg.config.healthcheck.clone();
            if let Some(rc) = &o.config {
                cfg.config = rc.clone();
            }
            // Docker commits the container's healthcheck (flags over image) unless a
            // HEALTHCHECK change replaced it.
            if cfg.config.healthcheck == image_health {
                cfg.config.set_health_config(c.config.healthcheck.as_ref());
            }
            cfg.rootfs.diff_ids.push(diff_id.clone());
            cfg.history.push(History {
                created: Some(now),
                created_by: Some(
                    format!("{} {}", c.path, c.args.join(" "))
                        .trim()
                        .to_string(),
                ),
                author: o.author.clone(),
                comment: o.message.clone(),
                empty_layer: false,
            });
            let cfg_bytes =
                serde_json::to_vec(&cfg).map_err(|e| EngineError::Invalid(e.to_string()))?;
            let cfg_digest = self.store.put_document(&lease, &cfg_bytes)?;
            let mut layers = base_manifest.layers.clone();
            layers.push(Descriptor::new(spec::OCI_LAYER, layer, size));
            let manifest = Manifest::new(
                spec::OCI_MANIFEST,
                Descriptor::new(spec::OCI_CONFIG, cfg_digest.clone(), cfg_bytes.len() as u64),
                layers,
            );
            let mb =
                serde_json::to_vec(&manifest).map_err(|e| EngineError::Invalid(e.to_string()))?;
            let md = self.store.put_document(&lease, &mb)?;
            let (_, unpacked) = self.store.unpack_stored(&lease, &manifest, &cfg_digest)?;
            let tags: Vec<Reference> = o.reference.iter().cloned().collect();
            self.store
                .register(&md, spec::OCI_MANIFEST, &cfg_digest, &tags, &[], unpacked)?;
            Ok(cfg_digest)
        })();
        let _ = self.store.release(lease);
        res
    }

    /// `docker export`: the container's whole filesystem as a tar, through its stacked view.
    pub fn export(&mut self, id: &str, out: impl std::io::Write) -> Result<()> {
        let c = self.refresh(id)?;
        if matches!(c.state.status, Status::Running | Status::Paused) {
            // Its stacked view is mounted already.
            let rootfs = self.container_dir(&c.id).join("rootfs");
            return berth_image::diff::write_layer(&rootfs, out)
                .map(|_| ())
                .map_err(|e| EngineError::Invalid(format!("export: {e}")));
        }
        let key = format!("export-{}-{}", std::process::id(), c.id);
        let mut dirs = vec![self.upper(&c.id)?];
        dirs.extend(self.lowers(&c.id)?);
        let target = self.root().join("tmp").join(&key);
        std::fs::create_dir_all(&target).map_err(EngineError::io(&target))?;
        let opts = format!(
            "lowerdir={}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        );
        let res = (|| -> Result<()> {
            if dirs.len() == 1 {
                nix::mount::mount(
                    Some(dirs[0].as_path()),
                    &target,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
            } else {
                nix::mount::mount(
                    Some("overlay"),
                    &target,
                    Some("overlay"),
                    nix::mount::MsFlags::MS_RDONLY,
                    Some(opts.as_str()),
                )
            }
            .map_err(|e| EngineError::Io {
                path: target.clone(),
                source: e.into(),
            })?;
            let r = berth_image::diff::write_layer(&target, out)
                .map(|_| ())
                .map_err(|e| EngineError::Invalid(format!("export: {e}")));
            let _ = nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH);
            r
        })();
        let _ = std::fs::remove_dir(&target);
        res
    }

    /// `docker diff`: `A`, `C` or `D` and a path, for each change in the upper directory.
    pub fn diff(&mut self, id: &str) -> Result<Vec<(char, String)>> {
        let c = self.refresh(id)?;
        let upper = self.upper(&c.id)?;
        let lowers = self.lowers(&c.id)?;
        let mut out = Vec::new();
        walk(&upper, &upper, &lowers, &mut out);
        // Mount points the runtime made for the container, not its own changes (Docker keeps
        // them in a separate init layer).
        const MOUNT_POINTS: &[&str] = &[
            "/dev",
            "/proc",
            "/sys",
            "/etc/hostname",
            "/etc/hosts",
            "/etc/resolv.conf",
        ];
        out.retain(|(k, p)| !(*k == 'A' && MOUNT_POINTS.contains(&p.as_str())));
        out.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(out)
    }
}

/// Where the engine mounts something in the container: Docker's init layer holds what the
/// runtime makes for these, so that `commit` leaves them out.
fn mount_destinations(c: &crate::container::Container) -> Vec<String> {
    let h = &c.host_config;
    let mut d: Vec<String> = [
        "/proc",
        "/dev",
        "/sys",
        "/etc/hosts",
        "/etc/hostname",
        "/etc/resolv.conf",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if h.init {
        d.push(crate::spec::INIT_PATH.into());
    }
    d.extend(
        h.binds
            .iter()
            .filter_map(|b| b.split(':').nth(1))
            .map(String::from),
    );
    d.extend(h.volumes.iter().map(|v| v.destination.clone()));
    d.extend(
        h.tmpfs
            .iter()
            .filter_map(|t| t.split(':').next())
            .map(String::from),
    );
    d
}

/// The entries of `upper` (relative, as the layer names them) that exist only because of
/// the engine's mounts: the mount points themselves, and directories made or copied up
/// only to hold them. A user's own change under such a directory keeps it.
fn mount_artifacts(c: &crate::container::Container, upper: &Path) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let rels: Vec<PathBuf> = mount_destinations(c)
        .iter()
        .map(|d| {
            Path::new(d)
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect::<PathBuf>()
        })
        .filter(|r| !r.as_os_str().is_empty())
        // Through a symlink in the upper dir the path would be looked up on the host; the
        // layer walker never follows one either, so there is nothing to leave out there.
        .filter(|r| {
            r.ancestors().skip(1).all(|a| {
                a.as_os_str().is_empty()
                    || !upper
                        .join(a)
                        .symlink_metadata()
                        .is_ok_and(|m| m.file_type().is_symlink())
            })
        })
        .collect();
    let mut skip: Vec<PathBuf> = rels
        .iter()
        .filter(|r| upper.join(r).symlink_metadata().is_ok())
        .cloned()
        .collect();
    let mut parents: Vec<PathBuf> = rels
        .iter()
        .flat_map(|r| r.ancestors().skip(1).map(Path::to_path_buf))
        .filter(|a| !a.as_os_str().is_empty())
        .collect();
    parents.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    parents.dedup();
    for a in parents {
        let dir = upper.join(&a);
        if skip.contains(&a) || !dir.symlink_metadata().is_ok_and(|m| m.is_dir()) {
            continue;
        }
        // An opaque directory replaced the image's: that is the user's doing.
        let opaque = std::fs::File::open(dir.parent().unwrap_or(upper)).is_ok_and(|p| {
            use std::os::fd::AsFd;
            let name = dir.file_name().unwrap_or_default();
            berth_sys::xattr::get(
                p.as_fd(),
                name,
                std::ffi::OsStr::new("trusted.overlay.opaque"),
            )
            .is_ok_and(|v| v.is_some())
        });
        if opaque {
            continue;
        }
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let only_mounts = rd.flatten().all(|e| skip.contains(&a.join(e.file_name())));
        if only_mounts {
            skip.push(a);
        }
    }
    skip.into_iter()
        .map(|p| p.as_os_str().as_bytes().to_vec())
        .collect()
}

fn in_lower(lowers: &[PathBuf], rel: &Path) -> bool {
    lowers
        .iter()
        .any(|l| l.join(rel).symlink_metadata().is_ok())
}

fn walk(root: &Path, dir: &Path, lowers: &[PathBuf], out: &mut Vec<(char, String)>) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = p.symlink_metadata() else {
            continue;
        };
        let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
        let shown = format!("/{}", rel.display());
        if m.file_type().is_char_device() && m.rdev() == 0 {
            out.push(('D', shown));
            continue;
        }
        let existed = in_lower(lowers, &rel);
        out.push((if existed { 'C' } else { 'A' }, shown));
        if m.is_dir() {
            if existed {
                walk(root, &p, lowers, out);
            } else {
                // A new directory: everything in it is new too.
                let mut sub = Vec::new();
                walk(root, &p, &[], &mut sub);
                out.extend(sub);
            }
        }
    }
}
