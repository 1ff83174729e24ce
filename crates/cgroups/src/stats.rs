use std::collections::BTreeMap;

use serde::Serialize;

/// A snapshot of a cgroup's counters. Values a host does not expose stay at their default.
/// "No limit" is reported as `u64::MAX`, as runc does.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    /// Keyed by page size as the kernel names it ("2MB", "1GB").
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// All times in nanoseconds.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct CpuStats {
    pub usage_total: u64,
    pub usage_user: u64,
    pub usage_system: u64,
    /// v1 only (cpuacct.usage_percpu).
    pub usage_per_cpu: Vec<u64>,
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct MemoryStats {
    pub usage: u64,
    /// v1 max_usage_in_bytes, v2 memory.peak (when the kernel has it).
    pub max_usage: u64,
    pub limit: u64,
    /// v1 failcnt; v2 the "max" count of memory.events.
    pub failcnt: u64,
    /// Memory plus swap, like v1 memsw and the OCI `swap` field; v2 values are converted.
    pub swap_usage: u64,
    pub swap_limit: u64,
    pub oom_kill: u64,
    /// memory.stat as the kernel prints it (cache, rss, total_inactive_file, anon, file, ...).
    pub stat: BTreeMap<String, u64>,
}

#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct PidsStats {
    pub current: u64,
    /// `None` when unlimited.
    pub limit: Option<u64>,
}

#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct BlkioStats {
    pub io_service_bytes: Vec<BlkioEntry>,
    pub io_serviced: Vec<BlkioEntry>,
}

/// One device counter; `op` is "Read", "Write", "Sync", "Async", "Discard" or "Total", the
/// shape Docker's stats API uses.
#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct BlkioEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

#[derive(Serialize, Default, Debug, Clone, PartialEq, Eq)]
pub struct HugetlbStats {
    pub usage: u64,
    /// v1 only.
    pub max_usage: u64,
    pub limit: u64,
    pub failcnt: u64,
}
