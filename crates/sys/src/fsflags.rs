//! Inode flags, as `chattr` sets them (FS_IOC_GETFLAGS / FS_IOC_SETFLAGS).

use std::os::fd::{AsRawFd, BorrowedFd};

/// `chattr +T`: ext4's Orlov allocator treats the directory as the top of a hierarchy and
/// spreads its subdirectories over block groups. Image layers unpacked right after others were
/// deleted then land in groups without freshly freed inodes, which ext4 otherwise scans one by
/// one (`recently_deleted`); that scan was most of a pull's time here.
pub const TOPDIR: libc::c_int = 0x0002_0000;

/// Adds `flag` to the inode's flags. Returns false when the filesystem has no such flags
/// (tmpfs, overlayfs), which callers treat as "nothing to tune".
pub fn add(fd: BorrowedFd<'_>, flag: libc::c_int) -> std::io::Result<bool> {
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one int to the pointer, which points at a live local.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) => Ok(false),
            _ => Err(e),
        };
    }
    if flags & flag == flag {
        return Ok(true);
    }
    flags |= flag;
    // SAFETY: FS_IOC_SETFLAGS reads one int from the pointer, which points at a live local.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTTY | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) => Ok(false),
            _ => Err(e),
        };
    }
    Ok(true)
}
