//! The layer applier: unpacks one (possibly compressed) layer tar into a directory.
//!
//! A layer is attacker-controlled. Every entry is created relative to an fd of its parent
//! directory, which is opened with `openat2(RESOLVE_IN_ROOT)`, so a symlink planted by this
//! or an earlier layer is resolved as if the root were `/` and can't lead outside it; the
//! final component is created with `*at` calls that never follow a symlink there, replacing
//! whatever was in the way. Paths with `..` are refused outright, as Docker does.
//!
//! The tar stream is parsed here block by block (the `tar` crate only decodes header
//! fields), so that every size is checked against [`Limits`] before anything is read or
//! allocated, and the decompressed stream is hashed as it goes by, giving the diff ID.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_sys::{at, inroot, xattr};
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};
use sha2::Digest as _;

use crate::compression::{self, Compression};
use crate::digest::Digest;

/// What whiteouts in the layer become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// The target is a layer directory for overlayfs: a whiteout becomes a 0:0 character
    /// device, an opaque marker the `trusted.overlay.opaque=y` xattr on its directory.
    Overlay,
    /// The target is a flat rootfs holding the layers below: whited-out files are deleted,
    /// and an opaque directory loses whatever the lower layers put in it.
    Remove,
    /// Not a layer at all (`cp`): `.wh.` names are ordinary files.
    Literal,
}

/// Bounds on what one layer may make us read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries (files, directories, links, whiteouts...).
    pub max_entries: u64,
    /// Bytes of the decompressed stream.
    pub max_bytes: u64,
    /// Bytes of PAX headers, GNU long names and long links for one entry.
    pub max_metadata: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1 << 20,
            max_bytes: 64 << 30,
            max_metadata: 1 << 20,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub whiteouts: Whiteouts,
    pub limits: Limits,
    /// When set, the decompressed stream must hash to this.
    pub expected_diff_id: Option<Digest>,
    /// Give entries the uid and gid the tar says (otherwise they belong to the caller).
    pub preserve_owner: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            whiteouts: Whiteouts::Overlay,
            limits: Limits::default(),
            expected_diff_id: None,
            preserve_owner: true,
        }
    }
}

/// What a successful apply read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The sha256 of the whole decompressed stream.
    pub diff_id: Digest,
    pub compression: Compression,
    /// Bytes of regular file content written.
    pub size: u64,
    /// Tar entries, extension headers not counted.
    pub entries: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("opening the layer root {path}: {source}")]
    Root {
        path: PathBuf,
        source: berth_sys::Error,
    },
    #[error("layer entry {path:?}: path escapes the layer root")]
    Escape { path: String },
    #[error("layer entry {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("layer entry {path:?}: {source}")]
    Fs {
        path: String,
        source: berth_sys::Error,
    },
    #[error("layer entry {path:?}: writing content: {source}")]
    Write { path: String, source: io::Error },
    #[error("bad tar header at byte {offset}: {reason}")]
    Header { offset: u64, reason: String },
    #[error(
        "tar header at byte {offset}: {what} of {size} bytes exceeds the limit of {limit} bytes \
         of metadata per entry"
    )]
    Metadata {
        offset: u64,
        what: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("layer exceeds {limit} bytes uncompressed")]
    TooLarge { limit: u64 },
    #[error("layer has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    #[error("layer is truncated: the stream ends at byte {offset}, inside {what}")]
    Truncated { offset: u64, what: String },
    #[error("reading the layer at byte {offset}: {source}")]
    Read { offset: u64, source: io::Error },
    #[error("layer diff ID mismatch: expected {expected}, got {actual}")]
    DiffIdMismatch { expected: Digest, actual: Digest },
}

pub type Result<T> = std::result::Result<T, ApplyError>;

const BLOCK: usize = 512;
const WHITEOUT: &[u8] = b".wh.";
const META_PREFIX: &[u8] = b".wh..wh.";
const OPAQUE: &[u8] = b".wh..wh..opq";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Applies the layer read from `layer` (gzip, zstd or plain tar, told by its magic bytes)
/// onto the directory `root`.
///
/// On error, `root` may hold part of the layer and the caller should remove it; nothing
/// outside `root` has been touched.
pub fn apply(root: &Path, layer: impl Read, opts: &ApplyOptions) -> Result<Applied> {
    let root_fd = inroot::open_root(root).map_err(|source| ApplyError::Root {
        path: root.to_path_buf(),
        source,
    })?;
    let (compression, reader) =
        compression::decompress(layer).map_err(|source| ApplyError::Read { offset: 0, source })?;
    let mut stream = Stream {
        inner: io::BufReader::with_capacity(128 << 10, reader),
        hasher: sha2::Sha256::new(),
        pos: 0,
        limit: opts.limits.max_bytes,
    };
    let mut applier = Applier {
        root: root_fd,
        opts,
        created: BTreeSet::new(),
        dirs: Vec::new(),
        size: 0,
        buf: vec![0u8; 128 << 10],
    };
    let mut entries = 0u64;
    while let Some(entry) = next_entry(&mut stream, &opts.limits)? {
        entries += 1;
        if entries > opts.limits.max_entries {
            return Err(ApplyError::TooManyEntries {
                limit: opts.limits.max_entries,
            });
        }
        applier.entry(&mut stream, &entry)?;
    }
    // Whatever follows the end-of-archive blocks is part of the stream the diff ID covers.
    stream.drain()?;
    let diff_id = Digest::from_hash(&stream.hasher.finalize());
    if let Some(expected) = &opts.expected_diff_id {
        if *expected != diff_id {
            return Err(ApplyError::DiffIdMismatch {
                expected: expected.clone(),
                actual: diff_id,
            });
        }
    }
    applier.finish_dirs()?;
    Ok(Applied {
        diff_id,
        compression,
        size: applier.size,
        entries,
    })
}

/// The decompressed stream: counted against the limit and hashed as it is read.
struct Stream<R> {
    inner: R,
    hasher: sha2::Sha256,
    pos: u64,
    limit: u64,
}

impl<R: Read> Stream<R> {
    /// Reads some bytes (0 only at the end), failing once the stream passes its limit.
    fn read_some(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<usize> {
        let n = loop {
            match self.inner.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(ApplyError::Truncated {
                        offset: self.pos,
                        what: format!("{} ({e})", what()),
                    })
                }
                Err(source) => {
                    return Err(ApplyError::Read {
                        offset: self.pos,
                        source,
                    })
                }
            }
        };
        self.pos += n as u64;
        if self.pos > self.limit {
            return Err(ApplyError::TooLarge { limit: self.limit });
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    /// Fills `buf`; `Ok(false)` if the stream ended cleanly before its first byte.
    fn fill(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            let k = self.read_some(&mut buf[n..], what)?;
            if k == 0 {
                if n == 0 {
                    return Ok(false);
                }
                return Err(ApplyError::Truncated {
                    offset: self.pos,
                    what: what(),
                });
            }
            n += k;
        }
        Ok(true)
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<()> {
        if buf.is_empty() || self.fill(buf, what)? {
            Ok(())
        } else {
            Err(ApplyError::Truncated {
                offset: self.pos,
                what: what(),
            })
        }
    }

    /// Copies `len` bytes to `out` (or drops them), in bounded pieces.
    fn copy(
        &mut self,
        mut len: u64,
        buf: &mut [u8],
        mut out: Option<(&mut dyn Write, &str)>,
        what: &dyn Fn() -> String,
    ) -> Result<()> {
        while len > 0 {
            let want = len.min(buf.len() as u64) as usize;
            let n = self.read_some(&mut buf[..want], what)?;
            if n == 0 {
                return Err(ApplyError::Truncated {
                    offset: self.pos,
                    what: what(),
                });
            }
            if let Some((w, path)) = out.as_mut() {
                w.write_all(&buf[..n]).map_err(|source| ApplyError::Write {
                    path: path.to_string(),
                    source,
                })?;
            }
            len -= n as u64;
        }
        Ok(())
    }

    /// Skips the padding after `size` bytes of content.
    fn pad(&mut self, size: u64, what: &dyn Fn() -> String) -> Result<()> {
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let mut b = [0u8; BLOCK];
        self.read_exact(&mut b[..pad as usize], what)
    }

    /// Reads (and hashes) everything left.
    fn drain(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        let what = || "the data after the end of the archive".to_string();
        while self.read_some(&mut buf, &what)? > 0 {}
        Ok(())
    }
}

/// One tar entry with its extension headers folded in.
#[derive(Debug)]
struct Entry {
    path: Vec<u8>,
    link: Vec<u8>,
    kind: u8,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: (i64, i64),
    atime: Option<(i64, i64)>,
    dev: (u32, u32),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Entry {
    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }
}

/// The fields a PAX header sets for the next entry.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<(i64, i64)>,
    atime: Option<(i64, i64)>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Parses PAX records (`<len> <key>=<value>\n`). Lengths are honoured, so values may hold
/// newlines (binary xattrs such as `security.capability` do).
fn parse_pax(mut data: &[u8], offset: u64) -> Result<Pax> {
    let bad = |reason: &str| ApplyError::Header {
        offset,
        reason: format!("malformed PAX record: {reason}"),
    };
    let mut pax = Pax::default();
    while !data.is_empty() {
        let sp = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or_else(|| bad("no length"))?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad length"))?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad("length does not match the record"));
        }
        let record = &data[sp + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or_else(|| bad("no '='"))?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let num = |v: &[u8]| -> Result<u64> {
            std::str::from_utf8(v)
                .ok()
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(&format!("bad number {:?}", String::from_utf8_lossy(v))))
        };
        let time = |v: &[u8]| {
            parse_time(v).ok_or_else(|| bad(&format!("bad time {:?}", String::from_utf8_lossy(v))))
        };
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.link = Some(value.to_vec()),
            b"size" => pax.size = Some(num(value)?),
            b"uid" => pax.uid = Some(num(value)?),
            b"gid" => pax.gid = Some(num(value)?),
            b"mtime" => pax.mtime = Some(time(value)?),
            b"atime" => pax.atime = Some(time(value)?),
            _ if key.starts_with(b"SCHILY.xattr.") => {
                let name = &key[b"SCHILY.xattr.".len()..];
                if name.is_empty() || name.contains(&0) {
                    return Err(bad("bad xattr name"));
                }
                pax.xattrs.push((name.to_vec(), value.to_vec()));
            }
            _ if key.starts_with(b"GNU.sparse.") => {
                return Err(ApplyError::Header {
                    offset,
                    reason: "sparse files are not supported in layers".into(),
                })
            }
            _ => {}
        }
    }
    Ok(pax)
}

/// A PAX time: decimal seconds, maybe negative, maybe with a fraction.
fn parse_time(v: &[u8]) -> Option<(i64, i64)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    if secs.is_empty()
        || !secs.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut nanos: i64 = 0;
    for i in 0..9 {
        nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |d| i64::from(d - b'0'));
    }
    Some(match (neg, nanos) {
        (false, _) => (secs, nanos),
        (true, 0) => (-secs, 0),
        (true, n) => (-secs - 1, 1_000_000_000 - n),
    })
}

/// Strips a GNU long name's trailing NUL (and anything after a NUL).
fn until_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(i) = v.iter().position(|&b| b == 0) {
        v.truncate(i);
    }
    v
}

/// Reads the next real entry, folding PAX and GNU long-name headers into it. `None` at the
/// end of the archive: a zero block, or the end of the stream at a header boundary.
fn next_entry<R: Read>(s: &mut Stream<R>, limits: &Limits) -> Result<Option<Entry>> {
    let mut pax: Option<Pax> = None;
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut meta = 0u64;
    let pending = |p: &Option<Pax>, n: &Option<Vec<u8>>, l: &Option<Vec<u8>>| {
        p.is_some() || n.is_some() || l.is_some()
    };
    loop {
        let offset = s.pos;
        let mut block = [0u8; BLOCK];
        let what = || "a tar header".to_string();
        if !s.fill(&mut block, &what)? || block.iter().all(|&b| b == 0) {
            if pending(&pax, &long_name, &long_link) {
                return Err(ApplyError::Header {
                    offset,
                    reason: "extension header without the entry it describes".into(),
                });
            }
            return Ok(None);
        }
        let header = tar::Header::from_byte_slice(&block);
        let bad = |reason: String| ApplyError::Header { offset, reason };
        check_sum(&block).map_err(bad)?;
        let kind = header.entry_type().as_byte();
        let size = numeric(&block[124..136]).ok_or_else(|| bad("bad size field".into()))?;
        let what: Option<&'static str> = match kind {
            b'x' => Some("PAX header"),
            b'g' => Some("PAX global header"),
            b'L' => Some("GNU long name"),
            b'K' => Some("GNU long link name"),
            _ => None,
        };
        if let Some(what) = what {
            meta = meta.saturating_add(size);
            if meta > limits.max_metadata {
                return Err(ApplyError::Metadata {
                    offset,
                    what,
                    size,
                    limit: limits.max_metadata,
                });
            }
            let mut data = vec![0u8; size as usize];
            let w = || what.to_string();
            s.read_exact(&mut data, &w)?;
            s.pad(size, &w)?;
            let dup = || bad(format!("two {what}s for one entry"));
            let slot = match kind {
                b'x' => {
                    if pax.is_some() {
                        return Err(dup());
                    }
                    pax = Some(parse_pax(&data, offset)?);
                    continue;
                }
                b'L' => &mut long_name,
                b'K' => &mut long_link,
                // Global headers apply to the whole archive; like Docker, we ignore them.
                _ => continue,
            };
            if slot.replace(until_nul(data)).is_some() {
                return Err(dup());
            }
            continue;
        }
        let pax = pax.unwrap_or_default();
        let path = pax
            .path
            .or(long_name)
            .unwrap_or_else(|| header.path_bytes().into_owned());
        let link = pax
            .link
            .or(long_link)
            .or_else(|| header.link_name_bytes().map(|l| l.into_owned()))
            .unwrap_or_default();
        let field = |range: std::ops::Range<usize>, name: &str| {
            numeric(&block[range]).ok_or_else(|| ApplyError::Header {
                offset,
                reason: format!("bad {name} field"),
            })
        };
        let mtime = match pax.mtime {
            Some(t) => t,
            None => (
                i64::try_from(field(136..148, "mtime")?).unwrap_or(i64::MAX),
                0,
            ),
        };
        let mode = u32::try_from(field(100..108, "mode")?).unwrap_or(0);
        let dev = if matches!(kind, b'3' | b'4') {
            let d = |r, n| field(r, n).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
            (d(329..337, "devmajor")?, d(337..345, "devminor")?)
        } else {
            (0, 0)
        };
        // An old-style (V7) regular file whose name ends in '/' is a directory.
        let kind = if kind == 0 && path.ends_with(b"/") {
            b'5'
        } else {
            kind
        };
        return Ok(Some(Entry {
            uid: match pax.uid {
                Some(u) => u,
                None => field(108..116, "uid")?,
            },
            gid: match pax.gid {
                Some(g) => g,
                None => field(116..124, "gid")?,
            },
            size: pax.size.unwrap_or(size),
            path,
            link,
            kind,
            mode: mode & 0o7777,
            mtime,
            atime: pax.atime,
            dev,
            xattrs: pax.xattrs,
        }));
    }
}

/// A numeric header field: octal digits padded with spaces or NULs (an empty field is 0,
/// as Go and GNU tar read it), or GNU's base-256 form for values octal can't hold.
fn numeric(f: &[u8]) -> Option<u64> {
    if f.first().is_some_and(|&b| b & 0x80 != 0) {
        // Base-256, big-endian; 0xff would be a negative number.
        if f[0] == 0xff {
            return None;
        }
        let mut v: u64 = u64::from(f[0] & 0x7f);
        for &b in &f[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let t = f
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .map_or(&[][..], |start| &f[start..]);
    let end = t
        .iter()
        .position(|&b| b == b' ' || b == 0)
        .unwrap_or(t.len());
    if t[end..].iter().any(|&b| b != b' ' && b != 0) {
        return None;
    }
    let digits = &t[..end];
    if digits.is_empty() {
        return Some(0);
    }
    if !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

/// Checks a header's checksum, computed with the checksum field as spaces; historic tars
/// summed signed bytes, and both sums are accepted, as GNU tar and Go do.
fn check_sum(block: &[u8; BLOCK]) -> std::result::Result<(), String> {
    let want = numeric(&block[148..156])
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| "bad checksum field: not a tar stream?".to_string())?;
    let (mut unsigned, mut signed) = (0u32, 0i32);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u32::from(b);
        signed += i32::from(b as i8);
    }
    if want == unsigned || i64::from(want) == i64::from(signed) {
        Ok(())
    } else {
        Err(format!(
            "checksum mismatch (header says {want}, computed {unsigned}): not a tar stream?"
        ))
    }
}

/// Splits a tar path into its components, dropping `.` and empty ones (so absolute paths
/// become relative). `None` if any component is `..`.
fn components(raw: &[u8]) -> Option<Vec<&OsStr>> {
    let mut out = Vec::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return None,
            c => out.push(OsStr::from_bytes(c)),
        }
    }
    Some(out)
}

fn rel_path(comps: &[&OsStr]) -> PathBuf {
    comps.iter().collect()
}

/// A directory's parent, name (`.` for the root), atime and mtime.
type DirTimes = (PathBuf, PathBuf, (i64, i64), (i64, i64));

struct Applier<'o> {
    root: OwnedFd,
    opts: &'o ApplyOptions,
    /// Paths this layer wrote, kept in Remove mode so that an opaque marker coming after
    /// its siblings spares them.
    created: BTreeSet<PathBuf>,
    /// Directories whose times are set once everything else is written: (parent, name,
    /// atime, mtime), with `.` naming the root itself.
    dirs: Vec<DirTimes>,
    size: u64,
    buf: Vec<u8>,
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, s: &mut Stream<R>, e: &Entry) -> Result<()> {
        let shown = || format!("entry {:?}", e.shown());
        let invalid = |reason: &str| ApplyError::Invalid {
            path: e.shown(),
            reason: reason.to_string(),
        };
        if e.path.contains(&0) {
            return Err(invalid("path contains a NUL byte"));
        }
        let comps = components(&e.path).ok_or_else(|| ApplyError::Escape { path: e.shown() })?;
        let is_file = matches!(e.kind, b'0' | 0 | b'7');
        // Only regular files carry content; anything else's is skipped.
        let content = |s: &mut Stream<R>, buf: &mut [u8]| -> Result<()> {
            s.copy(e.size, buf, None, &shown)?;
            s.pad(e.size, &shown)
        };
        let Some((&name, parent)) = comps.split_last() else {
            // The root itself ("./" or "/"): only a directory entry makes sense.
            if e.kind != b'5' {
                return Err(invalid("only a directory can stand for the layer root"));
            }
            content(s, &mut self.buf)?;
            let root = self.root.try_clone().map_err(|err| ApplyError::Write {
                path: e.shown(),
                source: err,
            })?;
            return self.metadata(e, root.as_fd(), OsStr::new("."), &[]);
        };
        let nb = name.as_bytes();

        let layer = self.opts.whiteouts != Whiteouts::Literal;
        // Whiteouts and other `.wh.` names.
        if layer && comps.iter().any(|c| c.as_bytes().starts_with(META_PREFIX)) {
            content(s, &mut self.buf)?;
            if nb == OPAQUE && !parent.iter().any(|c| c.as_bytes().starts_with(WHITEOUT)) {
                return self.opaque(e, parent);
            }
            // aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`...): not part of the image.
            return Ok(());
        }
        if layer && parent.iter().any(|c| c.as_bytes().starts_with(WHITEOUT)) {
            return Err(invalid("a whiteout cannot be a directory"));
        }
        if let Some(target) = nb.strip_prefix(WHITEOUT).filter(|_| layer) {
            content(s, &mut self.buf)?;
            if target.is_empty() || target == b"." || target == b".." {
                return Err(ApplyError::Escape { path: e.shown() });
            }
            return self.whiteout(e, parent, OsStr::from_bytes(target));
        }

        let dir = self.parent(e, parent, true)?;
        let dir = dir.as_fd();
        let fs = |source| ApplyError::Fs {
            path: e.shown(),
            source,
        };
        match e.kind {
            b'5' => {
                match at::lstat(dir, name).map_err(fs)? {
                    Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
                    Some(_) => {
                        at::remove_all(dir, name).map_err(fs)?;
                        at::mkdir(dir, name, 0o700).map_err(fs)?;
                    }
                    None => at::mkdir(dir, name, 0o700).map_err(fs)?,
                }
                content(s, &mut self.buf)?;
            }
            _ if is_file => {
                at::remove_all(dir, name).map_err(fs)?;
                let mut f = at::create_file(dir, name, 0o600).map_err(fs)?;
                let path = e.shown();
                s.copy(e.size, &mut self.buf, Some((&mut f, &path)), &shown)?;
                s.pad(e.size, &shown)?;
                self.size += e.size;
            }
            b'2' => {
                if e.link.is_empty() || e.link.contains(&0) {
                    return Err(invalid("bad symlink target"));
                }
                at::remove_all(dir, name).map_err(fs)?;
                at::symlink(dir, name, OsStr::from_bytes(&e.link)).map_err(fs)?;
                content(s, &mut self.buf)?;
            }
            b'1' => {
                content(s, &mut self.buf)?;
                return self.hardlink(e, &comps, dir, name);
            }
            b'3' | b'4' | b'6' => {
                let kind = match e.kind {
                    b'3' => SFlag::S_IFCHR,
                    b'4' => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let dev = libc::makedev(e.dev.0, e.dev.1);
                at::remove_all(dir, name).map_err(fs)?;
                at::mknod(dir, name, kind, 0o600, dev).map_err(fs)?;
                content(s, &mut self.buf)?;
            }
            b'S' => return Err(invalid("sparse files are not supported in layers")),
            k => {
                return Err(invalid(&format!(
                    "unsupported tar entry type {:?}",
                    char::from(k)
                )))
            }
        }
        self.metadata(e, dir, name, &comps)
    }

    /// Opens the directory `comps` in-root (symlinks resolved inside the root), creating
    /// missing directories when `create` is set.
    fn parent(&self, e: &Entry, comps: &[&OsStr], create: bool) -> Result<OwnedFd> {
        let p = rel_path(comps);
        let r = if create {
            inroot::mkdir_all(self.root.as_fd(), &p, Mode::from_bits_truncate(0o755))
        } else {
            inroot::open(
                self.root.as_fd(),
                &p,
                OFlag::O_PATH | OFlag::O_DIRECTORY,
                Mode::empty(),
            )
        };
        r.map_err(|source| ApplyError::Fs {
            path: e.shown(),
            source,
        })
    }

    fn ids(&self, e: &Entry) -> Result<(u32, u32)> {
        let id = |v: u64, what: &str| {
            u32::try_from(v).map_err(|_| ApplyError::Invalid {
                path: e.shown(),
                reason: format!("{what} {v} is out of range"),
            })
        };
        Ok((id(e.uid, "uid")?, id(e.gid, "gid")?))
    }

    /// Owner, mode, xattrs and times of an entry just created (`.` being `dir` itself).
    fn metadata(
        &mut self,
        e: &Entry,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        comps: &[&OsStr],
    ) -> Result<()> {
        let fs = |source| ApplyError::Fs {
            path: e.shown(),
            source,
        };
        if self.opts.preserve_owner {
            let (uid, gid) = self.ids(e)?;
            at::chown(dir, name, uid, gid).map_err(fs)?;
        }
        // After chown, which clears setuid and setgid bits. Symlinks have no mode.
        if e.kind != b'2' {
            at::chmod(dir, name, e.mode).map_err(fs)?;
        }
        for (key, value) in &e.xattrs {
            // overlayfs metadata (redirects, metacopy, opaque) must come from whiteouts we
            // translate, never verbatim from an image.
            if key.starts_with(b"trusted.overlay.") || key.starts_with(b"user.overlay.") {
                continue;
            }
            xattr::set(dir, name, OsStr::from_bytes(key), value).map_err(fs)?;
        }
        let atime = e.atime.unwrap_or(e.mtime);
        if e.kind == b'5' {
            self.dirs.push((
                rel_path(comps.split_last().map_or(&[], |(_, p)| p)),
                PathBuf::from(name),
                atime,
                e.mtime,
            ));
        } else {
            at::set_times(dir, name, atime, e.mtime).map_err(fs)?;
        }
        if self.opts.whiteouts == Whiteouts::Remove && !comps.is_empty() {
            self.created.insert(rel_path(comps));
        }
        Ok(())
    }

    fn hardlink(
        &mut self,
        e: &Entry,
        comps: &[&OsStr],
        dir: BorrowedFd<'_>,
        name: &OsStr,
    ) -> Result<()> {
        let target = components(&e.link).ok_or_else(|| ApplyError::Invalid {
            path: e.shown(),
            reason: format!(
                "hard link target {:?} escapes the layer root",
                String::from_utf8_lossy(&e.link)
            ),
        })?;
        let Some((tname, tparent)) = target.split_last() else {
            return Err(ApplyError::Invalid {
                path: e.shown(),
                reason: "hard link without a target".into(),
            });
        };
        if target == comps {
            return Ok(());
        }
        let tdir = self.parent(e, tparent, false)?;
        let fs = |source| ApplyError::Fs {
            path: e.shown(),
            source,
        };
        at::remove_all(dir, name).map_err(fs)?;
        at::hardlink(tdir.as_fd(), tname, dir, name).map_err(fs)?;
        if self.opts.whiteouts == Whiteouts::Remove {
            self.created.insert(rel_path(comps));
        }
        Ok(())
    }

    fn whiteout(&mut self, e: &Entry, parent: &[&OsStr], target: &OsStr) -> Result<()> {
        let fs = |source| ApplyError::Fs {
            path: e.shown(),
            source,
        };
        match self.opts.whiteouts {
            Whiteouts::Overlay => {
                let dir = self.parent(e, parent, true)?;
                at::remove_all(dir.as_fd(), target).map_err(fs)?;
                at::mknod(dir.as_fd(), target, SFlag::S_IFCHR, 0, 0).map_err(fs)?;
                // Owner and time as the tar says, so that a layer written back from this
                // directory is the same layer.
                if self.opts.preserve_owner {
                    let (uid, gid) = self.ids(e)?;
                    at::chown(dir.as_fd(), target, uid, gid).map_err(fs)?;
                }
                let atime = e.atime.unwrap_or(e.mtime);
                at::set_times(dir.as_fd(), target, atime, e.mtime).map_err(fs)
            }
            Whiteouts::Remove => {
                let dir = match self.parent(e, parent, false) {
                    Ok(d) => d,
                    Err(ApplyError::Fs { source, .. }) if gone(&source) => return Ok(()),
                    Err(err) => return Err(err),
                };
                at::remove_all(dir.as_fd(), target).map_err(fs)
            }
            // Never called: literal names don't reach here.
            Whiteouts::Literal => Ok(()),
        }
    }

    fn opaque(&mut self, e: &Entry, dir_comps: &[&OsStr]) -> Result<()> {
        let fs = |source| ApplyError::Fs {
            path: e.shown(),
            source,
        };
        match self.opts.whiteouts {
            Whiteouts::Overlay => {
                let dir = self.parent(e, dir_comps, true)?;
                xattr::set(dir.as_fd(), OsStr::new("."), OsStr::new(OPAQUE_XATTR), b"y").map_err(fs)
            }
            Whiteouts::Remove => {
                let dir = match self.parent(e, dir_comps, false) {
                    Ok(d) => d,
                    Err(ApplyError::Fs { source, .. }) if gone(&source) => return Ok(()),
                    Err(err) => return Err(err),
                };
                self.prune(dir.as_fd(), &rel_path(dir_comps)).map_err(fs)
            }
            Whiteouts::Literal => Ok(()),
        }
    }

    /// Empties `dir` of what lower layers put there, sparing what this layer wrote and the
    /// directories leading to it.
    fn prune(&self, dir: BorrowedFd<'_>, rel: &Path) -> berth_sys::Result<()> {
        for name in at::read_dir(dir)? {
            let p = rel.join(&name);
            let ours = self.created.contains(&p);
            let below = self
                .created
                .range(p.clone()..)
                .next()
                .is_some_and(|q| q.starts_with(&p) && *q != p);
            if !ours && !below {
                at::remove_all(dir, &name)?;
                continue;
            }
            let is_dir =
                at::lstat(dir, &name)?.is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
            if is_dir {
                let sub = at::open_dir(dir, &name)?;
                self.prune(sub.as_fd(), &p)?;
            } else if !ours {
                at::remove_all(dir, &name)?;
            }
        }
        Ok(())
    }

    /// Sets directory times last: creating their children changed them.
    fn finish_dirs(&mut self) -> Result<()> {
        for (parent, name, atime, mtime) in std::mem::take(&mut self.dirs) {
            let shown = || parent.join(&name).display().to_string();
            let dir = match inroot::open(
                self.root.as_fd(),
                &parent,
                OFlag::O_PATH | OFlag::O_DIRECTORY,
                Mode::empty(),
            ) {
                Ok(d) => d,
                // A later entry or whiteout replaced it.
                Err(e) if gone(&e) => continue,
                Err(source) => {
                    return Err(ApplyError::Fs {
                        path: shown(),
                        source,
                    })
                }
            };
            match at::set_times(dir.as_fd(), name.as_os_str(), atime, mtime) {
                Ok(()) => {}
                Err(e) if gone(&e) => {}
                Err(source) => {
                    return Err(ApplyError::Fs {
                        path: shown(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }
}

/// Whether an error says the path isn't there (any more).
fn gone(e: &berth_sys::Error) -> bool {
    matches!(
        e.errno(),
        Some(nix::Error::ENOENT) | Some(nix::Error::ENOTDIR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        assert_eq!(parse_time(b"12"), Some((12, 0)));
        assert_eq!(parse_time(b"12.5"), Some((12, 500_000_000)));
        assert_eq!(parse_time(b"1.123456789123"), Some((1, 123_456_789)));
        assert_eq!(parse_time(b"-1.25"), Some((-2, 750_000_000)));
        assert_eq!(parse_time(b"-3"), Some((-3, 0)));
        for bad in [&b""[..], b".5", b"1e3", b"--1", b"1.x"] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pax_records_honour_lengths() {
        let mut data = Vec::new();
        let value = b"\x00\x00\x00\x02\n\x00 =";
        let key = b"SCHILY.xattr.security.capability";
        let body_len = key.len() + 1 + value.len() + 1;
        // The length counts itself, its space and the newline.
        let total = body_len + 3;
        data.extend_from_slice(format!("{total} ").as_bytes());
        data.extend_from_slice(key);
        data.push(b'=');
        data.extend_from_slice(value);
        data.push(b'\n');
        data.extend_from_slice(b"16 path=a/b/cde\n");
        let pax = parse_pax(&data, 0).unwrap();
        assert_eq!(
            pax.xattrs,
            vec![(b"security.capability".to_vec(), value.to_vec())]
        );
        assert_eq!(pax.path.as_deref(), Some(&b"a/b/cde"[..]));
        for bad in [&b"5 a=b\n"[..], b"x a=b\n", b"7 ab\n\n\n", b"99 a=b\n"] {
            assert!(parse_pax(bad, 0).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numeric_fields() {
        assert_eq!(numeric(b"0000644\0"), Some(0o644));
        assert_eq!(numeric(b"  644 \0\0"), Some(0o644));
        assert_eq!(numeric(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(
            numeric(&[0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]),
            Some(1 << 33)
        );
        assert_eq!(numeric(b"12 34\0"), None);
        assert_eq!(numeric(b"0009\0"), None);
        assert_eq!(numeric(&[0xff; 8]), None);
    }

    #[test]
    fn components_refuse_dotdot() {
        assert_eq!(components(b"/a/./b//c/").unwrap(), ["a", "b", "c"]);
        assert!(components(b"a/../b").is_none());
        assert!(components(b"..").is_none());
        assert!(components(b"./").unwrap().is_empty());
    }
}
