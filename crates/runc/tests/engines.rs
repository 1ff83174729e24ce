//! berth-runc as the OCI runtime of another engine: podman (Debian's `podman` package, with
//! conmon) drives `berth-runc` through `podman --runtime <berth-runc>`.
//!
//! Every test gets its own podman world in a temp dir: `--root` (image and container
//! storage), `--runroot`, `--tmpdir`, a `CONTAINERS_CONF` file (cgroupfs manager, file events
//! backend, default ulimits no higher than this process's hard limits, since root may lack
//! CAP_SYS_RESOURCE) and an image `localhost/berth-bb` imported from a busybox rootfs tarball.
//! Nothing is pulled from a registry and every container uses `--network none`, so nothing
//! leaves the machine. berth-runc keeps its own state under its default root
//! (`/run/berth-runc`): podman never passes `--root` to the runtime, and container ids are
//! random, so parallel tests never collide.
//!
//! The tests skip (printing "skipping: <reason>") when not root, or when podman or
//! busybox-static is not installed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::engine::{self, which, Engine, EngineKind, TIMEOUT};
use tempfile::TempDir;

/// The image every test runs.
const IMAGE: &str = "localhost/berth-bb";

/// The berth-runc binary under test (podman's `--runtime`).
fn berth_runc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-runc"))
}

/// Returns true (after printing the reason) when these tests cannot run here.
fn skip() -> bool {
    if common::skip_if_not_root() {
        return true;
    }
    if which("podman").is_none() {
        println!("skipping: podman is not installed (apt-get install podman)");
        return true;
    }
    false
}

/// A `ulimit` value podman may set without CAP_SYS_RESOURCE: the hard limit of this
/// process, capped at podman's default for nofile (1048576) and, for nproc, at 32768: podman
/// 4.3 lowers its own (hence conmon's and the runtime's) RLIMIT_NPROC to 32768, so a higher
/// value fails with EPERM in every runtime (crun, runc and berth-runc alike).
fn limit(resource: nix::sys::resource::Resource) -> u64 {
    let (_, hard) = nix::sys::resource::getrlimit(resource).expect("getrlimit");
    let cap = if resource == nix::sys::resource::Resource::RLIMIT_NPROC {
        32_768
    } else {
        1_048_576
    };
    hard.min(cap)
}

/// A private podman world (storage, run dir, tmp dir, config) using berth-runc, with the
/// busybox image imported. Dropping it removes every container and pod, unmounts whatever
/// podman left mounted under it and deletes it.
struct Podman {
    base: TempDir,
    podman: PathBuf,
    runtime: PathBuf,
}

impl Podman {
    /// A fresh podman world with `localhost/berth-bb` imported; panics if the import fails.
    fn new() -> Podman {
        let base = common::open_tempdir("berth-podman-");
        for d in ["storage", "run", "tmp", "net", "volumes"] {
            fs::create_dir_all(base.path().join(d)).unwrap();
        }
        let nofile = limit(nix::sys::resource::Resource::RLIMIT_NOFILE);
        let nproc = limit(nix::sys::resource::Resource::RLIMIT_NPROC);
        fs::write(
            base.path().join("containers.conf"),
            format!(
                "[containers]\n\
                 default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n\
                 [engine]\n\
                 cgroup_manager = \"cgroupfs\"\n\
                 events_logger = \"file\"\n"
            ),
        )
        .unwrap();
        let p = Podman {
            base,
            podman: which("podman").expect("podman is installed"),
            runtime: berth_runc(),
        };
        engine::import_busybox(&p, p.base.path());
        p
    }

    fn dir(&self, name: &str) -> String {
        self.base.path().join(name).to_string_lossy().into_owned()
    }
}

impl Engine for Podman {
    fn kind(&self) -> EngineKind {
        EngineKind::Podman
    }

    fn name(&self) -> &str {
        "podman"
    }

    fn image(&self) -> &str {
        IMAGE
    }

    fn run_flags(&self) -> Vec<&str> {
        vec!["--network", "none"]
    }

    /// `podman <global flags> <args...>` as a Command.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.podman);
        c.env("CONTAINERS_CONF", self.base.path().join("containers.conf"))
            .env("TMPDIR", self.dir("tmp"))
            .args(["--root", &self.dir("storage")])
            .args(["--runroot", &self.dir("run")])
            .args(["--tmpdir", &self.dir("tmp")])
            .args(["--network-config-dir", &self.dir("net")])
            .args(["--volumepath", &self.dir("volumes")])
            .args(["--cgroup-manager", "cgroupfs"])
            .args(["--events-backend", "file"])
            .arg("--runtime")
            .arg(&self.runtime)
            .args(args);
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Never panic here (it may run while unwinding): just try everything.
        let quiet = |args: &[&str]| common::run_quietly(&mut self.cmd(args), TIMEOUT);
        quiet(&["rm", "-af", "-t", "0"]);
        quiet(&["pod", "rm", "-af", "-t", "0"]);
        quiet(&["rmi", "-af"]);
        // The overlay driver keeps its home (and any container rootfs still mounted)
        // mounted; unmount everything under our dir, deepest first.
        let base = self.base.path().to_string_lossy().into_owned();
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = mi
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|p| p.starts_with(&base))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

#[test]
fn run_rm_echo() {
    if skip() {
        return;
    }
    engine::scenario_run_rm_echo(&Podman::new(), "podman run --rm echo failed");
}

#[test]
fn run_exit_codes() {
    if skip() {
        return;
    }
    engine::scenario_run_exit_codes(&Podman::new());
}

#[test]
fn run_process_settings() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let o = p
        .run_rm(&[
            "--hostname",
            "hh",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "--user",
            "1000:1000",
            IMAGE,
            "sh",
            "-c",
            "hostname; echo $FOO; pwd; id -u; id -g",
        ])
        .ok("podman run with process settings");
    assert_eq!(o.stdout, "hh\nbar\n/tmp\n1000\n1000\n", "{o:?}");
    let o = p
        .run_rm(&[IMAGE, "sh", "-c", "ulimit -n"])
        .ok("podman run ulimit");
    assert_eq!(
        o.out(),
        limit(nix::sys::resource::Resource::RLIMIT_NOFILE).to_string(),
        "{o:?}"
    );
}

#[test]
fn stdin_is_forwarded() {
    if skip() {
        return;
    }
    engine::scenario_stdin_is_forwarded(&Podman::new());
}

#[test]
fn detached_exec_stop_start_rm() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let name = "berth-detached";
    engine::scenario_detached_exec_stop_start(&p, name);
    p.cli(&["rm", "-f", "-t", "10", name]).ok("podman rm -f");
    p.assert_no_containers();
}

#[test]
fn pause_unpause_kill() {
    if skip() {
        return;
    }
    engine::scenario_pause_unpause_kill(&Podman::new());
}

#[test]
fn kill_with_signal_and_sig_proxy() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
    let name = "berth-kill";
    p.run_detached(name, &[IMAGE, "sh", "-c", script]);
    p.cli(&["kill", "-s", "TERM", name])
        .ok("podman kill -s TERM");
    let w = p.cli(&["wait", name]).ok("podman wait");
    assert_eq!(w.out(), "7", "{w:?}");
    p.cli(&["rm", name]).ok("podman rm");

    // A foreground `podman run` forwards the signals it gets to the container.
    let work = p.base.path().join("tmp");
    let mut fg = common::Bg::spawn(
        &mut p.cmd(&[
            "run",
            "--rm",
            "--network",
            "none",
            IMAGE,
            "sh",
            "-c",
            script,
        ]),
        Some(&work.join("fg.out")),
        Some(&work.join("fg.err")),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fs::read_to_string(work.join("fg.out"))
        .unwrap_or_default()
        .contains("ready")
    {
        assert!(fg.running(), "podman run exited early");
        assert!(Instant::now() < deadline, "container never became ready");
        sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(fg.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal podman");
    let o = fg.wait(TIMEOUT);
    assert_eq!(o.code(), Some(7), "{o:?}");
    assert!(o.stdout.contains("got-term"), "{o:?}");
}

#[test]
fn tty_run_and_exec() {
    if skip() {
        return;
    }
    engine::scenario_tty_run_and_exec(&Podman::new());
}

#[test]
fn interactive_tty() {
    if skip() {
        return;
    }
    engine::scenario_interactive_tty(&Podman::new());
}

#[test]
fn cgroup_resources_and_update() {
    if skip() {
        return;
    }
    if engine::skip_unless_cgroup_v1() {
        return;
    }
    let p = Podman::new();
    engine::scenario_cgroup_limits(&p);

    let name = "berth-update";
    p.run_detached(name, &["--memory", "64m", IMAGE, "sleep", "1000"]);
    // runtime `update --resources=FILE ID`
    p.cli(&["update", "--memory", "128m", name])
        .ok("podman update");
    let o = p
        .cli(&[
            "exec",
            name,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ])
        .ok("read memory limit");
    assert_eq!(o.out(), "134217728", "{o:?}");
    let st = p
        .cli(&["stats", "--no-stream", "--format", "{{.Name}}", name])
        .ok("podman stats");
    assert_eq!(st.out(), name, "{st:?}");
    p.cli(&["rm", "-f", "-t", "0", name]).ok("podman rm -f");

    // Over its memory limit the container is OOM-killed.
    let o = p.run_rm(&[
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
}

#[test]
fn security_options() {
    if skip() {
        return;
    }
    let p = Podman::new();
    engine::scenario_security_options(&p);
    // --privileged keeps every capability podman itself has.
    let own = fs::read_to_string("/proc/self/status").unwrap();
    let o = p
        .run_rm(&["--privileged", IMAGE, "cat", "/proc/self/status"])
        .ok("podman run --privileged");
    assert_eq!(
        common::status_field(&o.stdout, "CapEff"),
        common::status_field(&own, "CapEff"),
        "{o:?}"
    );
}

#[test]
fn mounts_and_user_namespace() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let host_dir = p.base.path().join("shared");
    fs::create_dir_all(&host_dir).unwrap();
    fs::write(host_dir.join("hello"), "from-host\n").unwrap();
    let vol = format!("{}:/mnt/h:ro", host_dir.display());
    let o = p
        .run_rm(&[
            "-v",
            &vol,
            "--tmpfs",
            "/scratch",
            IMAGE,
            "sh",
            "-c",
            "cat /mnt/h/hello; touch /mnt/h/x 2>/dev/null || echo ro; \
             grep -c ' /scratch tmpfs ' /proc/mounts",
        ])
        .ok("podman run with mounts");
    assert_eq!(o.stdout, "from-host\nro\n1\n", "{o:?}");

    let o = p
        .run_rm(&[
            "--uidmap",
            "0:100000:65536",
            "--gidmap",
            "0:100000:65536",
            IMAGE,
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ])
        .ok("podman run --uidmap");
    let words: Vec<&str> = o.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "0", "100000", "65536"], "{o:?}");
}

#[test]
fn pod_with_shared_namespaces() {
    if skip() {
        return;
    }
    if !Path::new("/usr/libexec/podman/catatonit").exists() && which("catatonit").is_none() {
        println!("skipping: catatonit (podman's pause image) is not installed");
        return;
    }
    let p = Podman::new();
    // The infra container (podman builds its pause image locally from catatonit) holds the
    // namespaces; the second container joins them by path.
    p.cli(&[
        "pod",
        "create",
        "--name",
        "berth-pod",
        "--network",
        "none",
        "--share",
        "pid,ipc,uts",
    ])
    .ok("podman pod create");
    let o = p
        .run_rm(&[
            "--pod",
            "berth-pod",
            IMAGE,
            "sh",
            "-c",
            "hostname; cat /proc/1/comm",
        ])
        .ok("podman run --pod");
    assert_eq!(o.stdout, "berth-pod\ncatatonit\n", "{o:?}");
    p.cli(&["pod", "rm", "-f", "-t", "0", "berth-pod"])
        .ok("podman pod rm");
}

#[test]
fn shared_bind_propagation() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let host_dir = p.base.path().join("shared");
    fs::create_dir_all(&host_dir).unwrap();
    // An rshared bind makes podman set linux.rootfsPropagation = "shared".
    let m = format!(
        "type=bind,src={},dst=/b,bind-propagation=rshared",
        host_dir.display()
    );
    let o = p
        .run_rm(&["--mount", &m, IMAGE, "grep", " /b ", "/proc/self/mountinfo"])
        .ok("podman run with an rshared bind mount");
    assert!(o.stdout.contains("shared:"), "{o:?}");
}
