//! Time namespaces, scheduling, I/O priority, CPU affinity, NUMA policy and personality.

mod common;

use common::{skip_for_runc, skip_if_not_root, Ctr};
use serde_json::json;

#[test]
fn time_namespace_offsets() {
    if skip_if_not_root() || skip_for_runc("runc 1.1 has no time namespace support") {
        return;
    }
    let mut c = Ctr::new("timens");
    c.add_namespace(json!({"type": "time"}));
    c.edit(|v| {
        v["linux"]["timeOffsets"] = json!({"boottime": {"secs": 31_536_000, "nanosecs": 0}});
    });
    c.sh("cut -d. -f1 /proc/uptime; readlink /proc/self/ns/time");
    let o = c.run().ok("run");
    let mut lines = o.stdout.lines();
    let uptime: u64 = lines.next().unwrap_or("0").parse().unwrap();
    assert!(uptime >= 31_536_000, "boottime offset not applied: {o:?}");
    let host = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert_ne!(lines.next().unwrap_or(""), host.to_str().unwrap(), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn scheduler_ioprio_affinity_personality() {
    if skip_if_not_root() || skip_for_runc("runc 1.1 predates these runtime-spec 1.2 fields") {
        return;
    }
    let mut c = Ctr::new("tuning");
    c.edit(|v| {
        v["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 5});
        v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        v["process"]["execCPUAffinity"] = json!({"final": "0"});
        v["linux"]["personality"] = json!({"domain": "LINUX32"});
        v["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0"});
    });
    c.sh("grep -E '^policy' /proc/self/sched | tr -d ' '; \
         cut -d' ' -f19 /proc/self/stat; ionice; \
         grep Cpus_allowed_list /proc/self/status | tr -d '\\t '; uname -m; \
         grep -c bind:0 /proc/self/numa_maps");
    let o = c.run().ok("run");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"policy:3"), "SCHED_BATCH: {o:?}");
    assert_eq!(lines.get(1), Some(&"5"), "nice: {o:?}");
    assert!(
        lines.get(2).is_some_and(|l| l.starts_with("idle")),
        "ionice: {o:?}"
    );
    assert_eq!(lines.get(3), Some(&"Cpus_allowed_list:0"), "{o:?}");
    assert!(
        lines
            .get(4)
            .is_some_and(|l| l.starts_with('i') && l.ends_with("86")),
        "{o:?}"
    );
    assert!(
        lines.get(5).and_then(|n| n.parse::<u32>().ok()) > Some(0),
        "{o:?}"
    );
    c.assert_nothing_left();
}

#[test]
fn unsupported_features_are_refused_by_name() {
    if skip_if_not_root() || skip_for_runc("runc 1.1 ignores these fields") {
        return;
    }
    let mut c = Ctr::new("netdev");
    c.args(&["true"]);
    c.edit(|v| v["linux"]["netDevices"] = json!({"berth-nonexistent0": {}}));
    let o = c.run().failed("netDevices");
    assert!(o.stderr.contains("netDevices"), "{o:?}");
    let mut c = Ctr::new("timeoff");
    c.args(&["true"]);
    c.edit(|v| v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}}));
    let o = c.run().failed("timeOffsets without a time namespace");
    assert!(o.stderr.contains("timeOffsets"), "{o:?}");
    c.assert_nothing_left();
}
