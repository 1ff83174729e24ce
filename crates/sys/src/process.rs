//! Per-process settings applied just before `execve`.

use crate::{Error, Result};

/// Sets one resource limit.
pub fn setrlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one rlimit struct that lives on our stack.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(Error::call("setrlimit", nix::Error::last()));
    }
    Ok(())
}

/// Sets the NIS domain name of the current UTS namespace.
pub fn setdomainname(name: &str) -> Result<()> {
    // SAFETY: setdomainname reads exactly len bytes from the pointer we pass.
    if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
        return Err(Error::call("setdomainname", nix::Error::last()));
    }
    Ok(())
}

/// Drops capability `cap` from the bounding set. A capability the running kernel doesn't
/// know is not held by anyone, so EINVAL counts as success.
pub fn drop_bounding(cap: u8) -> Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes a capability number and touches no memory.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    if r != 0 && nix::Error::last() != nix::Error::EINVAL {
        return Err(Error::call("prctl(PR_CAPBSET_DROP)", nix::Error::last()));
    }
    Ok(())
}
