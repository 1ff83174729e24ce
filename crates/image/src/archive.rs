//! Image archives: `load` reads docker-archive tars (the classic per-layer folders and the
//! Docker 25+ form that also carries an OCI layout) and OCI layout tars; `save` writes the
//! Docker 25+ form, which `docker load`, `podman load` and OCI tools all read.
//!
//! Everything in an archive is attacker data, manifest.json's paths included: they only ever
//! name entries of the archive itself (looked up in a table built while streaming it), never
//! files on the host. The archive is read in one pass, so it can come from a pipe.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::compression::{self, Compression};
use crate::content::ContentError;
use crate::digest::Digest;
use crate::reference::Reference;
use crate::spec::{self, Descriptor, Document, ImageConfig, Manifest, MAX_DOCUMENT};
use crate::store::{Image, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading the archive: {0}")]
    Read(std::io::Error),
    #[error("writing the archive: {0}")]
    Write(std::io::Error),
    #[error("invalid archive: {0}")]
    Invalid(String),
    #[error("invalid archive: {path:?} is not in the archive")]
    Missing { path: String },
    #[error("invalid archive: {what} {path:?} names a path outside the archive")]
    Escape { what: &'static str, path: String },
    #[error("invalid archive: {0} is not JSON: {1}")]
    Json(String, serde_json::Error),
    #[error("archive entry {path:?}: {source}")]
    Blob { path: String, source: ContentError },
}

impl From<ContentError> for ArchiveError {
    fn from(e: ContentError) -> Self {
        ArchiveError::Store(e.into())
    }
}
impl From<crate::db::DbError> for ArchiveError {
    fn from(e: crate::db::DbError) -> Self {
        ArchiveError::Store(e.into())
    }
}
impl From<spec::SpecError> for ArchiveError {
    fn from(e: spec::SpecError) -> Self {
        ArchiveError::Store(e.into())
    }
}

pub type Result<T> = std::result::Result<T, ArchiveError>;

/// Most entries an archive may have (a guard against header floods).
const MAX_ENTRIES: usize = 100_000;
const MAX_IMAGES: usize = 10_000;

/// One entry of docker's manifest.json.
#[derive(Debug, Serialize, Deserialize)]
struct ArchiveManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// What `load` brought in: image IDs with the tags they got.
#[derive(Debug, Default)]
pub struct Loaded {
    pub images: Vec<(Digest, Vec<String>)>,
}

/// A path inside the archive, normalized; `None` if it climbs out or is absolute.
fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    if path.starts_with('/') {
        return None;
    }
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[derive(Default)]
struct Entries {
    /// Small JSON-ish files kept in memory.
    docs: HashMap<String, Vec<u8>>,
    /// Everything else, ingested into the content store.
    blobs: HashMap<String, (Digest, u64)>,
    links: HashMap<String, String>,
}

impl Entries {
    /// Follows the archive's own symlinks (old `docker save` links duplicate layers).
    fn resolve(&self, what: &'static str, path: &str) -> Result<String> {
        let escape = || ArchiveError::Escape {
            what,
            path: path.to_string(),
        };
        let mut p = clean(path).ok_or_else(escape)?;
        for _ in 0..16 {
            match self.links.get(&p) {
                None => return Ok(p),
                Some(target) => {
                    let base = p.rsplit_once('/').map_or("", |(d, _)| d);
                    let joined = if target.starts_with('/') {
                        return Err(escape());
                    } else if base.is_empty() {
                        target.clone()
                    } else {
                        format!("{base}/{target}")
                    };
                    p = clean(&joined).ok_or_else(escape)?;
                }
            }
        }
        Err(escape())
    }

    fn doc(&self, store: &Store, what: &'static str, path: &str) -> Result<Vec<u8>> {
        let p = self.resolve(what, path)?;
        if let Some(b) = self.docs.get(&p) {
            return Ok(b.clone());
        }
        match self.blobs.get(&p) {
            Some((d, size)) if *size <= MAX_DOCUMENT => Ok(store.read_blob(d)?),
            Some(_) => Err(ArchiveError::Invalid(format!("{what} {p:?} is too large"))),
            None => Err(ArchiveError::Missing { path: p }),
        }
    }

    fn blob(&self, what: &'static str, path: &str) -> Result<(Digest, u64)> {
        let p = self.resolve(what, path)?;
        self.blobs
            .get(&p)
            .cloned()
            .ok_or(ArchiveError::Missing { path: p })
    }
}

fn is_doc(path: &str) -> bool {
    matches!(
        path,
        "manifest.json" | "repositories" | "index.json" | "oci-layout"
    ) || path.ends_with(".json")
        || path.ends_with("/json")
        || path.ends_with("/VERSION")
}

/// Streams the archive, keeping small documents and ingesting blobs under the lease.
fn read_entries(
    store: &mut Store,
    lease: &crate::lease::Lease,
    input: impl Read,
) -> Result<Entries> {
    let (_, input) = compression::decompress(input).map_err(ArchiveError::Read)?;
    let mut ar = tar::Archive::new(input);
    let mut out = Entries::default();
    let mut count = 0usize;
    for entry in ar.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(ArchiveError::Invalid(format!(
                "more than {MAX_ENTRIES} entries"
            )));
        }
        let raw = entry.path_bytes();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let Some(path) = clean(&name) else {
            // Such an entry can't be named by a clean manifest path; skip it.
            continue;
        };
        let kind = entry.header().entry_type();
        if kind.is_symlink() {
            if let Ok(Some(t)) = entry.link_name() {
                out.links.insert(path, t.to_string_lossy().into_owned());
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        if is_doc(&path) && size <= MAX_DOCUMENT {
            let mut buf = Vec::with_capacity(size as usize);
            (&mut entry)
                .take(MAX_DOCUMENT)
                .read_to_end(&mut buf)
                .map_err(ArchiveError::Read)?;
            out.docs.insert(path, buf);
            continue;
        }
        // An OCI layout names blobs by digest: check them against it.
        let expected = path
            .strip_prefix("blobs/sha256/")
            .and_then(|h| format!("sha256:{h}").parse::<Digest>().ok());
        let mut w = store
            .content
            .writer(expected.as_ref(), Some(size), store.limits.blob)
            .map_err(|source| ArchiveError::Blob {
                path: path.clone(),
                source,
            })?;
        std::io::copy(&mut entry, &mut w).map_err(ArchiveError::Read)?;
        let d = w.digest();
        store.hold(lease, std::slice::from_ref(&d))?;
        let d = w.commit().map_err(|source| ArchiveError::Blob {
            path: path.clone(),
            source,
        })?;
        out.blobs.insert(path, (d, size));
    }
    Ok(out)
}

fn json<T: for<'a> Deserialize<'a>>(what: &str, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|e| ArchiveError::Json(what.to_string(), e))
}

fn layer_media_type(store: &Store, d: &Digest, docker: bool) -> Result<String> {
    let mut head = [0u8; 8];
    let mut f = store.content.open_blob(d)?;
    let n = f.read(&mut head).map_err(ArchiveError::Read)?;
    Ok(match (Compression::detect(&head[..n]), docker) {
        (Compression::Gzip, true) => spec::DOCKER_LAYER_GZIP,
        (Compression::Gzip, false) => spec::OCI_LAYER_GZIP,
        (Compression::Zstd, _) => spec::OCI_LAYER_ZSTD,
        (Compression::None, true) => spec::DOCKER_LAYER,
        (Compression::None, false) => spec::OCI_LAYER,
    }
    .to_string())
}

/// A candidate image found in an archive, before it is unpacked.
struct Found {
    manifest: Vec<u8>,
    media_type: String,
    config: Digest,
    tags: Vec<Reference>,
}

fn docker_images(
    store: &mut Store,
    lease: &crate::lease::Lease,
    e: &Entries,
    mf: &[u8],
) -> Result<Vec<Found>> {
    let list: Vec<ArchiveManifest> = json("manifest.json", mf)?;
    if list.len() > MAX_IMAGES {
        return Err(ArchiveError::Invalid(format!(
            "manifest.json lists more than {MAX_IMAGES} images"
        )));
    }
    let mut out = Vec::new();
    for m in list {
        let cfg = e.doc(store, "config", &m.config)?;
        let cfg_digest = store.put_document(lease, &cfg)?;
        let mut layers = Vec::new();
        for l in &m.layers {
            let (d, size) = e.blob("layer", l)?;
            layers.push(Descriptor::new(
                &layer_media_type(store, &d, true)?,
                d,
                size,
            ));
        }
        let manifest = Manifest::new(
            spec::DOCKER_MANIFEST,
            Descriptor::new(spec::DOCKER_CONFIG, cfg_digest.clone(), cfg.len() as u64),
            layers,
        );
        let tags = m
            .repo_tags
            .unwrap_or_default()
            .iter()
            .map(|t| {
                Reference::parse(t).map_err(|err| ArchiveError::Invalid(format!("RepoTags: {err}")))
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Found {
            manifest: serde_json::to_vec(&manifest)
                .map_err(|e| ArchiveError::Invalid(e.to_string()))?,
            media_type: spec::DOCKER_MANIFEST.into(),
            config: cfg_digest,
            tags,
        });
    }
    Ok(out)
}

fn oci_images(store: &mut Store, e: &Entries, index: &[u8]) -> Result<Vec<Found>> {
    let idx: spec::Index = json("index.json", index)?;
    let mut out = Vec::new();
    let mut stack: Vec<(Descriptor, Option<String>)> =
        idx.manifests.into_iter().map(|d| (d, None)).collect();
    let mut seen = 0;
    while let Some((desc, inherited)) = stack.pop() {
        seen += 1;
        if seen > MAX_IMAGES {
            return Err(ArchiveError::Invalid(
                "index.json nests too many manifests".into(),
            ));
        }
        let ann = desc.annotations.clone().unwrap_or_default();
        let name = ann
            .get("io.containerd.image.name")
            .cloned()
            .or_else(|| {
                ann.get("org.opencontainers.image.ref.name")
                    .cloned()
                    .filter(|n| n.contains(['/', ':']))
            })
            .or(inherited);
        let bytes = e.doc(
            store,
            "manifest",
            &format!("blobs/sha256/{}", desc.digest.hex()),
        )?;
        if Digest::of(&bytes) != desc.digest {
            return Err(ArchiveError::Invalid(format!(
                "manifest {} does not match its digest",
                desc.digest
            )));
        }
        match spec::parse_document(&bytes, Some(&desc.media_type))? {
            Document::Index(i) => {
                let want = spec::Platform::host();
                if let Some(d) = spec::select(&i, &want) {
                    stack.push((d.clone(), name));
                }
            }
            Document::Manifest(m) => {
                for l in &m.layers {
                    e.blob("layer", &format!("blobs/sha256/{}", l.digest.hex()))?;
                }
                e.blob("config", &format!("blobs/sha256/{}", m.config.digest.hex()))?;
                let tags = name
                    .map(|n| {
                        Reference::parse(&n)
                            .map_err(|err| ArchiveError::Invalid(format!("image name: {err}")))
                    })
                    .transpose()?
                    .into_iter()
                    .collect();
                out.push(Found {
                    media_type: m.media_type.clone().unwrap_or_else(|| {
                        if desc.media_type.is_empty() {
                            spec::OCI_MANIFEST.into()
                        } else {
                            desc.media_type.clone()
                        }
                    }),
                    manifest: bytes,
                    config: m.config.digest.clone(),
                    tags,
                });
            }
        }
    }
    out.reverse();
    Ok(out)
}

/// `docker load`.
pub fn load(store: &mut Store, input: impl Read) -> Result<Loaded> {
    let lease = store.lease()?;
    let res = load_leased(store, &lease, input);
    // The images hold what they need now; anything else this load brought in is garbage.
    let release = store.release(lease);
    let loaded = res?;
    release?;
    Ok(loaded)
}

fn load_leased(store: &mut Store, lease: &crate::lease::Lease, input: impl Read) -> Result<Loaded> {
    let entries = read_entries(store, lease, input)?;
    let found = if let Some(mf) = entries.docs.get("manifest.json") {
        docker_images(store, lease, &entries, mf)?
    } else if let Some(idx) = entries.docs.get("index.json") {
        if !entries.docs.contains_key("oci-layout") {
            return Err(ArchiveError::Invalid(
                "index.json without oci-layout".into(),
            ));
        }
        oci_images(store, &entries, idx)?
    } else {
        return Err(ArchiveError::Invalid(
            "neither manifest.json (docker-archive) nor index.json (OCI layout) found".into(),
        ));
    };
    // Unpack everything before registering anything: a bad layer in the second image must
    // not leave the first registered.
    let mut ready = Vec::new();
    for f in found {
        let manifest_digest = store.put_document(lease, &f.manifest)?;
        let m = match spec::parse_document(&f.manifest, Some(&f.media_type))? {
            Document::Manifest(m) => m,
            Document::Index(_) => return Err(ArchiveError::Invalid("nested index".into())),
        };
        let (_, size) = store.unpack_stored(lease, &m, &f.config)?;
        ready.push((manifest_digest, f, size));
    }
    let mut loaded = Loaded::default();
    for (md, f, size) in ready {
        store.register(&md, &f.media_type, &f.config, &f.tags, &[], size)?;
        loaded.images.push((
            f.config.clone(),
            f.tags.iter().map(Reference::familiar).collect(),
        ));
    }
    Ok(loaded)
}

struct TarOut<W: Write> {
    b: tar::Builder<W>,
}

impl<W: Write> TarOut<W> {
    fn header(path: &str, size: u64, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_path(path);
        h.set_cksum();
        h
    }
    fn dir(&mut self, path: &str) -> Result<()> {
        let mut h = Self::header(path, 0, tar::EntryType::Directory);
        self.b
            .append_data(&mut h, path, std::io::empty())
            .map_err(ArchiveError::Write)
    }
    fn file(&mut self, path: &str, size: u64, data: impl Read) -> Result<()> {
        let mut h = Self::header(path, size, tar::EntryType::Regular);
        self.b
            .append_data(&mut h, path, data)
            .map_err(ArchiveError::Write)
    }
}

/// An image to save and the name it is saved under (none when named by ID).
pub struct SaveItem {
    pub image: Image,
    pub tag: Option<Reference>,
}

/// `docker save`: a docker-archive that is also an OCI layout, layers uncompressed.
pub fn save(store: &Store, items: &[SaveItem], out: impl Write) -> Result<()> {
    let mut t = TarOut {
        b: tar::Builder::new(out),
    };
    t.dir("blobs/")?;
    t.dir("blobs/sha256/")?;
    let mut written: std::collections::HashSet<Digest> = Default::default();
    let mut manifest_json = Vec::new();
    let mut index = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let tmp = store.tmp_dir()?;
    let mut by_image: HashMap<Digest, usize> = HashMap::new();
    for item in items {
        let img = &item.image;
        let m = store.manifest(img)?;
        let cfg = store.read_blob(&img.id)?;
        let config = ImageConfig::parse(&cfg)?;
        if config.rootfs.diff_ids.len() != m.layers.len() {
            return Err(StoreError::LayerCount {
                config: img.id.clone(),
                diff_ids: config.rootfs.diff_ids.len(),
                layers: m.layers.len(),
            }
            .into());
        }
        let tag = item.tag.as_ref().map(Reference::familiar);
        if let Some(&i) = by_image.get(&img.id) {
            // The same image under a second name: one entry with both tags, as docker does.
            let entry: &mut ArchiveManifest = &mut manifest_json[i];
            if let Some(t) = tag.clone() {
                entry.repo_tags.get_or_insert_with(Vec::new).push(t);
            }
        } else {
            if written.insert(img.id.clone()) {
                t.file(
                    &format!("blobs/sha256/{}", img.id.hex()),
                    cfg.len() as u64,
                    &cfg[..],
                )?;
            }
            let mut layers = Vec::new();
            let mut descs = Vec::new();
            for (l, diff_id) in m.layers.iter().zip(&config.rootfs.diff_ids) {
                let path = format!("blobs/sha256/{}", diff_id.hex());
                let size =
                    write_layer(store, &mut t, &tmp, &l.digest, diff_id, &path, &mut written)?;
                layers.push(path);
                descs.push(Descriptor::new(spec::OCI_LAYER, diff_id.clone(), size));
            }
            let oci = Manifest::new(
                spec::OCI_MANIFEST,
                Descriptor::new(spec::OCI_CONFIG, img.id.clone(), cfg.len() as u64),
                descs,
            );
            let ob = serde_json::to_vec(&oci).map_err(|e| ArchiveError::Invalid(e.to_string()))?;
            let od = Digest::of(&ob);
            if written.insert(od.clone()) {
                t.file(
                    &format!("blobs/sha256/{}", od.hex()),
                    ob.len() as u64,
                    &ob[..],
                )?;
            }
            let mut ann = BTreeMap::new();
            if let Some(r) = &item.tag {
                ann.insert("io.containerd.image.name".to_string(), r.to_string());
                if let Some(tg) = &r.tag {
                    ann.insert("org.opencontainers.image.ref.name".to_string(), tg.clone());
                }
            }
            index.push(Descriptor {
                media_type: spec::OCI_MANIFEST.into(),
                digest: od,
                size: ob.len() as u64,
                platform: None,
                annotations: (!ann.is_empty()).then_some(ann),
                urls: None,
            });
            by_image.insert(img.id.clone(), manifest_json.len());
            manifest_json.push(ArchiveManifest {
                config: format!("blobs/sha256/{}", img.id.hex()),
                repo_tags: tag.clone().map(|t| vec![t]),
                layers,
            });
        }
        if let Some(r) = &item.tag {
            let fam = r.familiar();
            let (repo, tg) = fam.rsplit_once(':').unwrap_or((&fam, "latest"));
            repositories
                .entry(repo.to_string())
                .or_default()
                .insert(tg.to_string(), img.id.hex().to_string());
        }
    }
    let idx = spec::Index {
        schema_version: 2,
        media_type: Some(spec::OCI_INDEX.into()),
        manifests: index,
        annotations: None,
    };
    let enc = |v: &dyn erased::Ser| v.to_json();
    let docs: [(&str, Vec<u8>); 4] = [
        ("index.json", enc(&idx)),
        ("manifest.json", enc(&manifest_json)),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ("repositories", enc(&repositories)),
    ];
    for (name, body) in docs {
        if name == "repositories" && repositories.is_empty() {
            continue;
        }
        t.file(name, body.len() as u64, &body[..])?;
    }
    t.b.into_inner()
        .map_err(ArchiveError::Write)?
        .flush()
        .map_err(ArchiveError::Write)?;
    Ok(())
}

mod erased {
    pub trait Ser {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

/// Writes one layer uncompressed (its digest is then its diffID), once per archive.
fn write_layer<W: Write>(
    store: &Store,
    t: &mut TarOut<W>,
    tmp: &std::path::Path,
    blob: &Digest,
    diff_id: &Digest,
    path: &str,
    written: &mut std::collections::HashSet<Digest>,
) -> Result<u64> {
    if blob == diff_id {
        let size = store.content.size(blob)?;
        if written.insert(diff_id.clone()) {
            let f = store.content.open_blob(blob)?;
            t.file(path, size, std::io::BufReader::with_capacity(256 << 10, f))?;
        }
        return Ok(size);
    }
    // A compressed blob: its uncompressed size must be known before the tar header, so it
    // goes through a scratch file, checked against the diffID on the way.
    let scratch = TempFile::new(tmp.join(format!("save-{}", crate::lease::owner_tag())));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&scratch.0)
        .map_err(ArchiveError::Write)?;
    let (_, mut r) =
        compression::decompress(store.content.open_blob(blob)?).map_err(ArchiveError::Read)?;
    let mut h = HashingWriter {
        inner: &mut f,
        hasher: <sha2::Sha256 as sha2::Digest>::new(),
        n: 0,
    };
    std::io::copy(&mut r, &mut h).map_err(ArchiveError::Read)?;
    let (n, actual) = (h.n, Digest::of_hasher(h.hasher));
    if &actual != diff_id {
        return Err(ArchiveError::Invalid(format!(
            "layer {blob} decompresses to {actual}, not its diffID {diff_id}"
        )));
    }
    if written.insert(diff_id.clone()) {
        use std::io::Seek;
        f.rewind().map_err(ArchiveError::Read)?;
        t.file(path, n, std::io::BufReader::with_capacity(256 << 10, f))?;
    }
    Ok(n)
}

struct TempFile(PathBuf);
impl TempFile {
    fn new(p: PathBuf) -> Self {
        TempFile(p)
    }
}
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hasher: sha2::Sha256,
    n: u64,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.n += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_paths_stay_inside() {
        assert_eq!(clean("./a//b/"), Some("a/b".into()));
        assert_eq!(clean("../x"), None);
        assert_eq!(clean("a/../b"), Some("b".into()));
        assert_eq!(clean("a/../../x"), None);
        assert_eq!(clean("/etc/passwd"), None);
        let mut e = Entries::default();
        e.links
            .insert("a/layer.tar".into(), "../b/layer.tar".into());
        e.links.insert("loop".into(), "loop".into());
        e.links.insert("out".into(), "../../etc".into());
        assert_eq!(e.resolve("layer", "a/layer.tar").unwrap(), "b/layer.tar");
        assert!(e.resolve("layer", "loop").is_err());
        assert!(e.resolve("layer", "out").is_err());
    }
}
