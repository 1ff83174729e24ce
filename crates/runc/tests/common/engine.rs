//! Scenarios shared by the tests that drive berth-runc through a container engine
//! (`engines.rs`: podman, `docker.rs`: dockerd).
//!
//! Each test file implements [`Engine`] for its private engine world and calls the
//! `scenario_*` functions from its own `#[test]`s; where the engines really behave
//! differently, the scenario asks [`Engine::kind`] and says why.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::{run_cmd, run_with_input, sh_quote, status_field, Out};

/// Timeout of one engine CLI command.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Which engine drives berth-runc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Podman,
    Docker,
}

/// A private engine world whose containers run on the runtime under test.
pub trait Engine {
    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// The CLI name, for messages ("podman", "docker").
    fn name(&self) -> &str;

    /// The image every test runs.
    fn image(&self) -> &str;

    /// The flags every `run` gets after `run [-d|--rm] [-i|-t|-it]` (network, runtime).
    fn run_flags(&self) -> Vec<&str>;

    /// `<engine> <global flags> <args...>` as a Command.
    fn cmd(&self, args: &[&str]) -> Command;

    /// Runs the engine CLI to completion (stdin from /dev/null).
    #[track_caller]
    fn cli(&self, args: &[&str]) -> Out {
        run_cmd(&mut self.cmd(args), TIMEOUT)
    }

    /// The command line as one sh-quoted string (for `script -c`).
    fn cmd_line(&self, args: &[&str]) -> String {
        let c = self.cmd(args);
        let mut words = vec!["env".to_string()];
        words.extend(
            c.get_envs()
                .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?))),
        );
        for k in c.get_envs().filter(|(_, v)| v.is_none()).map(|(k, _)| k) {
            words.insert(1, format!("-u{}", k.to_string_lossy()));
        }
        words.push(c.get_program().to_string_lossy().into_owned());
        words.extend(c.get_args().map(|a| a.to_string_lossy().into_owned()));
        words
            .iter()
            .map(|w| sh_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `run <mode...> <run flags> <args...>` (mode: `--rm`, `-d --name NAME`, `-i`, ...).
    fn run_args<'a>(&'a self, mode: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["run"];
        v.extend_from_slice(mode);
        v.extend(self.run_flags());
        v.extend_from_slice(args);
        v
    }

    /// `run --rm <run flags> <args...>`.
    #[track_caller]
    fn run_rm(&self, args: &[&str]) -> Out {
        self.cli(&self.run_args(&["--rm"], args))
    }

    /// `run -d --name NAME <run flags> <args...>`: starts a detached container.
    #[track_caller]
    fn run_detached(&self, name: &str, args: &[&str]) {
        self.cli(&self.run_args(&["-d", "--name", name], args))
            .ok(&format!("{} run -d", self.name()));
    }

    /// `inspect --format FORMAT NAME`, trimmed.
    #[track_caller]
    fn inspect(&self, name: &str, format: &str) -> String {
        self.cli(&["inspect", "--format", format, name])
            .ok(&format!("{} inspect", self.name()))
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

    /// Asserts that `ps -aq` lists no container.
    #[track_caller]
    fn assert_no_containers(&self) {
        let ps = self
            .cli(&["ps", "-aq"])
            .ok(&format!("{} ps -aq", self.name()));
        assert_eq!(ps.out(), "", "{ps:?}");
    }
}

/// `name` found in `$PATH` (or the usual sbin dirs), as an executable file.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `script -qec CMD /dev/null`: runs a shell command line on a fresh pty (util-linux
/// `script`), so the engine sees a terminal on its stdin/stdout. None when `script` is
/// missing.
pub fn script_cmd(line: &str) -> Option<Command> {
    let script = which("script")?;
    let mut c = Command::new(script);
    c.args(["-qec", line, "/dev/null"]);
    Some(c)
}

/// Builds a busybox rootfs under `base`, tars it and imports it as the engine's image;
/// panics if any step fails.
pub fn import_busybox(e: &dyn Engine, base: &Path) {
    let rootfs = base.join("rootfs");
    super::make_rootfs(&rootfs);
    let tar = base.join("rootfs.tar");
    run_cmd(
        Command::new(which("tar").expect("tar is installed"))
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        TIMEOUT,
    )
    .ok("tar the busybox rootfs");
    e.cli(&["import", tar.to_str().unwrap(), e.image()])
        .ok(&format!("{} import", e.name()));
}

/// Returns true (after printing the reason) when the host is cgroup v2: the cgroup checks
/// read v1 files.
pub fn skip_unless_cgroup_v1() -> bool {
    if super::host_sh("stat -fc %T /sys/fs/cgroup").out() == "cgroup2fs" {
        println!("skipping: the checks read cgroup v1 files and this host is cgroup v2");
        return true;
    }
    false
}

/// `run --rm IMAGE echo hi` prints `hi` and removes the container. `fail_msg` explains a
/// failure of the run.
pub fn scenario_run_rm_echo(e: &dyn Engine, fail_msg: &str) {
    let o = e.run_rm(&[e.image(), "echo", "hi"]);
    assert!(o.success(), "{fail_msg}: {o:?}");
    assert_eq!(o.stdout, "hi\n", "{o:?}");
    // --rm removed the container.
    e.assert_no_containers();
}

/// The exit status of the container process, and the engine's codes for a runtime create
/// error: 127 (not found) and 126 (not executable).
pub fn scenario_run_exit_codes(e: &dyn Engine) {
    let o = e.run_rm(&[e.image(), "sh", "-c", "exit 3"]);
    assert_eq!(o.code(), Some(3), "{o:?}");
    // podman maps the runtime's create error to 127 (not found) and 126 (not executable),
    // like it does for runc and crun; Docker does the same from the error it reads from the
    // shim's --log file, and its messages are checked more closely.
    let docker = e.kind() == EngineKind::Docker;
    let o = e.run_rm(&[e.image(), "/nonexistent"]);
    assert_eq!(o.code(), Some(127), "{o:?}");
    if docker {
        assert!(o.stderr.contains("/nonexistent"), "{o:?}");
    } else {
        assert!(o.all_lower().contains("nonexistent"), "{o:?}");
    }
    let o = e.run_rm(&[e.image(), "no-such-command"]);
    assert_eq!(o.code(), Some(127), "{o:?}");
    if docker {
        assert!(o.stderr.contains("executable file not found"), "{o:?}");
    }
    let o = e.run_rm(&[e.image(), "/etc/passwd"]);
    assert_eq!(o.code(), Some(126), "{o:?}");
    assert!(o.all_lower().contains("permission denied"), "{o:?}");
}

/// `run -i`: stdin reaches the container, its exit code comes back.
pub fn scenario_stdin_is_forwarded(e: &dyn Engine) {
    let o = run_with_input(
        &mut e.cmd(&e.run_args(&["--rm", "-i"], &[e.image(), "sh"])),
        b"echo from-stdin\nexit 6\n",
        false,
        TIMEOUT,
    );
    assert_eq!(o.code(), Some(6), "{o:?}");
    assert_eq!(o.stdout, "from-stdin\n", "{o:?}");
}

/// A detached container `name` (trapping SIGTERM to exit 7): ps, exec (output, exit code,
/// options, stdin, detached), top, logs, stop, start and restart. Leaves it running.
pub fn scenario_detached_exec_stop_start(e: &dyn Engine, name: &str) {
    let n = e.name();
    e.run_detached(
        name,
        &[
            e.image(),
            "sh",
            "-c",
            "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    );
    let ps = e
        .cli(&["ps", "--format", "{{.Names}} {{.Status}}"])
        .ok(&format!("{n} ps"));
    assert!(ps.stdout.contains(&format!("{name} Up")), "{ps:?}");

    // exec: output, exit code, options, stdin (with Docker, runtime
    // `exec --process FILE --detach`).
    if e.kind() == EngineKind::Docker {
        let o = e.cli(&["exec", name, "sh", "-c", "echo in-exec; exit 5"]);
        assert_eq!(o.code(), Some(5), "{o:?}");
        assert_eq!(o.stdout, "in-exec\n", "{o:?}");
    } else {
        let o = e.cli(&["exec", name, "sh", "-c", "echo in-exec; hostname; exit 5"]);
        assert_eq!(o.code(), Some(5), "{o:?}");
        assert!(o.stdout.starts_with("in-exec\n"), "{o:?}");
    }
    let o = e
        .cli(&[
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
        .ok(&format!("{n} exec with options"));
    assert_eq!(o.stdout, "1000\n/tmp\ny\n", "{o:?}");
    let o = run_with_input(
        &mut e.cmd(&["exec", "-i", name, "cat"]),
        b"piped-in\n",
        false,
        TIMEOUT,
    );
    assert!(o.success(), "{o:?}");
    assert_eq!(o.stdout, "piped-in\n", "{o:?}");
    e.cli(&["exec", "-d", name, "sleep", "30"])
        .ok(&format!("{n} exec -d"));
    // runtime `ps --format json`
    let top = e.cli(&["top", name]).ok(&format!("{n} top"));
    assert!(top.stdout.contains("sleep 30"), "{top:?}");

    let logs = e.cli(&["logs", name]).ok(&format!("{n} logs"));
    assert!(logs.stdout.contains("ready"), "{logs:?}");

    // stop sends SIGTERM (runtime `kill ID 15`): the trap exits 7.
    e.cli(&["stop", "-t", "10", name]).ok(&format!("{n} stop"));
    assert_eq!(
        e.inspect(name, "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 7"
    );
    let logs = e.cli(&["logs", name]).ok(&format!("{n} logs"));
    assert!(logs.stdout.contains("got-term"), "{logs:?}");

    // Start it again (a new create/start of the same container), then restart it.
    e.cli(&["start", name]).ok(&format!("{n} start"));
    e.wait_status(name, "running");
    e.cli(&["restart", "-t", "10", name])
        .ok(&format!("{n} restart"));
    e.wait_status(name, "running");
    let o = e
        .cli(&["exec", name, "echo", "alive"])
        .ok("exec after restart");
    assert_eq!(o.out(), "alive");
}

/// pause/unpause (no exec while paused) and kill's default SIGKILL.
pub fn scenario_pause_unpause_kill(e: &dyn Engine) {
    let n = e.name();
    let name = "berth-pause";
    e.run_detached(name, &[e.image(), "sleep", "1000"]);
    e.cli(&["pause", name]).ok(&format!("{n} pause"));
    assert_eq!(e.inspect(name, "{{.State.Status}}"), "paused");
    // The engine refuses to exec into a paused container.
    let o = e.cli(&["exec", name, "true"]);
    assert!(!o.success(), "{o:?}");
    e.cli(&["unpause", name]).ok(&format!("{n} unpause"));
    assert_eq!(e.inspect(name, "{{.State.Status}}"), "running");
    e.cli(&["exec", name, "true"]).ok("exec after unpause");

    // kill defaults to SIGKILL (runtime `kill ID 9`).
    e.cli(&["kill", name]).ok(&format!("{n} kill"));
    let w = e.cli(&["wait", name]).ok(&format!("{n} wait"));
    assert_eq!(w.out(), "137", "{w:?}");
    e.cli(&["rm", name]).ok(&format!("{n} rm"));
}

/// `run -t` and `exec -t` on a pty (through `script`).
pub fn scenario_tty_run_and_exec(e: &dyn Engine) {
    let line = e.cmd_line(&e.run_args(
        &["--rm", "-t"],
        &[
            e.image(),
            "sh",
            "-c",
            "tty; [ -t 1 ] && echo stdout-is-tty; exit 4",
        ],
    ));
    let Some(mut c) = script_cmd(&line) else {
        println!("skipping: util-linux `script` is not installed");
        return;
    };
    let o = run_cmd(&mut c, TIMEOUT);
    assert_eq!(o.code(), Some(4), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/0"), "{o:?}");
    // podman's output is checked up to the full CRLF line end.
    let tty_line = match e.kind() {
        EngineKind::Podman => "stdout-is-tty\r\n",
        EngineKind::Docker => "stdout-is-tty\r",
    };
    assert!(o.stdout.contains(tty_line), "{o:?}");

    let name = "berth-tty";
    e.run_detached(name, &[e.image(), "sleep", "1000"]);
    let line = e.cmd_line(&["exec", "-t", name, "sh", "-c", "tty; exit 2"]);
    let o = run_cmd(&mut script_cmd(&line).unwrap(), TIMEOUT);
    assert_eq!(o.code(), Some(2), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "{o:?}");
}

/// `run -it` on a pty (through `script`), with input.
pub fn scenario_interactive_tty(e: &dyn Engine) {
    let line = e.cmd_line(&e.run_args(&["--rm", "-it"], &[e.image(), "sh"]));
    let Some(mut c) = script_cmd(&line) else {
        println!("skipping: util-linux `script` is not installed");
        return;
    };
    // Keep stdin open: an EOF would reach the shell as ^D before it read the line.
    let o = run_with_input(
        &mut c,
        b"tty; [ -t 0 ] && echo stdin-is-tty; exit 9\n",
        true,
        TIMEOUT,
    );
    assert_eq!(o.code(), Some(9), "{o:?}");
    assert!(o.stdout.contains("/dev/pts/0\r\n"), "{o:?}");
    assert!(o.stdout.contains("stdin-is-tty\r\n"), "{o:?}");
}

/// Memory, pids and CPU limits show up in the container's (v1) cgroup files.
pub fn scenario_cgroup_limits(e: &dyn Engine) {
    let o = e
        .run_rm(&[
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--cpus",
            "0.5",
            e.image(),
            "cat",
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/pids/pids.max",
            "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        ])
        .ok(&format!("{} run with limits", e.name()));
    assert_eq!(o.stdout, "67108864\n50\n50000\n", "{o:?}");
}

/// --read-only, --cap-drop ALL, the engine's default seccomp profile (filter mode) and
/// seccomp=unconfined with no-new-privileges. Returns the default-settings
/// /proc/self/status run for the engine's own checks.
pub fn scenario_security_options(e: &dyn Engine) -> Out {
    let n = e.name();
    let o = e.run_rm(&["--read-only", e.image(), "touch", "/x"]);
    assert_eq!(o.code(), Some(1), "{o:?}");
    assert!(o.all_lower().contains("read-only file system"), "{o:?}");

    let o = e
        .run_rm(&[
            "--cap-drop",
            "ALL",
            e.image(),
            "grep",
            "Cap",
            "/proc/self/status",
        ])
        .ok(&format!("{n} run --cap-drop ALL"));
    for f in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(
            status_field(&o.stdout, f),
            Some("0000000000000000"),
            "{f}: {o:?}"
        );
    }
    // The engine's default seccomp profile is loaded (filter mode), unless unconfined.
    let default = e
        .run_rm(&[e.image(), "cat", "/proc/self/status"])
        .ok(&format!("{n} run default security"));
    assert_eq!(
        status_field(&default.stdout, "Seccomp"),
        Some("2"),
        "{default:?}"
    );
    let o = e
        .run_rm(&[
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "no-new-privileges",
            e.image(),
            "cat",
            "/proc/self/status",
        ])
        .ok(&format!("{n} run seccomp=unconfined no-new-privileges"));
    assert_eq!(status_field(&o.stdout, "Seccomp"), Some("0"), "{o:?}");
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("1"), "{o:?}");
    default
}
