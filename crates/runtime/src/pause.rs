//! `pause` and `resume`, through the freezer.

use crate::state::{Container, Status};
use crate::Result;

pub fn pause(c: &Container) -> Result<()> {
    c.require(&[Status::Running, Status::Created], "container not running")?;
    Ok(c.cgroup()?.freeze()?)
}

pub fn resume(c: &Container) -> Result<()> {
    c.require(&[Status::Paused], "container not paused")?;
    Ok(c.cgroup()?.thaw()?)
}
