//! A runtime process killed with SIGKILL at any point leaves state that the next command
//! reports and repairs.

mod common;

use std::time::{Duration, Instant};

use common::{kind, skip_if_not_root, Ctr, Kind};
use serde_json::json;

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kill `create` while a createRuntime hook runs: the container process exists, its cgroup
/// and state dir too. Then `state` must say stopped and `delete` must remove everything.
#[test]
fn create_killed_midway_is_repaired_by_delete() {
    if skip_if_not_root() {
        return;
    }
    if kind() != Kind::Berth {
        println!("skipping for this runtime: runc keeps no state before create finishes");
        return;
    }
    let mut c = Ctr::new("crash-create");
    let marker = c.work.path().join("hook-started");
    c.args(&["true"]);
    c.edit(|v| {
        v["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("touch {}; sleep 5", marker.display())],
        }]});
    });
    c.write_config();
    let b = c.bundle_path().to_str().unwrap().to_string();
    let mut bg = common::Bg::spawn(&mut c.cmd(&["create", "--bundle", &b, &c.id]), None, None);
    wait_for("the hook to start", || marker.exists());
    assert_eq!(c.status().as_deref(), Some("creating"));
    bg.child.kill().unwrap();
    let _ = bg.child.wait();
    wait_for("state to report stopped", || {
        c.status().as_deref() == Some("stopped")
    });
    c.cli(&["delete", &c.id]).ok("delete after a killed create");
    c.assert_nothing_left();
}

/// Kill a foreground `run` while its container runs: the container goes on, and
/// `kill` + `delete` clean up as usual.
#[test]
fn run_killed_leaves_a_manageable_container() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("crash-run");
    c.args(&["sleep", "1000"]);
    c.write_config();
    let mut bg = c.spawn_run();
    wait_for("running", || c.status().as_deref() == Some("running"));
    bg.child.kill().unwrap();
    let _ = bg.child.wait();
    assert_eq!(c.status().as_deref(), Some("running"));
    c.cli(&["kill", &c.id, "KILL"]).ok("kill");
    wait_for("stopped", || c.status().as_deref() == Some("stopped"));
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}

/// Killed between `mkdir` of the state dir and the first state write: only the directory
/// exists. It shows as stopped, and delete removes it, so the id can be used again.
#[test]
fn bare_state_dir_is_repaired_by_delete() {
    if skip_if_not_root() {
        return;
    }
    if kind() != Kind::Berth {
        println!("skipping for this runtime: berth-runc's own state layout");
        return;
    }
    let mut c = Ctr::new("crash-bare");
    c.args(&["true"]);
    std::fs::create_dir_all(c.state_dir()).unwrap();
    assert_eq!(c.status().as_deref(), Some("stopped"));
    c.cli(&["delete", &c.id]).ok("delete of a bare state dir");
    c.run().ok("the id is free again");
    c.assert_nothing_left();
}
