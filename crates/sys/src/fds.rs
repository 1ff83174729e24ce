//! File descriptor hygiene before `execve` (runc CVE-2024-21626: a leaked directory fd let a
//! container reach the host filesystem through `/proc/self/fd`).

use std::os::fd::RawFd;

use crate::{Error, Result};

/// Marks every fd from `first` upwards close-on-exec, so that exactly the fds below `first`
/// survive `execve`. Marking instead of closing keeps fds we still need until the exec itself
/// (the seccomp filter, the exec fifo).
pub fn cloexec_from(first: RawFd) -> Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only flips flags on fds of this process;
    // it touches no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: fall back to walking /proc/self/fd.
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Error::path("read_dir", "/proc/self/fd", errno_of(&e)))?;
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: F_SETFD on an fd number only changes its flags; a stale number gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}

/// Clears close-on-exec on `fd`, for fds handed to the container (`--preserve-fds`, stdio).
pub fn clear_cloexec(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on a plain integer fd; failure is reported through the return value.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    if r < 0 {
        return Err(Error::call("fcntl(F_SETFD)", nix::Error::last()));
    }
    Ok(())
}

/// Maps an `std::io::Error` to the errno crate type used throughout.
pub fn errno_of(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
