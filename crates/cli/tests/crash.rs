//! Crash safety end to end (issue 4): `kill -9` of the CLI and of monitors at many points of
//! a container's life, host-side failures in the middle of `run`, and concurrent runs. After
//! each, the next commands must have repaired or reported everything.
//!
//! What the *next command* must repair (`ps -a`, then `rm -f` of what it shows):
//! - every record in a clear state: running with a live monitor, exited (a dead monitor's
//!   with exit code 255 and a `State.Error` that says so), or created;
//! - no mount under the root, no cgroup of a container without a record, no runtime state,
//!   container directory or snapshot row of a container without a record.
//!
//! What only *garbage collection* (`system prune`, `image prune`) may clean: snapshot
//! directories that no row names (`rm-*` trash, or a directory whose row was never
//! committed). Nothing refers to them, nothing shows them and they are never mounted; the
//! tests check that they are gone after `system prune -f`.
//!
//! Leftovers without a record are swept only when older than `BERTH_SWEEP_AGE_SECS` (60 s by
//! default), so that a container another process is creating (files first, record second)
//! survives. The commands these tests run after the kills set it to 0: by then no other berth
//! is creating anything in their root.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::with_busybox;
use common::{bin, sh, Env};

/// When a test fails, its containers would keep running (and their root be deleted under
/// them): they are removed first.
struct OnPanic(PathBuf);

impl Drop for OnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let ids = berth_at(&self.0, &["ps", "-aq"]).stdout;
        for id in String::from_utf8_lossy(&ids).split_whitespace() {
            let _ = berth_at(&self.0, &["rm", "-f", id]);
        }
    }
}

/// A berth command in `root`, with leftovers swept at any age (see the module doc).
fn berth_at(root: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .env("BERTH_SWEEP_AGE_SECS", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok_at(root: &Path, args: &[&str]) -> String {
    let o = berth_at(root, args);
    assert!(
        o.status.success(),
        "berth {args:?}: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// A berth command left running, its output discarded.
fn spawn_at(root: &Path, args: &[&str]) -> Child {
    Command::new(bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The pids of the monitors of containers in `root` (`berth __monitor ROOT ID`).
fn monitors(root: &Path) -> Vec<i32> {
    let root = root.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    for ent in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = ent.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(ent.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.len() >= 3 && args[1] == b"__monitor" && args[2] == root {
            out.push(pid);
        }
    }
    out
}

/// Processes with `--root ROOT` on their command line: CLIs, and what a killed CLI forked
/// that has yet to exec the monitor.
fn clis(root: &Path) -> Vec<i32> {
    let root = root.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    for ent in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = ent.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(ent.path().join("cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
        if args.windows(2).any(|w| w[0] == b"--root" && w[1] == root) {
            out.push(pid);
        }
    }
    out
}

fn sigkill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Waits (up to `secs`) until no monitor of `root` is alive.
fn wait_monitors_gone(root: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !monitors(root).is_empty() {
        assert!(
            Instant::now() < deadline,
            "monitors still alive: {:?}",
            monitors(root)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Container IDs that have files in `root`: to check their cgroups later.
fn note_ids(root: &Path, seen: &mut BTreeSet<String>) {
    for sub in ["containers", "runtime"] {
        if let Ok(rd) = std::fs::read_dir(root.join(sub)) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.len() == 64 {
                    seen.insert(n);
                }
            }
        }
    }
}

fn mounts_under(root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

/// Cgroup directories (any v1 controller, or the v2 tree) of container `id`.
fn cgroups_of(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path().join("berth").join(id);
        if p.exists() {
            out.push(p);
        }
    }
    let p = Path::new("/sys/fs/cgroup/berth").join(id);
    if p.exists() {
        out.push(p);
    }
    out
}

/// Every record must be in a clear state; returns the IDs of those still running.
fn assert_clear_states(root: &Path) -> Vec<String> {
    // Live monitors are let finish what they are doing (an --rm container's removal): then
    // only those of running containers are left. A killed CLI's fork may be about to exec
    // one.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !clis(root).is_empty()
        || monitors(root).len() > ok_at(root, &["ps", "-q"]).lines().count()
    {
        assert!(Instant::now() < deadline, "monitors don't finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    let ids = ok_at(root, &["ps", "-aq", "--no-trunc"]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let mut running = Vec::new();
    for id in ids {
        // An --rm container's monitor may remove it meanwhile: one seen running by the
        // wait above may have exited since, and be between recording that and removing it.
        let deadline = Instant::now() + Duration::from_secs(20);
        let all = loop {
            let o = berth_at(root, &["inspect", id]);
            if !o.status.success() {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(err.contains("No such object"), "inspect {id}: {err}");
                break None;
            }
            let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let removing = all[0]["HostConfig"]["AutoRemove"] == true
                && all[0]["State"]["Status"] == "exited"
                && !monitors(root).is_empty();
            if !removing || Instant::now() > deadline {
                break Some(all);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let Some(all) = all else { continue };
        let c = &all[0];
        let st = &c["State"];
        let status = st["Status"].as_str().unwrap();
        let code = st["ExitCode"].as_i64().unwrap();
        let error = st["Error"].as_str().unwrap_or_default();
        // With its monitor done, an --rm container that ran is gone. One whose `run` was
        // killed before it started it stays created, as with Docker (where only a restart
        // of the daemon removes it); `rm` removes it.
        assert!(
            matches!(status, "running" | "created") || c["HostConfig"]["AutoRemove"] != true,
            "an --rm container left behind: {st}"
        );
        match status {
            "running" => running.push(c["Id"].as_str().unwrap().to_string()),
            "created" => {}
            "exited" if code == 255 => assert!(
                error.contains("monitor"),
                "exited 255 without saying why: {st}"
            ),
            "exited" => assert!(error.is_empty(), "{st}"),
            _ => panic!("unclear state: {st}"),
        }
    }
    running
}

/// After a crash: `ps -a` shows clear states, `rm -f` removes everything, and nothing is
/// left behind (mounts, cgroups, runtime state, container directories, snapshot rows; and
/// after `system prune`, snapshot directories).
fn assert_repaired(root: &Path, seen: &mut BTreeSet<String>, layers: usize) {
    note_ids(root, seen);
    let running = assert_clear_states(root);
    // The command that reported a dead monitor's container also released what it held.
    for id in ok_at(root, &["ps", "-aq", "--no-trunc"]).split_whitespace() {
        if running.iter().any(|r| r == id) {
            continue;
        }
        let rootfs = root.join("containers").join(id).join("rootfs");
        let rootfs = rootfs.to_string_lossy();
        assert!(
            !mounts_under(root).iter().any(|m| *m == *rootfs),
            "{id} is not running but its rootfs is mounted"
        );
        assert_eq!(
            cgroups_of(id),
            Vec::<PathBuf>::new(),
            "{id} is not running but has cgroups"
        );
    }
    for id in ok_at(root, &["ps", "-aq"]).split_whitespace() {
        let o = berth_at(root, &["rm", "-f", id]);
        // An --rm container's monitor may remove it first.
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            o.status.success() || err.contains("No such container"),
            "rm -f {id}: {err}"
        );
    }
    ok_at(root, &["container", "prune", "-f"]);
    assert_eq!(ok_at(root, &["ps", "-aq"]), "");
    // --rm monitors may still be releasing what their containers held.
    wait_monitors_gone(root, 20);
    // The next command sweeps what a killed monitor or CLI left.
    ok_at(root, &["ps", "-a"]);
    assert_no_leaks(root, seen, layers);
}

/// With no container left: nothing of any may remain.
fn assert_no_leaks(root: &Path, seen: &BTreeSet<String>, layers: usize) {
    assert_eq!(mounts_under(root), Vec::<String>::new(), "mounts left");
    let count = |p: &str| std::fs::read_dir(root.join(p)).map_or(0, |d| d.count());
    assert_eq!(count("containers"), 0, "container dirs left");
    assert_eq!(count("runtime"), 0, "runtime state left");
    // A cgroup is removed once its last task is gone, which a dying task may delay a little.
    let deadline = Instant::now() + Duration::from_secs(5);
    for id in seen {
        while !cgroups_of(id).is_empty() {
            assert!(
                Instant::now() < deadline,
                "cgroups left: {:?}",
                cgroups_of(id)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    {
        let store = berth_image::Store::open(root).unwrap();
        let rows = store.snapshots.list(&store.db).unwrap();
        let kinds: Vec<_> = rows.iter().map(|i| (&i.key, i.kind)).collect();
        assert_eq!(rows.len(), layers, "snapshot rows left: {kinds:?}");
    }
    // Directories without a row are garbage collection's.
    ok_at(root, &["system", "prune", "-f"]);
    assert_eq!(count("s"), layers, "snapshot dirs left after system prune");
}

/// `kill -9` of a `berth run` after `delay`; returns whether it had finished by itself.
fn run_and_kill(root: &Path, args: &[&str], delay: Duration) -> bool {
    let mut cli = spawn_at(root, args);
    std::thread::sleep(delay);
    let done = cli.try_wait().unwrap().is_some();
    let _ = cli.kill();
    cli.wait().unwrap();
    done
}

/// How long `berth ARGS` takes here, uninterrupted (the quickest of three).
fn lifetime(root: &Path, args: &[&str]) -> Duration {
    let mut longest = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        ok_at(root, args);
        longest = longest.min(t.elapsed());
    }
    let mut seen = BTreeSet::new();
    assert_repaired(root, &mut seen, 1);
    longest
}

/// Kills `berth run ARGS` at evenly spread points of its life (from its exec to a little
/// after it would have finished), checking the repair after each.
fn kill_cli_loop(args: &[&str], iterations: u32) {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let life = lifetime(&root, args);
    let mut seen = BTreeSet::new();
    let t = Instant::now();
    let mut finished = 0;
    for i in 0..iterations {
        let delay = life * 6 / 5 * i / iterations;
        if run_and_kill(&root, args, delay) {
            finished += 1;
        }
        note_ids(&root, &mut seen);
        assert_repaired(&root, &mut seen, 1);
    }
    eprintln!(
        "{iterations} kills of `berth {}` over {life:?} ({finished} had finished), {} containers, {:?}",
        args.join(" "),
        seen.len(),
        t.elapsed()
    );
}

#[test]
fn kill9_of_run_rm_at_every_point() {
    kill_cli_loop(&["run", "--rm", "busybox", "true"], 36);
}

#[test]
fn kill9_of_run_at_every_point() {
    kill_cli_loop(&["run", "busybox", "true"], 36);
}

#[test]
fn kill9_of_run_detached_at_every_point() {
    kill_cli_loop(&["run", "-d", "busybox", "sleep", "100"], 36);
}

/// How long the monitor of `berth ARGS` lives here, uninterrupted (the quickest of three):
/// until it is gone (an --rm container's, after its cleanup) or `berth` has returned (`-d`).
fn monitor_lifetime(root: &Path, args: &[&str]) -> Duration {
    let mut quickest = Duration::MAX;
    for _ in 0..3 {
        let mut cli = spawn_at(root, args);
        let pid = loop {
            if let Some(&p) = monitors(root).first() {
                break p;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let t = Instant::now();
        while monitors(root).contains(&pid) && cli.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_micros(200));
        }
        quickest = quickest.min(t.elapsed());
        cli.wait().unwrap();
        assert_repaired(root, &mut BTreeSet::new(), 1);
    }
    quickest
}

/// Kills the monitor of `berth run ARGS` at evenly spread points of its life: from when it
/// appears to a little after it would have finished (an --rm container's monitor cleans up
/// after it reported the exit) or `run -d` returned.
fn kill_monitor_loop(args: &[&str], iterations: u32) {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let life = monitor_lifetime(&root, args);
    let mut seen = BTreeSet::new();
    let t = Instant::now();
    let (mut killed, mut late) = (0, 0);
    for i in 0..iterations {
        let delay = life * 6 / 5 * i / iterations;
        let mut cli = spawn_at(&root, args);
        let appeared = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(&p) = monitors(&root).first() {
                break Some(p);
            }
            if cli.try_wait().unwrap().is_some() || Instant::now() > appeared {
                break None;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let mut alive = false;
        if let Some(pid) = pid {
            std::thread::sleep(delay);
            alive = monitors(&root).contains(&pid);
            sigkill(pid);
        }
        note_ids(&root, &mut seen);
        // The CLI must not hang on a dead monitor.
        let deadline = Instant::now() + Duration::from_secs(15);
        while cli.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "berth {args:?} hangs");
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = cli.wait().unwrap();
        if alive {
            killed += 1;
            // Killed after it reported a success: while cleaning up, or running (`-d`).
            if status.success() {
                late += 1;
            }
        }
        assert_repaired(&root, &mut seen, 1);
    }
    eprintln!(
        "{iterations} monitors of `berth {}` killed over {life:?} ({killed} alive then, {late} of them after `run` had its answer), {:?}",
        args.join(" "),
        t.elapsed()
    );
}

#[test]
fn kill9_of_the_monitor_during_start_and_rm_cleanup() {
    kill_monitor_loop(&["run", "--rm", "busybox", "true"], 20);
    // The cleanup after the record is gone is short: aimed at, from when the container's
    // snapshot is moved to the trash (`rm-*`).
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let mut seen = BTreeSet::new();
    let mut hits = 0;
    let trashed = || {
        std::fs::read_dir(root.join("s"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("rm-"))
    };
    for i in 0..12u32 {
        let mut cli = spawn_at(&root, &["run", "--rm", "busybox", "true"]);
        let mut pid = None;
        while cli.try_wait().unwrap().is_none() && !trashed() {
            pid = pid.or_else(|| monitors(&root).first().copied());
            std::thread::sleep(Duration::from_micros(50));
        }
        std::thread::sleep(Duration::from_micros(u64::from(i) * 200));
        if let Some(pid) = pid.filter(|p| monitors(&root).contains(p)) {
            sigkill(pid);
            hits += 1;
        }
        cli.wait().unwrap();
        note_ids(&root, &mut seen);
        assert_repaired(&root, &mut seen, 1);
    }
    eprintln!("12 monitors killed once their container's snapshot was in the trash ({hits} still alive then)");
}

#[test]
fn kill9_of_the_monitor_of_a_detached_container() {
    kill_monitor_loop(&["run", "-d", "busybox", "sleep", "100"], 24);
}

#[test]
fn a_dead_monitor_is_reported_and_an_rm_container_is_removed() {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let mut seen = BTreeSet::new();
    let id = ok_at(
        &root,
        &["run", "-d", "--name", "keep", "busybox", "sleep", "100"],
    );
    ok_at(
        &root,
        &[
            "run", "-d", "--rm", "--name", "gone", "busybox", "sleep", "100",
        ],
    );
    note_ids(&root, &mut seen);
    for m in monitors(&root) {
        sigkill(m);
    }
    wait_monitors_gone(&root, 10);
    let ps = ok_at(&root, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    // Docker removes an --rm container it finds dead after a restart of the daemon.
    assert!(ps.starts_with("keep Exited (255)"), "{ps}");
    assert_eq!(ps.lines().count(), 1, "{ps}");
    let st = ok_at(&root, &["inspect", "-f", "{{.State.Error}}", id.trim()]);
    assert!(st.contains("monitor died"), "{st}");
    // Its process and cgroup went with the reconciliation, before any rm.
    for id in &seen {
        assert!(cgroups_of(id).is_empty(), "{:?}", cgroups_of(id));
    }
    assert_eq!(mounts_under(&root), Vec::<String>::new());
    // It can start again.
    ok_at(&root, &["start", "keep"]);
    assert_eq!(ok_at(&root, &["ps", "-q"]).lines().count(), 1);
    assert_repaired(&root, &mut seen, 1);
}

#[test]
fn containers_keep_running_without_the_cli() {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    ok_at(
        &root,
        &[
            "run",
            "-d",
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "while true; do echo tick; sleep 0.1; done",
        ],
    );
    // A foreground run whose CLI is killed once its container runs.
    let mut cli = spawn_at(
        &root,
        &[
            "run",
            "--name",
            "fg",
            "busybox",
            "sh",
            "-c",
            "while true; do echo tock; sleep 0.1; done",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    // Default sweep age: `fg` is being created meanwhile.
    while e.ok(&["ps", "-q"]).lines().count() < 2 {
        assert!(Instant::now() < deadline, "fg never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    cli.kill().unwrap();
    cli.wait().unwrap();
    // No berth process but the two monitors is left: no CLI of this root.
    assert_eq!(clis(&root), Vec::<i32>::new(), "berth CLIs still alive");
    assert_eq!(monitors(&root).len(), 2);
    let ticks = |name: &str| {
        ok_at(&root, &["logs", name])
            .lines()
            .filter(|l| l.starts_with('t'))
            .count()
    };
    let before = (ticks("ticker"), ticks("fg"));
    std::thread::sleep(Duration::from_millis(700));
    let after = (ticks("ticker"), ticks("fg"));
    assert!(
        after.0 > before.0,
        "ticker's logs stopped: {before:?} {after:?}"
    );
    assert!(
        after.1 > before.1,
        "fg's logs stopped: {before:?} {after:?}"
    );
    let ps = ok_at(&root, &["ps", "--format", "{{.Names}} {{.State}}"]);
    assert!(
        ps.contains("ticker running") && ps.contains("fg running"),
        "{ps}"
    );
    ok_at(&root, &["stop", "-t", "1", "ticker", "fg"]);
    assert!(ticks("fg") > after.1 - 1);
    let ps = ok_at(&root, &["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    for l in ps.lines() {
        assert!(l.contains("Exited (") && !l.contains("(255)"), "{ps}");
    }
    let mut seen = BTreeSet::new();
    assert_repaired(&root, &mut seen, 1);
}

/// `run` failed: a clear message, a non-zero status, and nothing half-made left.
fn assert_failed_cleanly(root: &Path, o: &Output, what: &str, seen: &mut BTreeSet<String>) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{what}: run succeeded");
    assert!(
        err.trim().len() > 10 && !err.contains("panicked"),
        "{what}: unclear error: {err:?}"
    );
    eprintln!("{what}: status {:?}: {}", o.status.code(), err.trim());
    assert_eq!(mounts_under(root), Vec::<String>::new(), "{what}");
    assert_repaired(root, seen, 1);
}

#[test]
fn host_failures_in_the_middle_of_run() {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let mut seen = BTreeSet::new();
    // A container directory berth can't write: `run` fails before anything exists.
    if common::have("chattr") {
        std::fs::create_dir_all(root.join("containers")).unwrap();
        let imm = Command::new("chattr")
            .arg("+i")
            .arg(root.join("containers"))
            .status()
            .unwrap();
        if imm.success() {
            let o = berth_at(&root, &["run", "--rm", "busybox", "true"]);
            let o2 = berth_at(&root, &["run", "busybox", "true"]);
            sh(&format!("chattr -i {}", root.join("containers").display()));
            assert_failed_cleanly(&root, &o, "immutable containers dir, --rm", &mut seen);
            assert_failed_cleanly(&root, &o2, "immutable containers dir", &mut seen);
        } else {
            eprintln!("SKIP: chattr +i is not supported on this filesystem");
        }
        // Created fine, then its directory turns immutable before start.
        let id = ok_at(&root, &["create", "busybox", "true"]);
        let dir = root.join("containers").join(id.trim());
        if sh(&format!("chattr +i {} && echo ok || true", dir.display())).contains("ok") {
            let o = berth_at(&root, &["start", "-a", id.trim()]);
            sh(&format!("chattr -i {}", dir.display()));
            assert_failed_cleanly(&root, &o, "immutable container dir at start", &mut seen);
        }
    }
    // The image's layer deleted under berth: the rootfs mount fails.
    let store = berth_image::Store::open(&root).unwrap();
    let layers = store.snapshots.list(&store.db).unwrap();
    let layer_dir = store.snapshots.fs_dir(&layers[0]);
    drop(store);
    let saved = e.path("saved-layer");
    sh(&format!("mv {} {}", layer_dir.display(), saved.display()));
    for args in [
        &["run", "--rm", "busybox", "true"][..],
        &["run", "busybox", "true"],
        &["run", "-d", "busybox", "sleep", "10"],
    ] {
        let o = berth_at(&root, args);
        assert_failed_cleanly(&root, &o, &format!("layer gone: {args:?}"), &mut seen);
    }
    sh(&format!("mv {} {}", saved.display(), layer_dir.display()));
    ok_at(&root, &["run", "--rm", "busybox", "true"]);
    assert_repaired(&root, &mut seen, 1);
}

#[test]
fn a_full_disk_in_the_middle_of_run() {
    let e = Env::new();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    std::fs::create_dir_all(&root).unwrap();
    if !Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&root)
        .status()
        .unwrap()
        .success()
    {
        eprintln!("SKIP: cannot mount a tmpfs");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(root.clone());
    let tar = e.busybox_tar();
    ok_at(&root, &["import", tar.to_str().unwrap(), "busybox"]);
    // Warm up: the database and seccomp cache at their steady size.
    ok_at(&root, &["run", "--rm", "busybox", "true"]);
    let fill = root.join("fill");
    let mut seen = BTreeSet::new();
    let mut failed = 0;
    // From full to nearly full: each room lets `run` get a little further.
    for room_kib in [0u64, 4, 8, 16, 32, 64, 128, 256, 512] {
        let _ = Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", fill.display()))
            .stderr(Stdio::null())
            .status();
        let size = std::fs::metadata(&fill).unwrap().len();
        sh(&format!(
            "truncate -s {} {}",
            size.saturating_sub(room_kib * 1024),
            fill.display()
        ));
        for args in [
            &["run", "--rm", "busybox", "true"][..],
            &["run", "busybox", "true"],
        ] {
            let o = berth_at(&root, args);
            note_ids(&root, &mut seen);
            if !o.status.success() {
                failed += 1;
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(
                    err.trim().len() > 10 && !err.contains("panicked"),
                    "unclear: {err:?}"
                );
                eprintln!("{room_kib} KiB free, {args:?}: {}", err.trim());
            }
            assert_eq!(mounts_under(&root).len(), 0);
            // Reads work on a full disk; rm must too (it frees space).
            assert_clear_states(&root);
        }
        std::fs::remove_file(&fill).unwrap();
        assert_repaired(&root, &mut seen, 1);
    }
    assert!(failed > 0, "a full disk never made run fail");
}

#[test]
fn concurrent_runs_ps_and_rm() {
    let e = with_busybox();
    let root = e.root();
    let _guard = OnPanic(root.clone());
    let stop_at = Instant::now() + Duration::from_secs(10);
    let mut threads = Vec::new();
    for i in 0..8 {
        let root = root.clone();
        threads.push(std::thread::spawn(move || {
            let mut n = 0;
            while Instant::now() < stop_at {
                // Default sweep age: other runs are being created meanwhile.
                let name = format!("c{i}");
                let o = Command::new(bin())
                    .arg("--root")
                    .arg(&root)
                    .args(["run", "--rm", "--name", &name, "busybox", "true"])
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                // `rm -f` may kill it, but its name must always be free again.
                assert!(
                    !err.contains("already in use")
                        && !err.contains("corrupt")
                        && !err.contains("panicked"),
                    "{name}: {err}"
                );
                n += 1;
            }
            n
        }));
    }
    let ps_root = root.clone();
    let ps = std::thread::spawn(move || {
        let mut n = 0;
        while Instant::now() < stop_at {
            let o = Command::new(bin())
                .arg("--root")
                .arg(&ps_root)
                .args(["ps", "-a"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            n += 1;
        }
        n
    });
    let mut removed = 0;
    let mut seen = BTreeSet::new();
    while Instant::now() < stop_at {
        note_ids(&root, &mut seen);
        let o = Command::new(bin())
            .arg("--root")
            .arg(&root)
            .args(["ps", "-aq"])
            .output()
            .unwrap();
        for id in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let o = Command::new(bin())
                .arg("--root")
                .arg(&root)
                .args(["rm", "-f", id])
                .output()
                .unwrap();
            if o.status.success() {
                removed += 1;
            } else {
                let err = String::from_utf8_lossy(&o.stderr);
                assert!(err.contains("No such container"), "rm -f {id}: {err}");
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let runs: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let pss = ps.join().unwrap();
    eprintln!("{runs} runs, {pss} ps, {removed} rm -f in 10 s");
    note_ids(&root, &mut seen);
    wait_monitors_gone(&root, 20);
    assert_eq!(ok_at(&root, &["ps", "-aq"]), "", "containers left");
    for i in 0..8 {
        // Every name is free again.
        ok_at(
            &root,
            &["run", "--rm", "--name", &format!("c{i}"), "busybox", "true"],
        );
    }
    assert_repaired(&root, &mut seen, 1);
}
