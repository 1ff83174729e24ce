//! v1 cpu controller (CFS bandwidth, shares, realtime).

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs;
use crate::{CpuStats, Error};

pub(crate) fn needed(c: &LinuxCpu) -> bool {
    nz(c.shares()).is_some()
        || nzi(c.quota()).is_some()
        || nz(c.period()).is_some()
        || c.burst().is_some()
        || c.idle().is_some()
        || nzi(c.realtime_runtime()).is_some()
        || nz(c.realtime_period()).is_some()
}

// 0 means "leave alone", as in runc: `update` sends zeros for what it does not change.
fn nz(v: Option<u64>) -> Option<u64> {
    v.filter(|v| *v != 0)
}
fn nzi(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if let Some(shares) = nz(c.shares()) {
        fs::write(dir, "cpu.shares", &shares.to_string())?;
        // The kernel silently clamps shares to [2, 262144]; say so instead of pretending.
        let got = fs::read_u64(dir, "cpu.shares")?;
        if got != shares {
            return Err(Error::InvalidResource {
                field: "cpu.shares",
                value: shares.to_string(),
                reason: format!("the kernel clamped it to {got}"),
            });
        }
    }
    let quota = nzi(c.quota()).map(|q| if q < 0 { -1 } else { q });
    let mut period_pending = None;
    if let Some(p) = nz(c.period()) {
        let value = p.to_string();
        if let Err(e) = fs::write(dir, "cpu.cfs_period_us", &value) {
            // A shorter period can be refused (EINVAL) while the old quota/new period ratio
            // exceeds the parent's; with a new quota coming, retry once that is in place.
            match &e {
                Error::Write { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL) && quota.is_some() =>
                {
                    period_pending = Some(value)
                }
                _ => return Err(e),
            }
        }
    }
    if let Some(q) = quota {
        fs::write(dir, "cpu.cfs_quota_us", &q.to_string())?;
        if let Some(p) = period_pending {
            fs::write(dir, "cpu.cfs_period_us", &p)?;
        }
    }
    if let Some(b) = c.burst() {
        fs::write(dir, "cpu.cfs_burst_us", &b.to_string())?;
    }
    // The runtime budget must fit the period, so the period goes first.
    if let Some(p) = nz(c.realtime_period()) {
        fs::write(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = nzi(c.realtime_runtime()) {
        fs::write(dir, "cpu.rt_runtime_us", &r.to_string())?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// Throttling counters from cpu.stat (usage lives in cpuacct on v1).
pub(crate) fn stats(dir: &Path, out: &mut CpuStats) -> Result<(), Error> {
    if let Some(m) = fs::read_keyed_opt(dir, "cpu.stat")? {
        out.periods = m.get("nr_periods").copied().unwrap_or(0);
        out.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
        out.throttled_time = m.get("throttled_time").copied().unwrap_or(0);
    }
    Ok(())
}
