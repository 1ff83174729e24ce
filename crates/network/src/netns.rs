//! Handles on network namespaces. A namespace lives as long as a process is in it or an
//! fd refers to it, so an `OwnedFd` is all the engine needs to hold.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;

use crate::error::{NetworkError, Result};

/// The network namespace of process `pid`, from `/proc/PID/ns/net`.
pub fn open(pid: u32) -> Result<OwnedFd> {
    open_path(&PathBuf::from(format!("/proc/{pid}/ns/net")))
}

/// A network namespace by path: `/proc/PID/ns/net`, a bind mount of one
/// (`/run/netns/NAME`), or `/proc/self/fd/N`.
pub fn open_path(path: &Path) -> Result<OwnedFd> {
    // std opens with O_CLOEXEC, so the handle never leaks into a container.
    File::open(path)
        .map(OwnedFd::from)
        .map_err(|source| NetworkError::Open {
            path: path.to_path_buf(),
            source,
        })
}

/// The network namespace of the calling thread.
pub fn current() -> Result<OwnedFd> {
    open_path(Path::new("/proc/thread-self/ns/net"))
}

/// Creates a new, empty network namespace (only a down `lo` in it) held by nothing but the
/// returned fd: dropping it destroys the namespace and every link in it. The calling thread
/// is untouched: a short-lived thread unshares and hands its namespace back.
pub fn create() -> Result<OwnedFd> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| NetworkError::Unshare { source: e.into() })?;
                current()
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
