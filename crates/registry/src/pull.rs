//! `pull`: resolve a reference to a manifest for this platform, then fetch and unpack its
//! layers several at once. Each layer is decompressed and applied while it downloads (one
//! pass over the network bytes, teed into the content store), and a dropped connection
//! resumes from the byte it reached with a Range request. The image is registered only after
//! every blob is verified and every layer unpacked.

use std::io::Read;
use std::sync::Arc;

use berth_image::content::Writer;
use berth_image::lease::Lease;
use berth_image::spec::{self, Document, ImageConfig, Platform};
use berth_image::store::LayerSource;
use berth_image::{Digest, Reference, Store, StoreError};

use crate::client::{media_types, Client};
use crate::error::Error;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no matching manifest for {want} in the manifest list entries")]
    NoPlatform { want: String },
    #[error("image {reference} is for {got}, not the requested {want}")]
    WrongPlatform {
        reference: String,
        got: String,
        want: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl From<berth_image::content::ContentError> for PullError {
    fn from(e: berth_image::content::ContentError) -> Self {
        PullError::Store(e.into())
    }
}
impl From<berth_image::spec::SpecError> for PullError {
    fn from(e: berth_image::spec::SpecError) -> Self {
        PullError::Store(e.into())
    }
}

pub type Result<T> = std::result::Result<T, PullError>;

/// What a pull reports as it goes (for a progress display); `id` is the short layer digest.
#[derive(Debug, Clone)]
pub enum Event {
    Resolved {
        tag: String,
        repo: String,
    },
    Waiting {
        id: String,
    },
    Exists {
        id: String,
    },
    Progress {
        id: String,
        done: u64,
        total: u64,
    },
    Downloaded {
        id: String,
    },
    Extracted {
        id: String,
    },
    Retrying {
        id: String,
        offset: u64,
        error: String,
    },
}

pub trait Progress: Send + Sync {
    fn event(&self, e: Event);
}

/// A progress sink that ignores everything (`--quiet`).
#[derive(Debug)]
pub struct Silent;
impl Progress for Silent {
    fn event(&self, _: Event) {}
}

#[derive(Debug, Clone)]
pub struct PullOptions {
    pub platform: Option<Platform>,
    /// How many times one layer's download may resume after a dropped connection.
    pub retries: u32,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            retries: 5,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Pulled {
    pub id: Digest,
    /// The digest the reference resolved to (an index's, for multi-platform images): the
    /// repo digest Docker shows.
    pub digest: Digest,
    pub up_to_date: bool,
}

fn short(d: &Digest) -> String {
    d.hex()[..12].to_string()
}

/// A layer download teed into the content store, resuming after transient failures. The
/// blob is committed (and verified) when the download reaches its end; a mismatch surfaces
/// as a read error, failing that layer's unpacking.
struct Download {
    client: Arc<Client>,
    repo: String,
    digest: Digest,
    size: u64,
    reader: Option<crate::client::BlobReader>,
    writer: Option<Writer>,
    retries: u32,
    progress: Arc<dyn Progress>,
    reported: u64,
}

impl Download {
    fn done(&self) -> u64 {
        self.writer.as_ref().map_or(self.size, |w| w.written())
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.writer.is_none() {
                return Ok(0);
            }
            if self.reader.is_none() {
                let offset = self.done();
                self.reader = Some(
                    self.client
                        .blob(&self.repo, &self.digest, offset)
                        .map_err(std::io::Error::other)?,
                );
            }
            let Some(r) = self.reader.as_mut() else {
                continue;
            };
            match r.read(buf) {
                Ok(0) => {
                    // The end: publish the blob, which checks its size and digest.
                    if let Some(w) = self.writer.take() {
                        w.commit().map_err(std::io::Error::other)?;
                    }
                    self.progress.event(Event::Downloaded {
                        id: short(&self.digest),
                    });
                    return Ok(0);
                }
                Ok(n) => {
                    if let Some(w) = self.writer.as_mut() {
                        w.push(&buf[..n]).map_err(std::io::Error::other)?;
                    }
                    let done = self.done();
                    if done - self.reported >= 256 << 10 || done == self.size {
                        self.reported = done;
                        self.progress.event(Event::Progress {
                            id: short(&self.digest),
                            done,
                            total: self.size,
                        });
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if self.retries > 0 && self.done() < self.size => {
                    self.retries -= 1;
                    self.reader = None;
                    self.progress.event(Event::Retrying {
                        id: short(&self.digest),
                        offset: self.done(),
                        error: e.to_string(),
                    });
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Runs a reader on a thread of its own, handing its bytes over a bounded channel: the
/// download (network, hashing and writing the compressed blob) and the unpacking (inflating,
/// hashing and creating files) then use a core each instead of taking turns on one.
struct Pipe {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Pipe {
    fn spawn(mut inner: impl Read + Send + 'static) -> Pipe {
        let (tx, rx) = std::sync::mpsc::sync_channel(32);
        std::thread::spawn(move || loop {
            let mut chunk = vec![0u8; 128 << 10];
            match inner.read(&mut chunk) {
                Ok(n) => {
                    chunk.truncate(n);
                    // The reader side went away (unpacking failed): stop downloading.
                    if tx.send(Ok(chunk)).is_err() || n == 0 {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        });
        Pipe {
            rx,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::BrokenPipe,
                        "the download thread stopped",
                    ))
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Pulls `reference` into `store`.
pub fn pull(
    store: &mut Store,
    client: Arc<Client>,
    reference: &Reference,
    opts: &PullOptions,
    progress: Arc<dyn Progress>,
) -> Result<Pulled> {
    let lease = store.lease()?;
    let res = pull_leased(store, &lease, client, reference, opts, progress);
    let release = store.release(lease);
    let pulled = res?;
    release?;
    Ok(pulled)
}

fn pull_leased(
    store: &mut Store,
    lease: &Lease,
    client: Arc<Client>,
    reference: &Reference,
    opts: &PullOptions,
    progress: Arc<dyn Progress>,
) -> Result<Pulled> {
    let repo = reference.path.clone();
    let tag_or_digest = match (&reference.digest, &reference.tag) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    progress.event(Event::Resolved {
        tag: tag_or_digest.clone(),
        repo: repo.clone(),
    });
    let top = client.manifest(&repo, &tag_or_digest, media_types::DEFAULT_ACCEPT)?;
    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    let (manifest_bytes, media_type) =
        match spec::parse_document(&top.bytes, Some(&top.media_type))? {
            Document::Index(idx) => {
                let d = spec::select(&idx, &want).ok_or_else(|| PullError::NoPlatform {
                    want: want.to_string(),
                })?;
                let m =
                    client.manifest(&repo, &d.digest.to_string(), media_types::DEFAULT_ACCEPT)?;
                if m.digest != d.digest {
                    return Err(PullError::Invalid(format!(
                        "manifest {} came back as {}",
                        d.digest, m.digest
                    )));
                }
                (m.bytes, m.media_type)
            }
            Document::Manifest(_) => (top.bytes.clone(), top.media_type.clone()),
        };
    let manifest = match spec::parse_document(&manifest_bytes, Some(&media_type))? {
        Document::Manifest(m) => m,
        Document::Index(_) => {
            return Err(PullError::Invalid(
                "an index inside an index is not supported".into(),
            ))
        }
    };
    let manifest_digest = store.put_document(lease, &manifest_bytes)?;
    // The config: small, fetched whole and checked against the manifest.
    let cfg_desc = &manifest.config;
    if cfg_desc.size > spec::MAX_DOCUMENT {
        return Err(PullError::Invalid(format!(
            "image config {} is larger than {} bytes",
            cfg_desc.digest,
            spec::MAX_DOCUMENT
        )));
    }
    if !store.content.contains(&cfg_desc.digest) {
        store.hold(lease, std::slice::from_ref(&cfg_desc.digest))?;
        let r = client.blob(&repo, &cfg_desc.digest, 0)?;
        store.content.ingest(
            r,
            Some(&cfg_desc.digest),
            Some(cfg_desc.size),
            spec::MAX_DOCUMENT,
        )?;
    }
    let config = ImageConfig::parse(&store.read_blob(&cfg_desc.digest)?)?;
    if !config.os.is_empty() && !want.matches(&config.platform()) {
        // A single-platform image for another platform: docker pulls it with a warning; a
        // caller that asked for a platform explicitly gets an error.
        if opts.platform.is_some() {
            return Err(PullError::WrongPlatform {
                reference: reference.familiar(),
                got: config.platform().to_string(),
                want: want.to_string(),
            });
        }
    }
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(StoreError::LayerCount {
            config: cfg_desc.digest.clone(),
            diff_ids: config.rootfs.diff_ids.len(),
            layers: manifest.layers.len(),
        }
        .into());
    }
    let chain = spec::chain_ids(&config.rootfs.diff_ids);
    let existing = store.resolve(&cfg_desc.digest.to_string()).ok();
    let mut all_there = true;
    let mut fetched = Vec::new();
    let mut sources = Vec::new();
    let blobs: Vec<Digest> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
    store.hold(lease, &blobs)?;
    for ((layer, diff_id), chain_id) in manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .zip(&chain)
    {
        let id = short(&layer.digest);
        let unpacked = store
            .snapshots
            .exists(&store.db, &chain_id.to_string())
            .map_err(StoreError::from)?;
        if unpacked && !store.content.contains(&layer.digest) {
            // Unpacked already (from a load, say) but this blob is new: fetch it for push and
            // save, without unpacking it again.
            let r = client.blob(&repo, &layer.digest, 0)?;
            store
                .content
                .ingest(r, Some(&layer.digest), Some(layer.size), store.limits.blob)?;
        }
        if unpacked {
            progress.event(Event::Exists { id });
            sources.push(LayerSource {
                diff_id: diff_id.clone(),
                open: Box::new(|| Ok(Box::new(std::io::empty()) as Box<dyn Read + Send>)),
            });
            continue;
        }
        all_there = false;
        fetched.push(layer.digest.clone());
        progress.event(Event::Waiting { id: id.clone() });
        let content = store.content.clone();
        let limit = store.limits.blob;
        let client = client.clone();
        let repo = repo.clone();
        let desc = layer.clone();
        let progress = progress.clone();
        let retries = opts.retries;
        sources.push(LayerSource {
            diff_id: diff_id.clone(),
            open: Box::new(move || {
                if content.contains(&desc.digest) {
                    let f = content.open_blob(&desc.digest)?;
                    return Ok(Box::new(std::io::BufReader::with_capacity(256 << 10, f))
                        as Box<dyn Read + Send>);
                }
                let writer = content.writer(Some(&desc.digest), Some(desc.size), limit)?;
                Ok(Box::new(Pipe::spawn(Download {
                    client,
                    repo,
                    digest: desc.digest.clone(),
                    size: desc.size,
                    reader: None,
                    writer: Some(writer),
                    retries,
                    progress,
                    reported: 0,
                })) as Box<dyn Read + Send>)
            }),
        });
    }
    let size = store.unpack(lease, sources)?;
    // Every downloaded blob must have been read to its verified end.
    for d in &fetched {
        if !store.content.contains(d) {
            return Err(PullError::Invalid(format!(
                "layer {d} was not read to its end"
            )));
        }
        progress.event(Event::Extracted { id: short(d) });
    }
    let tags: Vec<Reference> = if reference.digest.is_none() {
        vec![reference.clone()]
    } else {
        Vec::new()
    };
    let repo_digest = format!("{}@{}", reference.name(), top.digest);
    let up_to_date = all_there
        && existing.as_ref().is_some_and(|img| {
            tags.iter().all(|t| img.tags.contains(&t.to_string()))
                && img.digests.contains(&repo_digest)
        });
    store.register(
        &manifest_digest,
        &media_type,
        &cfg_desc.digest,
        &tags,
        &[repo_digest],
        size,
    )?;
    Ok(Pulled {
        id: cfg_desc.digest.clone(),
        digest: top.digest,
        up_to_date,
    })
}
