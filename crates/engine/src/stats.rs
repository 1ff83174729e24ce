//! `docker stats`: one sample of a container's counters, from its cgroup (CPU, memory,
//! pids, block I/O) and its network namespace (`/proc/PID/net/dev`), plus the host's CPU
//! time, which Docker's CPU percentage is relative to. Percentages need two samples; the
//! caller keeps the previous one.

use crate::container::{Container, Status};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// The counters Docker's CLI computes its columns from.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub id: String,
    pub name: String,
    pub running: bool,
    /// Nanoseconds of CPU the container used.
    pub cpu_total: u64,
    /// Nanoseconds of CPU the host used (all CPUs), from /proc/stat.
    pub system: u64,
    pub online_cpus: u32,
    /// Bytes, page cache that can be dropped left out, as Docker's CLI does.
    pub mem_usage: u64,
    /// The limit, or the host's memory when unlimited.
    pub mem_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub pids: u64,
}

impl Sample {
    /// Docker's CPU %: the container's share of the host's CPU time between two samples,
    /// scaled to the number of CPUs.
    pub fn cpu_percent(&self, prev: &Sample) -> f64 {
        let cpu = self.cpu_total.saturating_sub(prev.cpu_total) as f64;
        let sys = self.system.saturating_sub(prev.system) as f64;
        if cpu > 0.0 && sys > 0.0 {
            cpu / sys * f64::from(self.online_cpus.max(1)) * 100.0
        } else {
            0.0
        }
    }

    pub fn mem_percent(&self) -> f64 {
        if self.mem_limit == 0 {
            0.0
        } else {
            self.mem_usage as f64 / self.mem_limit as f64 * 100.0
        }
    }
}

/// The host's CPU time in nanoseconds: the `cpu` line of /proc/stat, in USER_HZ ticks.
fn system_usage() -> u64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take(7)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100);
    ticks.saturating_mul(1_000_000_000 / hz)
}

/// Online CPUs of the host: the system time from /proc/stat covers all of them.
pub(crate) fn online_cpus() -> u32 {
    // SAFETY: sysconf only reads a configuration value.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u32::try_from(n).ok().filter(|n| *n > 0).unwrap_or(1)
}

pub(crate) fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Received and sent bytes on every interface but loopback, as the container sees them.
fn net(pid: i32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    let mut rx = 0;
    let mut tx = 0;
    for l in text.lines().skip(2) {
        let Some((iface, rest)) = l.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        rx += f.first().copied().unwrap_or(0);
        tx += f.get(8).copied().unwrap_or(0);
    }
    (rx, tx)
}

impl Engine {
    /// One sample of `c`'s counters; a container that isn't running gives zeros.
    pub fn stats_sample(&mut self, c: &Container) -> Result<Sample> {
        let mut s = Sample {
            id: c.id.clone(),
            name: c.name.clone(),
            ..Default::default()
        };
        if !matches!(c.state.status, Status::Running | Status::Paused) {
            return Ok(s);
        }
        let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
        let st = berth_runtime::update::stats(&rc)
            .map_err(|e| EngineError::Invalid(format!("stats of {}: {e}", c.name)))?;
        s.running = true;
        s.system = system_usage();
        s.cpu_total = st.cpu.usage_total;
        s.online_cpus = online_cpus();
        let m = &st.memory;
        // v1 says total_inactive_file, v2 inactive_file: cache the kernel can drop.
        let inactive = m
            .stat
            .get("total_inactive_file")
            .or_else(|| m.stat.get("inactive_file"))
            .copied()
            .unwrap_or(0);
        s.mem_usage = if inactive < m.usage {
            m.usage - inactive
        } else {
            m.usage
        };
        let host = host_memory();
        s.mem_limit = if m.limit == 0 || (host > 0 && m.limit > host) {
            host
        } else {
            m.limit
        };
        for e in &st.blkio.io_service_bytes {
            match e.op.to_ascii_lowercase().as_str() {
                "read" => s.blk_read += e.value,
                "write" => s.blk_write += e.value,
                _ => {}
            }
        }
        s.pids = st.pids.current;
        (s.net_rx, s.net_tx) = net(c.state.pid);
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_is_docker_s() {
        let a = Sample {
            cpu_total: 1_000,
            system: 10_000,
            online_cpus: 2,
            ..Default::default()
        };
        // Half of the host's time over two CPUs is one whole CPU: 100%.
        let b = Sample {
            cpu_total: 6_000,
            system: 20_000,
            ..a.clone()
        };
        assert!((b.cpu_percent(&a) - 100.0).abs() < 1e-9);
        assert_eq!(a.cpu_percent(&a), 0.0);
        let m = Sample {
            mem_usage: 25,
            mem_limit: 100,
            ..Default::default()
        };
        assert_eq!(m.mem_percent(), 25.0);
        assert_eq!(Sample::default().mem_percent(), 0.0);
    }

    #[test]
    fn host_facts() {
        assert!(online_cpus() >= 1);
        assert!(host_memory() > 0);
        assert!(system_usage() > 0);
    }
}
