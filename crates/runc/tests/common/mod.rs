//! Shared helpers for the berth-runc integration tests.
//!
//! Every test drives a runc-compatible CLI binary: `berth-runc` by default, or whatever
//! `BERTH_TEST_RUNTIME` names (e.g. `/usr/sbin/runc` or `/usr/bin/crun`), so the suite can be
//! validated against the reference runtimes.
//!
//! Each container gets its own state root (`--root`), bundle dir, id and cgroupsPath
//! (`/berth-test/<id>`), so tests can run in parallel. A [`Ctr`] runs
//! `<runtime> --root R delete --force ID` when dropped.
//!
//! Nothing here sends network traffic.

#![allow(dead_code)]

pub mod engine;

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

/// Default timeout of one runtime invocation.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);
/// Default timeout when polling for a state change.
pub const STATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which runtime binary is under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Berth,
    Runc,
    Crun,
    Other,
}

/// The runtime binary under test.
pub fn runtime() -> PathBuf {
    match std::env::var_os("BERTH_TEST_RUNTIME") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_berth-runc")),
    }
}

/// Classify a runtime binary by its file name.
pub fn kind_of(path: &Path) -> Kind {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.contains("berth") {
        Kind::Berth
    } else if name == "runc" {
        Kind::Runc
    } else if name == "crun" {
        Kind::Crun
    } else {
        Kind::Other
    }
}

/// Kind of the runtime under test.
pub fn kind() -> Kind {
    kind_of(&runtime())
}

/// The reference runc used by the differential tests.
pub fn reference_runc() -> Option<PathBuf> {
    let p = PathBuf::from(
        std::env::var("BERTH_TEST_REFERENCE").unwrap_or_else(|_| "/usr/sbin/runc".into()),
    );
    p.exists().then_some(p)
}

/// Returns true (after printing the reason) when the test cannot run here.
pub fn skip_if_not_root() -> bool {
    if !nix::unistd::Uid::effective().is_root() {
        println!("skipping: tests need root");
        return true;
    }
    if !Path::new("/bin/busybox").exists() {
        println!("skipping: /bin/busybox (busybox-static) is not installed");
        return true;
    }
    false
}

/// Returns true (after printing the reason) when the runtime under test is runc, for checks
/// that runc itself fails on this host; they still run for berth-runc.
pub fn skip_for_runc(reason: &str) -> bool {
    if kind() == Kind::Runc {
        println!("skipping for runc: {reason}");
        return true;
    }
    false
}

/// Returns true (after printing the reason) when the runtime under test is crun.
pub fn skip_for_crun(reason: &str) -> bool {
    if kind() == Kind::Crun {
        println!("skipping for crun: {reason}");
        return true;
    }
    false
}

/// The result of one command.
#[derive(Debug)]
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with the full output unless the command succeeded.
    #[track_caller]
    pub fn ok(self, what: &str) -> Self {
        assert!(self.success(), "{what} failed: {self:?}");
        self
    }

    /// Panics with the full output unless the command failed.
    #[track_caller]
    pub fn failed(self, what: &str) -> Self {
        assert!(!self.success(), "{what} unexpectedly succeeded: {self:?}");
        self
    }

    /// stdout trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    /// stdout + stderr (lower-cased) for lenient error-message checks.
    pub fn all_lower(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr).to_lowercase()
    }
}

fn read_back(f: &mut File) -> String {
    let mut s = String::new();
    let _ = f.seek(SeekFrom::Start(0));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    s.push_str(&String::from_utf8_lossy(&buf));
    s
}

/// A spawned command whose stdout/stderr go to files (never pipes: a detached container
/// inherits them and would keep a pipe open forever).
pub struct Bg {
    pub child: Child,
    out: File,
    err: File,
    started: Instant,
    what: String,
}

impl Bg {
    /// Spawns `cmd` with stdin from /dev/null and stdout/stderr into the given files (or
    /// anonymous temp files).
    pub fn spawn(cmd: &mut Command, out: Option<&Path>, err: Option<&Path>) -> Bg {
        let open = |p: Option<&Path>| -> File {
            match p {
                Some(p) => fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .read(true)
                    .open(p)
                    .expect("open output file"),
                None => tempfile::tempfile().expect("tempfile"),
            }
        };
        let out = open(out);
        let err = open(err);
        let what = format!("{cmd:?}");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        Bg {
            child,
            out,
            err,
            started: Instant::now(),
            what,
        }
    }

    /// Waits for the command, killing it (and panicking) after `timeout`.
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Out {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    return Out {
                        status,
                        stdout: read_back(&mut self.out),
                        stderr: read_back(&mut self.err),
                        elapsed: self.started.elapsed(),
                    }
                }
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(5)),
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "timeout after {timeout:?}: {}\nstdout: {}\nstderr: {}",
                        self.what,
                        read_back(&mut self.out),
                        read_back(&mut self.err)
                    );
                }
                Err(e) => panic!("wait {}: {e}", self.what),
            }
        }
    }

    /// Whether the command is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to completion with a timeout (stdout/stderr captured through temp files).
#[track_caller]
pub fn run_cmd(cmd: &mut Command, timeout: Duration) -> Out {
    Bg::spawn(cmd, None, None).wait(timeout)
}

/// Runs `cmd` with no stdio for teardown: never panics, kills it after `timeout`.
pub fn run_quietly(cmd: &mut Command, timeout: Duration) {
    let Ok(mut child) = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let deadline = Instant::now() + timeout;
    while let Ok(None) = child.try_wait() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        sleep(Duration::from_millis(5));
    }
}

/// Runs a host shell snippet.
#[track_caller]
pub fn host_sh(script: &str) -> Out {
    run_cmd(Command::new("/bin/sh").arg("-c").arg(script), CMD_TIMEOUT)
}

fn busybox_applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != "busybox" && !l.contains('/'))
            .map(String::from)
            .collect()
    })
}

/// Builds a busybox rootfs at `rootfs`: bin/busybox plus one symlink per applet, the usual
/// mount-point dirs, a world-writable /tmp and minimal /etc/passwd and /etc/group.
pub fn make_rootfs(rootfs: &Path) {
    for d in [
        "bin", "dev", "proc", "sys", "tmp", "etc", "root", "mnt", "run", "var",
    ] {
        fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    for a in busybox_applets() {
        let _ = symlink("busybox", rootfs.join("bin").join(a));
    }
    // Some tools live in /usr/bin or /sbin on real systems; make those paths work too.
    let _ = symlink("bin", rootfs.join("sbin"));
    fs::create_dir_all(rootfs.join("usr")).unwrap();
    let _ = symlink("../bin", rootfs.join("usr/bin"));
    let _ = symlink("../bin", rootfs.join("usr/sbin"));
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/tmp:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nwheel:x:10:\nuucp:x:20:\nuser:x:1000:\n",
    )
    .unwrap();
}

/// Recursively lchown a tree (for user-namespace tests).
pub fn chown_tree(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
    let md = fs::symlink_metadata(p).unwrap();
    if md.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// A fresh temp dir that other users can traverse (a user-namespaced container's root maps
/// to an unprivileged host uid and must still reach its bundle).
pub fn open_tempdir(prefix: &str) -> TempDir {
    let d = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// A unique container id: `bt-<name>-<pid>-<n>`.
pub fn unique_id(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let name: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("bt-{name}-{}-{n}", std::process::id())
}

/// All cgroup hierarchies mounted under /sys/fs/cgroup (v1 controllers and the v2 mount).
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let p = e.path();
            // Skip the symlinks of merged controllers such as cpu,cpuacct -> both.
            if fs::symlink_metadata(&p)
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                v.push(p);
            }
        }
    }
    v
}

/// The host path of a v1 controller's cgroup dir for `cgroups_path`.
pub fn v1_cgroup_dir(controller: &str, cgroups_path: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(cgroups_path.trim_start_matches('/'))
}

/// Whether the host has the v1 controller mounted.
pub fn has_v1_controller(controller: &str) -> bool {
    let p = Path::new("/sys/fs/cgroup").join(controller);
    p.join("cgroup.procs").exists() && !p.join("cgroup.controllers").exists()
}

/// readlink of a /proc/.../ns/<name> file.
pub fn ns_link(path: &str) -> String {
    fs::read_link(path)
        .unwrap_or_else(|e| panic!("readlink {path}: {e}"))
        .to_string_lossy()
        .into_owned()
}

/// Capability name to number (from linux/capability.h).
pub fn cap_number(name: &str) -> u32 {
    const CAPS: &[&str] = &[
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_DAC_READ_SEARCH",
        "CAP_FOWNER",
        "CAP_FSETID",
        "CAP_KILL",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETPCAP",
        "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",
        "CAP_NET_RAW",
        "CAP_IPC_LOCK",
        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO",
        "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",
        "CAP_SYS_ADMIN",
        "CAP_SYS_BOOT",
        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",
        "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG",
        "CAP_MKNOD",
        "CAP_LEASE",
        "CAP_AUDIT_WRITE",
        "CAP_AUDIT_CONTROL",
        "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN",
        "CAP_SYSLOG",
        "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",
        "CAP_AUDIT_READ",
        "CAP_PERFMON",
        "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];
    CAPS.iter()
        .position(|c| *c == name)
        .unwrap_or_else(|| panic!("unknown capability {name}")) as u32
}

/// The /proc/<pid>/status hex mask of a capability list.
pub fn cap_mask(names: &[&str]) -> String {
    let m = names.iter().fold(0u64, |m, n| m | (1u64 << cap_number(n)));
    format!("{m:016x}")
}

/// Value of a `Key:\tvalue` line of a /proc/<pid>/status dump.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// One container under test: its id, state root, bundle and config.
pub struct Ctr {
    pub rt: PathBuf,
    pub id: String,
    pub root: TempDir,
    pub bundle: TempDir,
    /// Scratch dir for output files of detached/created containers.
    pub work: TempDir,
    pub cgroups_path: String,
    pub config: Value,
}

impl Ctr {
    /// A container for the runtime under test.
    pub fn new(name: &str) -> Ctr {
        Ctr::with_runtime(name, runtime())
    }

    /// A container for an explicit runtime binary, with a busybox rootfs and a config made by
    /// `<runtime> spec` and patched to: terminal=false, writable root, hostname
    /// "berth-test", cgroupsPath "/berth-test/<id>", args `true`.
    pub fn with_runtime(name: &str, rt: PathBuf) -> Ctr {
        let id = unique_id(name);
        let root = open_tempdir("berth-root-");
        let bundle = open_tempdir("berth-bundle-");
        let work = open_tempdir("berth-work-");
        make_rootfs(&bundle.path().join("rootfs"));
        let spec = run_cmd(
            Command::new(&rt)
                .arg("spec")
                .arg("--bundle")
                .arg(bundle.path()),
            CMD_TIMEOUT,
        );
        assert!(spec.success(), "{rt:?} spec failed: {spec:?}");
        let text = fs::read_to_string(bundle.path().join("config.json"))
            .expect("spec must write config.json into the bundle");
        let mut config: Value = serde_json::from_str(&text).expect("spec writes valid JSON");
        let cgroups_path = format!("/berth-test/{id}");
        config["process"]["terminal"] = json!(false);
        config["process"]["args"] = json!(["true"]);
        config["root"] = json!({"path": "rootfs", "readonly": false});
        config["hostname"] = json!("berth-test");
        config["linux"]["cgroupsPath"] = json!(cgroups_path);
        let c = Ctr {
            rt,
            id,
            root,
            bundle,
            work,
            cgroups_path,
            config,
        };
        c.write_config();
        c
    }

    pub fn bundle_path(&self) -> &Path {
        self.bundle.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle.path().join("rootfs")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join(&self.id)
    }

    /// Sets process.args.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self.write_config();
        self
    }

    /// Sets process.args to `sh -c script`.
    pub fn sh(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Edits the config and writes it back.
    pub fn edit(&mut self, f: impl FnOnce(&mut Value)) -> &mut Self {
        f(&mut self.config);
        self.write_config();
        self
    }

    /// Appends a namespace entry.
    pub fn add_namespace(&mut self, ns: Value) -> &mut Self {
        self.edit(|c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("linux.namespaces")
                .push(ns)
        })
    }

    /// Appends a mount entry.
    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        self.edit(|c| c["mounts"].as_array_mut().expect("mounts").push(m))
    }

    pub fn write_config(&self) {
        fs::write(
            self.bundle.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// `<runtime> --root R <args...>` as a Command.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.rt);
        c.arg("--root").arg(self.root.path()).args(args);
        c
    }

    /// Runs `<runtime> --root R <args...>` to completion.
    #[track_caller]
    pub fn cli(&self, args: &[&str]) -> Out {
        run_cmd(&mut self.cmd(args), CMD_TIMEOUT)
    }

    /// Foreground `run --bundle B ID`; the container's stdio is the captured output.
    #[track_caller]
    pub fn run(&self) -> Out {
        let b = self.bundle_path().to_str().unwrap();
        self.cli(&["run", "--bundle", b, &self.id])
    }

    /// Foreground `run` in the background (for killing it from outside).
    pub fn spawn_run(&self) -> Bg {
        let b = self.bundle_path().to_str().unwrap();
        Bg::spawn(
            &mut self.cmd(&["run", "--bundle", b, &self.id]),
            Some(&self.work.path().join("run.out")),
            Some(&self.work.path().join("run.err")),
        )
    }

    /// The file receiving the container's stdout for `create` / `run --detach`.
    pub fn out_path(&self) -> PathBuf {
        self.work.path().join("ctr.out")
    }

    pub fn err_path(&self) -> PathBuf {
        self.work.path().join("ctr.err")
    }

    /// What the created/detached container has written to stdout so far.
    pub fn ctr_stdout(&self) -> String {
        fs::read_to_string(self.out_path()).unwrap_or_default()
    }

    pub fn ctr_stderr(&self) -> String {
        fs::read_to_string(self.err_path()).unwrap_or_default()
    }

    /// Runs a command whose stdio the container inherits; stdout/stderr go to
    /// [`Self::out_path`] / [`Self::err_path`] (read back into the returned Out too).
    #[track_caller]
    pub fn cli_inherit(&self, args: &[&str]) -> Out {
        Bg::spawn(
            &mut self.cmd(args),
            Some(&self.out_path()),
            Some(&self.err_path()),
        )
        .wait(CMD_TIMEOUT)
    }

    /// `create --bundle B ID` (container stdout goes to [`Self::out_path`]).
    #[track_caller]
    pub fn create(&self) -> Out {
        let b = self.bundle_path().to_str().unwrap();
        self.cli_inherit(&["create", "--bundle", b, &self.id])
    }

    /// `run --detach --bundle B ID`.
    #[track_caller]
    pub fn run_detached(&self) -> Out {
        let b = self.bundle_path().to_str().unwrap();
        self.cli_inherit(&["run", "--detach", "--bundle", b, &self.id])
    }

    #[track_caller]
    pub fn start(&self) -> Out {
        self.cli(&["start", &self.id])
    }

    /// `state ID` parsed, or None when the command fails.
    pub fn state(&self) -> Option<Value> {
        let o = self.cli(&["state", &self.id]);
        if !o.success() {
            return None;
        }
        Some(
            serde_json::from_str(&o.stdout)
                .unwrap_or_else(|e| panic!("state output is not JSON ({e}): {o:?}")),
        )
    }

    /// The `status` field of `state ID`.
    pub fn status(&self) -> Option<String> {
        self.state()
            .and_then(|s| s["status"].as_str().map(String::from))
    }

    /// Polls `state` until the status is `want`; panics after `STATE_TIMEOUT`.
    #[track_caller]
    pub fn wait_status(&self, want: &str) -> Value {
        let deadline = Instant::now() + STATE_TIMEOUT;
        loop {
            let s = self.state();
            if let Some(s) = &s {
                if s["status"] == want {
                    return s.clone();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "container {} never reached {want}: last state {s:?}",
                    self.id
                );
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// The container init's host pid from `state`.
    #[track_caller]
    pub fn pid(&self) -> i32 {
        let s = self.state().expect("state");
        s["pid"].as_i64().expect("state.pid") as i32
    }

    /// `exec ID args...` run to completion.
    #[track_caller]
    pub fn exec(&self, args: &[&str]) -> Out {
        let mut v = vec!["exec", self.id.as_str()];
        v.extend_from_slice(args);
        self.cli(&v)
    }

    /// Host path of this container's cgroup dir in a v1 controller.
    pub fn cgroup_dir(&self, controller: &str) -> PathBuf {
        v1_cgroup_dir(controller, &self.cgroups_path)
    }

    /// Reads a file of this container's v1 cgroup, trimmed.
    #[track_caller]
    pub fn cgroup_file(&self, controller: &str, file: &str) -> String {
        let p = self.cgroup_dir(controller).join(file);
        fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
            .trim()
            .to_string()
    }

    /// Everything of this container still visible on the host: mounts mentioning the bundle,
    /// cgroup dirs for its cgroupsPath, and its state dir.
    pub fn leftovers(&self) -> Vec<String> {
        let mut v = Vec::new();
        let bundle = self.bundle_path().to_string_lossy().into_owned();
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for l in mi.lines().filter(|l| l.contains(&bundle)) {
            v.push(format!("mount: {l}"));
        }
        let rel = self.cgroups_path.trim_start_matches('/');
        for m in cgroup_mounts() {
            let d = m.join(rel);
            if d.exists() {
                v.push(format!("cgroup: {}", d.display()));
            }
        }
        if self.state_dir().exists() {
            v.push(format!("state dir: {}", self.state_dir().display()));
        }
        v
    }

    /// Asserts (polling briefly) that nothing of this container is left on the host.
    #[track_caller]
    pub fn assert_nothing_left(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let l = self.leftovers();
            if l.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                panic!("container {} left things behind: {l:#?}", self.id);
            }
            sleep(Duration::from_millis(20));
        }
    }

    /// `delete --force`, ignoring every error and never panicking (it runs from `Drop`,
    /// possibly while unwinding): a runtime that hangs is killed after the timeout.
    pub fn force_delete(&self) {
        run_quietly(&mut self.cmd(&["delete", "--force", &self.id]), CMD_TIMEOUT);
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        // Cleanup guard: a test that panics must not leave a running container behind.
        self.force_delete();
        // A failed create may leave no state for `delete` to find; remove our cgroup dirs
        // (empty ones only: rmdir fails while tasks remain) so reruns start clean.
        let rel = self.cgroups_path.trim_start_matches('/');
        for m in cgroup_mounts() {
            let _ = fs::remove_dir(m.join(rel));
        }
        // Unmount anything still mounted under the bundle so the TempDir can be removed.
        let bundle = self.bundle_path().to_string_lossy().into_owned();
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = mi
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(String::from))
            .filter(|p| p.starts_with(&bundle))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// A helper process on the host that sits in fresh namespaces (via util-linux `unshare`),
/// for joining namespaces by path. Killed on drop.
pub struct NsHelper {
    pub child: Child,
}

impl NsHelper {
    /// `unshare <flags> sleep 60`; returns None when `unshare` is unavailable.
    pub fn spawn(flags: &[&str]) -> Option<NsHelper> {
        let child = Command::new("unshare")
            .args(flags)
            .args(["/bin/busybox", "sleep", "60"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let h = NsHelper { child };
        // Wait until unshare has exec'd sleep (its namespaces then differ from ours).
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let exe = fs::read_link(format!("/proc/{}/exe", h.pid())).ok();
            if exe.is_some_and(|e| e.ends_with("busybox")) {
                return Some(h);
            }
            sleep(Duration::from_millis(10));
        }
        None
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn ns_path(&self, ns: &str) -> String {
        format!("/proc/{}/ns/{ns}", self.pid())
    }
}

impl Drop for NsHelper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Shared by the engine tests (podman, docker).

/// Single-quotes `s` for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Reads a whole file from its start.
pub fn read_all(f: &mut File) -> String {
    let mut buf = Vec::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs `cmd` with `input` written to its stdin. With `keep_open` stdin stays open until the
/// command exits (for a terminal session that must not see EOF); otherwise it is closed after
/// the input. Kills the command and panics after `timeout`.
#[track_caller]
pub fn run_with_input(cmd: &mut Command, input: &[u8], keep_open: bool, timeout: Duration) -> Out {
    let mut out = tempfile::tempfile().expect("tempfile");
    let mut err = tempfile::tempfile().expect("tempfile");
    let what = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(out.try_clone().expect("dup"))
        .stderr(err.try_clone().expect("dup"))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let mut stdin = child.stdin.take();
    if let Some(s) = stdin.as_mut() {
        s.write_all(input).expect("write stdin");
    }
    if !keep_open {
        drop(stdin.take());
    }
    let deadline = started + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Out {
                    status,
                    stdout: read_all(&mut out),
                    stderr: read_all(&mut err),
                    elapsed: started.elapsed(),
                }
            }
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "timeout after {timeout:?}: {what}\nstdout: {}\nstderr: {}",
                    read_all(&mut out),
                    read_all(&mut err)
                );
            }
            Err(e) => panic!("wait {what}: {e}"),
        }
    }
}
