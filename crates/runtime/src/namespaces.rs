//! Creating and joining namespaces from the forked child.
//!
//! Paths are opened in the parent, so a missing namespace file is reported before anything
//! exists. The child joins the user namespace first (it owns the others), then the rest, and
//! unshares the new ones last; a new pid namespace applies to the child it forks next.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};

use crate::sync::{Channel, Msg};
use crate::{Error, Result};

/// What the child must do with namespaces.
#[derive(Debug)]
pub(crate) struct NsPlan {
    /// Namespaces to join, user first, mount last.
    pub join: Vec<(CloneFlags, OwnedFd, PathBuf)>,
    /// Namespaces to create (never including the user namespace, handled apart).
    pub new: CloneFlags,
    pub new_user: bool,
    pub joins_user: bool,
    /// Contents for /proc/self/timens_offsets when creating a time namespace.
    pub time_offsets: String,
}

impl Default for NsPlan {
    fn default() -> Self {
        NsPlan {
            join: Vec::new(),
            new: CloneFlags::empty(),
            new_user: false,
            joins_user: false,
            time_offsets: String::new(),
        }
    }
}

pub(crate) fn flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// nix has no name for it yet.
pub(crate) const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// Order of joining: the user namespace grants the rights to join the others; mount goes
/// last because it changes our root and cwd.
const ORDER: [(CloneFlags, &str); 8] = [
    (CloneFlags::CLONE_NEWUSER, "user"),
    (CLONE_NEWTIME, "time"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWPID, "pid"),
    (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
];

fn open_ns(path: &std::path::Path, what: &str) -> Result<OwnedFd> {
    nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::Invalid(format!("{what} namespace path {}: {e}", path.display())))
}

impl NsPlan {
    /// From a container's `linux.namespaces`.
    pub(crate) fn for_container(linux: &oci_spec::runtime::Linux) -> Result<Self> {
        let mut plan = NsPlan::default();
        let mut joins = Vec::new();
        for ns in linux.namespaces().iter().flatten() {
            let f = flag(ns.typ());
            match ns.path() {
                Some(p) => {
                    let fd = open_ns(p, &ns.typ().to_string())?;
                    joins.push((f, fd, p.clone()));
                    plan.joins_user |= f == CloneFlags::CLONE_NEWUSER;
                }
                None if f == CloneFlags::CLONE_NEWUSER => plan.new_user = true,
                None => plan.new |= f,
            }
        }
        for (f, _) in ORDER {
            if let Some(i) = joins.iter().position(|(jf, ..)| *jf == f) {
                plan.join.push(joins.swap_remove(i));
            }
        }
        for (clock, off) in linux.time_offsets().iter().flatten() {
            plan.time_offsets.push_str(&format!(
                "{clock} {} {}\n",
                off.secs().unwrap_or(0),
                off.nanosecs().unwrap_or(0)
            ));
        }
        Ok(plan)
    }

    /// Every namespace of `pid` that differs from ours, for `exec`.
    pub(crate) fn for_exec(pid: i32) -> Result<Self> {
        let mut plan = NsPlan::default();
        for (f, name) in ORDER {
            let theirs = berth_sys::proc::ns_path(pid, name);
            let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
            let (Ok(a), Ok(b)) = (std::fs::read_link(&theirs), std::fs::read_link(&ours)) else {
                continue;
            };
            if a != b {
                let fd = open_ns(&theirs, name)?;
                plan.join.push((f, fd, theirs));
                plan.joins_user |= f == CloneFlags::CLONE_NEWUSER;
            }
        }
        Ok(plan)
    }

    /// Runs in the first child: user namespace, then the rest.
    pub(crate) fn enter(&self, chan: &Channel) -> Result<()> {
        let mut rest = self.join.iter();
        if self.joins_user {
            let (f, fd, path) = rest.next().expect("user namespace sorts first");
            setns(fd, *f, path)?;
        } else if self.new_user {
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
                .map_err(|e| berth_sys::Error::call("unshare(CLONE_NEWUSER)", e))?;
            chan.send(&Msg::MapIds {
                pid: nix::unistd::getpid().as_raw(),
            })?;
            chan.wait_ack()?;
        }
        if self.joins_user || self.new_user {
            become_root()?;
        }
        for (f, fd, path) in rest {
            setns(fd, *f, path)?;
        }
        if !self.new.is_empty() {
            nix::sched::unshare(self.new)
                .map_err(|e| Error::Init(format!("unshare({:?}): {e}", self.new)))?;
        }
        // A new time namespace applies to the children we fork next; its offsets can only
        // be set before any process enters it.
        if self.new.contains(CLONE_NEWTIME) && !self.time_offsets.is_empty() {
            std::fs::write("/proc/self/timens_offsets", &self.time_offsets).map_err(|e| {
                Error::Init(format!(
                    "linux.timeOffsets {:?}: {e}",
                    self.time_offsets.trim()
                ))
            })?;
        }
        Ok(())
    }
}

/// Becomes root of the user namespace we are in, so the mounts and files we make are owned
/// by it.
pub(crate) fn become_root() -> Result<()> {
    let root = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(root, root, root)
        .map_err(|e| berth_sys::Error::call("setresgid(0)", e))?;
    let root = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresuid(root, root, root)
        .map_err(|e| berth_sys::Error::call("setresuid(0)", e))?;
    Ok(())
}

impl NsPlan {
    /// Whether a single clone can create the container process in all its namespaces:
    /// nothing to join first, and no time namespace (whose offsets must be written before
    /// any process is in it).
    pub(crate) fn direct_clone_flags(&self) -> Option<libc::c_ulong> {
        if !self.join.is_empty() || self.new.contains(CLONE_NEWTIME) {
            return None;
        }
        let mut flags = self.new;
        if self.new_user {
            flags |= CloneFlags::CLONE_NEWUSER;
        }
        Some(flags.bits() as libc::c_ulong)
    }
}

fn setns(fd: &OwnedFd, f: CloneFlags, path: &std::path::Path) -> Result<()> {
    nix::sched::setns(fd.as_fd(), f)
        .map_err(|e| Error::Init(format!("join namespace {}: {e}", path.display())))
}

/// Writes `/proc/PID/{uid,gid}_map` for a child that unshared its user namespace.
pub(crate) fn write_id_maps(
    pid: i32,
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<()> {
    for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::write(&path, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}
