//! v1 freezer controller.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::fs;
use crate::{Error, FreezerState};

const STATE: &str = "freezer.state";
pub(crate) const TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn parse_state(path: &Path, s: &str) -> Result<FreezerState, Error> {
    match s.trim() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        _ => Err(Error::Parse {
            path: path.to_path_buf(),
            content: s.to_owned(),
        }),
    }
}

pub(crate) fn state(dir: &Path) -> Result<FreezerState, Error> {
    parse_state(&dir.join(STATE), &fs::read(dir, STATE)?)
}

/// Writing FROZEN only starts freezing: tasks in uninterruptible sleep or vfork stay FREEZING
/// for a while. Each read of freezer.state makes the kernel re-check, and re-writing FROZEN now
/// and then retries the tasks that were skipped.
pub(crate) fn freeze(dir: &Path) -> Result<(), Error> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(100);
    let mut round = 0u32;
    loop {
        if round.is_multiple_of(25) {
            fs::write(dir, STATE, "FROZEN")?;
        }
        let s = fs::read(dir, STATE)?;
        if parse_state(&dir.join(STATE), &s)? == FreezerState::Frozen {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            // Leaving it half frozen would wedge the container.
            let _ = fs::write(dir, STATE, "THAWED");
            return Err(Error::FreezeTimeout {
                path: dir.join(STATE),
                wanted: "FROZEN",
                last: s.trim().to_owned(),
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(10));
        round += 1;
    }
}

pub(crate) fn thaw(dir: &Path) -> Result<(), Error> {
    fs::write(dir, STATE, "THAWED")
}
