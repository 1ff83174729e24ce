//! v2 cpuset controller. Unlike v1, an empty cpuset inherits its parent's effective set, so no
//! copying is needed at creation.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs;
use crate::Error;

pub(crate) fn needed(c: &LinuxCpu) -> bool {
    non_empty(c.cpus()).is_some() || non_empty(c.mems()).is_some()
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
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
