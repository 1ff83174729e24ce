//! `update`: change the resource limits of a live container.

use oci_spec::runtime::LinuxResources;

use crate::state::{Container, Status};
use crate::Result;

pub fn update(c: &Container, resources: &LinuxResources) -> Result<()> {
    c.require(
        &[Status::Created, Status::Running, Status::Paused],
        "container not running",
    )?;
    Ok(c.cgroup()?.apply(resources)?)
}

/// The pids of every process in the container.
pub fn pids(c: &Container) -> Result<Vec<i32>> {
    Ok(c.cgroup()?.pids()?)
}

/// Resource usage, for `events --stats` and the engine's `stats`.
pub fn stats(c: &Container) -> Result<berth_cgroups::Stats> {
    Ok(c.cgroup()?.stats()?)
}
