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
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{run_with_input, sh_quote, Out};
use tempfile::TempDir;

/// The image every test runs.
const IMAGE: &str = "localhost/berth-bb";
/// Timeout of one podman command.
const PODMAN_TIMEOUT: Duration = Duration::from_secs(30);

/// The berth-runc binary under test (podman's `--runtime`).
fn berth_runc() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth-runc"))
}

/// `name` found in `$PATH` (or the usual sbin dirs), as an executable file.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
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
        let rootfs = p.base.path().join("rootfs");
        common::make_rootfs(&rootfs);
        let tar = p.base.path().join("rootfs.tar");
        common::run_cmd(
            Command::new(which("tar").expect("tar is installed"))
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
            PODMAN_TIMEOUT,
        )
        .ok("tar the busybox rootfs");
        p.run(&["import", tar.to_str().unwrap(), IMAGE])
            .ok("podman import");
        p
    }

    fn dir(&self, name: &str) -> String {
        self.base.path().join(name).to_string_lossy().into_owned()
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

    /// The podman command line as one sh-quoted string (for `script -c`).
    fn cmd_line(&self, args: &[&str]) -> String {
        let c = self.cmd(args);
        let mut v = vec![c.get_program().to_string_lossy().into_owned()];
        v.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        let env: Vec<String> = c
            .get_envs()
            .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
            .collect();
        let mut words = vec!["env".to_string()];
        words.extend(env);
        words.extend(v);
        words
            .iter()
            .map(|w| sh_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs podman to completion (stdin from /dev/null).
    #[track_caller]
    fn run(&self, args: &[&str]) -> Out {
        common::run_cmd(&mut self.cmd(args), PODMAN_TIMEOUT)
    }

    /// `podman run --rm --network none <args...>`.
    #[track_caller]
    fn run_rm(&self, args: &[&str]) -> Out {
        let mut v = vec!["run", "--rm", "--network", "none"];
        v.extend_from_slice(args);
        self.run(&v)
    }

    /// `podman run -d --name NAME --network none <args...>`: starts a detached container.
    #[track_caller]
    fn run_detached(&self, name: &str, args: &[&str]) {
        let mut v = vec!["run", "-d", "--name", name, "--network", "none"];
        v.extend_from_slice(args);
        self.run(&v).ok("podman run -d");
    }

    /// `podman inspect --format FORMAT NAME`, trimmed.
    #[track_caller]
    fn inspect(&self, name: &str, format: &str) -> String {
        self.run(&["inspect", "--format", format, name])
            .ok("podman inspect")
            .out()
            .to_string()
    }

    /// Polls `{{.State.Status}}` until it is `want`; panics after 10 s.
    #[track_caller]
    fn wait_status(&self, name: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.inspect(name, "{{.State.Status}}");
            if s == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "container {name} never became {want}: still {s}"
            );
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Never panic here (it may run while unwinding): just try everything.
        let quiet = |args: &[&str]| {
            let Ok(mut child) = self
                .cmd(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                return;
            };
            let deadline = Instant::now() + PODMAN_TIMEOUT;
            while let Ok(None) = child.try_wait() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return;
                }
                sleep(Duration::from_millis(10));
            }
        };
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

/// `script -qec CMD /dev/null`: runs a shell command line on a fresh pty (util-linux
/// `script`), so podman sees a terminal on its stdin/stdout. None when `script` is missing.
fn script_cmd(line: &str) -> Option<Command> {
    let script = which("script")?;
    let mut c = Command::new(script);
    c.args(["-qec", line, "/dev/null"]);
    Some(c)
}

#[test]
fn run_rm_echo() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let o = p.run_rm(&[IMAGE, "echo", "hi"]).ok("podman run --rm echo");
    assert_eq!(o.stdout, "hi\n", "{o:?}");
    // --rm removed the container.
    let ps = p.run(&["ps", "-aq"]).ok("podman ps -aq");
    assert_eq!(ps.out(), "", "{ps:?}");
}

#[test]
fn run_exit_codes() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let o = p.run_rm(&[IMAGE, "sh", "-c", "exit 3"]);
    assert_eq!(o.code(), Some(3), "{o:?}");
    // podman maps the runtime's create error to 127 (not found) and 126 (not executable),
    // like it does for runc and crun.
    let o = p.run_rm(&[IMAGE, "/nonexistent"]);
    assert_eq!(o.code(), Some(127), "{o:?}");
    assert!(o.all_lower().contains("nonexistent"), "{o:?}");
    let o = p.run_rm(&[IMAGE, "no-such-command"]);
    assert_eq!(o.code(), Some(127), "{o:?}");
    let o = p.run_rm(&[IMAGE, "/etc/passwd"]);
    assert_eq!(o.code(), Some(126), "{o:?}");
    assert!(o.all_lower().contains("permission denied"), "{o:?}");
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
    let p = Podman::new();
    let o = run_with_input(
        &mut p.cmd(&["run", "--rm", "-i", "--network", "none", IMAGE, "sh"]),
        b"echo from-stdin\nexit 6\n",
        false,
        PODMAN_TIMEOUT,
    );
    assert_eq!(o.code(), Some(6), "{o:?}");
    assert_eq!(o.stdout, "from-stdin\n", "{o:?}");
}

#[test]
fn detached_exec_stop_start_rm() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let name = "berth-detached";
    p.run_detached(
        name,
        &[
            IMAGE,
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    let ps = p
        .run(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .ok("podman ps");
    assert!(ps.stdout.contains(&format!("{name} Up")), "{ps:?}");

    // exec: output, exit code, options, stdin.
    let o = p.run(&["exec", name, "sh", "-c", "echo in-exec; hostname; exit 5"]);
    assert_eq!(o.code(), Some(5), "{o:?}");
    assert!(o.stdout.starts_with("in-exec\n"), "{o:?}");
    let o = p
        .run(&[
            "exec",
            "--user",
            "1000",
            "-w",
            "/tmp",
            "-e",
            "X=y",
            name,
            "sh",
            "-c",
            "id -u; pwd; echo $X",
        ])
        .ok("podman exec with options");
    assert_eq!(o.stdout, "1000\n/tmp\ny\n", "{o:?}");
    let o = run_with_input(
        &mut p.cmd(&["exec", "-i", name, "cat"]),
        b"piped-in\n",
        false,
        PODMAN_TIMEOUT,
    );
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "piped-in\n", "{o:?}");
    p.run(&["exec", "-d", name, "sleep", "30"])
        .ok("podman exec -d");
    let top = p.run(&["top", name]).ok("podman top");
    assert!(top.stdout.contains("sleep 30"), "{top:?}");

    let logs = p.run(&["logs", name]).ok("podman logs");
    assert!(logs.stdout.contains("ready"), "{logs:?}");

    // stop sends SIGTERM (runtime `kill ID 15`): the trap exits 7.
    p.run(&["stop", "-t", "10", name]).ok("podman stop");
    assert_eq!(p.inspect(name, "{{.State.Status}}"), "exited");
    assert_eq!(p.inspect(name, "{{.State.ExitCode}}"), "7");
    let logs = p.run(&["logs", name]).ok("podman logs");
    assert!(logs.stdout.contains("got-term"), "{logs:?}");

    // Start it again (a new create/start of the same container), then restart it.
    p.run(&["start", name]).ok("podman start");
    p.wait_status(name, "running");
    p.run(&["restart", "-t", "10", name]).ok("podman restart");
    let o = p
        .run(&["exec", name, "echo", "alive"])
        .ok("exec after restart");
    assert_eq!(o.out(), "alive");

    p.run(&["rm", "-f", "-t", "10", name]).ok("podman rm -f");
    let ps = p.run(&["ps", "-aq"]).ok("podman ps -aq");
    assert_eq!(ps.out(), "", "{ps:?}");
}

#[test]
fn pause_unpause_kill() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let name = "berth-pause";
    p.run_detached(name, &[IMAGE, "sleep", "1000"]);
    p.run(&["pause", name]).ok("podman pause");
    assert_eq!(p.inspect(name, "{{.State.Status}}"), "paused");
    // podman refuses to exec into a paused container.
    let o = p.run(&["exec", name, "true"]);
    assert!(!o.success(), "{o:?}");
    p.run(&["unpause", name]).ok("podman unpause");
    assert_eq!(p.inspect(name, "{{.State.Status}}"), "running");
    p.run(&["exec", name, "true"]).ok("exec after unpause");

    // podman kill defaults to SIGKILL (runtime `kill ID 9`).
    p.run(&["kill", name]).ok("podman kill");
    let w = p.run(&["wait", name]).ok("podman wait");
    assert_eq!(w.out(), "137", "{w:?}");
    p.run(&["rm", name]).ok("podman rm");
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
    p.run(&["kill", "-s", "TERM", name])
        .ok("podman kill -s TERM");
    let w = p.run(&["wait", name]).ok("podman wait");
    assert_eq!(w.out(), "7", "{w:?}");
    p.run(&["rm", name]).ok("podman rm");

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
    let o = fg.wait(PODMAN_TIMEOUT);
    assert_eq!(o.code(), Some(7), "{o:?}");
    assert!(o.stdout.contains("got-term"), "{o:?}");
}

#[test]
fn tty_run_and_exec() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let line = p.cmd_line(&[
        "run",
        "--rm",
        "-t",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "tty; [ -t 1 ] && echo stdout-is-tty; exit 4",
    ]);
    let Some(mut c) = script_cmd(&line) else {
        println!("skipping: util-linux `script` is not installed");
        return;
    };
    let o = common::run_cmd(&mut c, PODMAN_TIMEOUT);
    assert_eq!(o.code(), Some(4), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/0"), "{o:?}");
    assert!(o.stdout.contains("stdout-is-tty\r\n"), "{o:?}");

    let name = "berth-tty";
    p.run_detached(name, &[IMAGE, "sleep", "1000"]);
    let line = p.cmd_line(&["exec", "-t", name, "sh", "-c", "tty; exit 2"]);
    let o = common::run_cmd(&mut script_cmd(&line).unwrap(), PODMAN_TIMEOUT);
    assert_eq!(o.code(), Some(2), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "{o:?}");
}

#[test]
fn interactive_tty() {
    if skip() {
        return;
    }
    let p = Podman::new();
    let line = p.cmd_line(&["run", "--rm", "-it", "--network", "none", IMAGE, "sh"]);
    let Some(mut c) = script_cmd(&line) else {
        println!("skipping: util-linux `script` is not installed");
        return;
    };
    // Keep stdin open: an EOF would reach the shell as ^D before it read the line.
    let o = run_with_input(
        &mut c,
        b"tty; [ -t 0 ] && echo stdin-is-tty; exit 9\n",
        true,
        PODMAN_TIMEOUT,
    );
    assert_eq!(o.code(), Some(9), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/0\r\n"), "{o:?}");
    assert!(o.stdout.contains("stdin-is-tty\r\n"), "{o:?}");
}

#[test]
fn cgroup_resources_and_update() {
    if skip() {
        return;
    }
    if common::host_sh("stat -fc %T /sys/fs/cgroup").out() == "cgroup2fs" {
        println!("skipping: the checks read cgroup v1 files and this host is cgroup v2");
        return;
    }
    let p = Podman::new();
    let o = p
        .run_rm(&[
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            IMAGE,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        ])
        .ok("podman run with limits");
    assert_eq!(o.stdout, "67108864\n50\n50000\n", "{o:?}");

    let name = "berth-update";
    p.run_detached(name, &["--memory", "64m", IMAGE, "sleep", "1000"]);
    // runtime `update --resources=FILE ID`
    p.run(&["update", "--memory", "128m", name])
        .ok("podman update");
    let o = p
        .run(&[
            "exec",
            name,
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        ])
        .ok("read memory limit");
    assert_eq!(o.out(), "134217728", "{o:?}");
    let st = p
        .run(&["stats", "--no-stream", "--format", "{{.Name}}", name])
        .ok("podman stats");
    assert_eq!(st.out(), name, "{st:?}");
    p.run(&["rm", "-f", "-t", "0", name]).ok("podman rm -f");

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
    let o = p.run_rm(&["--read-only", IMAGE, "touch", "/x"]);
    assert_eq!(o.code(), Some(1), "{o:?}");
    assert!(o.all_lower().contains("read-only file system"), "{o:?}");

    let o = p
        .run_rm(&[
            "--cap-drop",
            "all",
            IMAGE,
            "grep",
            "Cap",
            "/proc/self/status",
        ])
        .ok("podman run --cap-drop all");
    for f in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(
            common::status_field(&o.stdout, f),
            Some("0000000000000000"),
            "{f}: {o:?}"
        );
    }
    // podman's default seccomp profile is loaded (filter mode), unless unconfined.
    let o = p
        .run_rm(&[IMAGE, "grep", "Seccomp:", "/proc/self/status"])
        .ok("podman run seccomp");
    assert_eq!(
        common::status_field(&o.stdout, "Seccomp"),
        Some("2"),
        "{o:?}"
    );
    let o = p
        .run_rm(&[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges",
            IMAGE,
            "cat",
            "/proc/self/status",
        ])
        .ok("podman run seccomp=unconfined");
    assert_eq!(
        common::status_field(&o.stdout, "Seccomp"),
        Some("0"),
        "{o:?}"
    );
    assert_eq!(
        common::status_field(&o.stdout, "NoNewPrivs"),
        Some("1"),
        "{o:?}"
    );
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
    p.run(&[
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
    p.run(&["pod", "rm", "-f", "-t", "0", "berth-pod"])
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
