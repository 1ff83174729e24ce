//! exec into a running container: same namespaces and cgroup, exit codes, -p process.json,
//! --detach, --env/--cwd/--user, and errors.

mod common;

use std::fs;
use std::time::{Duration, Instant};

use common::{ns_link, skip_if_not_root, Ctr};
use serde_json::json;

/// A running container whose init is `sleep 1000` (no cgroup namespace in its config).
fn running(name: &str) -> Ctr {
    let mut c = Ctr::new(name);
    c.args(&["sleep", "1000"]);
    c.run_detached().ok("run -d");
    c.wait_status("running");
    c
}

#[test]
fn exec_joins_namespaces_and_cgroup() {
    if skip_if_not_root() {
        return;
    }
    let c = running("exec-ns");
    let init = c.pid();
    let o = c
        .exec(&[
            "sh",
            "-c",
            "for n in pid mnt uts ipc net; do echo $n=$(readlink /proc/self/ns/$n); done; \
             echo self=$$; cat /proc/self/cgroup; ps",
        ])
        .ok("exec");
    for n in ["pid", "mnt", "uts", "ipc", "net"] {
        let want = ns_link(&format!("/proc/{init}/ns/{n}"));
        assert!(
            o.stdout.contains(&format!("{n}={want}")),
            "{n} must match init's {want}: {o:?}"
        );
        assert_ne!(want, ns_link(&format!("/proc/self/ns/{n}")));
    }
    // exec'd processes are not pid 1 in the container's pid namespace.
    assert!(!o.stdout.contains("self=1\n"), "{o:?}");
    // busybox ps: "PID USER TIME COMMAND" with pid 1 the init.
    assert!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().next() == Some("1") && l.contains("sleep 1000")),
        "ps shows pid 1 sleep: {o:?}"
    );
    // Same cgroup as init in every hierarchy (no cgroup namespace in this config, so the
    // paths are the host's).
    let init_cg = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    for line in init_cg.lines().filter(|l| l.contains(&c.cgroups_path)) {
        assert!(o.stdout.contains(line), "exec'd process in {line}: {o:?}");
    }
    assert!(
        init_cg
            .lines()
            .filter(|l| l.contains(&c.cgroups_path))
            .count()
            >= 3,
        "{init_cg}"
    );
}

#[test]
fn exec_exit_code_propagates() {
    if skip_if_not_root() {
        return;
    }
    let c = running("exec-code");
    for code in [0, 1, 7, 125] {
        let o = c.exec(&["sh", "-c", &format!("exit {code}")]);
        assert_eq!(o.code(), Some(code), "{o:?}");
    }
    // A missing binary fails (non-zero) and names it.
    let o = c.exec(&["/no/such/bin"]).failed("exec of a missing binary");
    assert!(o.all_lower().contains("/no/such/bin"), "{o:?}");
    // runc's convention for a failed exec, which engines rely on.
    if matches!(common::kind(), common::Kind::Berth | common::Kind::Runc) {
        assert_eq!(o.code(), Some(255), "{o:?}");
    }
    // The init is unaffected.
    assert_eq!(c.status().as_deref(), Some("running"));
}

#[test]
fn exec_env_cwd_user_flags() {
    if skip_if_not_root() {
        return;
    }
    let c = running("exec-flags");
    fs::create_dir_all(c.rootfs().join("work")).unwrap();
    let o = c
        .cli(&[
            "exec",
            "--env",
            "FOO=from-flag",
            "--cwd",
            "/work",
            "--user",
            "1000:1000",
            &c.id,
            "sh",
            "-c",
            "echo $FOO $(pwd) $(id -u) $(id -g)",
        ])
        .ok("exec with flags");
    assert_eq!(o.out(), "from-flag /work 1000 1000");
    // Without flags: the config's env (PATH) and cwd /, uid 0.
    let o = c
        .exec(&["sh", "-c", "echo $(pwd) $(id -u) $PATH"])
        .ok("exec");
    assert!(o.out().starts_with("/ 0 "), "{o:?}");
}

#[test]
fn exec_with_process_json() {
    if skip_if_not_root() {
        return;
    }
    let c = running("exec-p");
    let p = c.work.path().join("process.json");
    fs::write(
        &p,
        serde_json::to_vec(&json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [10]},
            "args": ["sh", "-c", "echo $BAR $(pwd) $(id -u) $(id -G); grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; exit 9"],
            "env": ["PATH=/bin", "BAR=from-json"],
            "cwd": "/tmp",
            "capabilities": {
                "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]
            },
            "noNewPrivileges": true
        }))
        .unwrap(),
    )
    .unwrap();
    let o = c.cli(&["exec", "-p", p.to_str().unwrap(), &c.id]);
    assert_eq!(o.code(), Some(9), "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("from-json /tmp 1000 1000 10"),
        "{o:?}"
    );
    assert_eq!(
        common::status_field(&o.stdout, "CapEff"),
        Some(common::cap_mask(&["CAP_KILL"]).as_str())
    );
    assert_eq!(common::status_field(&o.stdout, "NoNewPrivs"), Some("1"));
    // --process is the long form.
    let o = c.cli(&["exec", "--process", p.to_str().unwrap(), &c.id]);
    assert_eq!(o.code(), Some(9), "{o:?}");
}

#[test]
fn exec_detach() {
    if skip_if_not_root() {
        return;
    }
    let c = running("exec-detach");
    let pid_file = c.work.path().join("exec.pid");
    let o = c
        .cli(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &c.id,
            "sh",
            "-c",
            "echo detached > /tmp/marker; sleep 1000",
        ])
        .ok("exec --detach");
    assert!(o.elapsed < Duration::from_secs(10));
    let pid: i32 = fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .unwrap();
    // The detached process runs in the container's pid namespace.
    assert_eq!(
        ns_link(&format!("/proc/{pid}/ns/pid")),
        ns_link(&format!("/proc/{}/ns/pid", c.pid()))
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if fs::read_to_string(c.rootfs().join("tmp/marker")).unwrap_or_default() == "detached\n" {
            break;
        }
        assert!(Instant::now() < deadline, "detached exec never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    // delete --force kills every process of the container, the exec'd one included.
    c.cli(&["delete", "--force", &c.id]).ok("delete --force");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}/ns")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z")
    {
        assert!(
            Instant::now() < deadline,
            "exec'd process {pid} survived delete --force"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    c.assert_nothing_left();
}

#[test]
fn exec_into_stopped_or_missing_container_fails() {
    if skip_if_not_root() {
        return;
    }
    let c = Ctr::new("exec-stopped");
    c.create().ok("create");
    c.start().ok("start");
    c.wait_status("stopped");
    c.exec(&["true"]).failed("exec into a stopped container");
    c.cli(&["exec", "no-such-container-xyz", "true"])
        .failed("exec into a missing container");
    c.cli(&["delete", &c.id]).ok("delete");
    c.assert_nothing_left();
}
