//! `events`: resource statistics and OOM notices, in runc's JSON shape.

use serde_json::{json, Value};

use crate::state::Container;
use crate::Result;

fn blkio(entries: &[berth_cgroups::BlkioEntry]) -> Value {
    entries
        .iter()
        .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
        .collect()
}

/// One `{"type":"stats",...}` event for the container.
pub fn stats(c: &Container) -> Result<Value> {
    let s = c.cgroup()?.stats()?;
    let hugetlb: serde_json::Map<String, Value> = s
        .hugetlb
        .iter()
        .map(|(size, h)| {
            (
                size.clone(),
                json!({"usage": h.usage, "max": h.max_usage, "failcnt": h.failcnt}),
            )
        })
        .collect();
    Ok(json!({
        "type": "stats",
        "id": c.id(),
        "data": {
            "cpu": {
                "usage": {
                    "percpu": s.cpu.usage_per_cpu,
                    "total": s.cpu.usage_total,
                    "kernel": s.cpu.usage_system,
                    "user": s.cpu.usage_user,
                },
                "throttling": {
                    "periods": s.cpu.periods,
                    "throttledPeriods": s.cpu.throttled_periods,
                    "throttledTime": s.cpu.throttled_time,
                },
            },
            "memory": {
                "cache": s.memory.stat.get("cache").copied().unwrap_or_default(),
                "usage": {
                    "limit": s.memory.limit,
                    "usage": s.memory.usage,
                    "max": s.memory.max_usage,
                    "failcnt": s.memory.failcnt,
                },
                "swap": {"limit": s.memory.swap_limit, "usage": s.memory.swap_usage},
                "raw": s.memory.stat,
            },
            "pids": {"current": s.pids.current, "limit": s.pids.limit.unwrap_or(0)},
            "blkio": {
                "ioServiceBytesRecursive": blkio(&s.blkio.io_service_bytes),
                "ioServicedRecursive": blkio(&s.blkio.io_serviced),
            },
            "hugetlb": hugetlb,
        },
    }))
}

/// How many times the kernel's OOM killer has struck in the container's cgroup so far.
pub fn oom_kills(c: &Container) -> Result<u64> {
    Ok(c.cgroup()?.stats()?.memory.oom_kill)
}

/// An `{"type":"oom"}` event.
pub fn oom(c: &Container) -> Value {
    json!({"type": "oom", "id": c.id()})
}
