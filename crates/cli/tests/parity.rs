//! Parity with podman (which follows docker's CLI) on the same busybox image: the keys of
//! `inspect`, `ps`'s columns and format, and the exit codes and first words of errors.
//! Docker stays the reference: where podman departs from docker, the test says so and
//! checks berth against docker's behaviour.
//!
//! If podman cannot run here, each test prints why and skips.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};

use common::Env;

/// podman's flags for this host (its default ulimits exceed the host's, and there is no
/// network to join).
const PODMAN_RUN: &[&str] = &[
    "--network",
    "none",
    "--ulimit",
    "nofile=20000:20000",
    "--ulimit",
    "nproc=32768:32768",
];

/// A podman image and containers of this test's own, removed on drop.
struct Podman {
    image: String,
    names: Vec<String>,
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running podman")
}

impl Podman {
    /// Imports `tar`, or says why podman can't be used here.
    fn new(tar: &std::path::Path, tag: &str) -> Result<Podman, String> {
        let found = Command::new("sh")
            .args(["-c", "command -v podman"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err("podman is not installed".into());
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let image = format!(
            "localhost/berth-parity-{tag}-{}-{nanos}:latest",
            std::process::id()
        );
        let o = podman(&["import", "-q", tar.to_str().unwrap(), &image]);
        if !o.status.success() {
            return Err(format!(
                "podman import failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        let p = Podman {
            image,
            names: Vec::new(),
        };
        // A container must run, or the comparison means nothing.
        let probe = p.name("probe");
        let mut args = vec!["run", "--rm", "--name", &probe];
        args.extend(PODMAN_RUN);
        args.extend([p.image.as_str(), "true"]);
        let o = podman(&args);
        if !o.status.success() {
            return Err(format!(
                "podman run failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok(p)
    }

    /// A container name unique to this image.
    fn name(&self, n: &str) -> String {
        let suffix = self.image.trim_start_matches("localhost/berth-parity-");
        format!("{n}-{}", suffix.trim_end_matches(":latest"))
    }

    fn named(&mut self, n: &str) -> String {
        let name = self.name(n);
        self.names.push(name.clone());
        name
    }

    /// `podman run` (or another verb taking run's flags) with this host's flags.
    fn with_run_flags(verb: &str, args: &[&str]) -> Output {
        let mut all = vec![verb];
        all.extend(PODMAN_RUN);
        all.extend(args);
        podman(&all)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = podman(&["rm", "-f", "-t", "0", n]);
        }
        let _ = podman(&["rmi", "-f", &self.image]);
    }
}

fn setup(tag: &str) -> Option<(Env, Podman)> {
    let e = Env::new();
    let tar = e.busybox_tar();
    e.ok(&["import", tar.to_str().unwrap(), "parity:latest"]);
    match Podman::new(&tar, tag) {
        Ok(p) => Some((e, p)),
        Err(why) => {
            eprintln!("SKIP: podman parity: {why}");
            println!("SKIP: podman parity: {why}");
            None
        }
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "inspect: {}", stderr(o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v[0].clone()
}

fn keys(v: &serde_json::Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// Keys podman shows that docker's API does not have (or has only when set), with why.
const EXEMPT: &[(&str, &[&str], &str)] = &[
    (
        "",
        &[
            "BoundingCaps",
            "EffectiveCaps",
            "ConmonPidFile",
            "OCIRuntime",
            "OCIConfigPath",
            "PidFile",
            "Pod",
            "IsInfra",
            "IsService",
            "Namespace",
            "Dependencies",
            "StaticDir",
            "Rootfs",
            "ImageDigest",
            "ImageName",
        ],
        "podman-only: conmon, pods, systemd services and libpod's own bookkeeping",
    ),
    (
        "State",
        &["CheckpointedAt", "RestoredAt", "OciVersion"],
        "podman-only: CRIU checkpoints and the runtime's spec version",
    ),
    (
        "State",
        &["Health"],
        "docker shows State.Health only for a container with a healthcheck",
    ),
    (
        "Config",
        &[
            "Annotations",
            "CreateCommand",
            "HealthcheckOnFailureAction",
            "Passwd",
            "Timeout",
            "Umask",
            "sdNotifyMode",
        ],
        "podman-only settings",
    ),
    (
        "Config",
        &["StopSignal", "StopTimeout"],
        "docker omits them when unset (omitempty); berth shows them when set",
    ),
    (
        "HostConfig",
        &[
            "CgroupConf",
            "CgroupManager",
            "CgroupMode",
            "Cgroups",
            "DiskQuota",
        ],
        "podman-only; docker's counterpart is CgroupnsMode",
    ),
    (
        "HostConfig",
        &["Tmpfs"],
        "docker omits it when empty (omitempty); berth shows it when set",
    ),
    (
        "Mounts",
        &["Options"],
        "podman-only: docker's MountPoint has Mode and Propagation instead",
    ),
];

fn missing(section: &str, podman: &serde_json::Value, berth: &serde_json::Value) -> Vec<String> {
    let exempt: BTreeSet<&str> = EXEMPT
        .iter()
        .filter(|(s, _, _)| *s == section)
        .flat_map(|(_, k, _)| k.iter().copied())
        .collect();
    let have = keys(berth);
    keys(podman)
        .into_iter()
        .filter(|k| !have.contains(k) && !exempt.contains(k.as_str()))
        .map(|k| {
            format!(
                "{}{k}",
                if section.is_empty() {
                    String::new()
                } else {
                    format!("{section}.")
                }
            )
        })
        .collect()
}

fn compare_inspect(what: &str, p: &serde_json::Value, b: &serde_json::Value) {
    let mut gaps = missing("", p, b);
    for s in ["State", "Config", "HostConfig", "NetworkSettings"] {
        gaps.extend(missing(s, &p[s], &b[s]));
    }
    let (pm, bm) = (&p["Mounts"][0], &b["Mounts"][0]);
    assert!(
        pm.is_object() && bm.is_object(),
        "{what}: no mounts: {p:?} {b:?}"
    );
    gaps.extend(missing("Mounts", pm, bm));
    assert!(
        gaps.is_empty(),
        "{what}: berth's inspect lacks podman's docker-compatible keys {gaps:?}"
    );
}

#[test]
fn inspect_has_podmans_docker_keys() {
    let Some((e, mut p)) = setup("inspect") else {
        return;
    };
    // Created, with an anonymous volume so that Mounts has an entry.
    let name = p.named("created");
    let o = Podman::with_run_flags(
        "create",
        &[
            "--name", &name, "-v", "/anon", &p.image, "sh", "-c", "exit 3",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    e.ok(&[
        "create", "--name", "created", "-v", "/anon", "parity", "sh", "-c", "exit 3",
    ]);
    let pc = json(&podman(&["inspect", &name]));
    let bc = json(&e.berth(&["inspect", "created"]));
    assert_eq!(pc["State"]["Status"], "created");
    assert_eq!(bc["State"]["Status"], "created");
    compare_inspect("created", &pc, &bc);
    // Exited.
    let name = p.named("exited");
    let o = Podman::with_run_flags(
        "run",
        &[
            "--name", &name, "-v", "/anon", &p.image, "sh", "-c", "exit 3",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let o = e.berth(&[
        "run", "--name", "exited", "-v", "/anon", "parity", "sh", "-c", "exit 3",
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let pe = json(&podman(&["inspect", &name]));
    let be = json(&e.berth(&["inspect", "exited"]));
    for v in [&pe, &be] {
        assert_eq!(v["State"]["Status"], "exited");
        assert_eq!(v["State"]["ExitCode"], 3);
    }
    compare_inspect("exited", &pe, &be);
}

/// `ps`'s header columns: runs of two or more spaces separate them.
fn columns(header: &str) -> Vec<String> {
    header
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn ps_columns_and_format() {
    let Some((e, mut p)) = setup("ps") else {
        return;
    };
    let name = p.named("ps");
    let o = Podman::with_run_flags("run", &["--name", &name, &p.image, "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let created = p.named("psc");
    let o = Podman::with_run_flags("create", &["--name", &created, &p.image, "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = e.berth(&["run", "--name", &name, "parity", "sh", "-c", "exit 3"]);
    assert_eq!(code(&o), 3);
    e.ok(&["create", "--name", &created, "parity", "true"]);

    let want = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    let po = podman(&["ps", "-a", "--filter", &format!("name={name}")]);
    let pheader = String::from_utf8_lossy(&po.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let bheader = e
        .ok(&["ps", "-a"])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(columns(&pheader), want, "podman: {pheader}");
    assert_eq!(columns(&bheader), want, "berth: {bheader}");

    // The time after the status differs by a second or so: compare up to it.
    let status_of = |out: &str, n: &str| -> String {
        let line = out
            .lines()
            .find(|l| l.split(' ').next() == Some(n))
            .unwrap_or_default()
            .to_string();
        match line.find(')') {
            Some(i) => line[..=i].to_string(),
            None => line,
        }
    };
    let fmt = "{{.Names}} {{.Status}}";
    let po = podman(&["ps", "-a", "--format", fmt]);
    let pout = String::from_utf8_lossy(&po.stdout).into_owned();
    let bout = e.ok(&["ps", "-a", "--format", fmt]);
    for (n, want) in [
        (&name, format!("{name} Exited (3)")),
        (&created, format!("{created} Created")),
    ] {
        assert_eq!(status_of(&pout, n), want, "podman: {pout}");
        assert_eq!(status_of(&bout, n), want, "berth: {bout}");
    }
}

/// What is run, podman's and berth's `run` arguments, the exit code both give, and words
/// both messages have.
type RunCase<'a> = (&'a str, Vec<&'a str>, Vec<&'a str>, i32, Option<&'a str>);
/// What is done, podman's and berth's arguments, and words both messages have.
type StateCase<'a> = (&'a str, Vec<&'a str>, Vec<&'a str>, Option<&'a str>);

#[test]
fn exit_codes_and_messages() {
    let Some((e, mut p)) = setup("codes") else {
        return;
    };
    let img = p.image.clone();
    let cases: Vec<RunCase> = vec![
        (
            "exit 3",
            vec!["--rm", &img, "sh", "-c", "exit 3"],
            vec!["--rm", "parity", "sh", "-c", "exit 3"],
            3,
            None,
        ),
        (
            "missing command",
            vec!["--rm", &img, "nope"],
            vec!["--rm", "parity", "nope"],
            127,
            Some("not found in $path"),
        ),
        (
            "not executable",
            vec!["--rm", &img, "/etc/passwd"],
            vec!["--rm", "parity", "/etc/passwd"],
            126,
            Some("permission denied"),
        ),
        (
            "bad flag",
            vec!["--rm", "--bogus", &img],
            vec!["--rm", "--bogus", "parity"],
            125,
            Some("unknown flag: --bogus"),
        ),
        (
            "missing image",
            vec![
                "--rm",
                "--pull",
                "never",
                "localhost/berth-parity-no-such-image",
            ],
            vec!["--rm", "--pull", "never", "berth-parity-no-such-image"],
            125,
            None,
        ),
    ];
    for (what, pargs, bargs, want, words) in cases {
        let po = Podman::with_run_flags("run", &pargs);
        let mut argv = vec!["run"];
        argv.extend(bargs);
        let bo = e.berth(&argv);
        assert_eq!(code(&po), want, "podman, {what}: {}", stderr(&po));
        assert_eq!(code(&bo), want, "berth, {what}: {}", stderr(&bo));
        if let Some(w) = words {
            assert!(
                stderr(&po).to_lowercase().contains(w),
                "podman, {what}: {}",
                stderr(&po)
            );
            assert!(
                stderr(&bo).to_lowercase().contains(w),
                "berth, {what}: {}",
                stderr(&bo)
            );
        }
    }

    // State errors: docker exits 1 for each; podman has its own codes (2 for rm, 255 for
    // exec, 125 for kill and stop). berth follows docker; podman only has to fail.
    let running = p.named("running");
    let o = Podman::with_run_flags("run", &["-d", "--name", &running, &img, "sleep", "100"]);
    assert!(o.status.success(), "{}", stderr(&o));
    e.ok(&["run", "-d", "--name", "running", "parity", "sleep", "100"]);
    let stopped = p.named("stopped");
    let o = Podman::with_run_flags("run", &["--name", &stopped, &img, "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    e.ok(&["run", "--name", "stopped", "parity", "true"]);
    let cases: Vec<StateCase> = vec![
        (
            "rm of a running container",
            vec!["rm", &running],
            vec!["rm", "running"],
            Some("cannot remove container"),
        ),
        (
            "exec into a stopped container",
            vec!["exec", &stopped, "true"],
            vec!["exec", "stopped", "true"],
            None,
        ),
        (
            "kill of a stopped container",
            vec!["kill", &stopped],
            vec!["kill", "stopped"],
            None,
        ),
        (
            "stop of a missing container",
            vec!["stop", "berth-parity-no-such-ctr"],
            vec!["stop", "berth-parity-no-such-ctr"],
            Some("no such container"),
        ),
    ];
    for (what, pargs, bargs, words) in cases {
        let po = podman(&pargs);
        let bo = e.berth(&bargs);
        assert_ne!(code(&po), 0, "podman, {what}");
        assert_eq!(
            code(&bo),
            1,
            "berth (docker's status), {what}: {}",
            stderr(&bo)
        );
        if let Some(w) = words {
            assert!(
                stderr(&po).to_lowercase().contains(w),
                "podman, {what}: {}",
                stderr(&po)
            );
            assert!(
                stderr(&bo).to_lowercase().contains(w),
                "berth, {what}: {}",
                stderr(&bo)
            );
        }
    }
    e.ok(&["rm", "-f", "running"]);
}
