//! Waiting for a foreground process while passing signals on to it, as `runc run` does.

use std::os::fd::RawFd;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::Result;

/// Holds every forwardable signal blocked; create it before starting any thread, so that
/// the signals reach us through [`Forwarder::wait`] and not some other thread.
pub struct Forwarder {
    set: SigSet,
}

impl Forwarder {
    pub fn new() -> Result<Self> {
        let mut set = SigSet::all();
        for s in [
            Signal::SIGSEGV,
            Signal::SIGBUS,
            Signal::SIGILL,
            Signal::SIGFPE,
        ] {
            set.remove(s);
        }
        nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
            .map_err(|e| berth_sys::Error::call("sigprocmask", e))?;
        Ok(Forwarder { set })
    }

    /// Forwards signals to `pid` until it exits; returns its status as an exit code
    /// (128+n for a signal). `tty` receives window-size changes.
    pub fn wait(&self, pid: i32, tty: Option<RawFd>) -> Result<i32> {
        let target = Pid::from_raw(pid);
        loop {
            if let Some(code) = reap(target)? {
                return Ok(code);
            }
            let sig = self
                .set
                .wait()
                .map_err(|e| berth_sys::Error::call("sigwait", e))?;
            match sig {
                Signal::SIGCHLD => {}
                Signal::SIGWINCH => {
                    if let Some(fd) = tty {
                        let _ = berth_sys::pty::copy_winsize(0, fd);
                    }
                }
                s => {
                    let _ = nix::sys::signal::kill(target, s);
                }
            }
        }
    }
}

/// Reaps every exited child; returns the exit code once `target` is among them.
fn reap(target: Pid) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(st) => {
                if st.pid() == Some(target) {
                    if let Some(code) = crate::process::exit_code(st) {
                        return Ok(Some(code));
                    }
                }
            }
            Err(nix::Error::ECHILD) => {
                // Not our child: it was reaped elsewhere or never was ours. Poll its life.
                return Ok(if nix::sys::signal::kill(target, None).is_err() {
                    Some(0)
                } else {
                    None
                });
            }
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(berth_sys::Error::call("waitpid", e).into()),
        }
    }
}
