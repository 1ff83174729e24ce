//! v2 memory controller.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::fs;
use crate::{Error, MemoryStats};

/// swappiness, disableOOMKiller and kernel memory have no v2 file; they are ignored, as in runc.
pub(crate) fn needed(m: &LinuxMemory) -> bool {
    set(m.limit()).is_some() || set(m.reservation()).is_some() || set(m.swap()).is_some()
}

/// 0 means "leave alone", as in runc: `update` sends zeros for what it does not change.
fn set(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

/// -1 means unlimited, which v2 spells "max".
fn value(v: i64) -> String {
    if v < 0 {
        "max".to_owned()
    } else {
        v.to_string()
    }
}

/// OCI `swap` is memory+swap (the v1 memsw meaning); memory.swap.max is swap alone. Mirrors
/// runc's ConvertMemorySwapToCgroupV2Value.
pub(crate) fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<i64>, Error> {
    let invalid = |reason: &str| Error::InvalidResource {
        field: "memory.swap",
        value: swap.unwrap_or(0).to_string(),
        reason: reason.to_owned(),
    };
    match (swap, limit) {
        // Unlimited memory with no swap given means both unlimited, as on v1.
        (None, Some(-1)) => Ok(Some(-1)),
        (None, _) => Ok(None),
        (Some(s), _) if s < 0 => Ok(Some(-1)),
        (Some(_), None) | (Some(_), Some(-1)) => Err(invalid("a swap limit needs a memory limit")),
        (Some(_), Some(l)) if l < 0 => Err(invalid("the memory limit is negative")),
        (Some(s), Some(l)) if s < l => Err(invalid("memory+swap must be >= the memory limit")),
        (Some(s), Some(l)) => Ok(Some(s - l)),
    }
}

pub(crate) fn apply(dir: &Path, m: &LinuxMemory) -> Result<(), Error> {
    let limit = set(m.limit());
    if let Some(swap) = swap_max(set(m.swap()), limit)? {
        let v = value(swap);
        match fs::write(dir, "memory.swap.max", &v) {
            // Without swap accounting there is no file, and "max" is already the truth.
            Err(Error::Write { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && swap < 0 => {}
            other => other?,
        }
    }
    if let Some(l) = limit {
        if m.check_before_update() == Some(true) && l > 0 {
            let usage = fs::read_u64(dir, "memory.current")?;
            if (l as u64) < usage {
                return Err(Error::InvalidResource {
                    field: "memory.limit",
                    value: l.to_string(),
                    reason: format!("below the current usage of {usage} bytes"),
                });
            }
        }
        fs::write(dir, "memory.max", &value(l))?;
    }
    if let Some(r) = set(m.reservation()) {
        fs::write(dir, "memory.low", &value(r))?;
    }
    Ok(())
}

pub(crate) fn stats(dir: &Path, out: &mut MemoryStats) -> Result<(), Error> {
    out.usage = fs::read_u64_opt(dir, "memory.current")?.unwrap_or(0);
    out.max_usage = fs::read_u64_opt(dir, "memory.peak")?.unwrap_or(0);
    out.limit = fs::read_u64_opt(dir, "memory.max")?.unwrap_or(0);
    let events = fs::read_keyed_opt(dir, "memory.events")?.unwrap_or_default();
    out.failcnt = events.get("max").copied().unwrap_or(0);
    out.oom_kill = events.get("oom_kill").copied().unwrap_or(0);
    // Reported as memory+swap to match v1 and the OCI meaning of swap.
    if let Some(swap) = fs::read_u64_opt(dir, "memory.swap.current")? {
        out.swap_usage = swap.saturating_add(out.usage);
    }
    if let Some(swap) = fs::read_u64_opt(dir, "memory.swap.max")? {
        out.swap_limit = swap.saturating_add(out.limit);
    }
    out.stat = fs::read_keyed_opt(dir, "memory.stat")?.unwrap_or_default();
    Ok(())
}

pub(crate) fn oom_kill_count(dir: &Path) -> Result<u64, Error> {
    let events = fs::read_keyed_opt(dir, "memory.events")?.unwrap_or_default();
    Ok(events.get("oom_kill").copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_max(Some(300), Some(100)).unwrap(), Some(200));
        assert_eq!(swap_max(Some(100), Some(100)).unwrap(), Some(0));
        assert_eq!(swap_max(Some(-1), Some(100)).unwrap(), Some(-1));
        assert_eq!(swap_max(None, Some(-1)).unwrap(), Some(-1));
        assert_eq!(swap_max(None, Some(100)).unwrap(), None);
        assert!(swap_max(Some(50), Some(100)).is_err());
        assert!(swap_max(Some(50), None).is_err());
    }
}
