//! Linux security module labels for the next `execve`.

use crate::{Error, Result};

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

fn write_attr(paths: &[&str], value: &str) -> Result<()> {
    let mut last = nix::Error::ENOENT;
    for p in paths {
        match std::fs::write(p, value) {
            Ok(()) => return Ok(()),
            Err(e) => last = crate::fds::errno_of(&e),
        }
    }
    Err(Error::path("write", paths[0], last))
}

/// Switches to AppArmor `profile` at the next execve.
pub fn apparmor_exec(profile: &str) -> Result<()> {
    write_attr(
        &[
            "/proc/thread-self/attr/apparmor/exec",
            "/proc/thread-self/attr/exec",
        ],
        &format!("exec {profile}"),
    )
}

/// Runs the next execve with SELinux `label`.
pub fn selinux_exec(label: &str) -> Result<()> {
    write_attr(&["/proc/thread-self/attr/exec"], label)
}
