//! cgroup v1: one hierarchy per controller (or per group of co-mounted controllers), plus the
//! controller-less cgroup2 mount of hybrid hosts.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
mod freezer;
mod hugetlb;
mod memory;
mod net;
pub(crate) mod pids;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use crate::fs::{self, CgroupPath};
use crate::{Cgroup, Error, FreezerState, MountSource, Stats, UNIFIED_KEY};

// Shared with v2, whose files for these have the same names and formats.
pub(crate) use devices::access as device_access;
pub(crate) use hugetlb::{check_page_size, sizes as hugetlb_sizes};

#[derive(Debug)]
pub(crate) struct V1Cgroup {
    /// Controller (or "name=..." hierarchy) to mountpoint.
    mounts: BTreeMap<String, PathBuf>,
    /// The hybrid host's cgroup2 mountpoint.
    unified: Option<PathBuf>,
    path: CgroupPath,
}

/// Where `pids()` looks first: any hierarchy would do, these are the ones most hosts have.
const PIDS_SOURCES: &[&str] = &[
    "pids",
    "freezer",
    "memory",
    "cpu",
    "cpuacct",
    "devices",
    "blkio",
    "cpuset",
    "name=systemd",
];

impl V1Cgroup {
    pub(crate) fn new(mut mounts: BTreeMap<String, PathBuf>, path: &str) -> Self {
        let unified = mounts.remove(UNIFIED_KEY);
        Self {
            mounts,
            unified,
            path: CgroupPath::new(path),
        }
    }

    fn dir(&self, controller: &str) -> Result<Option<PathBuf>, Error> {
        let rel = self.path.rel()?;
        Ok(self.mounts.get(controller).map(|m| m.join(rel)))
    }

    fn require(&self, controller: &str) -> Result<PathBuf, Error> {
        self.dir(controller)?
            .ok_or_else(|| Error::ControllerMissing {
                controller: controller.to_owned(),
            })
    }

    /// Each hierarchy once (co-mounted controllers share one), with its controller names.
    fn hierarchies(&self) -> BTreeMap<&Path, Vec<&str>> {
        let mut out: BTreeMap<&Path, Vec<&str>> = BTreeMap::new();
        for (name, mountpoint) in &self.mounts {
            out.entry(mountpoint.as_path()).or_default().push(name);
        }
        out
    }

    /// This cgroup's directory in every hierarchy, the unified one last.
    fn all_dirs(&self) -> Result<Vec<PathBuf>, Error> {
        let rel = self.path.rel()?;
        let mut out: Vec<PathBuf> = self.hierarchies().keys().map(|m| m.join(rel)).collect();
        out.extend(self.unified.as_ref().map(|u| u.join(rel)));
        Ok(out)
    }
}

impl Cgroup for V1Cgroup {
    fn create(&self) -> Result<(), Error> {
        let rel = self.path.rel()?;
        for (mountpoint, names) in self.hierarchies() {
            if names.contains(&"cpuset") {
                cpuset::create(mountpoint, rel)?;
            } else {
                fs::mkdir_all(&mountpoint.join(rel))?;
            }
        }
        if let Some(u) = &self.unified {
            fs::mkdir_all(&u.join(rel))?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<(), Error> {
        let pid = pid.to_string();
        for dir in self.all_dirs()? {
            fs::write(&dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), Error> {
        self.path.rel()?;
        if let Some(m) = r.memory().as_ref().filter(|m| memory::needed(m)) {
            memory::apply(&self.require("memory")?, m)?;
        }
        if let Some(c) = r.cpu() {
            if cpu::needed(c) {
                cpu::apply(&self.require("cpu")?, c)?;
            }
            if cpuset::needed(c) {
                cpuset::apply(&self.require("cpuset")?, c)?;
            }
        }
        if let Some(p) = r.pids() {
            pids::apply(&self.require("pids")?, p)?;
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| blkio::needed(b)) {
            blkio::apply(&self.require("blkio")?, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            hugetlb::apply(&self.require("hugetlb")?, h)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() {
                net::apply_cls(&self.require("net_cls")?, n)?;
            }
            if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                net::apply_prio(&self.require("net_prio")?, n)?;
            }
        }
        if let Some(d) = r.devices() {
            devices::apply(&self.require("devices")?, d)?;
        }
        if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(Error::Unsupported {
                version: "v1",
                what: "rdma limits".into(),
            });
        }
        if r.unified().as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(Error::Unsupported {
                version: "v1",
                what: "linux.resources.unified (cgroup v2 files)".into(),
            });
        }
        Ok(())
    }

    fn freeze(&self) -> Result<(), Error> {
        freezer::freeze(&self.require("freezer")?)
    }

    fn thaw(&self) -> Result<(), Error> {
        freezer::thaw(&self.require("freezer")?)
    }

    fn freezer_state(&self) -> Result<FreezerState, Error> {
        freezer::state(&self.require("freezer")?)
    }

    fn pids(&self) -> Result<Vec<i32>, Error> {
        let rel = self.path.rel()?;
        let dir = PIDS_SOURCES
            .iter()
            .find_map(|c| self.mounts.get(*c))
            .or_else(|| self.mounts.values().next())
            .or(self.unified.as_ref())
            .ok_or_else(|| Error::ControllerMissing {
                controller: "any cgroup hierarchy".into(),
            })?
            .join(rel);
        let mut out = Vec::new();
        fs::procs_recursive(&dir, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn stats(&self) -> Result<Stats, Error> {
        let mut s = Stats::default();
        if let Some(d) = self.dir("cpuacct")? {
            cpuacct::stats(&d, &mut s.cpu)?;
        }
        if let Some(d) = self.dir("cpu")? {
            cpu::stats(&d, &mut s.cpu)?;
        }
        if let Some(d) = self.dir("memory")? {
            memory::stats(&d, &mut s.memory)?;
        }
        if let Some(d) = self.dir("pids")? {
            pids::stats(&d, &mut s.pids)?;
        }
        if let Some(d) = self.dir("blkio")? {
            blkio::stats(&d, &mut s.blkio)?;
        }
        if let Some(d) = self.dir("hugetlb")? {
            hugetlb::stats(&d, &mut s)?;
        }
        Ok(s)
    }

    fn oom_killed(&self) -> Result<bool, Error> {
        match self.dir("memory")? {
            Some(d) => Ok(memory::oom_kill_count(&d)? > 0),
            // Without a memory controller there is no OOM killer acting on this cgroup.
            None => Ok(false),
        }
    }

    fn kill_all(&self, sig: i32) -> Result<(), Error> {
        // Like runc's signalAllProcesses: freezing stops tasks from forking children that the
        // pid list would miss. Without a working freezer this degrades to a best-effort sweep.
        let frozen = self.freeze().is_ok();
        let res = self
            .pids()
            .and_then(|pids| pids.into_iter().try_for_each(|p| fs::signal(p, sig)));
        let thawed = if frozen { self.thaw() } else { Ok(()) };
        res.and(thawed)
    }

    fn destroy(&self) -> Result<(), Error> {
        // Every hierarchy is attempted even after a failure so as little as possible leaks.
        let mut first_err = None;
        for dir in self.all_dirs()? {
            if let Err(e) = fs::remove_cgroup(&dir) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn mounts(&self) -> Vec<MountSource> {
        let Ok(rel) = self.path.rel() else {
            return Vec::new();
        };
        self.hierarchies()
            .into_iter()
            .map(|(mountpoint, names)| MountSource {
                subsystem: names.join(","),
                mount_name: mountpoint
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                host_dir: mountpoint.join(rel),
            })
            .collect()
    }
}
