//! A foreground `run` or `start -a`: forward the signals this process gets to the container
//! (docker's --sig-proxy), until the monitor reports the container's exit.

use berth_engine::{Engine, Started};

use crate::{Failure, Globals, Result};

pub fn proxy_until_exit(g: &Globals, id: &str, started: Started) -> Result<i32> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
    ] {
        set.add(s);
    }
    // Blocked here, the signals wait in a signalfd that a thread forwards from.
    let _ = set.thread_block();
    let root = g.root.clone();
    let id = id.to_string();
    if let Ok(sfd) = nix::sys::signalfd::SignalFd::new(&set) {
        std::thread::spawn(move || {
            while let Ok(Some(info)) = sfd.read_signal() {
                let name = Signal::try_from(info.ssi_signo as i32).map(|s| s.as_str().to_string());
                if let (Ok(mut e), Ok(name)) = (Engine::open(&root), name) {
                    let _ = e.kill(&id, &name);
                }
            }
        });
    }
    started.wait().map_err(|e| Failure::new(125, e.to_string()))
}
