//! The rest of `run`/`create`'s flags, `commit`'s layer, `Config.Volumes`, and volumes in
//! `system df` and `system prune`, end to end with real containers.

mod common;

use common::{sh, Env};
use common::{status, with_busybox};

#[test]
fn namespace_flags() {
    let e = with_busybox();
    let cg = "cat /proc/self/cgroup";
    // This host is cgroup v1/hybrid: Docker's default is the host's cgroup namespace, where
    // the container sees its full path.
    let host = e.ok(&["run", "--rm", "busybox", "sh", "-c", cg]);
    assert!(host.lines().any(|l| l.contains(":/berth/")), "{host}");
    let host = e.ok(&[
        "run",
        "--rm",
        "--cgroupns",
        "host",
        "busybox",
        "sh",
        "-c",
        cg,
    ]);
    assert!(host.lines().any(|l| l.contains(":/berth/")), "{host}");
    let private = e.ok(&[
        "run",
        "--rm",
        "--cgroupns=private",
        "busybox",
        "sh",
        "-c",
        cg,
    ]);
    assert!(
        private.lines().all(|l| l.ends_with(":/")),
        "a private cgroup namespace shows / paths: {private}"
    );
    let id = e.ok(&["create", "--cgroupns", "private", "busybox", "true"]);
    let shown = e.ok(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", id.trim()]);
    assert_eq!(shown.trim(), "private");
    let id = e.ok(&["create", "busybox", "true"]);
    let shown = e.ok(&["inspect", "-f", "{{.HostConfig.CgroupnsMode}}", id.trim()]);
    assert_eq!(shown.trim(), "host", "the daemon's default on cgroup v1");
    let (code, _, err) = status(&e, &["run", "--rm", "--cgroupns", "bogus", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("--cgroupns: invalid CGROUP mode"), "{err}");

    e.ok(&["run", "--rm", "--userns", "host", "busybox", "true"]);
    e.ok(&["run", "--rm", "--userns=", "busybox", "true"]);
    let (code, _, err) = status(&e, &["run", "--rm", "--userns", "remap", "busybox"]);
    assert_eq!(code, 125);
    assert!(err.contains("--userns: invalid USER mode"), "{err}");
}

#[test]
fn resource_flags() {
    let e = with_busybox();
    let (code, out, err) = status(
        &e,
        &[
            "run",
            "--rm",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--cpuset-mems",
            "0",
            "--memory-reservation",
            "32m",
            "busybox",
            "sh",
            "-c",
            "cd /sys/fs/cgroup; cat cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.mems memory/memory.soft_limit_in_bytes",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "50000\n25000\n0\n33554432\n");
    // Without --memory, Docker warns about a disabled OOM killer.
    let (code, out, err) = status(
        &e,
        &[
            "run",
            "--rm",
            "--oom-kill-disable",
            "busybox",
            "grep",
            "oom_kill_disable",
            "/sys/fs/cgroup/memory/memory.oom_control",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "oom_kill_disable 1\n"), "{err}");
    assert!(err.contains("WARNING: OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources."), "{err}");
    let (_, _, err) = status(
        &e,
        &[
            "run",
            "--rm",
            "--oom-kill-disable",
            "-m",
            "64m",
            "busybox",
            "true",
        ],
    );
    assert!(!err.contains("WARNING"), "{err}");
    let (code, _, err) = status(
        &e,
        &["run", "--rm", "--kernel-memory", "50m", "busybox", "true"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("WARNING: Specifying a kernel memory limit is deprecated"),
        "{err}"
    );

    let id = e.ok(&[
        "create",
        "--cpu-period",
        "100000",
        "--cpu-quota",
        "50000",
        "--blkio-weight",
        "300",
        "--oom-kill-disable",
        "-m",
        "64m",
        "busybox",
        "true",
    ]);
    let shown = e.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.BlkioWeight}} {{.HostConfig.OomKillDisable}}",
        id.trim(),
    ]);
    assert_eq!(shown.trim(), "100000 50000 300 true");

    for (args, want) in [
        (
            vec!["--cpus", "1", "--cpu-period", "50000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            vec!["--cpu-period", "100"],
            "CPU cfs period can not be less than 1ms",
        ),
        (
            vec!["--cpu-quota", "100"],
            "CPU cfs quota can not be less than 1ms",
        ),
        (
            vec!["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            vec!["-m", "64m", "--memory-reservation", "128m"],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (
            vec!["--cpu-quota", "x"],
            "invalid argument \"x\" for \"--cpu-quota\" flag",
        ),
        (
            vec!["--memory-reservation", "12zz"],
            "invalid argument \"12zz\" for \"--memory-reservation\" flag",
        ),
    ] {
        let mut argv = vec!["create"];
        argv.extend(args.iter().copied());
        argv.extend(["busybox", "true"]);
        let (code, _, err) = status(&e, &argv);
        assert_eq!(code, 125, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn platform_and_help() {
    let e = with_busybox();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other = if arch == "arm64" { "amd64" } else { "arm64" };
    e.ok(&[
        "run",
        "--rm",
        "--platform",
        &format!("linux/{arch}"),
        "busybox",
        "true",
    ]);
    let (code, _, err) = status(
        &e,
        &[
            "run",
            "--rm",
            "--platform",
            &format!("linux/{other}"),
            "busybox",
            "true",
        ],
    );
    assert_eq!(code, 125);
    assert!(
        err.contains(&format!("image with reference busybox was found but does not match the specified platform: wanted linux/{other}, actual: linux/{arch}")),
        "{err}"
    );
    for cmd in ["run", "create"] {
        let help = e.ok(&[cmd, "--help"]);
        assert!(
            help.contains(&format!(
                "Usage:  berth {cmd} [OPTIONS] IMAGE [COMMAND] [ARG...]"
            )),
            "{help}"
        );
        for f in [
            "--userns string",
            "--cgroupns string",
            "--oom-kill-disable",
            "--platform string",
            "--cpuset-mems string",
            "--cpu-period int",
            "--cpu-quota int",
            "--memory-reservation bytes",
            "--blkio-weight uint16",
            "--kernel-memory bytes",
            "-m, --memory bytes",
        ] {
            assert!(help.contains(f), "{cmd} --help lacks {f}:\n{help}");
        }
    }
}

/// The entries of the top layer of `image`, from `save`.
fn top_layer(e: &Env, image: &str) -> Vec<String> {
    let tar = e.path(&format!("{}.tar", image.replace(':', "_")));
    e.ok(&["save", "-o", tar.to_str().unwrap(), image]);
    let dir = e.path(&format!("{}-x", image.replace(':', "_")));
    std::fs::create_dir_all(&dir).unwrap();
    sh(&format!("tar -C {} -xf {}", dir.display(), tar.display()));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let layers = manifest[0]["Layers"].as_array().unwrap();
    let top = layers.last().unwrap().as_str().unwrap();
    sh(&format!("tar -tf {}", dir.join(top).display()))
        .lines()
        .map(|l| l.trim_end_matches('/').to_string())
        .collect()
}

#[test]
fn commit_leaves_out_the_engines_mount_points() {
    let e = with_busybox();
    let bind = e.path("bind");
    std::fs::create_dir_all(&bind).unwrap();
    e.ok(&[
        "run",
        "--name",
        "c1",
        "-v",
        "/anon",
        "-v",
        &format!("{}:/deep/bind", bind.display()),
        "--tmpfs",
        "/scratch",
        "busybox",
        "sh",
        "-c",
        "echo hi > /hello; echo x > /etc/mine; echo 1.2.3.4 h >> /etc/hosts",
    ]);
    e.ok(&["commit", "c1", "committed:1"]);
    let entries = top_layer(&e, "committed:1");
    assert!(entries.contains(&"hello".to_string()), "{entries:?}");
    assert!(entries.contains(&"etc/mine".to_string()), "{entries:?}");
    for gone in [
        "dev",
        "proc",
        "sys",
        "etc/hosts",
        "etc/hostname",
        "etc/resolv.conf",
        "anon",
        "deep",
        "deep/bind",
        "scratch",
    ] {
        assert!(
            !entries
                .iter()
                .any(|x| x == gone || x.starts_with(&format!("{gone}/"))),
            "{gone} in the committed layer: {entries:?}"
        );
    }
    // Nothing changed but the mounts: an empty layer, with no /etc copied up for them.
    e.ok(&["run", "--name", "c2", "busybox", "true"]);
    e.ok(&["commit", "c2", "committed:2"]);
    let entries = top_layer(&e, "committed:2");
    assert!(entries.is_empty(), "{entries:?}");
    // The committed image runs, with the engine's files mounted again.
    let out = e.ok(&[
        "run",
        "--rm",
        "committed:1",
        "sh",
        "-c",
        "cat /hello; grep -c 1.2.3.4 /etc/hosts || true",
    ]);
    assert_eq!(out, "hi\n0\n");
    // `export` keeps them, as Docker's does (its init layer is part of the filesystem).
    let tar = e.path("c1.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "c1"]);
    let listed = sh(&format!("tar -tf {}", tar.display()));
    for want in ["hello", "etc/hosts", "proc/", "dev/"] {
        assert!(
            listed.lines().any(|l| l.trim_start_matches("./") == want),
            "{want} missing from export"
        );
    }
}

#[test]
fn config_volumes_and_volumes_in_system_df_and_prune() {
    let e = with_busybox();
    let id = e.ok(&["create", "-v", "/anon", "-v", "named:/n", "busybox", "true"]);
    let vols = e.ok(&["inspect", "-f", "{{json .Config.Volumes}}", id.trim()]);
    assert_eq!(vols.trim(), r#"{"/anon":{}}"#);
    let plain = e.ok(&["create", "busybox", "true"]);
    let vols = e.ok(&["inspect", "-f", "{{json .Config.Volumes}}", plain.trim()]);
    assert_eq!(vols.trim(), "null");
    e.ok(&["rm", plain.trim()]);
    e.ok(&["volume", "create", "unused"]);
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "named:/n",
        "busybox",
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /n/f",
    ]);
    let df = e.ok(&["system", "df"]);
    let row = df
        .lines()
        .find(|l| l.starts_with("Local Volumes"))
        .unwrap_or_default();
    let cols: Vec<&str> = row.split_whitespace().collect();
    // 3 volumes (anonymous, named, unused), 2 used by the created container.
    assert_eq!(&cols[2..5], &["3", "2", "100kB"], "{df}");
    assert_eq!(cols[5], "0B", "{df}");
    let verbose = e.ok(&["system", "df", "-v"]);
    let section = verbose
        .split("Local Volumes space usage:")
        .nth(1)
        .unwrap_or_default();
    let head: Vec<&str> = section.lines().filter(|l| !l.is_empty()).take(4).collect();
    assert_eq!(
        head[0].split_whitespace().collect::<Vec<_>>(),
        ["VOLUME", "NAME", "LINKS", "SIZE"],
        "{verbose}"
    );
    let named: Vec<&str> = head
        .iter()
        .find(|l| l.starts_with("named "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(named, ["named", "1", "100kB"]);
    let unused: Vec<&str> = head
        .iter()
        .find(|l| l.starts_with("unused "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(unused, ["unused", "0", "0B"]);

    let mounts: serde_json::Value =
        serde_json::from_str(&e.ok(&["inspect", "-f", "{{json .Mounts}}", id.trim()])).unwrap();
    let anon = mounts
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .find(|n| n != "named")
        .unwrap();
    e.ok(&["rm", id.trim()]);
    // Without --volumes, no volume goes.
    let out = e.ok(&["system", "prune", "-f"]);
    assert!(!out.contains("Deleted Volumes:"), "{out}");
    let out = e.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(
        out.contains(&format!("Deleted Volumes:\n{anon}\n\n")),
        "{out}"
    );
    // Named volumes stay: Docker's system prune only takes anonymous ones.
    let ls = e.ok(&["volume", "ls", "-q"]);
    assert_eq!(ls, "named\nunused\n");
    let o = std::process::Command::new(common::bin())
        .args([
            "--root",
            e.root().to_str().unwrap(),
            "system",
            "prune",
            "--volumes",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let prompt =
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(
        prompt.contains("  - all anonymous volumes not used by at least one container"),
        "{prompt}"
    );
}
