//! cgroups v1 for real: memory limit and OOM kill, pids limit against a fork bomb, cpu
//! settings in the cgroup files, `update`, pause/resume through the freezer, `ps`, and the
//! container's own cgroup membership.

mod common;

use std::fs;

use common::{has_v1_controller, skip_if_not_root, Ctr};
use serde_json::{json, Value};

/// Skips unless the host runs these v1 controllers.
fn skip_without_v1(controllers: &[&str]) -> bool {
    for c in controllers {
        if !has_v1_controller(c) {
            println!("skipping: cgroup v1 controller {c} is not mounted");
            return true;
        }
    }
    false
}

#[test]
fn memory_limit_oom_kills() {
    if skip_if_not_root() || skip_without_v1(&["memory"]) {
        return;
    }
    let swap = common::v1_cgroup_dir("memory", "/").join("memory.memsw.limit_in_bytes");
    let mut c = Ctr::new("oom");
    c.edit(|v| {
        let mut mem = json!({"limit": 16 << 20});
        if swap.exists() {
            mem["swap"] = json!(16 << 20);
        }
        v["linux"]["resources"]["memory"] = mem;
    });
    // The shell buffers 64 MiB of command substitution output: far above the limit.
    c.sh("x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}");
    let o = c.run();
    assert!(!o.stdout.contains("survived"), "{o:?}");
    assert_eq!(
        o.code(),
        Some(137),
        "OOM kill is SIGKILL, run exits 128+9: {o:?}"
    );
    c.assert_nothing_left();
}

#[test]
fn memory_limit_files_and_update() {
    if skip_if_not_root() || skip_without_v1(&["memory"]) {
        return;
    }
    let mut c = Ctr::new("memupdate");
    c.edit(|v| {
        v["linux"]["resources"]["memory"] = json!({"limit": 32 << 20, "reservation": 16 << 20})
    });
    c.args(&["sleep", "1000"]);
    c.create().ok("create");
    assert_eq!(
        c.cgroup_file("memory", "memory.limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        c.cgroup_file("memory", "memory.soft_limit_in_bytes"),
        (16u64 << 20).to_string()
    );
    // The init is in the cgroup.
    let pid = c.pid().to_string();
    let procs = c.cgroup_file("memory", "cgroup.procs");
    assert!(procs.lines().any(|l| l == pid), "{procs}");

    c.start().ok("start");
    c.wait_status("running");
    c.cli(&[
        "update",
        "--memory",
        "67108864",
        "--pids-limit",
        "20",
        &c.id,
    ])
    .ok("update");
    assert_eq!(c.cgroup_file("memory", "memory.limit_in_bytes"), "67108864");
    if has_v1_controller("pids") {
        assert_eq!(c.cgroup_file("pids", "pids.max"), "20");
    }
    // update -r with a JSON resources file.
    let res = c.work.path().join("res.json");
    fs::write(
        &res,
        serde_json::to_vec(&json!({"memory": {"limit": 50331648}, "cpu": {"shares": 256}}))
            .unwrap(),
    )
    .unwrap();
    c.cli(&["update", "-r", res.to_str().unwrap(), &c.id])
        .ok("update -r");
    assert_eq!(c.cgroup_file("memory", "memory.limit_in_bytes"), "50331648");
    if has_v1_controller("cpu") {
        assert_eq!(c.cgroup_file("cpu", "cpu.shares"), "256");
    }
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    c.assert_nothing_left();
}

#[test]
fn pids_limit_stops_fork_bomb() {
    if skip_if_not_root() || skip_without_v1(&["pids"]) {
        return;
    }
    let mut c = Ctr::new("pids");
    c.edit(|v| v["linux"]["resources"]["pids"] = json!({"limit": 10}));
    c.sh("for i in $(seq 1 30); do sleep 5 & done; echo all-forked");
    let o = c.run();
    assert!(!o.stdout.contains("all-forked"), "{o:?}");
    let all = o.all_lower();
    assert!(
        all.contains("can't fork") || all.contains("resource temporarily unavailable"),
        "{o:?}"
    );
    assert_ne!(o.code(), Some(0), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn cpu_settings_land_in_cgroup_files() {
    if skip_if_not_root() || skip_without_v1(&["cpu", "cpuset"]) {
        return;
    }
    let mut c = Ctr::new("cpu");
    c.edit(|v| {
        v["linux"]["resources"]["cpu"] = json!({
            "shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"
        })
    });
    c.sh("cat /proc/self/cgroup; sleep 1000");
    c.run_detached().ok("run -d");
    c.wait_status("running");
    assert_eq!(c.cgroup_file("cpu", "cpu.shares"), "512");
    assert_eq!(c.cgroup_file("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(c.cgroup_file("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(c.cgroup_file("cpuset", "cpuset.cpus"), "0");
    assert_eq!(c.cgroup_file("cpuset", "cpuset.mems"), "0");
    c.cli(&[
        "update",
        "--cpu-quota",
        "20000",
        "--cpu-period",
        "50000",
        &c.id,
    ])
    .ok("update cpu");
    assert_eq!(c.cgroup_file("cpu", "cpu.cfs_quota_us"), "20000");
    assert_eq!(c.cgroup_file("cpu", "cpu.cfs_period_us"), "50000");
    // The process sees itself in its cgroupsPath (no cgroup namespace in this config).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let cg = loop {
        let cg = c.ctr_stdout();
        if cg.lines().count() >= 3 || std::time::Instant::now() > deadline {
            break cg;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    for ctrl in ["cpu", "memory", "pids"] {
        let line = cg
            .lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|cs| cs.split(',').any(|x| x == ctrl))
            })
            .unwrap_or_else(|| panic!("no {ctrl} line: {cg}"));
        assert!(line.ends_with(&c.cgroups_path), "{line}");
    }
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    c.assert_nothing_left();
}

#[test]
fn pause_and_resume() {
    if skip_if_not_root() || skip_without_v1(&["freezer"]) {
        return;
    }
    let mut c = Ctr::new("pause");
    c.args(&["sleep", "1000"]);
    c.run_detached().ok("run -d");
    c.wait_status("running");
    c.cli(&["pause", &c.id]).ok("pause");
    assert_eq!(c.cgroup_file("freezer", "freezer.state"), "FROZEN");
    assert_eq!(c.status().as_deref(), Some("paused"));
    let pid = c.pid();
    let stat = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let st = common::status_field(&stat, "State")
        .unwrap_or_default()
        .to_string();
    assert!(
        st.starts_with('D') || st.starts_with('S'),
        "frozen task state: {st}"
    );
    // Pausing twice is an error; so is resuming a running container.
    c.cli(&["pause", &c.id])
        .failed("pause of a paused container");
    c.cli(&["resume", &c.id]).ok("resume");
    assert_eq!(c.cgroup_file("freezer", "freezer.state"), "THAWED");
    assert_eq!(c.status().as_deref(), Some("running"));
    c.cli(&["resume", &c.id])
        .failed("resume of a running container");
    // delete --force also works on a paused container.
    c.cli(&["pause", &c.id]).ok("pause");
    c.cli(&["delete", "--force", &c.id])
        .ok("delete --force paused");
    c.assert_nothing_left();
}

#[test]
fn ps_lists_container_processes() {
    if skip_if_not_root() {
        return;
    }
    if std::process::Command::new("ps")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipping: host `ps` (procps) is not installed; runc's ps needs it");
        return;
    }
    let mut c = Ctr::new("ps");
    c.sh("sleep 1000 & sleep 1000");
    c.run_detached().ok("run -d");
    c.wait_status("running");
    let init = c.pid();
    // Wait until the background sleep exists too (pid 1 sh + 2 sleeps, or sh exec'd).
    let procs_file = c.cgroup_dir("pids").join("cgroup.procs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = fs::read_to_string(&procs_file)
            .unwrap_or_default()
            .lines()
            .count();
        if n >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "children never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = c.cli(&["ps", "--format", "json", &c.id]).ok("ps json");
    let v: Value = serde_json::from_str(&o.stdout).expect("ps json");
    let pids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_i64())
        .collect();
    assert!(pids.contains(&(init as i64)), "{pids:?} lacks init {init}");
    assert!(pids.len() >= 2, "{pids:?}");
    let o = c.cli(&["ps", &c.id]).ok("ps table");
    let header = o.stdout.lines().next().unwrap_or_default();
    assert!(header.contains("PID"), "{o:?}");
    assert!(o.stdout.contains("sleep"), "{o:?}");
    assert!(
        o.stdout
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(1) == Some(&*init.to_string())),
        "{o:?}"
    );
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    c.assert_nothing_left();
}

#[test]
fn cgroup_namespace_hides_path() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("cgns");
    c.add_namespace(json!({"type": "cgroup"}));
    c.args(&["cat", "/proc/self/cgroup"]);
    let o = c.run().ok("run");
    for l in o.stdout.lines() {
        let path = l.splitn(3, ':').nth(2).unwrap_or_default();
        assert!(
            !path.contains("berth-test"),
            "cgroup namespace roots the view at the container's cgroup: {l}"
        );
    }
    c.assert_nothing_left();
}
