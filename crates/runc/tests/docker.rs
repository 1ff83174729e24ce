//! berth-runc as the OCI runtime of Docker: a private `dockerd` (Debian's `docker.io`
//! package, 20.10) with its own supervised containerd drives berth-runc through
//! containerd-shim-runc-v2, registered as `--add-runtime berth=<berth-runc>`; every
//! container runs with `--runtime berth`.
//!
//! Every test gets its own Docker world in a temp dir: `--data-root`, `--exec-root` (where
//! dockerd puts containerd's socket and state, and where the shim keeps the runtime's
//! `--root`), `--pidfile`, the API socket, a `--config-file` (which also moves dockerd's
//! trust key, `/etc/docker/key.json` by default, into the temp dir), a containerd namespace,
//! and a `--cgroup-parent` of its own. Networking is off (`--bridge=none`, no iptables, no
//! forwarding, no userland proxy) and every container uses `--network none`; the image
//! `berth-bb` is `docker import`ed from a busybox rootfs tarball, so nothing is pulled and
//! nothing leaves the machine. Dropping the world removes the containers, stops dockerd
//! (and with it containerd), kills whatever is left in its cgroups or runs from its dirs,
//! removes its cgroups, unmounts everything under its dir and deletes it.
//!
//! `BERTH_TEST_RUNTIME` replaces berth-runc (e.g. `/usr/sbin/runc`, to check the tests
//! themselves).
//!
//! The tests skip (printing "skipping: <reason>") when not root, or when busybox-static,
//! dockerd, containerd, containerd-shim-runc-v2 or the docker CLI is not installed.

mod common;

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::engine::{self, which, Engine, EngineKind, TIMEOUT};
use common::read_all;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

/// The image every test runs.
const IMAGE: &str = "berth-bb";
/// The name berth-runc is registered under (`--add-runtime berth=...`).
const RUNTIME: &str = "berth";
/// How long dockerd (and its containerd) may take to come up, and to shut down.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(30);

/// On a cgroup v1 host whose block scheduler is BFQ (no CFQ `blkio.weight`), berth-runc
/// writes the `blockIO.weight: 0` Docker always sends into `blkio.bfq.weight` and fails
/// with ERANGE, so no Docker container starts (runc skips a zero weight).
const BLKIO_BUG: &str = "berth-runc: cgroup v1 blkio writes Docker's blockIO.weight 0 \
                         (ERANGE on blkio.bfq.weight), so every docker run fails";

/// Returns true (after printing the reason) when these tests cannot run here.
fn skip() -> bool {
    if common::skip_if_not_root() {
        return true;
    }
    for (bin, what) in [
        ("dockerd", "dockerd"),
        ("docker", "the docker CLI"),
        ("containerd", "containerd"),
        ("containerd-shim-runc-v2", "containerd-shim-runc-v2"),
        ("tar", "tar"),
    ] {
        if which(bin).is_none() {
            println!("skipping: {what} is not installed (apt-get install docker.io)");
            return true;
        }
    }
    false
}

/// Waits up to `timeout` for `child` to exit.
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(20)),
            Ok(None) => return false,
        }
    }
}

/// The roots of every cgroup hierarchy: each v1 controller (and the hybrid v2 mount) under
/// /sys/fs/cgroup, or /sys/fs/cgroup itself on a unified host.
fn cgroup_roots() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    common::cgroup_mounts()
}

/// Every directory under `dir` (itself included), deepest first.
fn dirs_deepest_first(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        if let Ok(rd) = fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    todo.push(e.path());
                }
            }
        }
        all.push(d);
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    all
}

/// A private Docker world (dockerd with its own containerd) with berth-runc registered as
/// runtime `berth` and the busybox image imported. Dropping it tears everything down.
struct Docker {
    base: TempDir,
    docker: PathBuf,
    dockerd: Option<Child>,
    cgroup_parent: String,
}

impl Docker {
    /// Starts dockerd, waits for its API and imports `berth-bb`; panics if any step fails.
    fn new() -> Docker {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = common::open_tempdir("berth-docker-");
        for d in ["data", "exec", "cli", "tmp"] {
            fs::create_dir_all(base.path().join(d)).unwrap();
        }
        let config = serde_json::json!({
            // dockerd 20.10 writes its trust key to /etc/docker/key.json unless told.
            "deprecated-key-path": base.path().join("key.json"),
        });
        fs::write(base.path().join("daemon.json"), config.to_string()).unwrap();
        let cgroup_parent = format!(
            "berth-docker-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let mut d = Docker {
            docker: which("docker").expect("docker is installed"),
            dockerd: None,
            cgroup_parent,
            base,
        };
        d.start_daemon();
        engine::import_busybox(&d, d.base.path());
        d
    }

    fn path(&self, name: &str) -> PathBuf {
        self.base.path().join(name)
    }

    fn sock(&self) -> String {
        format!("unix://{}", self.path("docker.sock").display())
    }

    /// Spawns dockerd and waits until its API answers.
    fn start_daemon(&mut self) {
        let log = File::create(self.path("dockerd.log")).expect("create dockerd.log");
        let path = std::env::var("PATH").unwrap_or_default();
        let mut cmd = Command::new(which("dockerd").expect("dockerd is installed"));
        cmd.env("PATH", format!("{path}:/usr/sbin:/usr/bin:/sbin:/bin"))
            .env("TMPDIR", self.path("tmp"))
            .arg("--config-file")
            .arg(self.path("daemon.json"))
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("exec"))
            .arg("--pidfile")
            .arg(self.path("dockerd.pid"))
            .args(["-H", &self.sock()])
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                "--storage-driver=overlay2",
                "--exec-opt=native.cgroupdriver=cgroupfs",
                "--containerd-namespace=berth-test",
                "--containerd-plugins-namespace=berth-test-plugins",
            ])
            .args(["--cgroup-parent", &self.cgroup_parent])
            .arg("--add-runtime")
            .arg(format!("{RUNTIME}={}", common::runtime().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup"))
            .stderr(log)
            // Its own process group: a ^C of the test run must not reach it half-way.
            .process_group(0);
        self.dockerd = Some(cmd.spawn().expect("spawn dockerd"));
        let deadline = Instant::now() + DAEMON_TIMEOUT;
        loop {
            let o = common::run_cmd(
                &mut self.cmd(&["version", "--format", "{{.Server.Version}}"]),
                TIMEOUT,
            );
            if o.success() {
                return;
            }
            let exited = !matches!(self.dockerd.as_mut().unwrap().try_wait(), Ok(None));
            assert!(
                !exited && Instant::now() < deadline,
                "dockerd did not come up ({}):\n{}",
                if exited { "it exited" } else { "timeout" },
                fs::read_to_string(self.path("dockerd.log")).unwrap_or_default()
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Runs a docker command in the background, discarding its output, for teardown: never
    /// panics, gives up after `TIMEOUT`.
    fn quiet(&self, args: &[&str]) -> String {
        let Ok(mut out) = tempfile::tempfile() else {
            return String::new();
        };
        let Ok(dup) = out.try_clone() else {
            return String::new();
        };
        let Ok(mut child) = self
            .cmd(args)
            .stdin(Stdio::null())
            .stdout(dup)
            .stderr(Stdio::null())
            .spawn()
        else {
            return String::new();
        };
        if !wait_exit(&mut child, TIMEOUT) {
            let _ = child.kill();
            let _ = child.wait();
        }
        read_all(&mut out)
    }

    /// SIGKILLs every process whose command line mentions our dir (containerd, shims, a
    /// stuck runtime) and every process in our cgroups (thawing frozen ones first).
    fn kill_leftovers(&self) {
        let base = self.base.path().to_string_lossy().into_owned();
        let me = std::process::id();
        if let Ok(rd) = fs::read_dir("/proc") {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                if pid == me {
                    continue;
                }
                let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&base) {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
            }
        }
        for root in cgroup_roots() {
            for dir in dirs_deepest_first(&root.join(&self.cgroup_parent)) {
                if dir.join("freezer.state").exists() {
                    let _ = fs::write(dir.join("freezer.state"), "THAWED");
                }
                if dir.join("cgroup.freeze").exists() {
                    let _ = fs::write(dir.join("cgroup.freeze"), "0");
                }
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
    }

    /// Removes our cgroup parent (and anything left below it) in every hierarchy, retrying
    /// while killed processes are still on their way out.
    fn remove_cgroups(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut left = false;
            for root in cgroup_roots() {
                let top = root.join(&self.cgroup_parent);
                if !top.exists() {
                    continue;
                }
                for dir in dirs_deepest_first(&top) {
                    let _ = fs::remove_dir(&dir);
                }
                left |= top.exists();
            }
            if !left || Instant::now() > deadline {
                return;
            }
            self.kill_leftovers();
            sleep(Duration::from_millis(50));
        }
    }

    /// Unmounts everything under our dir (the overlay2 home, container rootfs, netns files),
    /// deepest first.
    fn unmount_all(&self) {
        let base = self.base.path().to_string_lossy().into_owned();
        for _ in 0..3 {
            let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            let mut points: Vec<String> = mi
                .lines()
                .filter_map(|l| l.split(' ').nth(4).map(String::from))
                .filter(|p| p == &base || p.starts_with(&format!("{base}/")))
                .collect();
            if points.is_empty() {
                return;
            }
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

impl Engine for Docker {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }

    fn name(&self) -> &str {
        "docker"
    }

    fn image(&self) -> &str {
        IMAGE
    }

    fn run_flags(&self) -> Vec<&str> {
        vec!["--runtime", RUNTIME, "--network", "none"]
    }

    /// `docker -H <our socket> <args...>` as a Command.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.docker);
        c.env("DOCKER_CONFIG", self.path("cli"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .env_remove("DOCKER_API_VERSION")
            .args(["-H", &self.sock()])
            .args(args);
        c
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        // Never panic here (it may run while unwinding): just try everything.
        if let Some(mut dockerd) = self.dockerd.take() {
            if matches!(dockerd.try_wait(), Ok(None)) {
                let ids = self.quiet(&["ps", "-aq"]);
                let ids: Vec<&str> = ids.split_whitespace().collect();
                if !ids.is_empty() {
                    let mut args = vec!["rm", "-f"];
                    args.extend(ids);
                    self.quiet(&args);
                }
                // dockerd stops its containerd on SIGTERM.
                let _ = kill(Pid::from_raw(dockerd.id() as i32), Signal::SIGTERM);
                if !wait_exit(&mut dockerd, DAEMON_TIMEOUT) {
                    let _ = dockerd.kill();
                    let _ = dockerd.wait();
                }
            }
        }
        self.kill_leftovers();
        self.remove_cgroups();
        self.unmount_all();
        // The TempDir field then deletes the dir.
    }
}

/// This process's bounding set has every capability the kernel knows (then `--privileged`
/// can grant them all).
fn have_all_caps() -> bool {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let bnd = common::status_field(&status, "CapBnd")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .unwrap_or(0);
    let all = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    bnd & all == all
}

#[test]
fn run_rm_echo() {
    if skip() {
        return;
    }
    engine::scenario_run_rm_echo(&Docker::new(), BLKIO_BUG);
}

#[test]
fn run_exit_codes_and_stdin() {
    if skip() {
        return;
    }
    let d = Docker::new();
    engine::scenario_run_exit_codes(&d);
    engine::scenario_stdin_is_forwarded(&d);
}

#[test]
fn detached_exec_stop_start_restart_rm() {
    if skip() {
        return;
    }
    let d = Docker::new();
    let name = "berth-detached";
    engine::scenario_detached_exec_stop_start(&d, name);

    // kill -s TERM reaches the trap too.
    d.cli(&["kill", "-s", "TERM", name])
        .ok("docker kill -s TERM");
    let w = d.cli(&["wait", name]).ok("docker wait");
    assert_eq!(w.out(), "7", "{w:?}");

    d.cli(&["start", name]).ok("docker start");
    d.cli(&["rm", "-f", name]).ok("docker rm -f");
    d.assert_no_containers();
}

#[test]
fn tty_run_and_exec() {
    if skip() {
        return;
    }
    engine::scenario_tty_run_and_exec(&Docker::new());
}

#[test]
fn interactive_tty() {
    if skip() {
        return;
    }
    engine::scenario_interactive_tty(&Docker::new());
}

#[test]
fn pause_unpause_kill() {
    if skip() {
        return;
    }
    engine::scenario_pause_unpause_kill(&Docker::new());
}

#[test]
fn cgroup_limits_update_stats() {
    if skip() {
        return;
    }
    if engine::skip_unless_cgroup_v1() {
        return;
    }
    let d = Docker::new();
    engine::scenario_cgroup_limits(&d);

    let name = "berth-update";
    d.run_detached(name, &["--memory", "64m", IMAGE, "sleep", "1000"]);
    // runtime `update --resources - ID`, the resources JSON on stdin.
    d.cli(&["update", "--memory", "128m", "--memory-swap", "256m", name])
        .ok("docker update --memory");
    let o = d
        .cli(&[
            "exec",
            name,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes",
        ])
        .ok("read memory limits");
    assert_eq!(o.stdout, "134217728\n268435456\n", "{o:?}");
    // This update carries memory limit 0 (unchanged): the memory limit must stay.
    d.cli(&["update", "--cpus", "1.5", "--pids-limit", "77", name])
        .ok("docker update --cpus --pids-limit");
    let o = d
        .cli(&[
            "exec",
            name,
            "cat",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ])
        .ok("read updated limits");
    assert_eq!(o.stdout, "150000\n77\n134217728\n", "{o:?}");
    // containerd reads the cgroup stats itself; the runtime must have put them there.
    let st = d
        .cli(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}}",
            name,
        ])
        .ok("docker stats");
    assert!(st.out().starts_with(name), "{st:?}");
    assert!(st.out().contains("/ 128MiB"), "{st:?}");
    assert!(st.out().ends_with(" 1"), "{st:?}");
    d.cli(&["rm", "-f", name]).ok("docker rm -f");
}

#[test]
fn oom_killed() {
    if skip() {
        return;
    }
    let d = Docker::new();
    let name = "berth-oom";
    let o = d.cli(&[
        "run",
        "--name",
        name,
        "--runtime",
        RUNTIME,
        "--network",
        "none",
        "--memory",
        "16m",
        "--memory-swap",
        "16m",
        IMAGE,
        "sh",
        "-c",
        "x=a; while :; do x=$x$x; done",
    ]);
    assert_eq!(o.code(), Some(137), "{o:?}");
    assert_eq!(
        d.inspect(name, "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    d.cli(&["rm", name]).ok("docker rm");
}

#[test]
fn security_options() {
    if skip() {
        return;
    }
    let d = Docker::new();
    // Docker's default capabilities (and, checked in the scenario, seccomp profile).
    let o = engine::scenario_security_options(&d);
    assert_eq!(
        common::status_field(&o.stdout, "NoNewPrivs"),
        Some("0"),
        "{o:?}"
    );
    assert_eq!(
        common::status_field(&o.stdout, "CapEff"),
        Some(
            common::cap_mask(&[
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW",
                "CAP_SYS_CHROOT",
                "CAP_MKNOD",
                "CAP_AUDIT_WRITE",
                "CAP_SETFCAP",
            ])
            .as_str()
        ),
        "{o:?}"
    );
    // no-new-privileges with the default profile: the filter is loaded after the drop.
    let o = d
        .run_rm(&[
            "--security-opt",
            "no-new-privileges",
            "-u",
            "1000",
            IMAGE,
            "cat",
            "/proc/self/status",
        ])
        .ok("docker run no-new-privileges with seccomp");
    assert_eq!(
        common::status_field(&o.stdout, "Seccomp"),
        Some("2"),
        "{o:?}"
    );
    assert_eq!(
        common::status_field(&o.stdout, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{o:?}"
    );
}

#[test]
fn privileged() {
    if skip() {
        return;
    }
    if !have_all_caps() {
        println!(
            "skipping: this process lacks capabilities that --privileged grants, so every \
             runtime fails it (see privileged_without_all_caps_fails_at_create)"
        );
        return;
    }
    let d = Docker::new();
    let own = fs::read_to_string("/proc/self/status").unwrap();
    let o = d
        .run_rm(&[
            "--privileged",
            IMAGE,
            "sh",
            "-c",
            "cat /proc/self/status; ls /dev | grep -c .",
        ])
        .ok("docker run --privileged");
    assert_eq!(
        common::status_field(&o.stdout, "CapEff"),
        common::status_field(&own, "CapEff"),
        "{o:?}"
    );
    assert_eq!(
        common::status_field(&o.stdout, "Seccomp"),
        Some("0"),
        "{o:?}"
    );
    // Every host device shows up, far more than the default dozen.
    let devices: usize = o.stdout.lines().last().unwrap().trim().parse().unwrap();
    assert!(devices > 20, "{o:?}");
}

#[test]
fn privileged_without_all_caps_fails_at_create() {
    if skip() {
        return;
    }
    if have_all_caps() {
        println!("skipping: this process has every capability, so --privileged works");
        return;
    }
    let d = Docker::new();
    // runc applies the capabilities before it reports the container created, so Docker
    // sees the failure from `create` (exit 125, "OCI runtime create failed").
    let o = d.run_rm(&["--privileged", IMAGE, "true"]);
    assert_eq!(o.code(), Some(125), "{o:?}");
    assert!(o.stderr.contains("OCI runtime create failed"), "{o:?}");
    // ... and it is the capability failure, not some other one.
    assert!(o.stderr.contains("caps"), "{o:?}");
}

#[test]
fn mounts_bind_and_tmpfs() {
    if skip() {
        return;
    }
    let d = Docker::new();
    let host_dir = d.path("shared");
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("hello"), "from-host\n").unwrap();
    let ro = format!("{}:/mnt/h:ro", host_dir.display());
    let rw = format!("{}:/mnt/w", host_dir.display());
    let o = d
        .run_rm(&[
            "-v",
            &ro,
            "-v",
            &rw,
            "--tmpfs",
            "/scratch:size=1m",
            IMAGE,
            "sh",
            "-c",
            "cat /mnt/h/hello; touch /mnt/h/x 2>/dev/null || echo ro; \
             echo written > /mnt/w/out; grep ' /scratch ' /proc/mounts",
        ])
        .ok("docker run with mounts");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[..2], ["from-host", "ro"], "{o:?}");
    assert!(
        lines[2].starts_with("tmpfs /scratch tmpfs rw,") && lines[2].contains("size=1024k"),
        "{o:?}"
    );
    assert_eq!(
        fs::read_to_string(host_dir.join("out")).unwrap(),
        "written\n"
    );
}

#[test]
fn init_process() {
    if skip() {
        return;
    }
    let d = Docker::new();
    // --init bind-mounts docker-init (tini) as /sbin/docker-init and makes it pid 1.
    let o = d.run_rm(&[
        "--init",
        IMAGE,
        "sh",
        "-c",
        "tr '\\0' ' ' < /proc/1/cmdline; echo; exit 5",
    ]);
    assert_eq!(o.code(), Some(5), "{o:?}");
    assert!(o.stdout.starts_with("/sbin/docker-init -- sh -c"), "{o:?}");
}
