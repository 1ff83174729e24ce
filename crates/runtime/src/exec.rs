//! `exec`: start another process inside a running container.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::Process;

use crate::create::Console;
use crate::init;
use crate::namespaces::NsPlan;
use crate::process::Prepared;
use crate::state::{Container, Status};
use crate::sync::{self, Msg};
use crate::{Error, Result};

#[derive(Debug)]
pub struct ExecOptions {
    pub process: Process,
    pub console: Console,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// Become the subreaper so the caller can wait for the process.
    pub attached: bool,
}

#[derive(Debug)]
pub struct Execed {
    pub pid: i32,
    pub console: Option<OwnedFd>,
    pub warnings: Vec<String>,
}

/// The process `exec ARGS` runs: the container's own process section with the given
/// overrides, as runc builds it.
pub fn default_process(c: &Container) -> Result<Process> {
    let spec = c.spec()?;
    Ok(spec.process().clone().unwrap_or_default())
}

pub fn exec(c: &Container, opts: ExecOptions) -> Result<Execed> {
    c.require(
        &[Status::Created, Status::Running],
        "cannot exec in a container that is not running",
    )?;
    let spec = c.spec()?;
    let prepared = Prepared::new(&opts.process, spec.linux().as_ref(), opts.preserve_fds)?;
    let warnings = prepared.warnings.clone();
    let terminal = prepared.terminal;
    if terminal && matches!(opts.console, Console::None) {
        return Err(Error::Invalid(
            "cannot allocate tty if runc will detach without setting console socket".into(),
        ));
    }
    let ns = NsPlan::for_exec(c.record.init_pid)?;
    let cgroup = c.cgroup()?;
    let (console_child, console_parent) = if terminal {
        crate::create::console_ends(&opts.console)?
    } else {
        (None, None)
    };
    let (parent_chan, child_chan) = sync::pair()?;
    if opts.attached {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| berth_sys::Error::call("PR_SET_CHILD_SUBREAPER", e))?;
    }
    let args = init::Args {
        ns,
        process: prepared,
        console: console_child,
        setup: None,
    };
    // SAFETY: the runtime has started no threads, so forking here is safe.
    let stage1 =
        match unsafe { nix::unistd::fork() }.map_err(|e| berth_sys::Error::call("fork", e))? {
            ForkResult::Child => {
                drop(parent_chan);
                init::stage1(args, child_chan)
            }
            ForkResult::Parent { child } => child,
        };
    drop(args);
    drop(child_chan);
    let kill = |pid: i32| {
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
    };
    let result = (|| -> Result<i32> {
        cgroup.add_task(stage1.as_raw())?;
        parent_chan.send(&Msg::Ack)?;
        let mut pid = 0;
        // Pid comes from stage 1 and Created from the process it forked, so Created can
        // overtake Pid under load: done only when both are in.
        let mut created = false;
        loop {
            match parent_chan.recv()? {
                Some(Msg::Pid { pid: p }) => {
                    pid = p;
                    let _ = waitpid(stage1, None);
                    if created {
                        return Ok(pid);
                    }
                }
                Some(Msg::SeccompListener) => {
                    crate::listener::forward(&parent_chan, spec, pid, &c.oci_state())?;
                }
                Some(Msg::Created) if pid > 0 => return Ok(pid),
                Some(Msg::Created) => created = true,
                Some(Msg::Error { msg }) => {
                    if pid > 0 {
                        kill(pid);
                    }
                    return Err(Error::from_child(msg));
                }
                Some(other) => return Err(Error::Init(format!("unexpected message {other:?}"))),
                None => return Err(Error::Init("exec process exited before it started".into())),
            }
        }
    })();
    let pid = match result {
        Ok(p) => p,
        Err(e) => {
            kill(stage1.as_raw());
            let _ = waitpid(stage1, None);
            return Err(e);
        }
    };
    if let Some(p) = &opts.pid_file {
        crate::create::write_pid_file(p, pid)?;
    }
    let console = match console_parent {
        Some(sock) => Some(berth_sys::fds::recv_fd(sock.as_fd())?),
        None => None,
    };
    Ok(Execed {
        pid,
        console,
        warnings,
    })
}
