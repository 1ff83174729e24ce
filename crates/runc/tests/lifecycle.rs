//! Lifecycle verbs: create, start, state, kill, delete, run, list, spec, features.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{skip_if_not_root, Ctr, CMD_TIMEOUT};
use serde_json::{json, Value};

/// Adds a bind mount of a host dir at /trigger so the test can make the init exit.
fn with_trigger(c: &mut Ctr) -> std::path::PathBuf {
    let dir = c.work.path().join("trigger");
    fs::create_dir_all(&dir).unwrap();
    c.add_mount(json!({
        "destination": "/trigger",
        "type": "bind",
        "source": dir,
        "options": ["rbind", "rw"]
    }));
    dir
}

#[test]
fn create_start_state_delete() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("lifecycle");
    let trigger = with_trigger(&mut c);
    c.sh("echo started; while [ ! -e /trigger/go ]; do sleep 0.02; done; echo leaving");
    let pid_file = c.work.path().join("pid");
    let b = c.bundle_path().to_str().unwrap().to_string();
    c.cli_inherit(&[
        "create",
        "--bundle",
        &b,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &c.id,
    ])
    .ok("create");

    let s = c.state().expect("state after create");
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], c.id.as_str());
    let pid = s["pid"].as_i64().expect("pid in created state");
    assert!(pid > 0, "{s}");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(
        Path::new(s["bundle"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        c.bundle_path().canonicalize().unwrap()
    );
    assert!(s["ociVersion"].is_string(), "{s}");
    assert!(s["created"].is_string(), "{s}");
    let pid_in_file: i64 = fs::read_to_string(&pid_file)
        .expect("--pid-file written")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid_in_file, pid);
    // The init has not started the user process yet.
    assert_eq!(c.ctr_stdout(), "");

    c.start().ok("start");
    let s = c.wait_status("running");
    assert_eq!(s["pid"].as_i64(), Some(pid));
    // A second start is an error.
    c.start().failed("start of a running container");
    // delete without --force refuses a running container.
    c.cli(&["delete", &c.id])
        .failed("delete of a running container");

    fs::write(trigger.join("go"), "").unwrap();
    let s = c.wait_status("stopped");
    assert_eq!(s["id"], c.id.as_str());
    assert_eq!(c.ctr_stdout(), "started\nleaving\n");

    c.cli(&["delete", &c.id]).ok("delete");
    c.cli(&["state", &c.id]).failed("state after delete");
    c.assert_nothing_left();
}

#[test]
fn run_returns_exit_code() {
    if skip_if_not_root() {
        return;
    }
    for (script, code) in [("exit 0", 0), ("exit 3", 3), ("echo out; exit 42", 42)] {
        let mut c = Ctr::new("runcode");
        c.sh(script);
        let o = c.run();
        assert_eq!(o.code(), Some(code), "{script}: {o:?}");
        if code == 42 {
            assert_eq!(o.stdout, "out\n");
        }
        c.assert_nothing_left();
    }
}

#[test]
fn run_killed_by_signal_is_128_plus_n() {
    if skip_if_not_root() {
        return;
    }
    for (sig, n) in [("KILL", 9), ("SIGKILL", 9), ("9", 9)] {
        let mut c = Ctr::new("runsig");
        c.args(&["sleep", "1000"]);
        let bg = c.spawn_run();
        c.wait_status("running");
        c.cli(&["kill", &c.id, sig]).ok("kill");
        let o = bg.wait(CMD_TIMEOUT);
        assert_eq!(o.code(), Some(128 + n), "kill {sig}: {o:?}");
        c.assert_nothing_left();
    }
}

#[test]
fn kill_default_is_sigterm() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("sigterm");
    // pid 1 ignores signals without a handler, so install one for TERM only.
    c.sh("trap 'echo got-term; exit 7' TERM; echo ready; while true; do sleep 0.02; done");
    c.run_detached().ok("run -d");
    c.wait_status("running");
    // Wait until the trap is installed.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !c.ctr_stdout().contains("ready") {
        assert!(std::time::Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(10));
    }
    c.cli(&["kill", &c.id]).ok("kill (default signal)");
    c.wait_status("stopped");
    assert!(c.ctr_stdout().contains("got-term"), "{}", c.ctr_stdout());
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}

#[test]
fn list_shows_container() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("list");
    c.args(&["sleep", "1000"]);
    c.create().ok("create");

    let o = c.cli(&["list"]).ok("list");
    let header = o.stdout.lines().next().unwrap_or_default().to_string();
    assert!(header.contains("ID") && header.contains("STATUS"), "{o:?}");
    let line = o
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(c.id.as_str()))
        .unwrap_or_else(|| panic!("list lacks {}: {o:?}", c.id));
    assert!(line.contains("created"), "{line}");

    let o = c.cli(&["list", "-q"]).ok("list -q");
    assert_eq!(o.stdout.trim(), c.id, "one container in this root");

    let o = c.cli(&["list", "--format", "json"]).ok("list json");
    let v: Value = serde_json::from_str(&o.stdout).expect("list json");
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 1, "{v}");
    assert_eq!(arr[0]["id"], c.id.as_str());
    assert_eq!(arr[0]["status"], "created");
    assert_eq!(arr[0]["pid"].as_i64(), Some(c.pid() as i64));

    c.start().ok("start");
    c.wait_status("running");
    let o = c.cli(&["list", "--format", "json"]).ok("list json");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v[0]["status"], "running");

    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    let o = c.cli(&["list", "-q"]).ok("list -q");
    assert_eq!(o.stdout.trim(), "");
    c.assert_nothing_left();
}

#[test]
fn duplicate_id_fails() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("dup");
    c.args(&["sleep", "1000"]);
    c.create().ok("create");
    let pid = c.pid();
    let o = c.create().failed("second create with the same id");
    assert!(o.all_lower().contains(&c.id.to_lowercase()) || o.all_lower().contains("exist"));
    // The first container is untouched.
    assert_eq!(c.status().as_deref(), Some("created"));
    assert_eq!(c.pid(), pid);
}

#[test]
fn kill_of_stopped_container_fails() {
    if skip_if_not_root() {
        return;
    }
    let c = Ctr::new("killstopped");
    c.create().ok("create");
    c.start().ok("start");
    c.wait_status("stopped");
    let o = c.cli(&["kill", &c.id, "KILL"]).failed("kill of stopped");
    assert!(!o.stderr.trim().is_empty(), "an error message: {o:?}");
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}

#[test]
fn delete_force_running_container() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("forcedel");
    c.args(&["sleep", "1000"]);
    c.run_detached().ok("run -d");
    c.wait_status("running");
    let pid = c.pid();
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    assert!(c.state().is_none(), "state after delete must fail");
    // The init is gone (it may linger as a zombie of a reaper only briefly).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let st = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if st.is_empty() || st.contains(") Z") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "init {pid} still alive: {st}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    c.assert_nothing_left();
}

#[test]
fn delete_force_created_container() {
    if skip_if_not_root() {
        return;
    }
    let c = Ctr::new("forcedel-created");
    c.create().ok("create");
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    assert!(c.state().is_none());
    c.assert_nothing_left();
}

#[test]
fn spec_writes_default_config() {
    if skip_if_not_root() {
        return;
    }
    let dir = common::open_tempdir("berth-spec-");
    common::run_cmd(
        std::process::Command::new(common::runtime())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path()),
        CMD_TIMEOUT,
    )
    .ok("spec");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("config.json")).unwrap()).unwrap();
    assert!(v["ociVersion"].as_str().is_some_and(|s| s.starts_with('1')));
    assert_eq!(v["root"]["path"], "rootfs");
    assert!(v["process"]["args"].is_array());
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&want), "{ns:?}");
    }
    // A second spec refuses to overwrite (runc: "File config.json exists. Remove it first").
    common::run_cmd(
        std::process::Command::new(common::runtime())
            .arg("spec")
            .arg("--bundle")
            .arg(dir.path()),
        CMD_TIMEOUT,
    )
    .failed("spec over an existing config.json");
}

#[test]
fn features_reports_json() {
    if skip_if_not_root() {
        return;
    }
    let o = common::run_cmd(
        std::process::Command::new(common::runtime()).arg("features"),
        CMD_TIMEOUT,
    )
    .ok("features");
    let v: Value = serde_json::from_str(&o.stdout).expect("features prints JSON");
    assert!(v["ociVersionMin"].is_string(), "{v}");
    assert!(v["ociVersionMax"].is_string(), "{v}");
    let hooks: Vec<&str> = v["hooks"]
        .as_array()
        .expect("hooks")
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "{hooks:?}");
    }
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("linux.namespaces")
        .iter()
        .filter_map(|h| h.as_str())
        .collect();
    for n in ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"] {
        assert!(ns.contains(&n), "{ns:?}");
    }
    assert!(v["mountOptions"].is_array(), "{v}");
}

#[test]
fn log_file_and_json_format() {
    if skip_if_not_root() {
        return;
    }
    let c = Ctr::new("logfile");
    let log = c.work.path().join("log.json");
    c.cli(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "start",
        "no-such-container-xyz",
    ])
    .failed("start of a missing container");
    let text = fs::read_to_string(&log).expect("--log file written");
    let entries: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line {l:?}: {e}")))
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e["level"] == "error" && e["msg"].as_str().is_some_and(|m| !m.is_empty())),
        "an error entry with level and msg: {text}"
    );
    // The text format writes something readable too.
    let log = c.work.path().join("log.txt");
    c.cli(&[
        "--log",
        log.to_str().unwrap(),
        "start",
        "no-such-container-xyz",
    ])
    .failed("start of a missing container");
    let text = fs::read_to_string(&log).expect("--log file written");
    assert!(text.contains("error"), "{text}");
}
