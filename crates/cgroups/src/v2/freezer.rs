//! v2 freezer: cgroup.freeze (kernel 5.2+) asks, the "frozen" key of cgroup.events answers.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::fs;
use crate::{Error, FreezerState};

const TIMEOUT: Duration = Duration::from_secs(3);

fn frozen(dir: &Path) -> Result<bool, Error> {
    let events = fs::read_keyed_opt(dir, "cgroup.events")?.unwrap_or_default();
    Ok(events.get("frozen").copied() == Some(1))
}

pub(crate) fn state(dir: &Path) -> Result<FreezerState, Error> {
    let path = dir.join("cgroup.freeze");
    // No cgroup.freeze means a kernel without the v2 freezer: nothing can be frozen.
    let Some(want) = fs::read_opt(dir, "cgroup.freeze")? else {
        return Ok(FreezerState::Thawed);
    };
    match (want.trim(), frozen(dir)?) {
        ("0", _) => Ok(FreezerState::Thawed),
        ("1", true) => Ok(FreezerState::Frozen),
        ("1", false) => Ok(FreezerState::Freezing),
        _ => Err(Error::Parse {
            path,
            content: want,
        }),
    }
}

/// Sets cgroup.freeze and waits until cgroup.events agrees, so that callers can rely on the
/// tasks being stopped (or running) when this returns.
pub(crate) fn set(dir: &Path, freeze: bool) -> Result<(), Error> {
    fs::write(dir, "cgroup.freeze", if freeze { "1" } else { "0" })?;
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    loop {
        if frozen(dir)? == freeze {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            if freeze {
                // Leaving it half frozen would wedge the container.
                let _ = fs::write(dir, "cgroup.freeze", "0");
            }
            return Err(Error::FreezeTimeout {
                path: dir.join("cgroup.events"),
                wanted: if freeze { "frozen 1" } else { "frozen 0" },
                last: fs::read_opt(dir, "cgroup.events")?.unwrap_or_default(),
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
    }
}
