//! `start`: release the container process waiting on the exec fifo.

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::state::{Container, Status};
use crate::{Error, Result};

fn wait_for_no_readers(fd: &std::os::fd::OwnedFd) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(_) => return,
            Ok(_) => {
                let ev = fds[0].revents().unwrap_or(PollFlags::POLLERR);
                if ev.intersects(PollFlags::POLLERR | PollFlags::POLLHUP | PollFlags::POLLNVAL) {
                    return;
                }
            }
        }
    }
}

/// Starts a created container. Returns poststart hook failures as warnings.
pub fn start(c: &Container) -> Result<Vec<String>> {
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::WrongState {
                id: c.id().into(),
                status: Status::Stopped,
                why: "cannot start a container that has stopped",
            })
        }
        s => {
            return Err(Error::WrongState {
                id: c.id().into(),
                status: s,
                why: "cannot start an already running container",
            })
        }
    }
    let fifo = c.fifo();
    // Non-blocking: with no reader (the process died), open fails with ENXIO at once.
    let fd = nix::fcntl::open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::Error::ENXIO | nix::Error::ENOENT => Error::WrongState {
            id: c.id().into(),
            status: Status::Stopped,
            why: "container process is gone",
        },
        e => berth_sys::Error::path("open", &fifo, e).into(),
    })?;
    nix::unistd::write(&fd, &[0]).map_err(|e| berth_sys::Error::path("write", &fifo, e))?;
    std::fs::remove_file(&fifo).map_err(|e| Error::io(&fifo, e))?;
    // The container process holds the only read end, close-on-exec: it goes away when the
    // user's program is executed (or the process dies). Only then may poststart hooks run.
    wait_for_no_readers(&fd);
    drop(fd);
    let spec = c.spec()?;
    let hooks = spec.hooks().clone().unwrap_or_default();
    let state = crate::create::hook_state(&c.record, Status::Running);
    Ok(crate::hooks::run_all(
        "poststart",
        hooks.poststart().as_deref().unwrap_or_default(),
        &state,
    ))
}
