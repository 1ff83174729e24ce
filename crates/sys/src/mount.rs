//! mount(2) wrappers that act on fds resolved in-root, never on raw container paths.

use std::os::fd::BorrowedFd;
use std::path::Path;

use nix::mount::MsFlags;
use nix::sys::statfs::fstatfs;

use crate::inroot::fd_path;
use crate::{Error, Result};

/// Mounts `source` (a path or a filesystem name) on the object behind `target`.
pub fn mount_on(
    source: Option<&Path>,
    target: BorrowedFd<'_>,
    target_name: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<()> {
    nix::mount::mount(source, &fd_path(target), fstype, flags, data)
        .map_err(|e| Error::path("mount", target_name, e))
}

/// Bind-mounts the object behind `source` onto the object behind `target`.
pub fn bind(
    source: BorrowedFd<'_>,
    target: BorrowedFd<'_>,
    target_name: &Path,
    recursive: bool,
) -> Result<()> {
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    nix::mount::mount(
        Some(&fd_path(source)),
        &fd_path(target),
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| Error::path("bind mount", target_name, e))
}

/// The flags a remount must keep: inside a user namespace the kernel refuses to clear
/// nosuid/nodev/noexec/atime flags locked by the outer mount.
pub fn locked_flags(target: BorrowedFd<'_>) -> Result<MsFlags> {
    let st = fstatfs(target).map_err(|e| Error::call("fstatfs", e))?;
    let f = st.flags();
    use nix::sys::statvfs::FsFlags;
    let mut out = MsFlags::empty();
    for (have, want) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(have) {
            out |= want;
        }
    }
    Ok(out)
}

/// Remounts the bind mount behind `target` with `flags` (e.g. read-only), keeping locked flags.
pub fn remount(target: BorrowedFd<'_>, target_name: &Path, flags: MsFlags) -> Result<()> {
    let keep = locked_flags(target)?;
    nix::mount::mount(
        None::<&str>,
        &fd_path(target),
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags | keep,
        None::<&str>,
    )
    .map_err(|e| Error::path("remount", target_name, e))
}

/// Changes the propagation type of the mount behind `target`.
pub fn propagate(target: &Path, flags: MsFlags) -> Result<()> {
    nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
        .map_err(|e| Error::path("mount propagation", target, e))
}

/// The mount point of the mount holding `path`, and whether it is shared, from
/// /proc/self/mountinfo (the longest mount point that is a path prefix of `path`).
pub fn containing_mount(path: &Path) -> Option<(std::path::PathBuf, bool)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(std::path::PathBuf, bool)> = None;
    for line in info.lines() {
        let Some((fields, _)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = fields.split(' ').collect();
        let Some(point) = f.get(4).map(|p| unescape(p)) else {
            continue;
        };
        let point = std::path::PathBuf::from(point);
        if !path.starts_with(&point) {
            continue;
        }
        let shared = f[6..].iter().any(|o| o.starts_with("shared:"));
        // Later lines are mounted on top of earlier ones: on a tie, the later one wins.
        if best
            .as_ref()
            .is_none_or(|(b, _)| point.components().count() >= b.components().count())
        {
            best = Some((point, shared));
        }
    }
    best
}

/// Undoes mountinfo's escaping of space, tab, newline and backslash as `\\ooo` octal.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_always_a_containing_mount() {
        let (point, _) = containing_mount(Path::new("/definitely/not/a/mount")).unwrap();
        assert!(Path::new("/definitely/not/a/mount").starts_with(point));
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("/mnt/x\\"), "/mnt/x\\");
        assert_eq!(unescape("/mnt/\\999"), "/mnt/\\999");
    }
}
