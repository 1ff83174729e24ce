//! cgroup management for the berth OCI runtime: v1 (legacy and hybrid hosts) and v2 behind the
//! [`Cgroup`] trait. Synchronous, no output, typed errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use serde::Serialize;

mod error;
mod fs;
mod mountinfo;
mod stats;
mod v1;
mod v2;

pub use error::Error;
pub use stats::{BlkioEntry, BlkioStats, CpuStats, HugetlbStats, MemoryStats, PidsStats, Stats};
pub use v2::device_filter_count;

/// Where hosts mount their cgroup hierarchies.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// The key in [`open_v1`]'s map that names the cgroup2 mount of a hybrid host. It cannot clash
/// with a v1 controller name.
pub const UNIFIED_KEY: &str = "unified";

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Mode {
    /// v1 controllers only.
    Legacy,
    /// v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified (usually controller-less).
    Hybrid,
    /// One cgroup2 hierarchy at /sys/fs/cgroup.
    Unified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FreezerState {
    Thawed,
    /// Freezing was asked for but some tasks are not frozen yet.
    Freezing,
    Frozen,
}

/// One cgroup mount a runtime should provide inside the container.
///
/// v1: one entry per hierarchy; `subsystem` is its controller list as mounted ("cpu,cpuacct",
/// "memory", "name=systemd"), `mount_name` the basename of the host mountpoint (the directory
/// to use under the container's /sys/fs/cgroup) and `host_dir` this cgroup's directory in that
/// hierarchy. v2: a single entry with empty `subsystem` and `mount_name` (mount at
/// /sys/fs/cgroup itself) and the cgroup's directory as `host_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSource {
    pub subsystem: String,
    pub mount_name: String,
    pub host_dir: PathBuf,
}

/// One container's cgroup, in every hierarchy the host has.
pub trait Cgroup: std::fmt::Debug + Send + Sync {
    /// Creates the cgroup (and missing parents) in every hierarchy.
    fn create(&self) -> Result<(), Error>;
    /// Moves `pid` (the whole process) into the cgroup in every hierarchy.
    fn add_task(&self, pid: i32) -> Result<(), Error>;
    /// Writes the resources that are set and leaves everything else alone, so it also serves
    /// `update`.
    fn apply(&self, resources: &oci_spec::runtime::LinuxResources) -> Result<(), Error>;
    /// Returns once every task is really frozen, or fails (and thaws) after a bounded wait.
    fn freeze(&self) -> Result<(), Error>;
    fn thaw(&self) -> Result<(), Error>;
    fn freezer_state(&self) -> Result<FreezerState, Error>;
    /// Pids of this cgroup and of the cgroups below it.
    fn pids(&self) -> Result<Vec<i32>, Error>;
    fn stats(&self) -> Result<Stats, Error>;
    /// Whether the kernel OOM killer has killed a task in this cgroup.
    fn oom_killed(&self) -> Result<bool, Error>;
    /// Signals every process. Tasks are frozen meanwhile so that none can fork past the signal.
    fn kill_all(&self, sig: i32) -> Result<(), Error>;
    /// Removes the cgroup everywhere; an already missing cgroup is not an error.
    fn destroy(&self) -> Result<(), Error>;
    fn mounts(&self) -> Vec<MountSource>;
}

/// Detects how /sys/fs/cgroup is mounted.
pub fn detect() -> Result<Mode, Error> {
    detect_at(Path::new(DEFAULT_ROOT))
}

/// [`detect`] for another root, for tests and unusual hosts.
pub fn detect_at(root: &Path) -> Result<Mode, Error> {
    let fs_type = |p: &Path| {
        statfs(p)
            .map(|s| s.filesystem_type())
            .map_err(|source| Error::Detect {
                path: p.to_path_buf(),
                source,
            })
    };
    if fs_type(root)? == CGROUP2_SUPER_MAGIC {
        return Ok(Mode::Unified);
    }
    match fs_type(&root.join(UNIFIED_KEY)) {
        Ok(t) if t == CGROUP2_SUPER_MAGIC => Ok(Mode::Hybrid),
        Ok(_) => Ok(Mode::Legacy),
        Err(Error::Detect {
            source: nix::errno::Errno::ENOENT,
            ..
        }) => Ok(Mode::Legacy),
        Err(e) => Err(e),
    }
}

/// Opens the cgroup at `path` (the absolute OCI cgroupsPath) on this host.
pub fn open(path: &str) -> Result<Box<dyn Cgroup>, Error> {
    // Checked here too so that a bad path fails at open and not at first use.
    fs::CgroupPath::new(path).rel()?;
    let root = Path::new(DEFAULT_ROOT);
    let mode = detect_at(root)?;
    if mode == Mode::Unified {
        return Ok(open_v2(root.to_path_buf(), path));
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|source| Error::Read {
        path: PathBuf::from("/proc/self/mountinfo"),
        source,
    })?;
    let mut mounts = mountinfo::v1_mounts(&info);
    if mode == Mode::Hybrid {
        mounts.insert(UNIFIED_KEY.to_owned(), root.join(UNIFIED_KEY));
    }
    Ok(open_v1(mounts, path))
}

/// A v1 cgroup over the given hierarchies: controller name (or "name=systemd") to mountpoint.
/// An entry under [`UNIFIED_KEY`] is the cgroup2 mount of a hybrid host, which only gets the
/// directory and the tasks. An invalid `path` is reported by every operation.
pub fn open_v1(mounts: BTreeMap<String, PathBuf>, path: &str) -> Box<dyn Cgroup> {
    Box::new(v1::V1Cgroup::new(mounts, path))
}

/// A v2 cgroup under the cgroup2 mount `root`. An invalid `path` is reported by every operation.
pub fn open_v2(root: PathBuf, path: &str) -> Box<dyn Cgroup> {
    Box::new(v2::V2Cgroup::new(root, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_directory_is_legacy() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect_at(dir.path()).unwrap(), Mode::Legacy);
    }

    #[test]
    fn missing_root_is_an_error() {
        let err = detect_at(Path::new("/nonexistent/berth")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/berth"), "{err}");
    }

    #[test]
    fn this_host_is_detected() {
        if !Path::new(DEFAULT_ROOT).exists() {
            eprintln!("skipping: {DEFAULT_ROOT} does not exist");
            return;
        }
        let mode = detect().unwrap();
        if Path::new("/sys/fs/cgroup/unified/cgroup.procs").exists() {
            assert_eq!(mode, Mode::Hybrid);
        }
    }

    #[test]
    fn open_rejects_dotdot() {
        let err = open("/berth/../../x").unwrap_err();
        assert!(matches!(err, Error::InvalidPath { .. }), "{err}");
    }

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: std::error::Error + Send + Sync + 'static>() {}
        check::<Error>();
    }
}
