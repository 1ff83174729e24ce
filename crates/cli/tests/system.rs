//! `stats`, `update`, `info`, `version`, `system df` and `system prune` end to end, with
//! real containers.

mod common;

use common::Env;
use common::{status, with_busybox};

/// The container's v1 cgroup directory for `controller`, from its init's /proc entry;
/// `None` on a cgroup v2 host.
fn cgroup_dir(e: &Env, name: &str, controller: &str) -> Option<std::path::PathBuf> {
    let pid = e.ok(&["inspect", "-f", "{{.State.Pid}}", name]);
    let text = std::fs::read_to_string(format!("/proc/{}/cgroup", pid.trim())).unwrap();
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        ctrls.split(',').any(|c| c == controller).then(|| {
            std::path::Path::new("/sys/fs/cgroup")
                .join(controller)
                .join(path.trim_start_matches('/'))
        })
    })
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

#[test]
fn stats_no_stream() {
    let e = with_busybox();
    e.ok(&["run", "-d", "--name", "sl", "busybox", "sleep", "1000"]);
    let out = e.ok(&["stats", "--no-stream", "sl"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    for col in [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&e.ok(&["inspect", "-f", "{{.Id}}", "sl"])[..12]),
        "{row}"
    );
    assert!(row.trim_end().ends_with(" 1"), "one process: {row}");
    let js = e.ok(&["stats", "--no-stream", "--format", "{{json .}}", "sl"]);
    let v: serde_json::Value = serde_json::from_str(js.trim()).unwrap();
    for k in [
        "BlockIO",
        "CPUPerc",
        "Container",
        "ID",
        "MemPerc",
        "MemUsage",
        "Name",
        "NetIO",
        "PIDs",
    ] {
        assert!(v.get(k).is_some(), "{k} missing: {v}");
    }
    assert_eq!(v["PIDs"], "1");
    assert_eq!(v["Name"], "sl");
    assert_eq!(v["Container"], "sl");
    assert!(!v["MemUsage"].as_str().unwrap().starts_with("0B"), "{v}");
    // A limit shows as the limit.
    e.ok(&["update", "-m", "64m", "sl"]);
    let mem = e.ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "sl"]);
    assert!(mem.trim().ends_with("/ 64MiB"), "{mem}");
    // No arguments: running containers; -a adds the stopped ones.
    e.ok(&["create", "--name", "idle", "busybox", "true"]);
    let names = e.ok(&["stats", "--no-stream", "--format", "{{.Name}}"]);
    assert_eq!(names.trim(), "sl");
    let names = e.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.PIDs}}",
    ]);
    assert!(
        names.contains("idle 0") && names.contains("sl 1"),
        "{names}"
    );
    let (code, _, err) = status(&e, &["stats", "--no-stream", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nope"), "{err}");
    e.ok(&["rm", "-f", "sl", "idle"]);
}

#[test]
fn update_running_and_stopped() {
    let e = with_busybox();
    e.ok(&["run", "-d", "--name", "u", "busybox", "sleep", "1000"]);
    assert_eq!(
        e.ok(&[
            "update",
            "--memory",
            "64m",
            "--pids-limit",
            "30",
            "--cpu-shares",
            "512",
            "u"
        ]),
        "u\n"
    );
    assert_eq!(
        e.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpuShares}}",
            "u"
        ])
        .trim(),
        "67108864 30 512"
    );
    if let Some(mem) = cgroup_dir(&e, "u", "memory") {
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "67108864");
        let pids = cgroup_dir(&e, "u", "pids").unwrap();
        assert_eq!(read(&pids.join("pids.max")), "30");
    }
    // A bad value is a usage error, and nothing changes.
    let (code, _, err) = status(&e, &["update", "--memory", "12zz", "u"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("invalid argument \"12zz\""), "{err}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "u"])
            .trim(),
        "67108864"
    );
    // Below Docker's minimum: the daemon's error, exit 1, nothing changes.
    let (code, _, err) = status(&e, &["update", "--memory", "1m", "u"]);
    assert_eq!(code, 1);
    assert!(err.contains("Minimum memory limit allowed is 6MB"), "{err}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "u"])
            .trim(),
        "67108864"
    );
    let (code, _, err) = status(&e, &["update", "--memory", "64m", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such container: nope"), "{err}");
    let (code, _, _) = status(&e, &["update", "u"]);
    assert_eq!(code, 1, "no flags");
    e.ok(&["update", "--restart", "on-failure:3", "u"]);
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "u"])
            .trim(),
        "on-failure"
    );

    // A limit below what the container uses: the kernel's refusal, clearly; nothing changes.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "hog",
        "busybox",
        "sh",
        "-c",
        "head -c 20000000 /dev/zero > /dev/shm/x; touch /ready; sleep 1000",
    ]);
    for _ in 0..500 {
        if e.berth(&["exec", "hog", "test", "-e", "/ready"])
            .status
            .success()
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (code, _, err) = status(&e, &["update", "-m", "8m", "hog"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("below the current usage"), "{err}");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "hog"])
            .trim(),
        "0"
    );
    e.ok(&["rm", "-f", "hog"]);

    // Stopped: recorded, and applied when it starts.
    e.ok(&["create", "--name", "s", "busybox", "sleep", "1000"]);
    e.ok(&["update", "-m", "32m", "--pids-limit", "20", "s"]);
    e.ok(&["start", "s"]);
    if let Some(mem) = cgroup_dir(&e, "s", "memory") {
        assert_eq!(read(&mem.join("memory.limit_in_bytes")), "33554432");
        let pids = cgroup_dir(&e, "s", "pids").unwrap();
        assert_eq!(read(&pids.join("pids.max")), "20");
    }
    e.ok(&["rm", "-f", "u", "s"]);
}

#[test]
fn info_and_version() {
    let e = with_busybox();
    e.ok(&["create", "--name", "c1", "busybox", "true"]);
    let info = e.ok(&["info"]);
    for key in [
        "Client:",
        "Server:",
        " Containers: 1",
        "  Running: 0",
        "  Paused: 0",
        "  Stopped: 1",
        " Images: 1",
        " Server Version: ",
        " Storage Driver: overlayfs",
        " Logging Driver: json-file",
        " Cgroup Driver: cgroupfs",
        " Cgroup Version: ",
        " Runtimes: ",
        " Default Runtime: ",
        "  seccomp\n   Profile: builtin",
        " Kernel Version: ",
        " Operating System: ",
        " OSType: linux",
        " Architecture: ",
        " CPUs: ",
        " Total Memory: ",
        " Name: ",
        " ID: ",
        " Debug Mode: false",
    ] {
        assert!(info.contains(key), "{key:?} missing from:\n{info}");
    }
    let root = std::fs::canonicalize(e.root()).unwrap();
    assert!(info.contains(&format!(" Docker Root Dir: {}\n", root.display())));
    assert_eq!(e.ok(&["info", "--format", "{{.Containers}}"]), "1\n");
    assert_eq!(
        e.ok(&[
            "info",
            "--format",
            "{{.ContainersStopped}} {{.Images}} {{.Driver}} {{.OSType}}"
        ]),
        "1 1 overlayfs linux\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["info", "--format", "{{json .}}"])).unwrap();
    for k in [
        "ID",
        "Containers",
        "ContainersRunning",
        "ContainersPaused",
        "ContainersStopped",
        "Images",
        "Driver",
        "KernelVersion",
        "OperatingSystem",
        "OSType",
        "Architecture",
        "NCPU",
        "MemTotal",
        "DockerRootDir",
        "ServerVersion",
        "CgroupVersion",
        "CgroupDriver",
        "LoggingDriver",
        "SecurityOptions",
        "Name",
    ] {
        assert!(v.get(k).is_some(), "{k} missing");
    }
    assert!(v["NCPU"].as_u64().unwrap() >= 1);
    assert!(v["MemTotal"].as_u64().unwrap() > 0);
    // The ID is the engine's, and stays.
    assert_eq!(
        e.ok(&["info", "--format", "{{.ID}}"]),
        e.ok(&["info", "--format", "{{.ID}}"])
    );

    let ver = e.ok(&["version"]);
    for key in [
        "Client:\n Version:",
        " API version:       1.43",
        " OS/Arch:           linux/",
        "\nServer: ",
        " Engine:\n  Version:",
        "  API version:      1.43 (minimum version",
    ] {
        assert!(ver.contains(key), "{key:?} missing from:\n{ver}");
    }
    assert_eq!(
        e.ok(&[
            "version",
            "--format",
            "{{.Client.ApiVersion}} {{.Server.ApiVersion}}"
        ]),
        "1.43 1.43\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&e.ok(&["version", "--format", "{{json .}}"])).unwrap();
    assert_eq!(v["Client"]["Version"], v["Server"]["Version"]);
    e.ok(&["rm", "c1"]);
}

#[test]
fn system_df_and_prune() {
    let e = with_busybox();
    e.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "1000"]);
    e.ok(&[
        "run",
        "--name",
        "done",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/f bs=1k count=100 2>/dev/null",
    ]);
    let done_id = e
        .ok(&["inspect", "-f", "{{.Id}}", "done"])
        .trim()
        .to_string();
    let df = e.ok(&["system", "df"]);
    let row = df.lines().find(|l| l.starts_with("Containers")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["2", "1"], "{df}");
    assert_eq!(cols[3], "102kB", "{df}");
    assert!(row.contains("102kB (100%)"), "{df}");
    assert!(df.contains("Local Volumes"), "{df}");
    let v = e.ok(&["system", "df", "-v"]);
    assert!(v.contains("Containers space usage:"), "{v}");
    assert!(v.contains(" done\n") || v.contains(" done"), "{v}");
    let fmt = e.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert!(fmt.contains("Containers=2"), "{fmt}");

    let out = e.ok(&["system", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{done_id}\n\n")),
        "{out}"
    );
    assert!(out.contains("Total reclaimed space: 102kB"), "{out}");
    assert_eq!(
        e.ok(&["ps", "-a", "--format", "{{.Names}}"]),
        "up\n",
        "running containers stay"
    );
    // Without -f it asks first; no answer keeps everything.
    e.ok(&["create", "--name", "later", "busybox", "true"]);
    let out = e.ok(&["system", "prune"]);
    assert!(out.starts_with("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\nAre you sure you want to continue? [y/N] "), "{out}");
    assert!(e
        .ok(&["ps", "-a", "--format", "{{.Names}}"])
        .contains("later"));
    e.ok(&["rm", "-f", "up", "later"]);
}
