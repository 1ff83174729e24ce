//! File descriptors: hygiene before `execve` (runc CVE-2024-21626: a leaked directory fd let
//! a container reach the host filesystem through `/proc/self/fd`), and passing fds over unix
//! sockets (console sockets, seccomp listeners).

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

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

/// Sends `fd` over the unix socket `sock` with `payload` as the message (runc sends the pty
/// name with a console; the OCI seccomp agent protocol sends the container state).
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, payload: &str) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(payload.as_bytes())];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
        .map_err(|e| Error::call("sendmsg(SCM_RIGHTS)", e))?;
    Ok(())
}

/// Receives one fd sent with [`send_fd`].
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::call("recvmsg(SCM_RIGHTS)", e))?;
    for c in msg
        .cmsgs()
        .map_err(|e| Error::call("recvmsg(SCM_RIGHTS)", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd in our table for us to own.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(Error::call("recvmsg(SCM_RIGHTS)", nix::Error::EBADMSG))
}
