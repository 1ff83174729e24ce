//! Turning a directory back into a layer tar: an overlay upper directory (`commit`), or a
//! plain rootfs (`import`).
//!
//! The walk is deterministic: names sorted bytewise, a directory before its contents, a
//! second name of an inode as a hard link to the first, times in whole seconds (as Docker
//! writes them). overlayfs whiteouts become Docker's: a 0:0 character device is written as
//! an empty `.wh.<name>`, a directory marked `trusted.overlay.opaque=y` is followed by
//! `<dir>/.wh..wh..opq`. Of the xattrs only `security.capability` is kept, as Docker and
//! containerd do. The directory may belong to a running container, so nothing is followed:
//! every name is reached from its parent's fd with `O_NOFOLLOW`.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use berth_sys::{at, inroot, xattr};
use sha2::Digest as _;
use tar::{EntryType, Header};

use crate::digest::Digest;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{path}: {source}")]
    Fs {
        path: PathBuf,
        source: berth_sys::Error,
    },
    #[error("{path}: reading: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: changed while it was being archived")]
    Changed { path: PathBuf },
    #[error("{path}: cannot be stored in a tar header: {reason}")]
    Header { path: PathBuf, reason: String },
    #[error("writing the layer: {0}")]
    Write(#[source] io::Error),
}

pub type Result<T> = std::result::Result<T, DiffError>;

const CAPABILITY: &str = "security.capability";
const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The largest value an octal ustar field of 12 bytes (11 digits) holds.
const MAX_OCTAL_12: u64 = 0o77777777777;
/// The same for the 8-byte uid and gid fields (7 digits).
const MAX_OCTAL_8: u64 = 0o7777777;

/// Writes `dir`'s contents (not `dir` itself) as a layer tar to `out` and returns the
/// tar's sha256, its diff ID.
pub fn write_layer(dir: &Path, out: impl Write) -> Result<Digest> {
    write_layer_except(dir, out, Vec::new())
}

/// [`write_layer`] without the entries at `skip` (paths relative to `dir`, no leading
/// slash) and anything below them: `commit` leaves out the mount points the engine made.
pub fn write_layer_except(dir: &Path, out: impl Write, skip: Vec<Vec<u8>>) -> Result<Digest> {
    let fs = |source| DiffError::Fs {
        path: dir.to_path_buf(),
        source,
    };
    let root = inroot::open_root(dir).map_err(fs)?;
    let top = at::open_dir(root.as_fd(), OsStr::new(".")).map_err(fs)?;
    let mut w = Walker::new(dir, out);
    w.skip = skip;
    w.walk(top.as_fd(), b"")?;
    let mut hashing = w.tar.into_inner().map_err(DiffError::Write)?;
    hashing.inner.flush().map_err(DiffError::Write)?;
    Ok(Digest::from_hash(&hashing.hasher.finalize()))
}

/// Writes `name` in the directory `dir` (an fd the caller resolved safely), and everything
/// below it if it is a directory, as a tar whose top entry is called `as_name` (`cp`).
/// `shown` is the path errors report.
pub fn write_entry(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    as_name: &[u8],
    shown: &Path,
    out: impl Write,
) -> Result<()> {
    let mut w = Walker::new(shown, out);
    w.one(dir, name, as_name.to_vec())?;
    let mut hashing = w.tar.into_inner().map_err(DiffError::Write)?;
    hashing.inner.flush().map_err(DiffError::Write)
}

/// Writes the contents of the directory `dir` (an fd the caller resolved safely), each
/// name under `prefix` when given (`cp` of `DIR/.`).
pub fn write_contents(
    dir: BorrowedFd<'_>,
    prefix: Option<&[u8]>,
    shown: &Path,
    out: impl Write,
) -> Result<()> {
    let fs = |source| DiffError::Fs {
        path: shown.to_path_buf(),
        source,
    };
    let top = at::open_dir(dir, OsStr::new(".")).map_err(fs)?;
    let mut w = Walker::new(shown, out);
    if let Some(p) = prefix {
        let st = inroot::fstat(top.as_fd()).map_err(fs)?;
        w.put(Pending::new(p.to_vec(), EntryType::Directory, &st), true)?;
    }
    w.walk(top.as_fd(), prefix.unwrap_or(b""))?;
    let mut hashing = w.tar.into_inner().map_err(DiffError::Write)?;
    hashing.inner.flush().map_err(DiffError::Write)
}

/// Whether `dir` is on a kernel pseudo filesystem (proc, sysfs and its relatives), whose
/// files are not data and may be endless (`/proc/kcore`).
fn pseudo_fs(dir: BorrowedFd<'_>) -> bool {
    use nix::sys::statfs::{
        fstatfs, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, DEBUGFS_MAGIC, PROC_SUPER_MAGIC,
        SECURITYFS_MAGIC, SYSFS_MAGIC,
    };
    fstatfs(dir).is_ok_and(|s| {
        [
            PROC_SUPER_MAGIC,
            SYSFS_MAGIC,
            CGROUP_SUPER_MAGIC,
            CGROUP2_SUPER_MAGIC,
            DEBUGFS_MAGIC,
            SECURITYFS_MAGIC,
        ]
        .contains(&s.filesystem_type())
    })
}

struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct Walker<W: Write> {
    tar: tar::Builder<Hashing<W>>,
    base: PathBuf,
    /// The first path seen of each multiply-linked inode.
    links: HashMap<(u64, u64), Vec<u8>>,
    buf: Vec<u8>,
    /// Paths left out, with everything below them.
    skip: Vec<Vec<u8>>,
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = prefix.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// One PAX record: `<len> <key>=<value>\n`, the length counting itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = rest + 1;
    loop {
        let next = rest + len.to_string().len();
        if next == len {
            break;
        }
        len = next;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// An entry about to be written: its header and the PAX records it needs.
struct Pending {
    header: Header,
    pax: Vec<u8>,
    path: Vec<u8>,
}

impl Pending {
    fn new(path: Vec<u8>, kind: EntryType, st: &libc::stat) -> Pending {
        let mut header = Header::new_ustar();
        header.set_entry_type(kind);
        header.set_mode(st.st_mode & 0o7777);
        header.set_size(0);
        let mut p = Pending {
            header,
            pax: Vec::new(),
            path,
        };
        let (uid, gid) = (u64::from(st.st_uid), u64::from(st.st_gid));
        p.header.set_uid(uid.min(MAX_OCTAL_8));
        p.header.set_gid(gid.min(MAX_OCTAL_8));
        if uid > MAX_OCTAL_8 {
            pax_record(&mut p.pax, "uid", uid.to_string().as_bytes());
        }
        if gid > MAX_OCTAL_8 {
            pax_record(&mut p.pax, "gid", gid.to_string().as_bytes());
        }
        let mtime = u64::try_from(st.st_mtime).unwrap_or(0);
        p.header.set_mtime(mtime.min(MAX_OCTAL_12));
        if mtime > MAX_OCTAL_12 {
            pax_record(&mut p.pax, "mtime", mtime.to_string().as_bytes());
        }
        p
    }

    fn size(&mut self, size: u64) {
        self.header.set_size(size.min(MAX_OCTAL_12));
        if size > MAX_OCTAL_12 {
            pax_record(&mut self.pax, "size", size.to_string().as_bytes());
        }
    }

    fn link(&mut self, target: &[u8]) {
        if self.header.set_link_name_literal(target).is_err() {
            pax_record(&mut self.pax, "linkpath", target);
            let cut = &target[..target.len().min(100)];
            let _ = self.header.set_link_name_literal(cut);
        }
    }
}

impl<W: Write> Walker<W> {
    fn new(base: &Path, out: W) -> Self {
        Walker {
            tar: tar::Builder::new(Hashing {
                inner: out,
                hasher: sha2::Sha256::new(),
            }),
            base: base.to_path_buf(),
            links: HashMap::new(),
            buf: vec![0u8; 128 << 10],
            skip: Vec::new(),
        }
    }

    fn shown(&self, path: &[u8]) -> PathBuf {
        self.base.join(OsStr::from_bytes(path))
    }

    fn fs(&self, path: &[u8]) -> impl FnOnce(berth_sys::Error) -> DiffError {
        let path = self.shown(path);
        move |source| DiffError::Fs { path, source }
    }

    /// Writes the header (after a PAX header if needed) of `p`; content follows.
    fn put(&mut self, mut p: Pending, is_dir: bool) -> Result<()> {
        let mut name = p.path.clone();
        if is_dir {
            name.push(b'/');
        }
        let fits = p
            .header
            .set_path(Path::new(OsStr::from_bytes(&name)))
            .is_ok();
        if !fits {
            pax_record(&mut p.pax, "path", &name);
            let cut = &name[name.len().saturating_sub(99)..];
            let old = p.header.as_old_mut();
            old.name = [0; 100];
            old.name[..cut.len()].copy_from_slice(cut);
            if let Some(u) = p.header.as_ustar_mut() {
                u.prefix = [0; 155];
            }
        }
        if !p.pax.is_empty() {
            let mut h = Header::new_ustar();
            h.set_entry_type(EntryType::XHeader);
            h.set_mode(0o644);
            h.set_size(p.pax.len() as u64);
            h.set_mtime(p.header.mtime().unwrap_or(0));
            let base = name
                .rsplit(|&b| b == b'/')
                .find(|c| !c.is_empty())
                .unwrap_or(b"x");
            let pax_name = join(b"PaxHeaders.0", &base[..base.len().min(80)]);
            let old = h.as_old_mut();
            old.name[..pax_name.len()].copy_from_slice(&pax_name);
            h.set_cksum();
            self.tar.append(&h, &p.pax[..]).map_err(DiffError::Write)?;
        }
        p.header.set_cksum();
        self.tar
            .append(&p.header, io::empty())
            .map_err(DiffError::Write)
    }

    fn walk(&mut self, dir: BorrowedFd<'_>, prefix: &[u8]) -> Result<()> {
        let mut names: Vec<OsString> = at::read_dir(dir).map_err(self.fs(prefix))?;
        names.sort();
        for name in names {
            let path = join(prefix, name.as_bytes());
            self.one(dir, &name, path)?;
        }
        Ok(())
    }

    /// Writes `name` in `dir` as `path` (and, for a directory, everything below it).
    fn one(&mut self, dir: BorrowedFd<'_>, name: &OsStr, path: Vec<u8>) -> Result<()> {
        if self.skip.contains(&path) {
            return Ok(());
        }
        let prefix: &[u8] = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => &path[..i],
            None => b"",
        };
        let prefix = prefix.to_vec();
        let prefix = &prefix[..];
        let name = name.to_os_string();
        {
            let Some(st) = at::lstat(dir, &name).map_err(self.fs(&path))? else {
                return Ok(()); // removed meanwhile
            };
            let fmt = st.st_mode & libc::S_IFMT;
            if fmt == libc::S_IFCHR && st.st_rdev == 0 {
                let mut p = Pending::new(
                    join(prefix, &[b".wh.", name.as_bytes()].concat()),
                    EntryType::Regular,
                    &st,
                );
                p.header.set_mode(0o600);
                self.put(p, false)?;
                return Ok(());
            }
            if fmt != libc::S_IFDIR && st.st_nlink > 1 {
                let key = (st.st_dev, st.st_ino);
                if let Some(first) = self.links.get(&key).cloned() {
                    let mut p = Pending::new(path, EntryType::Link, &st);
                    p.link(&first);
                    self.put(p, false)?;
                    return Ok(());
                }
                self.links.insert(key, path.clone());
            }
            match fmt {
                libc::S_IFDIR => {
                    let p = Pending::new(path.clone(), EntryType::Directory, &st);
                    self.put(p, true)?;
                    let opaque =
                        xattr::get(dir, &name, OsStr::new(OPAQUE_XATTR)).map_err(self.fs(&path))?;
                    if opaque.as_deref() == Some(b"y") {
                        let mut p =
                            Pending::new(join(&path, b".wh..wh..opq"), EntryType::Regular, &st);
                        p.header.set_mode(st.st_mode & 0o777);
                        self.put(p, false)?;
                    }
                    let sub = at::open_dir(dir, &name).map_err(self.fs(&path))?;
                    // A live container's /proc and /sys (cp reads through its mount
                    // namespace) are the kernel's, not files: kept as empty directories, as
                    // Docker's archive of a container has them.
                    if !pseudo_fs(sub.as_fd()) {
                        self.walk(sub.as_fd(), &path)?;
                    }
                }
                libc::S_IFREG => self.file(dir, &name, path, &st)?,
                libc::S_IFLNK => {
                    let target = at::readlink(dir, &name).map_err(self.fs(&path))?;
                    let mut p = Pending::new(path, EntryType::Symlink, &st);
                    p.link(target.as_bytes());
                    self.put(p, false)?;
                }
                libc::S_IFCHR | libc::S_IFBLK => {
                    let kind = if fmt == libc::S_IFCHR {
                        EntryType::Char
                    } else {
                        EntryType::Block
                    };
                    let mut p = Pending::new(path.clone(), kind, &st);
                    let bad = |e: io::Error| DiffError::Header {
                        path: self.shown(&path),
                        reason: e.to_string(),
                    };
                    p.header
                        .set_device_major(libc::major(st.st_rdev))
                        .map_err(bad)?;
                    p.header
                        .set_device_minor(libc::minor(st.st_rdev))
                        .map_err(bad)?;
                    self.put(p, false)?;
                }
                libc::S_IFIFO => self.put(Pending::new(path, EntryType::Fifo, &st), false)?,
                // Sockets have no tar form; Docker skips them too.
                _ => {}
            }
        }
        Ok(())
    }

    fn file(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &OsStr,
        path: Vec<u8>,
        st: &libc::stat,
    ) -> Result<()> {
        let changed = |w: &Self| DiffError::Changed {
            path: w.shown(&path),
        };
        let mut f = at::open_file(dir, name).map_err(self.fs(&path))?;
        let now = berth_sys::inroot::fstat(f.as_fd()).map_err(self.fs(&path))?;
        if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
            return Err(changed(self));
        }
        let size = u64::try_from(st.st_size).unwrap_or(0);
        let mut p = Pending::new(path.clone(), EntryType::Regular, st);
        p.size(size);
        if let Some(cap) = xattr::get(dir, name, OsStr::new(CAPABILITY)).map_err(self.fs(&path))? {
            let key = format!("SCHILY.xattr.{CAPABILITY}");
            pax_record(&mut p.pax, &key, &cap);
        }
        self.put(p, false)?;
        let mut left = size;
        while left > 0 {
            let want = left.min(self.buf.len() as u64) as usize;
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => return Err(changed(self)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(DiffError::Read {
                        path: self.shown(&path),
                        source,
                    })
                }
            };
            self.tar
                .get_mut()
                .write_all(&self.buf[..n])
                .map_err(DiffError::Write)?;
            left -= n as u64;
        }
        let pad = (512 - size % 512) % 512;
        self.tar
            .get_mut()
            .write_all(&[0u8; 512][..pad as usize])
            .map_err(DiffError::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths_count_themselves() {
        for (k, v) in [
            ("path", &b"a"[..]),
            ("path", &[b'x'; 95][..]),
            ("k", &[b'y'; 994][..]),
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, k, v);
            let sp = out.iter().position(|&b| b == b' ').unwrap();
            let n: usize = std::str::from_utf8(&out[..sp]).unwrap().parse().unwrap();
            assert_eq!(n, out.len());
        }
    }
}
