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

/// Sets the execution domain (personality(2)).
pub fn personality(persona: libc::c_ulong) -> Result<()> {
    // SAFETY: personality takes a plain integer and touches no memory.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(Error::call("personality", nix::Error::last()));
    }
    Ok(())
}

/// Sets the I/O priority of the calling process (ioprio_set(2)).
pub fn ioprio_set(class: u32, level: u32) -> Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let prio = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes three integers and touches no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioprio_set,
            IOPRIO_WHO_PROCESS,
            0,
            prio as libc::c_long,
        )
    };
    if r != 0 {
        return Err(Error::call("ioprio_set", nix::Error::last()));
    }
    Ok(())
}

/// The kernel's `struct sched_attr` (sched_setattr(2)), version 1 layout.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// Sets the scheduling policy and attributes of the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> Result<()> {
    let mut a = *attr;
    a.size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: sched_setattr reads `size` bytes from the struct we pass, which lives on our
    // stack for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &a as *const SchedAttr, 0) };
    if r != 0 {
        return Err(Error::call("sched_setattr", nix::Error::last()));
    }
    Ok(())
}

/// Restricts the calling process to `cpus`.
pub fn set_affinity(cpus: &[usize]) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for &c in cpus {
        set.set(c).map_err(|e| Error::call("CpuSet::set", e))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| Error::call("sched_setaffinity", e))
}

/// Sets the NUMA memory policy of the calling thread (set_mempolicy(2)).
pub fn set_mempolicy(mode: i32, nodes: &[usize]) -> Result<()> {
    let mut mask = [0 as libc::c_ulong; 16];
    let bits = libc::c_ulong::BITS as usize;
    for &n in nodes {
        if n >= mask.len() * bits {
            return Err(Error::call("set_mempolicy", nix::Error::EINVAL));
        }
        mask[n / bits] |= 1 << (n % bits);
    }
    let (ptr, maxnode) = if nodes.is_empty() {
        (std::ptr::null(), 0)
    } else {
        (mask.as_ptr(), (mask.len() * bits + 1) as libc::c_ulong)
    };
    // SAFETY: set_mempolicy reads at most maxnode-1 bits from `mask`, which is that large.
    let r = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    if r != 0 {
        return Err(Error::call("set_mempolicy", nix::Error::last()));
    }
    Ok(())
}

/// Creates a child process in the new namespaces named by `flags` (`CLONE_NEW*`), like
/// `fork` but with the namespaces applied to the child itself: one process fewer than
/// fork + unshare + fork when nothing has to be joined first. Returns the child's pid in
/// the parent and `None` in the child.
///
/// # Safety
/// The same as for `fork`: the caller must be single-threaded, since the child gets a copy
/// of the whole process with only the calling thread.
pub unsafe fn clone_into_namespaces(flags: libc::c_ulong) -> Result<Option<i32>> {
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like fork: the child
    // continues on a copy-on-write copy of our stack. The caller guarantees single-threading.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match r {
        -1 => Err(Error::call("clone", nix::Error::last())),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}
