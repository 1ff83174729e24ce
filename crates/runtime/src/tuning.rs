//! Scheduling, I/O priority, CPU affinity, NUMA policy and personality of the container
//! process: resolved in the parent, applied by the child just before it drops privileges.

use oci_spec::runtime::{
    IOPriorityClass, Linux, LinuxPersonalityDomain, LinuxSchedulerFlag, LinuxSchedulerPolicy,
    MemoryPolicyFlagType, MemoryPolicyModeType, Process,
};

use berth_sys::process::SchedAttr;

use crate::{Error, Result};

#[derive(Debug, Default)]
pub(crate) struct Tuning {
    personality: Option<libc::c_ulong>,
    ioprio: Option<(u32, u32)>,
    sched: Option<SchedAttr>,
    /// CPUs for the runtime's own process once it joined the container (exec's "initial").
    pub affinity_initial: Option<Vec<usize>>,
    affinity_final: Option<Vec<usize>>,
    mempolicy: Option<(i32, Vec<usize>)>,
}

/// Parses a cpu or node list such as `0-3,7`.
pub fn parse_list(s: &str, what: &str) -> Result<Vec<usize>> {
    let bad = || Error::Invalid(format!("{what}: invalid list {s:?} (want e.g. 0-3,7)"));
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if a > b || b >= 1024 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn sched(s: &oci_spec::runtime::Scheduler) -> Result<SchedAttr> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => 6,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::Invalid(
                "process.scheduler.policy SCHED_ISO is not implemented by Linux".into(),
            ))
        }
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(Error::Invalid(format!(
            "process.scheduler.nice {nice} is outside -20..19"
        )));
    }
    Ok(SchedAttr {
        policy: policy as u32,
        flags,
        nice,
        priority: s.priority().unwrap_or(0).max(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        ..SchedAttr::default()
    })
}

impl Tuning {
    pub(crate) fn new(p: &Process, linux: Option<&Linux>) -> Result<Self> {
        let mut t = Tuning::default();
        if let Some(io) = p.io_priority() {
            let class = match io.class() {
                IOPriorityClass::IoprioClassRt => 1,
                IOPriorityClass::IoprioClassBe => 2,
                IOPriorityClass::IoprioClassIdle => 3,
            };
            if !(0..=7).contains(&io.priority()) {
                return Err(Error::Invalid(format!(
                    "process.ioPriority.priority {} is outside 0..7",
                    io.priority()
                )));
            }
            t.ioprio = Some((class, io.priority() as u32));
        }
        if let Some(s) = p.scheduler() {
            t.sched = Some(sched(s)?);
        }
        if let Some(a) = p.exec_cpu_affinity() {
            t.affinity_initial = a
                .initial()
                .as_deref()
                .map(|s| parse_list(s, "process.execCPUAffinity.initial"))
                .transpose()?;
            t.affinity_final = a
                .cpu_affinity_final()
                .as_deref()
                .map(|s| parse_list(s, "process.execCPUAffinity.final"))
                .transpose()?;
        }
        let Some(linux) = linux else { return Ok(t) };
        if let Some(per) = linux.personality() {
            if per.flags().as_ref().is_some_and(|f| !f.is_empty()) {
                return Err(Error::Invalid(format!(
                    "linux.personality.flags {:?}: no flags are supported",
                    per.flags().as_ref().unwrap_or(&Vec::new())
                )));
            }
            t.personality = Some(match per.domain() {
                LinuxPersonalityDomain::PerLinux => 0x0000,
                LinuxPersonalityDomain::PerLinux32 => 0x0008,
            });
        }
        if let Some(m) = linux.memory_policy() {
            let mut mode = match m.mode() {
                MemoryPolicyModeType::MpolDefault => 0,
                MemoryPolicyModeType::MpolPreferred => 1,
                MemoryPolicyModeType::MpolBind => 2,
                MemoryPolicyModeType::MpolInterleave => 3,
                MemoryPolicyModeType::MpolLocal => 4,
                MemoryPolicyModeType::MpolPreferredMany => 5,
                MemoryPolicyModeType::MpolWeightedInterleave => 6,
            };
            for f in m.flags().iter().flatten() {
                mode |= match f {
                    MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
                    MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
                    MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
                };
            }
            let nodes = m
                .nodes()
                .as_deref()
                .filter(|n| !n.is_empty())
                .map(|n| parse_list(n, "linux.memoryPolicy.nodes"))
                .transpose()?
                .unwrap_or_default();
            t.mempolicy = Some((mode, nodes));
        }
        Ok(t)
    }

    /// Applied by the container process while it still holds its capabilities.
    pub(crate) fn apply(&self) -> Result<()> {
        if let Some(p) = self.personality {
            berth_sys::process::personality(p)
                .map_err(|e| Error::Init(format!("linux.personality: {e}")))?;
        }
        if let Some((class, level)) = self.ioprio {
            berth_sys::process::ioprio_set(class, level)
                .map_err(|e| Error::Init(format!("process.ioPriority: {e}")))?;
        }
        if let Some(a) = &self.sched {
            berth_sys::process::sched_setattr(a)
                .map_err(|e| Error::Init(format!("process.scheduler: {e}")))?;
        }
        if let Some(cpus) = &self.affinity_final {
            berth_sys::process::set_affinity(cpus)
                .map_err(|e| Error::Init(format!("process.execCPUAffinity.final: {e}")))?;
        }
        if let Some((mode, nodes)) = &self.mempolicy {
            berth_sys::process::set_mempolicy(*mode, nodes)
                .map_err(|e| Error::Init(format!("linux.memoryPolicy: {e}")))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-2,5", "x").unwrap(), [0, 1, 2, 5]);
        assert_eq!(parse_list("3", "x").unwrap(), [3]);
        for bad in ["", "2-1", "a", "1-", "5000", ","] {
            assert!(parse_list(bad, "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_fields_resolve() {
        let p: Process = serde_json::from_str(
            r#"{"cwd":"/","args":["x"],"user":{"uid":0,"gid":0},
                "ioPriority":{"class":"IOPRIO_CLASS_IDLE","priority":4},
                "scheduler":{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]},
                "execCPUAffinity":{"initial":"0","final":"0-1"}}"#,
        )
        .unwrap();
        let t = Tuning::new(&p, None).unwrap();
        assert_eq!(t.ioprio, Some((3, 4)));
        let s = t.sched.unwrap();
        assert_eq!(
            (s.policy, s.nice, s.flags),
            (libc::SCHED_BATCH as u32, 5, 1)
        );
        assert_eq!(t.affinity_final, Some(vec![0, 1]));
    }
}
