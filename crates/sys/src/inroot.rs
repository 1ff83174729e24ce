//! Path resolution that can never leave a root directory.
//!
//! A container rootfs is attacker-controlled: any component may be a symlink pointing at `/`
//! or `..`. Every lookup below goes through `openat2(RESOLVE_IN_ROOT)`, which makes the kernel
//! treat the root fd as `/` for absolute symlinks and `..`, so no path we build can escape it.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, mknodat, Mode, SFlag};
use nix::unistd::symlinkat;

use crate::{Error, Result};

/// Opens `path` as an `O_PATH` directory fd, the anchor for in-root lookups.
pub fn open_root(path: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::path("open", path, e))
}

/// Strips the leading `/` and rejects nothing: `..` is safe because the kernel clamps it.
fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

fn how(flags: OFlag, mode: Mode) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .mode(mode)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Opens `path` inside `root`; the path is interpreted as if `root` were `/`.
pub fn open(root: BorrowedFd<'_>, path: &Path, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let rel = relative(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    openat2(root, rel, how(flags, mode)).map_err(|e| Error::path("openat2", path, e))
}

/// Opens `path` inside `root` as an `O_PATH` handle (following symlinks, in root).
pub fn open_path(root: BorrowedFd<'_>, path: &Path) -> Result<OwnedFd> {
    open(root, path, OFlag::O_PATH, Mode::empty())
}

/// Splits a path into its last component and its parent, rejecting paths that end in `..`
/// or name the root itself, which cannot be created.
fn split(path: &Path) -> Result<(PathBuf, &OsStr)> {
    match path.components().next_back() {
        Some(Component::Normal(name)) => Ok((
            path.parent().map(Path::to_path_buf).unwrap_or_default(),
            name,
        )),
        _ => Err(Error::Unexpected {
            path: path.to_path_buf(),
            expected: "a path ending in a file name",
        }),
    }
}

/// Creates `path` and any missing parents inside `root`, returning an `O_PATH` fd of it.
pub fn mkdir_all(root: BorrowedFd<'_>, path: &Path, mode: Mode) -> Result<OwnedFd> {
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let rel = relative(path);
    // Find the deepest ancestor that exists (usually the parent: one or two lookups), then
    // create downwards. Each prefix is resolved afresh from the root, so a symlink component
    // is followed inside the root, never relative to the previous fd.
    let comps: Vec<Component<'_>> = rel.components().collect();
    let prefix = |n: usize| -> PathBuf {
        let mut p = PathBuf::from("/");
        p.extend(comps[..n].iter().map(|c| c.as_os_str()));
        p
    };
    let mut have = comps.len();
    let mut current = loop {
        match open(root, &prefix(have), dir_flags, Mode::empty()) {
            Ok(fd) => break fd,
            Err(e) if e.errno() == Some(nix::Error::ENOENT) && have > 0 => have -= 1,
            Err(e) => return Err(e),
        }
    };
    for n in have + 1..=comps.len() {
        let Component::Normal(name) = comps[n - 1] else {
            // `..` or `.` below a missing directory: nothing sensible to create.
            return Err(Error::path("mkdir", prefix(n), nix::Error::ENOENT));
        };
        match mkdirat(current.as_fd(), name, mode) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(errno) => return Err(Error::path("mkdirat", prefix(n), errno)),
        }
        current = open(root, &prefix(n), dir_flags, Mode::empty())?;
    }
    Ok(current)
}

/// Makes sure a regular file exists at `path` inside `root` (a bind-mount target), creating
/// parents as needed, and returns an `O_PATH` fd of whatever is there.
pub fn ensure_file(root: BorrowedFd<'_>, path: &Path, mode: Mode) -> Result<OwnedFd> {
    if let Ok(fd) = open_path(root, path) {
        return Ok(fd);
    }
    let (parent, _) = split(relative(path))?;
    mkdir_all(root, &parent, Mode::from_bits_truncate(0o755))?;
    let fd = open(root, path, OFlag::O_CREAT | OFlag::O_RDONLY, mode)?;
    drop(fd);
    open_path(root, path)
}

/// Creates a device node (or fifo) at `path` inside `root`.
pub fn mknod(
    root: BorrowedFd<'_>,
    path: &Path,
    kind: SFlag,
    perm: Mode,
    dev: libc::dev_t,
) -> Result<()> {
    let (parent, name) = split(relative(path))?;
    let dir = mkdir_all(root, &parent, Mode::from_bits_truncate(0o755))?;
    match mknodat(dir.as_fd(), name, kind, perm, dev) {
        Ok(()) => Ok(()),
        Err(nix::Error::EEXIST) => Ok(()),
        Err(e) => Err(Error::path("mknodat", path, e)),
    }
}

/// Creates a symlink `path -> target` inside `root`; an existing entry is left alone.
pub fn symlink(root: BorrowedFd<'_>, target: &Path, path: &Path) -> Result<()> {
    let (parent, name) = split(relative(path))?;
    let dir = mkdir_all(root, &parent, Mode::from_bits_truncate(0o755))?;
    match symlinkat(target, dir.as_fd(), name) {
        Ok(()) | Err(nix::Error::EEXIST) => Ok(()),
        Err(e) => Err(Error::path("symlinkat", path, e)),
    }
}

/// Writes `data` to an existing file inside `root` (sysctl, oom_score_adj and friends).
pub fn write(root: BorrowedFd<'_>, path: &Path, data: &[u8]) -> Result<()> {
    let fd = open(root, path, OFlag::O_WRONLY | OFlag::O_TRUNC, Mode::empty())?;
    nix::unistd::write(&fd, data).map_err(|e| Error::path("write", path, e))?;
    Ok(())
}

/// `/proc/self/fd/N`, the path through which the kernel reaches an fd we resolved safely.
pub fn fd_path(fd: BorrowedFd<'_>) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The file type and device number of an fd.
pub fn fstat(fd: BorrowedFd<'_>) -> Result<libc::stat> {
    nix::sys::stat::fstat(fd).map_err(|e| Error::call("fstat", e))
}

/// Whether `name` as bytes contains a NUL, which no path may.
pub fn has_nul(name: &OsStr) -> bool {
    name.as_bytes().contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink as host_symlink;

    #[test]
    fn symlinks_cannot_escape() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        host_symlink(outside.path(), root.path().join("escape")).unwrap();
        host_symlink("../../../../", root.path().join("up")).unwrap();
        let fd = open_root(root.path()).unwrap();
        let mode = Mode::from_bits_truncate(0o755);
        // The absolute symlink dangles inside the root: refuse, and never touch the outside.
        assert!(mkdir_all(fd.as_fd(), Path::new("/escape/a/b"), mode).is_err());
        assert!(!outside.path().join("a").exists());
        // Once its target exists inside the root, the symlink leads there.
        let inside = root.path().join(outside.path().strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        mkdir_all(fd.as_fd(), Path::new("/escape/a/b"), mode).unwrap();
        assert!(inside.join("a/b").is_dir());
        assert!(!outside.path().join("a").exists());
        ensure_file(
            fd.as_fd(),
            Path::new("/up/x"),
            Mode::from_bits_truncate(0o644),
        )
        .unwrap();
        assert!(root.path().join("x").is_file());
    }

    #[test]
    fn symlink_and_mknod_in_root() {
        let root = tempfile::tempdir().unwrap();
        let fd = open_root(root.path()).unwrap();
        symlink(fd.as_fd(), Path::new("/proc/self/fd"), Path::new("/dev/fd")).unwrap();
        assert_eq!(
            std::fs::read_link(root.path().join("dev/fd")).unwrap(),
            Path::new("/proc/self/fd")
        );
        mknod(
            fd.as_fd(),
            Path::new("/dev/fifo"),
            SFlag::S_IFIFO,
            Mode::from_bits_truncate(0o600),
            0,
        )
        .unwrap();
        assert!(root.path().join("dev/fifo").exists());
        assert!(split(Path::new("/")).is_err());
    }
}
