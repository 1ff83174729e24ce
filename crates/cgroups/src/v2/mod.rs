//! cgroup v2: a single hierarchy; controllers must be enabled top-down via subtree_control.

mod bpf;
mod controllers;
mod cpu;
mod cpuset;
mod devices;
mod freezer;
mod hugetlb;
mod io;
mod memory;
mod pids;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::fs::{self, CgroupPath};
use crate::{Cgroup, Error, FreezerState, MountSource, Stats};

#[derive(Debug)]
pub(crate) struct V2Cgroup {
    root: PathBuf,
    path: CgroupPath,
}

impl V2Cgroup {
    pub(crate) fn new(root: PathBuf, path: &str) -> Self {
        Self {
            root,
            path: CgroupPath::new(path),
        }
    }

    fn dir(&self) -> Result<PathBuf, Error> {
        Ok(self.root.join(self.path.rel()?))
    }

    fn rel(&self) -> Result<&Path, Error> {
        self.path.rel()
    }
}

/// How many eBPF device filters are attached directly to the v2 cgroup at `dir`; after
/// `apply` with device rules it is 1 (the previous filter is replaced, not stacked).
pub fn device_filter_count(dir: &Path) -> Result<usize, Error> {
    devices::attached_count(dir)
}

/// Controllers the resources need; devices need none (they are eBPF).
fn wanted(r: &LinuxResources) -> BTreeSet<&'static str> {
    let mut w = BTreeSet::new();
    if r.memory().as_ref().is_some_and(memory::needed) {
        w.insert("memory");
    }
    if let Some(c) = r.cpu() {
        if cpu::needed(c) {
            w.insert("cpu");
        }
        if cpuset::needed(c) {
            w.insert("cpuset");
        }
    }
    if r.pids().is_some() {
        w.insert("pids");
    }
    if r.block_io().as_ref().is_some_and(io::needed) {
        w.insert("io");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        w.insert("hugetlb");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        w.insert("rdma");
    }
    w
}

/// Keys of linux.resources.unified become file names, so they must name a file in this cgroup.
fn check_unified_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.contains('.')
        && !key.starts_with('.')
        && !key.contains('/')
        && !key.contains('\0');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidResource {
            field: "unified",
            value: key.to_owned(),
            reason: "keys must be cgroup file names like \"memory.high\"".into(),
        })
    }
}

impl Cgroup for V2Cgroup {
    fn create(&self) -> Result<(), Error> {
        let rel = self.rel()?;
        // Controllers have to be on in each parent before the child exists, or the child
        // appears without their files.
        controllers::enable_all_best_effort(&self.root, rel)?;
        fs::mkdir_all(&self.root.join(rel))
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        fs::write(&self.dir()?, "cgroup.procs", &pid.to_string())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), Error> {
        let dir = self.dir()?;
        controllers::enable(&self.root, self.rel()?, &wanted(r))?;
        if let Some(m) = r.memory().as_ref().filter(|m| memory::needed(m)) {
            memory::apply(&dir, m)?;
        }
        if let Some(c) = r.cpu() {
            cpu::apply(&dir, c)?;
            cpuset::apply(&dir, c)?;
        }
        if let Some(p) = r.pids() {
            pids::apply(&dir, p)?;
        }
        if let Some(b) = r.block_io() {
            io::apply(&dir, b)?;
        }
        if let Some(h) = r.hugepage_limits() {
            hugetlb::apply(&dir, h)?;
        }
        if let Some(rdma) = r.rdma() {
            for (device, l) in rdma {
                let mut v = device.clone();
                if device.is_empty() || device.contains(char::is_whitespace) {
                    return Err(Error::InvalidResource {
                        field: "rdma",
                        value: device.clone(),
                        reason: "must be a device name without whitespace".into(),
                    });
                }
                if let Some(h) = l.hca_handles() {
                    v.push_str(&format!(" hca_handle={h}"));
                }
                if let Some(o) = l.hca_objects() {
                    v.push_str(&format!(" hca_object={o}"));
                }
                fs::write(&dir, "rdma.max", &v)?;
            }
        }
        if let Some(d) = r.devices() {
            devices::apply(&dir, d)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(Error::Unsupported {
                    version: "v2",
                    what: "network classID/priorities (net_cls and net_prio are v1 only)".into(),
                });
            }
        }
        if let Some(u) = r.unified() {
            // Sorted so that repeated applies write in the same order.
            let mut keys: Vec<_> = u.iter().collect();
            keys.sort();
            for (k, v) in keys {
                check_unified_key(k)?;
                fs::write(&dir, k, v)?;
            }
        }
        Ok(())
    }

    fn freeze(&self) -> Result<(), Error> {
        freezer::set(&self.dir()?, true)
    }

    fn thaw(&self) -> Result<(), Error> {
        freezer::set(&self.dir()?, false)
    }

    fn freezer_state(&self) -> Result<FreezerState, Error> {
        freezer::state(&self.dir()?)
    }

    fn pids(&self) -> Result<Vec<i32>, Error> {
        let mut out = Vec::new();
        fs::procs_recursive(&self.dir()?, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn stats(&self) -> Result<Stats, Error> {
        let dir = self.dir()?;
        let mut s = Stats::default();
        cpu::stats(&dir, &mut s.cpu)?;
        memory::stats(&dir, &mut s.memory)?;
        pids::stats(&dir, &mut s.pids)?;
        io::stats(&dir, &mut s.blkio)?;
        hugetlb::stats(&dir, &mut s)?;
        Ok(s)
    }

    fn oom_killed(&self) -> Result<bool, Error> {
        Ok(memory::oom_kill_count(&self.dir()?)? > 0)
    }

    fn kill_all(&self, sig: i32) -> Result<(), Error> {
        let dir = self.dir()?;
        // cgroup.kill (5.14+) kills the whole subtree atomically, forks included.
        if sig == libc::SIGKILL && dir.join("cgroup.kill").exists() {
            return fs::write(&dir, "cgroup.kill", "1");
        }
        // As on v1: freeze so no task forks past the sweep; without a freezer, best effort.
        let frozen = self.freeze().is_ok();
        let res = self
            .pids()
            .and_then(|pids| pids.into_iter().try_for_each(|p| fs::signal(p, sig)));
        let thawed = if frozen { self.thaw() } else { Ok(()) };
        res.and(thawed)
    }

    fn destroy(&self) -> Result<(), Error> {
        fs::remove_cgroup(&self.dir()?)
    }

    fn mounts(&self) -> Vec<MountSource> {
        match self.dir() {
            Ok(host_dir) => vec![MountSource {
                subsystem: String::new(),
                mount_name: String::new(),
                host_dir,
            }],
            Err(_) => Vec::new(),
        }
    }
}
