//! `push`: upload an image's blobs the registry lacks (cross-repo mounting them when the image
//! came from another repository of the same registry), then its config and its manifest.

use std::sync::Arc;

use berth_image::{Digest, Image, Reference, Store, StoreError};

use crate::client::{Client, Upload};
use crate::error::Error;
use crate::pull::{Event, Progress};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<berth_image::content::ContentError> for PushError {
    fn from(e: berth_image::content::ContentError) -> Self {
        PushError::Store(e.into())
    }
}

#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: Digest,
    pub size: u64,
    pub tag: String,
}

/// Blobs larger than this go up in chunks, so that a registry with a body-size limit (or a
/// proxy in front of it) accepts them.
const CHUNKED_ABOVE: u64 = 512 << 20;
const CHUNK: u64 = 64 << 20;

/// Pushes `image` as `target`; the registry's digest for the manifest is recorded as a repo
/// digest of the image.
pub fn push(
    store: &mut Store,
    client: Arc<Client>,
    image: &Image,
    target: &Reference,
    progress: Arc<dyn Progress>,
) -> Result<Pushed, PushError> {
    let repo = target.path.clone();
    let manifest = store.manifest(image)?;
    let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
    progress.event(Event::Resolved {
        tag: tag.clone(),
        repo: repo.clone(),
    });
    let config = manifest.config.digest.clone();
    // Repositories of the same registry the image is known in: mount sources.
    let sources: Vec<String> = image
        .digests
        .iter()
        .chain(&image.tags)
        .filter_map(|n| Reference::parse(n).ok())
        .filter(|r| r.registry == target.registry && r.path != repo)
        .map(|r| r.path)
        .collect();
    let mut blobs: Vec<(Digest, u64)> = manifest
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    blobs.push((manifest.config.digest.clone(), manifest.config.size));
    let jobs = std::sync::Mutex::new(blobs.into_iter());
    let first_error: std::sync::Mutex<Option<PushError>> = std::sync::Mutex::new(None);
    let content = store.content.clone();
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while let Some((digest, size)) = jobs.lock().ok().and_then(|mut j| j.next()) {
                    let id = digest.hex()[..12].to_string();
                    // Docker lists layers only, not the config.
                    let progress: &dyn Progress = if digest == config {
                        &crate::pull::Silent
                    } else {
                        progress.as_ref()
                    };
                    let res = (|| -> Result<(), PushError> {
                        if client.blob_exists(&repo, &digest)?.is_some() {
                            progress.event(Event::Exists { id: id.clone() });
                            return Ok(());
                        }
                        for from in &sources {
                            if client.mount_blob(&repo, &digest, from)? {
                                progress.event(Event::Exists { id: id.clone() });
                                return Ok(());
                            }
                        }
                        progress.event(Event::Waiting { id: id.clone() });
                        let f = content.open_blob(&digest)?;
                        let mode = if size > CHUNKED_ABOVE {
                            Upload::Chunked(CHUNK)
                        } else {
                            Upload::Monolithic
                        };
                        client.push_blob(
                            &repo,
                            &digest,
                            size,
                            std::io::BufReader::with_capacity(256 << 10, f),
                            mode,
                        )?;
                        progress.event(Event::Downloaded { id: id.clone() });
                        Ok(())
                    })();
                    if let Err(e) = res {
                        if let Ok(mut slot) = first_error.lock() {
                            slot.get_or_insert(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    if let Ok(Some(e)) = first_error.into_inner() {
        return Err(e);
    }
    let bytes = store.read_blob(&image.manifest)?;
    let digest = client.put_manifest(&repo, &tag, &image.media_type, &bytes)?;
    store.add_repo_digest(&image.id, &format!("{}@{}", target.name(), digest))?;
    Ok(Pushed {
        digest,
        size: bytes.len() as u64,
        tag,
    })
}
