//! `delete`: remove a stopped (or, forced, a live) container and everything it owned.

use std::time::{Duration, Instant};

use crate::state::{Container, Status};
use crate::{Error, Result};

/// Deletes the container. Returns poststop hook failures as warnings.
pub fn delete(c: &Container, force: bool) -> Result<Vec<String>> {
    let status = c.status();
    if c.record.cgroup_path.is_empty() {
        // Only a directory, from a create killed before it saved any state.
        std::fs::remove_dir_all(&c.dir).map_err(|e| Error::io(&c.dir, e))?;
        return Ok(Vec::new());
    }
    let cgroup = c.cgroup()?;
    match status {
        Status::Stopped => {}
        // A created container never ran user code: deleting it is always allowed.
        Status::Created => kill_and_wait(c, cgroup)?,
        _ if force => kill_and_wait(c, cgroup)?,
        s => {
            return Err(Error::WrongState {
                id: c.id().into(),
                status: s,
                why: "cannot delete a container that is not stopped (use --force)",
            })
        }
    }
    // Orphans of a stopped init (a container without its own pid namespace) go too.
    if !cgroup.pids().unwrap_or_default().is_empty() {
        kill_and_wait(c, cgroup)?;
    }
    cgroup.destroy()?;
    let mut warnings = Vec::new();
    if let Ok(spec) = c.spec() {
        let hooks = spec.hooks().clone().unwrap_or_default();
        let state = crate::create::hook_state(&c.record, Status::Stopped);
        warnings = crate::hooks::run_all(
            "poststop",
            hooks.poststop().as_deref().unwrap_or_default(),
            &state,
        );
    }
    std::fs::remove_dir_all(&c.dir).map_err(|e| Error::io(&c.dir, e))?;
    Ok(warnings)
}

fn kill_and_wait(c: &Container, cgroup: &dyn berth_cgroups::Cgroup) -> Result<()> {
    let _ = cgroup.kill_all(libc::SIGKILL);
    if c.init_alive() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.record.init_pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pause = Duration::from_micros(100);
    while c.init_alive() || !cgroup.pids().unwrap_or_default().is_empty() {
        if Instant::now() > deadline {
            return Err(Error::Init(format!(
                "container {} did not die within 10s of SIGKILL",
                c.id()
            )));
        }
        // Reap it if it is our child (a foreground run is the subreaper).
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(c.record.init_pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
    Ok(())
}
