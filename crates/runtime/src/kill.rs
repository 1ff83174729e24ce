//! `kill`: signal the container process, or with `all` every process in its cgroup.

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::state::{Container, Status};
use crate::{Error, Result};

/// Parses `KILL`, `SIGKILL` or `9`.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let bad = || Error::Invalid(format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse().map_err(|_| bad())
}

pub fn kill(c: &Container, sig: Signal, all: bool) -> Result<()> {
    let status = c.status();
    if status == Status::Stopped {
        return Err(Error::WrongState {
            id: c.id().into(),
            status,
            why: "container not running",
        });
    }
    if all {
        return Ok(c.cgroup()?.kill_all(sig as i32)?);
    }
    nix::sys::signal::kill(Pid::from_raw(c.record.init_pid), sig)
        .map_err(|e| Error::Init(format!("kill {} {sig}: {e}", c.record.init_pid)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE")
            .unwrap_err()
            .to_string()
            .contains("NOPE"));
        assert!(parse_signal("99").is_err());
    }
}
