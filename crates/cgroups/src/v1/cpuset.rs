//! v1 cpuset controller.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs;
use crate::Error;

const FILES: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];

pub(crate) fn needed(c: &LinuxCpu) -> bool {
    non_empty(c.cpus()).is_some() || non_empty(c.mems()).is_some()
}

// Writing an empty set would strand the tasks already inside, so "" counts as unset.
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Creates `rel` under the cpuset mountpoint. A new v1 cpuset starts with empty cpus and mems,
/// and adding a task to it then fails with ENOSPC, so every level left empty inherits its
/// parent's sets on the way down.
pub(crate) fn create(mountpoint: &Path, rel: &Path) -> Result<(), Error> {
    let mut parent = mountpoint.to_path_buf();
    for comp in rel.components() {
        let cur = parent.join(comp);
        fs::mkdir_one(&cur)?;
        for file in FILES {
            if fs::read(&cur, file)?.trim().is_empty() {
                let inherited = fs::read(&parent, file)?;
                let inherited = inherited.trim();
                if !inherited.is_empty() {
                    fs::write(&cur, file, inherited)?;
                }
            }
        }
        parent = cur;
    }
    Ok(())
}

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if let Some(cpus) = non_empty(c.cpus()) {
        fs::write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = non_empty(c.mems()) {
        fs::write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}
