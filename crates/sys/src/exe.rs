//! Keeping our own binary out of the container's reach (CVE-2019-5736).
//!
//! A container process can make its next `execve` load the runtime binary, for instance with
//! a script whose interpreter is `/proc/self/exe`. That process then holds a handle to the
//! binary that, reopened for writing once we exit, would let it overwrite the host's copy.
//! Running from a read-only bind mount of the binary closes this: the handle's mount is
//! read-only, so reopening it for writing fails with EROFS whatever the container's
//! privileges. The bind mount is made once under [`VIEW_DIR`] and reused, so the price is
//! one extra `execve` of a static binary. Where we may not mount, a sealed memfd copy does
//! the same job at the cost of copying the binary.

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;

use crate::{Error, Result};

const SEALS: SealFlag = SealFlag::F_SEAL_SEAL
    .union(SealFlag::F_SEAL_SHRINK)
    .union(SealFlag::F_SEAL_GROW)
    .union(SealFlag::F_SEAL_WRITE);

fn is_sealed(fd: &OwnedFd) -> bool {
    fcntl(fd, FcntlArg::F_GET_SEALS)
        .ok()
        .and_then(SealFlag::from_bits)
        .is_some_and(|s| s.contains(SealFlag::F_SEAL_WRITE))
}

/// Where read-only views of runtime binaries are mounted, one per binary version.
pub const VIEW_DIR: &str = "/run/berth/exe";

fn on_readonly_mount(fd: &OwnedFd) -> bool {
    nix::sys::statvfs::fstatvfs(fd)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

fn args_env() -> (Vec<CString>, Vec<CString>) {
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.into_vec()).ok())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_vec();
            kv.push(b'=');
            kv.extend(v.into_vec());
            CString::new(kv).ok()
        })
        .collect();
    (args, env)
}

/// Where a read-only view of the current binary is (made on first use), for starting a
/// process from it with one `execve`; `None` when the binary already runs from a read-only
/// mount or a sealed memfd, so that its own path is as good, or when no view can be made.
pub fn protected_path() -> Result<Option<std::path::PathBuf>> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::path("open", "/proc/self/exe", e))?;
    if on_readonly_mount(&exe) || is_sealed(&exe) {
        return Ok(None);
    }
    let st = crate::inroot::fstat(exe.as_fd())?;
    let view = std::path::PathBuf::from(format!(
        "{VIEW_DIR}/{}-{}-{}.{}",
        st.st_dev, st.st_ino, st.st_mtime, st.st_mtime_nsec
    ));
    let usable = |path: &std::path::Path| {
        nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).is_ok_and(|fd| {
            on_readonly_mount(&fd)
                && crate::inroot::fstat(fd.as_fd())
                    .is_ok_and(|v| v.st_dev == st.st_dev && v.st_ino == st.st_ino)
        })
    };
    if usable(&view) {
        return Ok(Some(view));
    }
    // One creator at a time: a second bind stacked on the first would make the source
    // file itself a mount point (the first bind's root), and unlinkable no more.
    let lock = lock_views();
    let made = usable(&view) || make_view(&exe, &view).is_ok();
    drop(lock);
    Ok(made.then_some(view))
}

/// Re-executes the current binary from a read-only view of itself unless it already runs
/// from one (a read-only mount, or a sealed memfd). Returns only when no re-exec is needed.
pub fn reexec_protected() -> Result<()> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::path("open", "/proc/self/exe", e))?;
    if on_readonly_mount(&exe) || is_sealed(&exe) {
        return Ok(());
    }
    drop(exe);
    let Some(view) = protected_path()? else {
        return reexec_sealed();
    };
    let (args, env) = args_env();
    let path = CString::new(view.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::call("execve", nix::Error::EINVAL))?;
    let e = nix::unistd::execve(&path, &args, &env).unwrap_err();
    Err(Error::path("execve", view, e))
}

/// An exclusive lock on the view directory (released when the fd closes).
fn lock_views() -> Option<OwnedFd> {
    std::fs::create_dir_all(VIEW_DIR).ok()?;
    let fd = nix::fcntl::open(
        VIEW_DIR,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    // SAFETY: flock on a valid fd we own; it blocks until the lock is ours.
    (unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::LOCK_EX) } == 0).then_some(fd)
}

/// Detaches views of binaries that have since been deleted (rebuilt or upgraded), so they
/// don't pile up; running processes keep their own references.
fn collect_stale_views() {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    for line in info.lines() {
        let mut f = line.split(' ');
        let (Some(root), Some(target)) = (f.nth(3), f.next()) else {
            continue;
        };
        if target.starts_with(VIEW_DIR) && root.ends_with("//deleted") {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            let _ = std::fs::remove_file(target);
        }
    }
}

/// Bind-mounts the binary behind `exe` read-only at `view`. Call with the view lock held.
fn make_view(exe: &OwnedFd, view: &std::path::Path) -> Result<()> {
    use nix::mount::MsFlags;
    std::fs::create_dir_all(VIEW_DIR)
        .map_err(|e| Error::path("mkdir", VIEW_DIR, crate::fds::errno_of(&e)))?;
    collect_stale_views();
    nix::fcntl::open(
        view,
        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o500),
    )
    .map_err(|e| Error::path("create", view, e))?;
    nix::mount::mount(
        Some(&crate::inroot::fd_path(exe.as_fd())),
        view,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::path("bind mount", view, e))?;
    nix::mount::mount(
        None::<&str>,
        view,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .map_err(|e| {
        // A writable view must not stay: the next attempt would stack a bind on it.
        let _ = nix::mount::umount2(view, nix::mount::MntFlags::MNT_DETACH);
        Error::path("remount read-only", view, e)
    })
}

/// Re-executes the current binary, with the same arguments and environment, from a sealed
/// memfd copy. Returns only if it is already running from one.
pub fn reexec_sealed() -> Result<()> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::path("open", "/proc/self/exe", e))?;
    if is_sealed(&exe) {
        return Ok(());
    }
    let memfd = memfd_create(
        "berth-runc",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(|e| Error::call("memfd_create", e))?;
    let size = crate::inroot::fstat(exe.as_fd())?.st_size as usize;
    let mut done = 0;
    while done < size {
        match nix::sys::sendfile::sendfile(memfd.as_fd(), exe.as_fd(), None, size - done) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Error::call("sendfile(/proc/self/exe)", e)),
        }
    }
    fcntl(&memfd, FcntlArg::F_ADD_SEALS(SEALS)).map_err(|e| Error::call("F_ADD_SEALS", e))?;
    let (args, env) = args_env();
    let e = nix::unistd::fexecve(&memfd, &args, &env).unwrap_err();
    Err(Error::call("fexecve(sealed copy)", e))
}
