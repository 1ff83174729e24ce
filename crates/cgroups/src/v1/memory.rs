//! v1 memory controller.

use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::fs;
use crate::{Error, MemoryStats};

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// Kernel memory is ignored: kernel 5.4+ deprecates v1 kmem limits and runc ignores them too.
pub(crate) fn needed(m: &LinuxMemory) -> bool {
    set(m.limit()).is_some()
        || set(m.reservation()).is_some()
        || set(m.swap()).is_some()
        || m.swappiness().is_some()
        || m.disable_oom_killer().is_some()
}

/// 0 means "leave alone", as in runc, because `update` sends zeros for what it does not change.
fn set(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

pub(crate) fn apply(dir: &Path, m: &LinuxMemory) -> Result<(), Error> {
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::InvalidResource {
                field: "memory.swappiness",
                value: s.to_string(),
                reason: "must be between 0 and 100".into(),
            });
        }
    }
    let limit = set(m.limit());
    if let (Some(true), Some(l)) = (m.check_before_update(), limit.filter(|l| *l > 0)) {
        let usage = fs::read_u64(dir, "memory.usage_in_bytes")?;
        if (l as u64) < usage {
            return Err(Error::InvalidResource {
                field: "memory.limit",
                value: l.to_string(),
                reason: format!("below the current usage of {usage} bytes"),
            });
        }
    }
    let swap = effective_swap(limit, set(m.swap()), dir.join(MEMSW).exists())?;
    let current = match swap {
        Some(_) => fs::read_u64(dir, LIMIT)?,
        None => 0,
    };
    for (file, value) in limit_writes(limit, swap, current) {
        fs::write(dir, file, &value.to_string())?;
    }
    if let Some(r) = set(m.reservation()) {
        fs::write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if let Some(s) = m.swappiness() {
        fs::write(dir, "memory.swappiness", &s.to_string())?;
    }
    if let Some(d) = m.disable_oom_killer() {
        fs::write(dir, "memory.oom_control", if d { "1" } else { "0" })?;
    }
    Ok(())
}

/// The memory+swap limit to write, if any.
fn effective_swap(
    limit: Option<i64>,
    swap: Option<i64>,
    has_memsw: bool,
) -> Result<Option<i64>, Error> {
    match swap {
        // `update --memory -1` means both unlimited; otherwise memsw would stay below the new
        // unlimited memory limit and the kernel would refuse it.
        None if limit == Some(-1) && has_memsw => Ok(Some(-1)),
        None => Ok(None),
        // Without swap accounting nothing limits swap, which is what -1 asks for.
        Some(-1) if !has_memsw => Ok(None),
        Some(s) if !has_memsw => Err(Error::Unsupported {
            version: "v1",
            what: format!(
                "memory+swap limit {s} ({MEMSW} is missing: the kernel does not account swap)"
            ),
        }),
        Some(s) => {
            if let Some(l) = limit.filter(|l| *l > 0) {
                if s > 0 && s < l {
                    return Err(Error::InvalidResource {
                        field: "memory.swap",
                        value: s.to_string(),
                        reason: format!("memory+swap must be >= the memory limit {l}"),
                    });
                }
            }
            Ok(Some(s))
        }
    }
}

/// The kernel requires limit <= memsw after every single write. When the new memsw is above the
/// current limit (raising), memsw goes first; otherwise (lowering) the limit goes first.
fn limit_writes(
    limit: Option<i64>,
    swap: Option<i64>,
    current_limit: u64,
) -> Vec<(&'static str, i64)> {
    let mut out = Vec::with_capacity(2);
    match swap {
        Some(s) if s < 0 || current_limit < s as u64 => {
            out.push((MEMSW, s));
            out.extend(limit.map(|l| (LIMIT, l)));
        }
        Some(s) => {
            out.extend(limit.map(|l| (LIMIT, l)));
            out.push((MEMSW, s));
        }
        None => out.extend(limit.map(|l| (LIMIT, l))),
    }
    out
}

pub(crate) fn stats(dir: &Path, out: &mut MemoryStats) -> Result<(), Error> {
    out.usage = fs::read_u64_opt(dir, "memory.usage_in_bytes")?.unwrap_or(0);
    out.max_usage = fs::read_u64_opt(dir, "memory.max_usage_in_bytes")?.unwrap_or(0);
    out.limit = fs::read_u64_opt(dir, LIMIT)?.unwrap_or(0);
    out.failcnt = fs::read_u64_opt(dir, "memory.failcnt")?.unwrap_or(0);
    out.swap_usage = fs::read_u64_opt(dir, "memory.memsw.usage_in_bytes")?.unwrap_or(0);
    out.swap_limit = fs::read_u64_opt(dir, MEMSW)?.unwrap_or(0);
    out.oom_kill = oom_kill_count(dir)?;
    out.stat = fs::read_keyed_opt(dir, "memory.stat")?.unwrap_or_default();
    Ok(())
}

/// The oom_kill line of memory.oom_control (kernel 4.13+); older kernels report 0.
pub(crate) fn oom_kill_count(dir: &Path) -> Result<u64, Error> {
    let map = fs::read_keyed_opt(dir, "memory.oom_control")?.unwrap_or_default();
    Ok(map.get("oom_kill").copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_writes_memsw_first() {
        assert_eq!(
            limit_writes(Some(200), Some(400), 100),
            vec![(MEMSW, 400), (LIMIT, 200)]
        );
        assert_eq!(
            limit_writes(Some(-1), Some(-1), 100),
            vec![(MEMSW, -1), (LIMIT, -1)]
        );
    }

    #[test]
    fn lowering_writes_limit_first() {
        assert_eq!(
            limit_writes(Some(50), Some(80), 100),
            vec![(LIMIT, 50), (MEMSW, 80)]
        );
        assert_eq!(limit_writes(Some(50), None, 100), vec![(LIMIT, 50)]);
        assert_eq!(limit_writes(None, None, 100), vec![]);
    }

    #[test]
    fn swap_rules() {
        assert_eq!(effective_swap(Some(-1), None, true).unwrap(), Some(-1));
        assert_eq!(effective_swap(Some(-1), None, false).unwrap(), None);
        assert_eq!(effective_swap(Some(10), None, true).unwrap(), None);
        assert_eq!(effective_swap(Some(10), Some(-1), false).unwrap(), None);
        assert!(matches!(
            effective_swap(Some(10), Some(20), false),
            Err(Error::Unsupported { .. })
        ));
        assert!(matches!(
            effective_swap(Some(10), Some(5), true),
            Err(Error::InvalidResource { .. })
        ));
    }
}
