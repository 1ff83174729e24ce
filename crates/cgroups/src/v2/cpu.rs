//! v2 cpu controller.

use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs;
use crate::{CpuStats, Error};

pub(crate) fn needed(c: &LinuxCpu) -> bool {
    c.shares().is_some_and(|s| s != 0)
        || c.quota().is_some_and(|q| q != 0)
        || c.period().is_some_and(|p| p != 0)
        || c.burst().is_some()
        || c.idle().is_some()
}

/// Maps v1 shares [2, 262144] onto v2 weight [1, 10000] (the formula runc, crun and the kernel
/// docs' conversion agree on).
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// "quota period" for cpu.max, with "max" for no quota. Without a period only the quota is
/// written and the kernel keeps the current period.
pub(crate) fn max_value(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    let quota = quota.filter(|q| *q != 0);
    let period = period.filter(|p| *p != 0);
    if quota.is_none() && period.is_none() {
        return None;
    }
    let mut v = match quota {
        Some(q) if q > 0 => q.to_string(),
        _ => "max".to_owned(),
    };
    if let Some(p) = period {
        v.push(' ');
        v.push_str(&p.to_string());
    }
    Some(v)
}

pub(crate) fn apply(dir: &Path, c: &LinuxCpu) -> Result<(), Error> {
    if c.realtime_runtime().is_some_and(|r| r != 0) || c.realtime_period().is_some_and(|p| p != 0) {
        return Err(Error::Unsupported {
            version: "v2",
            what: "realtime cpu runtime/period".into(),
        });
    }
    if let Some(s) = c.shares().filter(|s| *s != 0) {
        fs::write(dir, "cpu.weight", &shares_to_weight(s).to_string())?;
    }
    if let Some(v) = max_value(c.quota(), c.period()) {
        fs::write(dir, "cpu.max", &v)?;
    }
    if let Some(b) = c.burst() {
        fs::write(dir, "cpu.max.burst", &b.to_string())?;
    }
    if let Some(i) = c.idle() {
        fs::write(dir, "cpu.idle", &i.to_string())?;
    }
    Ok(())
}

/// cpu.stat is a core file on v2: usage is there even without the cpu controller.
pub(crate) fn stats(dir: &Path, out: &mut CpuStats) -> Result<(), Error> {
    if let Some(m) = fs::read_keyed_opt(dir, "cpu.stat")? {
        let us = |k: &str| m.get(k).copied().unwrap_or(0).saturating_mul(1000);
        out.usage_total = us("usage_usec");
        out.usage_user = us("user_usec");
        out.usage_system = us("system_usec");
        out.periods = m.get("nr_periods").copied().unwrap_or(0);
        out.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
        out.throttled_time = us("throttled_usec");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_conversion() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }

    #[test]
    fn cpu_max() {
        assert_eq!(
            max_value(Some(50_000), Some(100_000)).unwrap(),
            "50000 100000"
        );
        assert_eq!(max_value(Some(-1), Some(100_000)).unwrap(), "max 100000");
        assert_eq!(max_value(Some(20_000), None).unwrap(), "20000");
        assert_eq!(max_value(None, Some(50_000)).unwrap(), "max 50000");
        assert_eq!(max_value(None, None), None);
    }
}
