//! v1 cpuacct controller: usage counters only.

use std::path::Path;

use crate::fs;
use crate::{CpuStats, Error};

/// USER_HZ, the unit of cpuacct.stat. The kernel exports 100 to userspace on every
/// architecture, whatever CONFIG_HZ is.
const USER_HZ: u64 = 100;
const NS_PER_TICK: u64 = 1_000_000_000 / USER_HZ;

pub(crate) fn stats(dir: &Path, out: &mut CpuStats) -> Result<(), Error> {
    out.usage_total = fs::read_u64_opt(dir, "cpuacct.usage")?.unwrap_or(0);
    // usage_user/usage_sys (kernel 4.7+) are in ns; cpuacct.stat is the coarse fallback.
    match (
        fs::read_u64_opt(dir, "cpuacct.usage_user")?,
        fs::read_u64_opt(dir, "cpuacct.usage_sys")?,
    ) {
        (Some(u), Some(s)) => {
            out.usage_user = u;
            out.usage_system = s;
        }
        _ => {
            if let Some(m) = fs::read_keyed_opt(dir, "cpuacct.stat")? {
                out.usage_user = m.get("user").copied().unwrap_or(0) * NS_PER_TICK;
                out.usage_system = m.get("system").copied().unwrap_or(0) * NS_PER_TICK;
            }
        }
    }
    if let Some(s) = fs::read_opt(dir, "cpuacct.usage_percpu")? {
        let path = dir.join("cpuacct.usage_percpu");
        out.usage_per_cpu = s
            .split_whitespace()
            .map(|v| fs::parse_u64(&path, v))
            .collect::<Result<_, _>>()?;
    }
    Ok(())
}
