//! `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer image.
//! The layer is kept uncompressed, so its digest is its diffID and `save` streams it as is.

use std::io::Read;

use crate::archive::{ArchiveError, Result};
use crate::compression;
use crate::digest::Digest;
use crate::reference::Reference;
use crate::spec::{self, Descriptor, History, ImageConfig, Manifest, Platform, RootFs, RunConfig};
use crate::store::Store;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub reference: Option<Reference>,
    /// `--message`, recorded in the history.
    pub message: Option<String>,
    pub platform: Platform,
    /// `--change` instructions already applied to a run config.
    pub config: RunConfig,
    /// Where the tarball came from, for the history ("-" for stdin, like docker).
    pub source: String,
}

/// Imports `input` and returns the new image's ID.
pub fn import(store: &mut Store, input: impl Read, opts: &ImportOptions) -> Result<Digest> {
    let lease = store.lease()?;
    let res = import_leased(store, &lease, input, opts);
    let release = store.release(lease);
    let id = res?;
    release?;
    Ok(id)
}

fn import_leased(
    store: &mut Store,
    lease: &crate::lease::Lease,
    input: impl Read,
    opts: &ImportOptions,
) -> Result<Digest> {
    let (_, mut input) = compression::decompress(input).map_err(ArchiveError::Read)?;
    let mut w = store.content.writer(None, None, store.limits.blob)?;
    std::io::copy(&mut input, &mut w).map_err(ArchiveError::Read)?;
    let size = w.written();
    store.hold(lease, &[w.digest()])?;
    let layer = w.commit()?;
    let created = crate::timefmt::now();
    let config = ImageConfig {
        created: Some(created.clone()),
        author: None,
        architecture: opts.platform.architecture.clone(),
        os: opts.platform.os.clone(),
        variant: opts.platform.variant.clone(),
        config: opts.config.clone(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![layer.clone()],
        },
        history: vec![History {
            created: Some(created),
            created_by: None,
            author: None,
            comment: Some(
                opts.message
                    .clone()
                    .unwrap_or_else(|| format!("Imported from {}", opts.source)),
            ),
            empty_layer: false,
        }],
        extra: Default::default(),
    };
    let cfg = serde_json::to_vec(&config).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    let cfg_digest = store.put_document(lease, &cfg)?;
    let manifest = Manifest::new(
        spec::OCI_MANIFEST,
        Descriptor::new(spec::OCI_CONFIG, cfg_digest.clone(), cfg.len() as u64),
        vec![Descriptor::new(spec::OCI_LAYER, layer, size)],
    );
    let mb = serde_json::to_vec(&manifest).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
    let md = store.put_document(lease, &mb)?;
    let (_, unpacked) = store.unpack_stored(lease, &manifest, &cfg_digest)?;
    let tags: Vec<Reference> = opts.reference.iter().cloned().collect();
    store.register(&md, spec::OCI_MANIFEST, &cfg_digest, &tags, &[], unpacked)?;
    Ok(cfg_digest)
}
