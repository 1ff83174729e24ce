//! `docker update`: new resource limits (and restart policy) for a container. They are
//! written to its record, so that they hold from its next start on and show in `inspect`,
//! and a running container gets them in its cgroup first: a limit the kernel refuses leaves
//! the record as it was.

use serde_json::{json, Value};

use crate::container::{self, Container, HostConfig, Status};
use crate::engine::Engine;
use crate::error::{EngineError, Result};

/// What to change; `None` leaves a setting alone.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    pub memory: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<u64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<i64>,
    pub blkio_weight: Option<u16>,
    pub restart: Option<String>,
}

/// Docker's minimum memory limit.
const MIN_MEMORY: i64 = 6 * 1024 * 1024;

/// The resources `spec::build` leaves to us: the settings `update` brought along.
pub(crate) fn more_resources(h: &HostConfig, res: &mut Value) {
    if h.nano_cpus == 0 {
        if h.cpu_period > 0 {
            res["cpu"]["period"] = json!(h.cpu_period);
        }
        if h.cpu_quota != 0 {
            res["cpu"]["quota"] = json!(h.cpu_quota);
        }
    }
    if !h.cpuset_mems.is_empty() {
        res["cpu"]["mems"] = json!(h.cpuset_mems);
    }
    if h.memory_reservation > 0 {
        res["memory"]["reservation"] = json!(h.memory_reservation);
    }
    if h.blkio_weight > 0 {
        res["blockIO"]["weight"] = json!(h.blkio_weight);
    }
    if h.oom_kill_disable {
        res["memory"]["disableOOMKiller"] = json!(true);
    }
}

/// The resource checks Docker's daemon makes at create (the ones `update` makes, with
/// nothing set before).
pub(crate) fn check_create(h: &HostConfig) -> Result<()> {
    if h.nano_cpus > 0 && h.cpu_period > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ));
    }
    if h.nano_cpus > 0 && h.cpu_quota > 0 {
        return Err(invalid(
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ));
    }
    let o = UpdateOptions {
        memory: Some(h.memory),
        memory_swap: (h.memory_swap != 0).then_some(h.memory_swap),
        memory_reservation: Some(h.memory_reservation),
        nano_cpus: Some(h.nano_cpus),
        cpu_period: Some(h.cpu_period),
        cpu_quota: Some(h.cpu_quota),
        blkio_weight: Some(h.blkio_weight),
        ..Default::default()
    };
    updated_from(HostConfig::default(), &o).map(|_| ())
}

/// What Docker's daemon warns about at create, worded as it words it (the CLI prints each
/// as `WARNING: ...`).
pub fn create_warnings(h: &HostConfig) -> Vec<String> {
    let mut w = Vec::new();
    if h.kernel_memory != 0 {
        w.push("Specifying a kernel memory limit is deprecated and will be removed in a future release.".to_string());
    }
    if h.blkio_weight > 0
        && std::path::Path::new("/sys/fs/cgroup/blkio").is_dir()
        && !std::path::Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists()
    {
        // The kernel's CFQ/BFQ weight is missing: the runtime leaves it unset.
        w.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".to_string());
    }
    if h.oom_kill_disable && h.memory == 0 {
        w.push("OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.".to_string());
    }
    w
}

/// The resource fields of Docker's `HostConfig` in `inspect`.
pub(crate) fn resources_json(h: &HostConfig) -> serde_json::Map<String, Value> {
    let v = json!({
        "Memory": h.memory,
        "MemorySwap": h.memory_swap,
        "MemoryReservation": h.memory_reservation,
        "NanoCpus": h.nano_cpus,
        "CpuShares": h.cpu_shares,
        "CpuPeriod": h.cpu_period,
        "CpuQuota": h.cpu_quota,
        "CpusetCpus": h.cpuset_cpus,
        "CpusetMems": h.cpuset_mems,
        "BlkioWeight": h.blkio_weight,
        "PidsLimit": if h.pids_limit > 0 { json!(h.pids_limit) } else { Value::Null },
        "OomKillDisable": h.oom_kill_disable,
        "KernelMemory": h.kernel_memory,
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Invalid(msg.into())
}

/// The new HostConfig, checked as Docker's daemon checks it.
fn updated(c: &Container, o: &UpdateOptions) -> Result<HostConfig> {
    updated_from(c.host_config.clone(), o)
}

fn updated_from(mut h: HostConfig, o: &UpdateOptions) -> Result<HostConfig> {
    if let Some(m) = o.memory {
        if m > 0 && m < MIN_MEMORY {
            return Err(invalid("Minimum memory limit allowed is 6MB"));
        }
        if o.memory_swap.is_none() && h.memory_swap > 0 && m > h.memory_swap {
            return Err(invalid("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"));
        }
        h.memory = m.max(0);
    }
    if let Some(s) = o.memory_swap {
        if s > 0 && s < h.memory {
            return Err(invalid(
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if s != 0 && h.memory == 0 {
            return Err(invalid(
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        h.memory_swap = s;
    }
    if let Some(r) = o.memory_reservation {
        if r > 0 && r < MIN_MEMORY {
            return Err(invalid("Minimum memory reservation allowed is 6MB"));
        }
        if h.memory > 0 && r > h.memory {
            return Err(invalid(
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
        h.memory_reservation = r;
    }
    let period_or_quota = o.cpu_period.is_some_and(|p| p > 0) || o.cpu_quota.is_some_and(|q| q > 0);
    if let Some(n) = o.nano_cpus {
        if n > 0 && (period_or_quota || h.cpu_period > 0 || h.cpu_quota > 0) {
            return Err(invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        if n < 0 || n > ncpu * 1_000_000_000 {
            return Err(invalid(format!(
                "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )));
        }
        h.nano_cpus = n;
    } else if period_or_quota && h.nano_cpus > 0 {
        return Err(invalid(
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set",
        ));
    }
    if let Some(p) = o.cpu_period {
        if p != 0 && !(1000..=1_000_000).contains(&p) {
            return Err(invalid(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
            ));
        }
        h.cpu_period = p;
    }
    if let Some(q) = o.cpu_quota {
        if q > 0 && q < 1000 {
            return Err(invalid(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ));
        }
        h.cpu_quota = q;
    }
    if let Some(s) = o.cpu_shares {
        h.cpu_shares = s;
    }
    if let Some(s) = &o.cpuset_cpus {
        h.cpuset_cpus = s.clone();
    }
    if let Some(s) = &o.cpuset_mems {
        h.cpuset_mems = s.clone();
    }
    if let Some(p) = o.pids_limit {
        h.pids_limit = p;
    }
    if let Some(w) = o.blkio_weight {
        if w != 0 && !(10..=1000).contains(&w) {
            return Err(invalid("Range of blkio weight is from 10 to 1000"));
        }
        h.blkio_weight = w;
    }
    if let Some(r) = &o.restart {
        if h.auto_remove && !matches!(r.as_str(), "" | "no") {
            return Err(invalid(
                "Restart policy cannot be updated because AutoRemove is enabled for the container",
            ));
        }
        h.restart = r.clone();
    }
    Ok(h)
}

/// The OCI resources that change a running container's cgroup from `old` to `new`: only
/// what changed, with "unlimited" spelled the way the cgroup library takes it.
fn live_resources(old: &HostConfig, new: &HostConfig) -> Result<oci_spec::runtime::LinuxResources> {
    let mut res = json!({});
    if new.memory != old.memory || new.memory_swap != old.memory_swap {
        let limit = if new.memory > 0 { new.memory } else { -1 };
        res["memory"]["limit"] = json!(limit);
        res["memory"]["swap"] = json!(match (new.memory, new.memory_swap) {
            (m, _) if m <= 0 => -1,
            (m, 0) => m * 2,
            (_, s) => s,
        });
        // A limit below what the container uses now is refused with a clear message rather
        // than left to the OOM killer.
        res["memory"]["checkBeforeUpdate"] = json!(true);
    }
    if new.memory_reservation != old.memory_reservation {
        res["memory"]["reservation"] = json!(if new.memory_reservation > 0 {
            new.memory_reservation
        } else {
            -1
        });
    }
    if new.nano_cpus != old.nano_cpus {
        res["cpu"]["period"] = json!(100_000);
        res["cpu"]["quota"] = json!(if new.nano_cpus > 0 {
            new.nano_cpus / 10_000
        } else {
            -1
        });
    }
    if new.cpu_period != old.cpu_period && new.cpu_period > 0 {
        res["cpu"]["period"] = json!(new.cpu_period);
    }
    if new.cpu_quota != old.cpu_quota {
        res["cpu"]["quota"] = json!(if new.cpu_quota > 0 { new.cpu_quota } else { -1 });
    }
    if new.cpu_shares != old.cpu_shares && new.cpu_shares > 0 {
        res["cpu"]["shares"] = json!(new.cpu_shares);
    }
    if new.cpuset_cpus != old.cpuset_cpus && !new.cpuset_cpus.is_empty() {
        res["cpu"]["cpus"] = json!(new.cpuset_cpus);
    }
    if new.cpuset_mems != old.cpuset_mems && !new.cpuset_mems.is_empty() {
        res["cpu"]["mems"] = json!(new.cpuset_mems);
    }
    if new.pids_limit != old.pids_limit {
        res["pids"]["limit"] = json!(if new.pids_limit > 0 {
            new.pids_limit
        } else {
            -1
        });
    }
    if new.blkio_weight != old.blkio_weight && new.blkio_weight > 0 {
        res["blockIO"]["weight"] = json!(new.blkio_weight);
    }
    serde_json::from_value(res).map_err(|e| invalid(format!("resources: {e}")))
}

impl Engine {
    /// `docker update`: checks the new settings, applies them to a running container's
    /// cgroup, then records them.
    pub fn update(&mut self, id: &str, o: &UpdateOptions) -> Result<Container> {
        let c = self.refresh(id)?;
        let new = updated(&c, o)?;
        if matches!(c.state.status, Status::Running | Status::Paused) {
            let res = live_resources(&c.host_config, &new)?;
            let rc = berth_runtime::Container::load(&self.runtime_root(), &c.id)?;
            berth_runtime::update::update(&rc, &res).map_err(|e| {
                EngineError::Invalid(format!("Cannot update container {}: {e}", c.id))
            })?;
        }
        container::update(&mut self.store, &c.id, |r| r.host_config = new.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(h: HostConfig) -> Container {
        Container {
            id: "0".repeat(64),
            name: "c".into(),
            image: String::new(),
            created: String::new(),
            config: Default::default(),
            host_config: h,
            state: Default::default(),
            path: String::new(),
            args: Vec::new(),
        }
    }

    #[test]
    fn docker_checks() {
        let c = with(HostConfig::default());
        let err = |o: UpdateOptions| updated(&c, &o).unwrap_err().to_string();
        assert!(err(UpdateOptions {
            memory: Some(1 << 20),
            ..Default::default()
        })
        .contains("6MB"));
        assert!(err(UpdateOptions {
            memory: Some(64 << 20),
            memory_swap: Some(32 << 20),
            ..Default::default()
        })
        .contains("larger than memory limit"));
        assert!(err(UpdateOptions {
            nano_cpus: Some(500_000_000),
            cpu_quota: Some(50_000),
            ..Default::default()
        })
        .contains("Conflicting options"));
        assert!(err(UpdateOptions {
            blkio_weight: Some(5),
            ..Default::default()
        })
        .contains("blkio weight"));
        let rm = with(HostConfig {
            auto_remove: true,
            ..Default::default()
        });
        let o = UpdateOptions {
            restart: Some("always".into()),
            ..Default::default()
        };
        assert!(updated(&rm, &o).is_err());
        // Memory above an existing swap limit needs the swap limit too.
        let swapped = with(HostConfig {
            memory: 64 << 20,
            memory_swap: 128 << 20,
            ..Default::default()
        });
        let o = UpdateOptions {
            memory: Some(256 << 20),
            ..Default::default()
        };
        assert!(updated(&swapped, &o).is_err());
        let o = UpdateOptions {
            memory: Some(256 << 20),
            memory_swap: Some(512 << 20),
            ..Default::default()
        };
        assert_eq!(updated(&swapped, &o).unwrap().memory_swap, 512 << 20);
    }

    #[test]
    fn live_resources_change_only_what_changed() {
        let old = HostConfig {
            memory: 64 << 20,
            pids_limit: 10,
            ..Default::default()
        };
        let new = HostConfig {
            memory: 64 << 20,
            pids_limit: 0,
            nano_cpus: 1_500_000_000,
            ..Default::default()
        };
        let r = live_resources(&old, &new).unwrap();
        assert!(r.memory().is_none());
        assert_eq!(r.pids().as_ref().map(|p| p.limit()), Some(-1));
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!((cpu.period(), cpu.quota()), (Some(100_000), Some(150_000)));
        let unlimited = HostConfig::default();
        let r = live_resources(&old, &unlimited).unwrap();
        let m = r.memory().as_ref().unwrap();
        assert_eq!((m.limit(), m.swap()), (Some(-1), Some(-1)));
    }
}
