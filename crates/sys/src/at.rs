//! Operations on one name inside a directory fd, never following a symlink at that name.
//!
//! The directory fd is the anchor: callers open it with [`crate::inroot`] so that it is known
//! to lie inside a root, and then act on a single component relative to it. Because the name
//! can't contain `/` or be `..`, and a final symlink is never followed, nothing done here can
//! reach outside that directory.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmodat, fstatat, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};

use crate::{Error, Result};

/// The path an error reports for `name` in `dir`: the directory's current location plus
/// the name, which is what a reader of the message wants to see.
fn shown(dir: BorrowedFd<'_>, name: &OsStr) -> PathBuf {
    let fd = crate::inroot::fd_path(dir);
    std::fs::read_link(&fd).unwrap_or(fd).join(name)
}

/// Refuses anything that isn't a single normal path component. `.` is allowed where
/// `allow_dot` says so: metadata calls may address the directory itself.
fn check(name: &OsStr, allow_dot: bool) -> Result<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && !b.contains(&b'/')
        && !b.contains(&0)
        && b != b".."
        && (allow_dot || b != b".");
    if ok {
        Ok(())
    } else {
        Err(Error::Unexpected {
            path: PathBuf::from(name),
            expected: "a single file name",
        })
    }
}

fn fail<'a>(
    op: &'static str,
    dir: BorrowedFd<'a>,
    name: &'a OsStr,
) -> impl FnOnce(nix::Error) -> Error + 'a {
    move |errno| Error::path(op, shown(dir, name), errno)
}

/// `lstat` of `name`; `None` when nothing is there.
pub fn lstat(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<libc::stat>> {
    check(name, true)?;
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(nix::Error::ENOENT) => Ok(None),
        Err(e) => Err(fail("fstatat", dir, name)(e)),
    }
}

/// Creates a directory.
pub fn mkdir(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<()> {
    check(name, false)?;
    mkdirat(dir, name, Mode::from_bits_truncate(mode)).map_err(fail("mkdirat", dir, name))
}

/// Creates a device node or fifo (`kind` is `S_IFCHR`, `S_IFBLK` or `S_IFIFO`).
pub fn mknod(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    kind: SFlag,
    perm: u32,
    dev: libc::dev_t,
) -> Result<()> {
    check(name, false)?;
    mknodat(dir, name, kind, Mode::from_bits_truncate(perm), dev)
        .map_err(fail("mknodat", dir, name))
}

/// Creates a symlink `name -> target`. The target is stored, never resolved.
pub fn symlink(dir: BorrowedFd<'_>, name: &OsStr, target: &OsStr) -> Result<()> {
    check(name, false)?;
    symlinkat(target, dir, name).map_err(fail("symlinkat", dir, name))
}

/// Makes `new_name` in `new_dir` a hard link to `old_name` in `old_dir`. A symlink at
/// `old_name` is linked itself, not followed.
pub fn hardlink(
    old_dir: BorrowedFd<'_>,
    old_name: &OsStr,
    new_dir: BorrowedFd<'_>,
    new_name: &OsStr,
) -> Result<()> {
    check(old_name, false)?;
    check(new_name, false)?;
    linkat(old_dir, old_name, new_dir, new_name, AtFlags::empty())
        .map_err(fail("linkat", new_dir, new_name))
}

/// Creates a new regular file for writing; fails if anything exists at `name`.
pub fn create_file(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<File> {
    check(name, false)?;
    let flags =
        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::from_bits_truncate(mode))
        .map(File::from)
        .map_err(fail("openat", dir, name))
}

/// Opens an existing file for reading. A symlink fails with `ELOOP`; a fifo doesn't block.
pub fn open_file(dir: BorrowedFd<'_>, name: &OsStr) -> Result<File> {
    check(name, false)?;
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty())
        .map(File::from)
        .map_err(fail("openat", dir, name))
}

/// Opens a subdirectory (readable, so it can be listed). A symlink fails with `ELOOP`.
pub fn open_dir(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OwnedFd> {
    check(name, true)?;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::empty()).map_err(fail("openat", dir, name))
}

/// The names in a directory, without `.` and `..`, in the order the kernel gives them.
pub fn read_dir(dir: BorrowedFd<'_>) -> Result<Vec<OsString>> {
    // Reopening through /proc reaches exactly the directory we hold, and works for O_PATH
    // fds too.
    let path = crate::inroot::fd_path(dir);
    let io = |e: std::io::Error| {
        let errno = nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        Error::path("readdir", shown(dir, OsStr::new(".")), errno)
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(io)? {
        names.push(entry.map_err(io)?.file_name());
    }
    Ok(names)
}

/// The target of the symlink `name`.
pub fn readlink(dir: BorrowedFd<'_>, name: &OsStr) -> Result<OsString> {
    check(name, false)?;
    readlinkat(dir, name).map_err(fail("readlinkat", dir, name))
}

/// Removes `name` and, if it is a directory, everything below it, without following any
/// symlink. Nothing there is not an error.
pub fn remove_all(dir: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
    check(name, false)?;
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => return Ok(()),
        // Linux says EISDIR for a directory; POSIX allows EPERM.
        Err(nix::Error::EISDIR) | Err(nix::Error::EPERM) => {}
        Err(e) => return Err(fail("unlinkat", dir, name)(e)),
    }
    let sub = match open_dir(dir, name) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(nix::Error::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    for child in read_dir(sub.as_fd())? {
        remove_all(sub.as_fd(), &child)?;
    }
    drop(sub);
    match unlinkat(dir, name, UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => Ok(()),
        Err(e) => Err(fail("unlinkat", dir, name)(e)),
    }
}

/// Sets the owner of `name` (a symlink itself, not its target).
pub fn chown(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> Result<()> {
    check(name, true)?;
    fchownat(
        dir,
        name,
        Some(Uid::from_raw(uid)),
        Some(Gid::from_raw(gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(fail("fchownat", dir, name))
}

/// Sets the permission bits (setuid, setgid and sticky included) of `name`, which must not
/// be a symlink: Linux symlinks have no mode of their own, and this fails on them.
pub fn chmod(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> Result<()> {
    check(name, true)?;
    fchmodat(
        dir,
        name,
        Mode::from_bits_truncate(mode & 0o7777),
        FchmodatFlags::NoFollowSymlink,
    )
    .map_err(fail("fchmodat", dir, name))
}

/// Sets the access and modification times of `name` (a symlink itself, not its target).
pub fn set_times(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    atime: (i64, i64),
    mtime: (i64, i64),
) -> Result<()> {
    check(name, true)?;
    let ts = |(s, ns): (i64, i64)| TimeSpec::new(s, ns);
    utimensat(
        dir,
        name,
        &ts(atime),
        &ts(mtime),
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(fail("utimensat", dir, name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names_must_be_single_components() {
        let d = tempfile::tempdir().unwrap();
        let fd = crate::inroot::open_root(d.path()).unwrap();
        for bad in ["", "..", "a/b", "/x", "a\0b"] {
            assert!(
                mkdir(fd.as_fd(), OsStr::new(bad), 0o755).is_err(),
                "{bad:?}"
            );
        }
        assert!(mkdir(fd.as_fd(), OsStr::new("."), 0o755).is_err());
        assert!(chmod(fd.as_fd(), OsStr::new("."), 0o700).is_ok());
    }

    #[test]
    fn final_symlinks_are_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(outside.path().join("keep")).unwrap();
        std::fs::write(outside.path().join("keep/file"), b"x").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("l")).unwrap();
        let fd = crate::inroot::open_root(root.path()).unwrap();
        let l = OsStr::new("l");
        assert!(create_file(fd.as_fd(), l, 0o644).is_err());
        assert!(open_dir(fd.as_fd(), l).is_err());
        chown(fd.as_fd(), l, 1, 1).unwrap();
        set_times(fd.as_fd(), l, (1, 0), (1, 0)).unwrap();
        remove_all(fd.as_fd(), l).unwrap();
        assert!(outside.path().join("keep/file").exists());
        assert!(lstat(fd.as_fd(), l).unwrap().is_none());
        let st = std::fs::metadata(outside.path()).unwrap();
        assert_ne!(std::os::unix::fs::MetadataExt::uid(&st), 1);
    }

    #[test]
    fn remove_all_removes_trees() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a/b/c")).unwrap();
        std::fs::write(root.path().join("a/b/c/f"), b"x").unwrap();
        let fd = crate::inroot::open_root(root.path()).unwrap();
        let mut f = create_file(fd.as_fd(), OsStr::new("g"), 0o600).unwrap();
        f.write_all(b"y").unwrap();
        hardlink(fd.as_fd(), OsStr::new("g"), fd.as_fd(), OsStr::new("h")).unwrap();
        remove_all(fd.as_fd(), OsStr::new("a")).unwrap();
        remove_all(fd.as_fd(), OsStr::new("missing")).unwrap();
        let mut names = read_dir(fd.as_fd()).unwrap();
        names.sort();
        assert_eq!(names, ["g", "h"]);
    }
}
