//! Extended attributes of one name inside a directory fd, never following a symlink there.
//!
//! There is no `*xattrat` call on the kernels we support, so the name is reached as
//! `/proc/self/fd/<dir>/<name>` with the `l*xattr` calls: the kernel follows the magic link
//! to the directory we already hold and stops at `name` without following it.

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::{Error, Result};

fn proc_path(dir: BorrowedFd<'_>, name: &OsStr) -> Result<(CString, PathBuf)> {
    let b = name.as_bytes();
    if b.is_empty() || b.contains(&b'/') || b == b".." {
        return Err(Error::Unexpected {
            path: PathBuf::from(name),
            expected: "a single file name",
        });
    }
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(b);
    let shown = PathBuf::from(OsString::from_vec(p.clone()));
    let c = CString::new(p).map_err(|_| Error::Unexpected {
        path: PathBuf::from(name),
        expected: "a name without NUL bytes",
    })?;
    Ok((c, shown))
}

fn key(k: &OsStr) -> Result<CString> {
    CString::new(k.as_bytes()).map_err(|_| Error::Unexpected {
        path: PathBuf::from(k),
        expected: "an xattr name without NUL bytes",
    })
}

/// Sets `key` to `value` on `name` in `dir` (`.` for the directory itself).
pub fn set(dir: BorrowedFd<'_>, name: &OsStr, key_name: &OsStr, value: &[u8]) -> Result<()> {
    let (path, shown) = proc_path(dir, name)?;
    let k = key(key_name)?;
    // SAFETY: both strings are NUL-terminated CStrings that outlive the call, and `value`
    // is a live slice whose length is passed with it.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            k.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Error::path("lsetxattr", shown, nix::Error::last()))
    }
}

/// The value of `key` on `name` in `dir`, or `None` when it isn't set.
pub fn get(dir: BorrowedFd<'_>, name: &OsStr, key_name: &OsStr) -> Result<Option<Vec<u8>>> {
    let (path, shown) = proc_path(dir, name)?;
    let k = key(key_name)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: the strings are NUL-terminated and live; `buf` is writable for its length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                k.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(Some(buf));
        }
        match nix::Error::last() {
            // A filesystem without xattrs (mqueue, some tmpfs setups) has none to give.
            nix::Error::ENODATA | nix::Error::EOPNOTSUPP => return Ok(None),
            nix::Error::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            e => return Err(Error::path("lgetxattr", shown, e)),
        }
    }
}

/// The names of the xattrs set on `name` in `dir`.
pub fn list(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Vec<OsString>> {
    let (path, shown) = proc_path(dir, name)?;
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: the path is NUL-terminated and live; `buf` is writable for its length.
        let n = unsafe { libc::llistxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            buf.truncate(n as usize);
            break;
        }
        match nix::Error::last() {
            nix::Error::ENOTSUP => return Ok(Vec::new()),
            nix::Error::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
            e => return Err(Error::path("llistxattr", shown, e)),
        }
    }
    Ok(buf
        .split(|&b| b == 0)
        .filter(|k| !k.is_empty())
        .map(|k| OsStr::from_bytes(k).to_os_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn set_get_list_without_following() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f"), b"").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("l")).unwrap();
        let fd = crate::inroot::open_root(root.path()).unwrap();
        let f = OsStr::new("f");
        let k = OsStr::new("trusted.berth-test");
        set(fd.as_fd(), f, k, b"v").unwrap();
        assert_eq!(get(fd.as_fd(), f, k).unwrap().as_deref(), Some(&b"v"[..]));
        assert!(list(fd.as_fd(), f).unwrap().iter().any(|n| n == k));
        assert_eq!(
            get(fd.as_fd(), f, OsStr::new("trusted.none")).unwrap(),
            None
        );
        // On the symlink itself, not on the directory it points at.
        set(fd.as_fd(), OsStr::new("l"), k, b"w").unwrap();
        let out = crate::inroot::open_root(outside.path()).unwrap();
        assert_eq!(get(out.as_fd(), OsStr::new("."), k).unwrap(), None);
        set(fd.as_fd(), OsStr::new("."), k, b"d").unwrap();
        assert!(set(fd.as_fd(), OsStr::new("../x"), k, b"").is_err());
    }
}
