//! Pseudo-terminals.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;

use crate::{Error, Result};

/// A fresh pty pair from `/dev/ptmx` of the caller's current root.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
    pub name: String,
}

/// Opens a pty master and its slave.
pub fn open() -> Result<Pty> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| Error::path("open", "/dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| Error::call("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| Error::call("unlockpt", e))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| Error::call("ptsname", e))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::path("open", name.as_str(), e))?;
    // SAFETY: PtyMaster owns a valid fd; we move it into an OwnedFd without closing it.
    let master = unsafe { OwnedFd::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(master)) };
    Ok(Pty {
        master,
        slave,
        name,
    })
}

/// Sets the window size of a terminal.
pub fn set_winsize(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from our stack.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(Error::call("ioctl(TIOCSWINSZ)", nix::Error::last()));
    }
    Ok(())
}

/// Makes `slave` the controlling terminal and the stdio of the calling process.
pub fn make_controlling(slave: BorrowedFd<'_>) -> Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and only changes this session's terminal.
    let r = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    if r < 0 {
        return Err(Error::call("ioctl(TIOCSCTTY)", nix::Error::last()));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto the standard fds; both numbers are valid for this process.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(Error::call("dup2", nix::Error::last()));
        }
    }
    Ok(())
}

/// Copies the window size of `from` to `to` (SIGWINCH handling and initial sizing).
pub fn copy_winsize(from: RawFd, to: RawFd) -> Result<()> {
    let mut ws: libc::winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    if unsafe { libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) } < 0 {
        return Err(Error::call("ioctl(TIOCGWINSZ)", nix::Error::last()));
    }
    // SAFETY: TIOCSWINSZ reads one winsize from the struct we pass.
    if unsafe { libc::ioctl(to, libc::TIOCSWINSZ, &ws) } < 0 {
        return Err(Error::call("ioctl(TIOCSWINSZ)", nix::Error::last()));
    }
    Ok(())
}
