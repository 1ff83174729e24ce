//! `events`: stats and OOM notices, as runc prints them.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{skip_if_not_root, Ctr};
use serde_json::{json, Value};

#[test]
fn stats_event_has_runc_shape() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("ev-stats");
    c.args(&["sleep", "1000"]);
    c.run_detached().ok("run -d");
    let o = c.cli(&["events", "--stats", &c.id]).ok("events --stats");
    let v: Value = serde_json::from_str(o.stdout.trim()).expect("one JSON object");
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], json!(c.id));
    assert!(v["data"]["pids"]["current"].as_u64() >= Some(1), "{v}");
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64() > Some(0),
        "{v}"
    );
    assert!(v["data"]["cpu"]["usage"]["total"].is_u64(), "{v}");
    c.cli(&["delete", "--force", &c.id]).ok("delete");
    c.assert_nothing_left();
}

/// A process OOM-killed inside a container that keeps running shows up as an oom event.
#[test]
fn oom_kill_is_an_event() {
    if skip_if_not_root() {
        return;
    }
    if !common::has_v1_controller("memory") {
        println!("skipping: no v1 memory controller on this host");
        return;
    }
    let swap = common::v1_cgroup_dir("memory", "/").join("memory.memsw.limit_in_bytes");
    let mut c = Ctr::new("ev-oom");
    c.edit(|v| {
        let mut mem = json!({"limit": 16 << 20});
        if swap.exists() {
            mem["swap"] = json!(16 << 20);
        }
        v["linux"]["resources"]["memory"] = mem;
    });
    // The init survives; a child subshell hogs memory and gets killed, again and again. The
    // hog marks itself the first to kill: the memory it fills sits in pipes, charged to the
    // cgroup but to nobody's RSS, so the kernel would otherwise pick among equals, the init
    // included.
    c.sh("while true; do (echo 1000 > /proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr '\\0' a)); sleep 0.2; done");
    c.run_detached().ok("run -d");
    let mut ev = c
        .cmd(&["events", "--interval", "1s", &c.id])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("events");
    let mut lines = BufReader::new(ev.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut saw_oom = false;
    while Instant::now() < deadline {
        let Some(Ok(line)) = lines.next() else { break };
        let v: Value = serde_json::from_str(&line).expect("JSON lines");
        if v["type"] == "oom" {
            saw_oom = true;
            break;
        }
    }
    c.cli(&["delete", "--force", &c.id]).ok("delete");
    let _ = ev.kill();
    let _ = ev.wait();
    assert!(saw_oom, "no oom event within 20s");
    c.assert_nothing_left();
}
