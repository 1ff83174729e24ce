//! Containers end to end through the `berth` binary: real containers from a busybox image,
//! each with its monitor process, as root.

mod common;

use std::process::{Command, Stdio};

use common::{bin, sh, Env};
use common::{status, with_busybox};

/// Nothing of a removed container may remain: record, snapshot, files, runtime state.
fn assert_clean(e: &Env) {
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    let count = |p: &str| std::fs::read_dir(e.root().join(p)).map_or(0, |d| d.count());
    // An --rm container's monitor deletes its directories after it has reported the exit.
    for _ in 0..100 {
        if count("containers") + count("runtime") == 0 && count("s") == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(count("containers"), 0, "container dirs left");
    assert_eq!(count("runtime"), 0, "runtime state left");
    // Only the image's own layer snapshot stays.
    assert_eq!(count("s"), 1, "snapshots left");
}

#[test]
fn run_prints_output_and_returns_the_exit_status() {
    let e = with_busybox();
    let (code, out, err) = status(
        &e,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!((code, out.as_str(), err.as_str()), (3, "out\n", "err\n"));
    let (code, _, err) = status(&e, &["run", "--rm", "busybox", "nope"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("executable file not found"), "{err}");
    let (code, _, err) = status(&e, &["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(code, 126, "{err}");
    // A signal that ends the container's init gives 128+n (from outside: PID 1 ignores
    // SIGKILL from its own namespace).
    let id = e.ok(&["run", "-d", "busybox", "sleep", "100"]);
    e.ok(&["kill", id.trim()]);
    let code = e.ok(&["wait", id.trim()]);
    let why = e.ok(&["inspect", "-f", "{{.State.Error}}", id.trim()]);
    assert_eq!(code.trim(), "137", "{why}");
    e.ok(&["rm", id.trim()]);
    let (code, _, err) = status(&e, &["run", "--rm", "--bogus", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("unknown flag: --bogus"), "{err}");
    let (code, _, err) = status(&e, &["run", "--rm", "--pull", "never", "missing-image"]);
    assert_eq!(code, 125);
    assert!(err.contains("No such image: missing-image"), "{err}");
    assert_clean(&e);
}

#[test]
fn run_applies_flags_and_docker_defaults() {
    let e = with_busybox();
    let out = e.ok(&[
        "run",
        "--rm",
        "-e",
        "A=1",
        "-w",
        "/tmp",
        "-u",
        "1000:1000",
        "--hostname",
        "box",
        "busybox",
        "sh",
        "-c",
        "echo $A $(pwd) $(id -u):$(id -g) $(hostname)",
    ]);
    assert_eq!(out.trim(), "1 /tmp 1000:1000 box");
    let out = e.ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "echo",
        "busybox",
        "via",
        "entrypoint",
    ]);
    assert_eq!(out.trim(), "via entrypoint");
    // Docker's default capabilities (0x a80425fb), masked paths and a read-only /proc/sys.
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "grep CapEff /proc/self/status; cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro"]);
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(
        out.contains("\n0\n") && out.trim_end().ends_with("ro"),
        "{out}"
    );
    let out = e.ok(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "-E",
        "CapEff|NoNewPrivs",
        "/proc/self/status",
    ]);
    assert!(
        out.contains("CapEff:\t0000000000000000") && out.contains("NoNewPrivs:\t1"),
        "{out}"
    );
    let out = e.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname; grep -c localhost /etc/hosts; df -m /dev/shm | tail -1",
    ]);
    assert!(out.contains(" 64 "), "/dev/shm is 64 MiB: {out}");
    assert_clean(&e);
}

#[test]
fn detached_containers_logs_stop_rm() {
    let e = with_busybox();
    let id = e.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let ps = e.ok(&["ps"]);
    let header: Vec<&str> = ps
        .lines()
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    assert!(
        ps.contains(&id[..12]) && ps.contains("Up ") && ps.contains("ticker"),
        "{ps}"
    );
    assert_eq!(e.ok(&["logs", "ticker"]), "started\n");
    // A name in use, and rm of a running container, are refused and change nothing.
    let (code, _, err) = status(&e, &["run", "-d", "--name", "ticker", "busybox", "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("The container name \"/ticker\" is already in use"),
        "{err}"
    );
    let (code, _, err) = status(&e, &["rm", "ticker"]);
    assert_eq!(code, 1);
    assert!(err.contains("container is running"), "{err}");
    assert_eq!(e.ok(&["stop", "ticker"]).trim(), "ticker");
    assert_eq!(e.ok(&["wait", "ticker"]).trim(), "0");
    assert_eq!(e.ok(&["logs", "ticker"]), "started\nbye\n");
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}}|{{.Status}}"]);
    assert!(ps.starts_with("ticker|Exited (0)"), "{ps}");
    assert_eq!(e.ok(&["ps", "-q"]), "");
    e.ok(&["start", "ticker"]);
    assert!(e.ok(&["ps"]).contains("ticker"));
    e.ok(&["rm", "-f", "ticker"]);
    assert_clean(&e);
}

#[test]
fn containers_outlive_the_cli_and_a_dead_monitor_is_reconciled() {
    let e = with_busybox();
    // A foreground run whose CLI is killed: the container keeps running.
    let mut cli = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["run", "--name", "orphan", "busybox", "sleep", "1000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if e.ok(&["ps", "-q"]).lines().count() == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        e.ok(&["ps"]).contains("orphan"),
        "the container died with its CLI"
    );
    // kill -9 of the monitor: the next command reports the container as exited and cleans.
    let monitor = sh(&format!(
        "pgrep -f -- '__monitor {} ' | head -1",
        e.root().display()
    ));
    assert!(!monitor.trim().is_empty());
    sh(&format!("kill -9 {}", monitor.trim()));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(ps.trim(), "orphan exited", "{ps}");
    e.ok(&["rm", "orphan"]);
    assert_clean(&e);
}

#[test]
fn create_then_start_attached() {
    let e = with_busybox();
    let id = e.ok(&[
        "create",
        "--name",
        "later",
        "busybox",
        "echo",
        "from create",
    ]);
    assert_eq!(id.trim().len(), 64);
    assert!(e.ok(&["ps", "-a"]).contains("Created"));
    let (code, out, _) = status(&e, &["start", "-a", "later"]);
    assert_eq!((code, out.as_str()), (0, "from create\n"));
    e.ok(&["rm", "later"]);
    assert_clean(&e);
}

#[test]
fn exec_inspect_pause_rename() {
    let e = with_busybox();
    let id = e.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "-e",
        "FROM_RUN=1",
        "busybox",
        "sleep",
        "1000",
    ]);
    let id = id.trim().to_string();
    // exec: output, exit status, env, user, workdir; into the same namespaces.
    let out = e.ok(&[
        "exec",
        "-e",
        "X=2",
        "-w",
        "/tmp",
        "-u",
        "1000",
        "svc",
        "sh",
        "-c",
        "echo $FROM_RUN $X $(pwd) $(id -u)",
    ]);
    assert_eq!(out.trim(), "1 2 /tmp 1000");
    let (code, _, _) = status(&e, &["exec", "svc", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    let (code, _, err) = status(&e, &["exec", "svc", "nope"]);
    assert_eq!(code, 127, "{err}");
    let init_ns = sh(&format!("readlink /proc/$(berth_pid=$({} --root {} inspect -f '{{{{.State.Pid}}}}' svc); echo $berth_pid)/ns/pid", bin().display(), e.root().display()));
    let exec_ns = e.ok(&["exec", "svc", "readlink", "/proc/self/ns/pid"]);
    assert_eq!(init_ns.trim(), exec_ns.trim());
    let piped = Command::new(bin())
        .arg("--root")
        .arg(e.root())
        .args(["exec", "-i", "svc", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = piped.stdin.as_ref().unwrap();
        stdin.write_all(b"through exec -i\n").unwrap();
    }
    let mut piped = piped;
    drop(piped.stdin.take());
    let o = piped.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "through exec -i\n");
    // inspect: docker's shape and --format.
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "svc"])).unwrap();
    let c = &v[0];
    assert_eq!(c["Id"], id.as_str());
    assert_eq!(c["Name"], "/svc");
    assert_eq!(c["State"]["Status"], "running");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Config"]["Cmd"][0], "sleep");
    assert_eq!(c["Path"], "sleep");
    for k in [
        "Created",
        "Image",
        "HostConfig",
        "GraphDriver",
        "Mounts",
        "NetworkSettings",
        "LogPath",
    ] {
        assert!(c.get(k).is_some(), "inspect lacks {k}");
    }
    assert_eq!(
        e.ok(&[
            "container",
            "inspect",
            "-f",
            "{{.State.Status}} {{.Config.Image}}",
            &id[..12]
        ])
        .trim(),
        "running busybox"
    );
    // The image is still found by inspect, and a missing object fails.
    assert!(e
        .ok(&["inspect", "-f", "{{.Os}}", "busybox"])
        .contains("linux"));
    let (code, _, err) = status(&e, &["inspect", "nothing-here"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such object: nothing-here"), "{err}");
    // pause: frozen, exec refused; unpause.
    e.ok(&["pause", "svc"]);
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.State.Status}}", "svc"]).trim(),
        "paused"
    );
    let (code, _, err) = status(&e, &["exec", "svc", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("is paused"), "{err}");
    e.ok(&["unpause", "svc"]);
    e.ok(&["exec", "svc", "true"]);
    // rename, and a conflict.
    e.ok(&["rename", "svc", "svc2"]);
    e.ok(&["run", "-d", "--name", "other", "busybox", "sleep", "100"]);
    let (code, _, err) = status(&e, &["rename", "svc2", "other"]);
    assert_eq!(code, 1);
    assert!(err.contains("already in use"), "{err}");
    e.ok(&["container", "rm", "-f", "svc2", "other"]);
    // exec into a stopped container.
    e.ok(&["create", "--name", "idle", "busybox", "true"]);
    let (code, _, err) = status(&e, &["exec", "idle", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not running"), "{err}");
    e.ok(&["rm", "idle"]);
    assert_clean(&e);
}

#[test]
fn resource_mount_and_namespace_flags() {
    let e = with_busybox();
    let src = e.path("bindsrc");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("f"), "bound\n").unwrap();
    let vol = format!("{}:/data:ro", src.display());
    let mount = format!("type=bind,source={},target=/m", src.display());
    let out = e.ok(&[
        "run", "--rm", "-m", "64m", "--memory-swap", "128m", "--cpus", "0.5", "--cpu-shares", "512",
        "--pids-limit", "50", "--ulimit", "nofile=1024:2048", "--shm-size", "16m",
        "--tmpfs", "/scratch:size=1m", "-v", &vol, "--mount", &mount,
        "--mount", "type=tmpfs,target=/t2,tmpfs-size=2m", "--add-host", "db:10.1.2.3",
        "--dns", "10.0.0.53", "--dns-search", "example.com", "--sysctl", "net.ipv4.ip_forward=1",
        "--group-add", "50", "--stop-signal", "SIGUSR1", "--stop-timeout", "3",
        "busybox", "sh", "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/pids/pids.max; \
         ulimit -n; ulimit -Hn; df -m /dev/shm /scratch /t2 | tail -3 | awk '{print $2}'; cat /data/f /m/f; \
         touch /data/g 2>/dev/null || echo ro; grep db /etc/hosts; grep -E '^(nameserver|search)' /etc/resolv.conf; \
         cat /proc/sys/net/ipv4/ip_forward; id -G",
    ]);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "67108864",
            "50000",
            "512",
            "50",
            "1024",
            "2048",
            "16",
            "1",
            "2",
            "bound",
            "bound",
            "ro",
            "10.1.2.3\tdb",
            "nameserver 10.0.0.53",
            "search example.com",
            "1",
            "0 50",
        ],
        "{out}"
    );
    let host_pid_ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let out = e.ok(&[
        "run",
        "--rm",
        "--pid",
        "host",
        "busybox",
        "readlink",
        "/proc/self/ns/pid",
    ]);
    assert_eq!(out.trim(), host_pid_ns.to_string_lossy());
    // Bad values: docker's wording, status 125, and no container left behind.
    for (args, want) in [
        (
            vec!["--memory", "12zz"],
            "invalid argument \"12zz\" for \"-m, --memory\" flag: invalid size: '12zz'",
        ),
        (
            vec!["--cpus", "lots"],
            "invalid argument \"lots\" for \"--cpus\" flag",
        ),
        (vec!["--ulimit", "nofile"], "invalid ulimit argument"),
        (vec!["--ipc", "bogus"], "invalid --ipc value"),
        (vec!["-v", "vol:relative"], "invalid volume specification"),
        (vec!["--tmpfs", "rel"], "must be absolute"),
        (
            vec!["--device", "/dev/nonexistent-dev"],
            "error gathering device information",
        ),
        (
            vec!["--add-host", "db:not-an-ip"],
            "invalid IP address in add-host",
        ),
        (
            vec!["--cap-add", "NOT_A_CAP"],
            "invalid capability: NOT_A_CAP",
        ),
        (
            vec!["--mount", "type=bind,target=/x"],
            "field Source must not be empty",
        ),
    ] {
        let mut argv = vec!["run", "--rm"];
        argv.extend(args);
        argv.extend(["busybox", "true"]);
        let (code, _, err) = status(&e, &argv);
        assert_eq!(code, 125, "{argv:?}: {err}");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    assert_clean(&e);
}

#[test]
fn init_top_port_prune() {
    let e = with_busybox();
    // --init: a real PID 1 that reaps and passes the status through.
    let out = e.ok(&["run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm"]);
    assert!(out.contains("1 docker-init"), "{out}");
    let (code, _, _) = status(
        &e,
        &["run", "--rm", "--init", "busybox", "sh", "-c", "exit 4"],
    );
    assert_eq!(code, 4);
    e.ok(&["run", "-d", "--name", "t", "busybox", "sleep", "100"]);
    let top = e.ok(&["top", "t"]);
    assert!(top.starts_with("UID") && top.contains("sleep 100"), "{top}");
    let top = e.ok(&["top", "t", "-o", "pid,comm"]);
    assert_eq!(top.lines().count(), 2, "{top}");
    assert_eq!(e.ok(&["port", "t"]), "");
    e.ok(&["kill", "t"]);
    // kill only sends the signal; prune takes what has stopped.
    e.ok(&["wait", "t"]);
    e.ok(&["create", "--name", "c", "busybox", "true"]);
    let out = e.ok(&["container", "prune", "-f"]);
    assert!(
        out.starts_with("Deleted Containers:\n") && out.lines().count() == 5,
        "{out}"
    );
    assert_clean(&e);
}

#[test]
fn restart_policies_and_log_rotation() {
    let e = with_busybox();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    assert_eq!(e.ok(&["wait", "flaky"]).trim(), "3");
    assert_eq!(e.ok(&["logs", "flaky"]), "run\nrun\nrun\n");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.RestartCount}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}", "flaky"]).trim(),
        "2 on-failure 2"
    );
    // always: it keeps coming back until stopped, and a stop sticks.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "echo up; sleep 0.1",
    ]);
    for _ in 0..100 {
        if e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"])
            .trim()
            .parse::<u32>()
            .unwrap_or(0)
            >= 2
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    e.ok(&["stop", "-t", "1", "always"]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let st = e.ok(&["inspect", "-f", "{{.State.Status}}", "always"]);
    assert_eq!(st.trim(), "exited");
    // json-file rotation: the newest lines are kept across max-file files.
    e.ok(&[
        "run",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=300",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "for i in $(seq 1 40); do echo line-$i; done",
    ]);
    let logs = e.ok(&["logs", "chatty"]);
    assert!(
        logs.ends_with("line-40\n") && !logs.contains("line-1\n"),
        "{logs}"
    );
    let dir = e.root().join("containers");
    let files: usize = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.file_name().to_string_lossy().contains("-json.log"))
        .count();
    assert!(files >= 2, "{files} log files");
    for (args, want) in [
        (
            vec!["--restart", "sometimes"],
            "invalid restart policy format",
        ),
        (
            vec!["--restart", "always", "--rm"],
            "Conflicting options: --restart and --rm",
        ),
        (
            vec!["--log-opt", "max-file=0"],
            "invalid value for max-file",
        ),
        (vec!["--log-driver", "syslog"], "not supported"),
    ] {
        let mut argv = vec!["run"];
        argv.extend(args);
        argv.extend(["busybox", "true"]);
        let (code, _, err) = status(&e, &argv);
        assert_eq!(code, 125, "{argv:?}");
        assert!(err.contains(want), "{argv:?}: {err}");
    }
    e.ok(&["rm", "flaky", "always", "chatty"]);
    assert_clean(&e);
}

#[test]
fn diff_commit_export() {
    let e = with_busybox();
    e.ok(&[
        "run",
        "--name",
        "ch",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /new/sub && echo hi > /new/sub/f && echo changed >> /etc/passwd && rm /bin/vi",
    ]);
    let diff = e.ok(&["diff", "ch"]);
    for line in [
        "C /bin",
        "D /bin/vi",
        "C /etc",
        "C /etc/passwd",
        "A /new",
        "A /new/sub",
        "A /new/sub/f",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    assert!(!diff.contains("A /proc"), "{diff}");
    let id = e.ok(&[
        "commit",
        "-m",
        "my change",
        "-c",
        "CMD [\"cat\", \"/new/sub/f\"]",
        "ch",
        "committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"));
    assert_eq!(e.ok(&["run", "--rm", "committed:1"]).trim(), "hi");
    let out = e.ok(&[
        "run",
        "--rm",
        "committed:1",
        "sh",
        "-c",
        "ls /bin/vi 2>&1; tail -1 /etc/passwd",
    ]);
    assert!(
        out.contains("No such file") && out.trim_end().ends_with("changed"),
        "{out}"
    );
    let h = e.ok(&["history", "committed:1"]);
    assert!(h.lines().nth(1).unwrap().contains("my change"), "{h}");
    let tar = e.path("ch.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "ch"]);
    let list = sh(&format!("tar tf {}", tar.display()));
    assert!(
        list.lines().any(|l| l == "new/sub/f") && !list.lines().any(|l| l == "bin/vi"),
        "export lists {} entries",
        list.lines().count()
    );
    // The export is a rootfs `import` takes back.
    e.ok(&["import", tar.to_str().unwrap(), "reimported:1"]);
    assert_eq!(
        e.ok(&["run", "--rm", "reimported:1", "cat", "/new/sub/f"])
            .trim(),
        "hi"
    );
    e.ok(&["rm", "ch"]);
    let (code, _, err) = status(&e, &["commit", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nope"), "{err}");
}

#[test]
fn restart_stops_and_starts_again() {
    let e = with_busybox();
    e.ok(&["run", "-d", "--name", "r", "busybox", "sleep", "100"]);
    let before = e.ok(&["inspect", "-f", "{{.State.Pid}} {{.State.StartedAt}}", "r"]);
    assert_eq!(e.ok(&["restart", "-t", "1", "r"]).trim(), "r");
    let after = e.ok(&[
        "inspect",
        "-f",
        "{{.State.Pid}} {{.State.StartedAt}} {{.State.Status}}",
        "r",
    ]);
    assert!(after.trim().ends_with("running"), "{after}");
    assert_ne!(
        before.split(' ').next(),
        after.split(' ').next(),
        "a new init"
    );
    // A stopped container is simply started.
    e.ok(&["stop", "-t", "1", "r"]);
    e.ok(&["restart", "r"]);
    let st = e.ok(&["inspect", "-f", "{{.State.Status}}", "r"]);
    assert_eq!(st.trim(), "running");
    let err = e.fails(&["restart", "nope"]);
    assert!(err.contains("No such container: nope"), "{err}");
    e.ok(&["rm", "-f", "r"]);
}

#[test]
fn leftovers_of_a_monitor_killed_while_cleaning_up_are_swept() {
    let e = with_busybox();
    // What an --rm container's monitor leaves when killed after removing the record.
    let ghost = "ab".repeat(32);
    let dir = e.root().join("containers").join(&ghost);
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::create_dir_all(e.root().join("runtime").join(&ghost)).unwrap();
    // A fresh one may be a container being created (files first, record second): kept.
    let fresh = "cd".repeat(32);
    std::fs::create_dir_all(e.root().join("containers").join(&fresh)).unwrap();
    common::sh(&format!(
        "touch -d '-2 minutes' {} {}",
        dir.display(),
        e.root().join("runtime").join(&ghost).display()
    ));
    e.ok(&["ps", "-a"]);
    assert!(!dir.exists(), "old leftovers go");
    assert!(!e.root().join("runtime").join(&ghost).exists());
    assert!(
        e.root().join("containers").join(&fresh).exists(),
        "new ones stay"
    );
}

#[test]
fn exposed_ports_come_from_the_image_and_expose() {
    let e = Env::new();
    let tar = e.busybox_tar();
    e.ok(&["import", "-c", "EXPOSE 80", tar.to_str().unwrap(), "web:1"]);
    e.ok(&[
        "create",
        "--name",
        "w",
        "--expose",
        "53/udp",
        "--expose",
        "8000-8001",
        "web:1",
        "true",
    ]);
    let ports = e.ok(&["inspect", "-f", "{{json .Config.ExposedPorts}}", "w"]);
    assert_eq!(
        ports.trim(),
        r#"{"53/udp":{},"80/tcp":{},"8000/tcp":{},"8001/tcp":{}}"#
    );
    let ps = e.ok(&["ps", "-a", "--format", "{{.Ports}}"]);
    assert_eq!(ps.trim(), "53/udp, 80/tcp, 8000/tcp, 8001/tcp");
    let err = e.fails(&["create", "--expose", "9-1", "web:1"]);
    assert!(
        err.contains("invalid range format for --expose: 9-1"),
        "{err}"
    );
    let err = e.fails(&["create", "--expose", "80/xyz", "web:1"]);
    assert!(err.contains("invalid proto: xyz"), "{err}");
}

#[test]
fn stopping_several_runs_their_grace_periods_side_by_side() {
    let e = with_busybox();
    // PID 1 ignores SIGTERM without a handler: each stop waits out its whole timeout.
    for n in ["s1", "s2", "s3"] {
        e.ok(&["run", "-d", "--name", n, "busybox", "sleep", "100"]);
    }
    let t = std::time::Instant::now();
    let out = e.ok(&["stop", "-t", "2", "s1", "s2", "s3"]);
    let took = t.elapsed();
    assert_eq!(out, "s1\ns2\ns3\n");
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
    assert!(took >= std::time::Duration::from_secs(2), "took {took:?}");
    let st = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(
        st.lines().filter(|l| l.ends_with("exited")).count(),
        3,
        "{st}"
    );
    let o = e.berth(&["stop", "s1", "nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("No such container: nope"));
    e.ok(&["rm", "s1", "s2", "s3"]);
}

#[test]
fn ps_words_paused_and_restarting_as_docker_does() {
    let e = with_busybox();
    e.ok(&["run", "-d", "--name", "p", "busybox", "sleep", "100"]);
    e.ok(&["pause", "p"]);
    let st = e.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=p"]);
    assert!(
        st.starts_with("Up ") && st.trim_end().ends_with("(Paused)"),
        "{st}"
    );
    e.ok(&["unpause", "p"]);
    // Exits at once and comes back after a back-off: caught in between at least once.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "r",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    ]);
    let t = std::time::Instant::now();
    let mut seen = String::new();
    while t.elapsed() < std::time::Duration::from_secs(10) {
        let st = e.ok(&["ps", "--format", "{{.Status}}", "--filter", "name=r"]);
        if st.starts_with("Restarting (3) ") {
            seen = st;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!seen.is_empty(), "never saw it restarting");
    e.ok(&["rm", "-f", "p", "r"]);
}
