//! `create`: everything up to a container process waiting for `start`.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use crate::init::{self, Setup};
use crate::namespaces::NsPlan;
use crate::process::Prepared;
use crate::state::{self, Container, OciState, Record, Status};
use crate::sync::{self, Channel, Msg};
use crate::{Error, Result};

/// Where the container's terminal goes when `process.terminal` is set.
#[derive(Debug, Default)]
pub enum Console {
    /// No terminal requested (or allowed).
    #[default]
    None,
    /// Send the pty master to this unix socket (`--console-socket`).
    Socket(PathBuf),
    /// Hand the master back to the caller (a foreground `run` bridging its own stdio).
    Internal,
}

#[derive(Debug)]
pub struct CreateOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub console: Console,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub preserve_fds: i32,
}

/// A created container, plus the pty master when [`Console::Internal`] was asked for.
#[derive(Debug)]
pub struct Created {
    pub container: Container,
    pub console: Option<OwnedFd>,
    /// Settings this host could not honour (e.g. an AppArmor profile without AppArmor).
    pub warnings: Vec<String>,
}

/// Undoes a half-done create unless disarmed: kills the children, removes the cgroup and
/// the state dir. Mounts need no undo: they live only in the child's mount namespace.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Box<dyn berth_cgroups::Cgroup>>,
    pids: Vec<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        for &pid in &self.pids {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            let _ = waitpid(Pid::from_raw(pid), None);
        }
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.destroy();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Undo {
    fn disarm(mut self) {
        self.dir = None;
        self.cgroup = None;
        self.pids.clear();
    }
}

/// The cgroup path for a container: the spec's, made absolute, or `/berth/<id>`.
pub(crate) fn cgroup_path(spec: &Spec, id: &str) -> String {
    match spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_ref())
    {
        Some(p) if !p.as_os_str().is_empty() => {
            let s = p.to_string_lossy();
            if s.starts_with('/') {
                s.into_owned()
            } else {
                format!("/{s}")
            }
        }
        _ => format!("/berth/{id}"),
    }
}

fn has_new_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == t))
}

/// Creates container `opts.id` from `opts.bundle`.
pub fn create(opts: CreateOptions) -> Result<Created> {
    create_inner(opts, false)
}

/// Like [`create`], but makes the caller the subreaper that will reap the container process
/// (a foreground `run`).
pub fn create_attached(opts: CreateOptions) -> Result<Created> {
    create_inner(opts, true)
}

fn create_inner(opts: CreateOptions, attached: bool) -> Result<Created> {
    state::check_id(&opts.id)?;
    let bundle = crate::config::load(&opts.bundle)?;
    let spec = &bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    let terminal = process.terminal().unwrap_or(false);
    // A foreground run offers a console; it is used only when the process wants a terminal.
    let console = match (opts.console, terminal) {
        (Console::Internal, false) => Console::None,
        (c, _) => c,
    };
    match (&console, terminal) {
        (Console::None, true) => {
            return Err(Error::Invalid(
                "cannot allocate tty if runc will detach without setting console socket".into(),
            ))
        }
        (Console::Socket(_), false) => {
            return Err(Error::Invalid(
                "cannot use console socket if runc will not detach or allocate tty".into(),
            ))
        }
        _ => {}
    }
    let default_linux = oci_spec::runtime::Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&default_linux);
    let mut ns = NsPlan::for_container(linux)?;
    // A cgroup namespace takes the caller's cgroup as its root: the container process
    // unshares it itself, once it is in its cgroup.
    let new_cgroup_ns = ns.new.contains(nix::sched::CloneFlags::CLONE_NEWCGROUP);
    ns.new.remove(nix::sched::CloneFlags::CLONE_NEWCGROUP);
    let new_mount_ns = ns.new.contains(nix::sched::CloneFlags::CLONE_NEWNS);
    if !has_new_ns(spec, LinuxNamespaceType::Mount) {
        return Err(Error::Invalid(
            "linux.namespaces: a mount namespace is required".into(),
        ));
    }
    let prepared = Prepared::new(process, Some(linux), opts.preserve_fds)?;
    let mut warnings = prepared.warnings.clone();
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty())
        && !berth_sys::lsm::selinux_enabled()
    {
        warnings.push("linux.mountLabel ignored: SELinux is not enabled on this host".into());
    }

    std::fs::create_dir_all(&opts.root).map_err(|e| Error::io(&opts.root, e))?;
    let dir = opts.root.join(&opts.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(opts.id))
        }
        Err(e) => return Err(Error::io(&dir, e)),
    }
    let mut undo = Undo {
        dir: Some(dir.clone()),
        cgroup: None,
        pids: Vec::new(),
    };
    std::fs::write(dir.join(state::CONFIG_FILE), &bundle.raw)
        .map_err(|e| Error::io(dir.join(state::CONFIG_FILE), e))?;
    // Saved before anything else exists, so that if we are killed from here on, `state`
    // reports the container and `delete` finds its cgroup and processes.
    let cgroup_path = cgroup_path(spec, &opts.id);
    let record = Record {
        id: opts.id.clone(),
        bundle: bundle.path.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::time::now_rfc3339(),
        init_pid: 0,
        init_start: 0,
        cgroup_path: cgroup_path.clone(),
        creator_pid: nix::unistd::getpid().as_raw(),
        creator_start: berth_sys::proc::start_time(nix::unistd::getpid().as_raw())
            .map_or(0, |(s, _)| s),
        annotations: spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
    };
    let container = Container::new(opts.root.clone(), dir.clone(), record);
    container.save()?;
    let mut record = container.record;
    let fifo_path = dir.join(state::EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(|e| berth_sys::Error::path("mkfifo", &fifo_path, e))?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| berth_sys::Error::path("open", &fifo_path, e))?;

    let cgroup = berth_cgroups::open(&record.cgroup_path)?;
    cgroup.create()?;
    let devices = crate::devices::devices(linux.devices().as_deref().unwrap_or_default());
    let mut resources = linux
        .resources()
        .clone()
        .unwrap_or_else(LinuxResources::default);
    let rules =
        crate::devices::cgroup_rules(resources.devices().as_deref().unwrap_or_default(), &devices);
    resources.set_devices(Some(rules));
    let cgroup_mounts = cgroup.mounts();
    undo.cgroup = Some(cgroup);
    undo.cgroup.as_ref().expect("just set").apply(&resources)?;

    let steps = crate::rootfs::plan(
        spec,
        &bundle.path,
        &devices,
        &cgroup_mounts,
        ns.new_user || ns.joins_user,
    )?;
    let root_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(p) => {
            crate::rootfs::propagation(p).ok_or_else(|| {
                Error::Invalid(format!("linux.rootfsPropagation: unknown value {p:?}"))
            })? | MsFlags::MS_REC
        }
    };
    let hooks = spec.hooks().clone().unwrap_or_default();
    let setup = Setup {
        rootfs: bundle.rootfs.clone(),
        steps,
        root_propagation,
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        no_pivot: opts.no_pivot,
        hostname: spec.hostname().clone().filter(|h| !h.is_empty()),
        domainname: spec.domainname().clone().filter(|h| !h.is_empty()),
        sysctl: linux
            .sysctl()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        masked: linux.masked_paths().clone().unwrap_or_default(),
        readonly: linux.readonly_paths().clone().unwrap_or_default(),
        create_container_hooks: hooks.create_container().clone().unwrap_or_default(),
        start_container_hooks: hooks.start_container().clone().unwrap_or_default(),
        fifo,
        cwd: process.cwd().clone(),
        new_mount_ns,
        new_cgroup_ns,
    };
    let (console_child, console_parent) = console_ends(&console)?;
    let (parent_chan, child_chan) = sync::pair()?;
    if attached {
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| berth_sys::Error::call("PR_SET_CHILD_SUBREAPER", e))?;
    }
    let direct = ns.direct_clone_flags();
    let new_user = ns.new_user;
    let args = init::Args {
        ns,
        process: prepared,
        console: console_child,
        setup: Some(setup),
    };
    let first = match direct {
        // SAFETY: berth's runtime is single-threaded up to here (no threads are started
        // before create), so the child gets a consistent copy of the process.
        Some(flags) => match unsafe { berth_sys::process::clone_into_namespaces(flags) }? {
            None => {
                drop(parent_chan);
                init::direct(args, child_chan)
            }
            Some(pid) => Pid::from_raw(pid),
        },
        None => {
            // SAFETY: single-threaded, as above.
            match unsafe { nix::unistd::fork() }.map_err(|e| berth_sys::Error::call("fork", e))? {
                ForkResult::Child => {
                    drop(parent_chan);
                    init::stage1(args, child_chan)
                }
                ForkResult::Parent { child } => child,
            }
        }
    };
    drop(args);
    drop(child_chan);
    undo.pids.push(first.as_raw());
    if direct.is_some() && new_user {
        crate::namespaces::write_id_maps(
            first.as_raw(),
            linux.uid_mappings().as_deref().unwrap_or_default(),
            linux.gid_mappings().as_deref().unwrap_or_default(),
        )?;
    }
    let child = if direct.is_some() {
        Child::Init(first)
    } else {
        Child::Stage1(first)
    };
    let init_pid = drive_child(&parent_chan, child, spec, linux, &mut record, &mut undo)?;
    record.init_pid = init_pid;
    record.init_start = berth_sys::proc::start_time(init_pid)
        .map(|(s, _)| s)
        .ok_or_else(|| Error::Init("container process exited during create".into()))?;
    let container = Container::new(opts.root.clone(), dir, record);
    container.save()?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, init_pid)?;
    }
    let console = match console_parent {
        Some(sock) => Some(berth_sys::fds::recv_fd(sock.as_fd())?),
        None => None,
    };
    // Nothing can fail any more: keep the cgroup for the caller's next verbs.
    let cgroup = undo.cgroup.take().expect("created above");
    undo.disarm();
    let container = container.with_cache(bundle.spec.clone(), cgroup);
    Ok(Created {
        container,
        console,
        warnings,
    })
}

/// Our end and the child's end of the console socket.
pub(crate) fn console_ends(c: &Console) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    match c {
        Console::None => Ok((None, None)),
        Console::Socket(path) => {
            let s = UnixStream::connect(path).map_err(|e| Error::io(path, e))?;
            Ok((Some(OwnedFd::from(s)), None))
        }
        Console::Internal => {
            let (a, b) = UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
            Ok((Some(OwnedFd::from(a)), Some(OwnedFd::from(b))))
        }
    }
}

/// Answers the child's requests until it reports Created; returns the container's pid.
#[allow(clippy::too_many_arguments)]
/// The process we forked: the container process itself, or stage 1 which forks it.
enum Child {
    Init(Pid),
    Stage1(Pid),
}

/// Puts the container process in its cgroup and sets its OOM score.
fn adopt(pid: i32, spec: &Spec, undo: &Undo) -> Result<()> {
    undo.cgroup
        .as_deref()
        .expect("created before the fork")
        .add_task(pid)?;
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        let path = format!("/proc/{pid}/oom_score_adj");
        std::fs::write(&path, adj.to_string()).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

fn drive_child(
    chan: &Channel,
    child: Child,
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
    record: &mut Record,
    undo: &mut Undo,
) -> Result<i32> {
    // The container process joins its cgroup as soon as we know its pid, while it mounts:
    // the first cgroup migration waits out an RCU grace period, time better spent in parallel.
    chan.send(&Msg::Ack)?;
    let mut init_pid = 0;
    let mut mounted = false;
    let stage1 = match child {
        Child::Init(pid) => {
            init_pid = pid.as_raw();
            adopt(init_pid, spec, undo)?;
            None
        }
        Child::Stage1(pid) => Some(pid),
    };
    loop {
        match chan.recv()? {
            Some(Msg::MapIds { pid }) => {
                crate::namespaces::write_id_maps(
                    pid,
                    linux.uid_mappings().as_deref().unwrap_or_default(),
                    linux.gid_mappings().as_deref().unwrap_or_default(),
                )?;
                chan.send(&Msg::Ack)?;
            }
            Some(Msg::Pid { pid }) => {
                init_pid = pid;
                undo.pids.push(pid);
                adopt(pid, spec, undo)?;
                if let Some(s1) = stage1 {
                    let _ = waitpid(s1, None);
                    undo.pids.retain(|p| *p != s1.as_raw());
                }
                if mounted {
                    mounted_ready(chan, spec, record, init_pid)?;
                }
            }
            // Stage 1 (Pid) and stage 2 (Mounted) write to the socket independently, so
            // Mounted may overtake Pid; it is answered only once the pid is known and the
            // process is in its cgroup.
            Some(Msg::Mounted) if init_pid == 0 => mounted = true,
            Some(Msg::Mounted) => mounted_ready(chan, spec, record, init_pid)?,
            Some(Msg::SeccompListener) => {
                let state = state_of(record, Status::Creating);
                crate::listener::forward(chan, spec, init_pid, &state)?;
            }
            Some(Msg::Created) if init_pid > 0 => return Ok(init_pid),
            Some(Msg::Error { msg }) => return Err(Error::from_child(msg)),
            Some(other) => return Err(Error::Init(format!("unexpected message {other:?}"))),
            None => {
                return Err(Error::Init(
                    "container process exited before it was created".into(),
                ))
            }
        }
    }
}

/// The container's mounts are done: run the runtime-side hooks, then let it go on.
fn mounted_ready(chan: &Channel, spec: &Spec, record: &mut Record, init_pid: i32) -> Result<()> {
    record.init_pid = init_pid;
    let state = hook_state(record, Status::Creating);
    let hooks = spec.hooks().clone().unwrap_or_default();
    crate::hooks::run(
        "prestart",
        hooks.prestart().as_deref().unwrap_or_default(),
        &state,
    )?;
    crate::hooks::run(
        "createRuntime",
        hooks.create_runtime().as_deref().unwrap_or_default(),
        &state,
    )?;
    let json = String::from_utf8(hook_state(record, Status::Created)).unwrap_or_default();
    chan.send(&Msg::State { json })
}

/// The state document given to hooks.
pub(crate) fn hook_state(record: &Record, status: Status) -> Vec<u8> {
    serde_json::to_vec(&state_of(record, status)).unwrap_or_default()
}

/// The OCI state of a container being created or started.
fn state_of(record: &Record, status: Status) -> OciState {
    OciState {
        oci_version: state::OCI_VERSION.into(),
        id: record.id.clone(),
        pid: record.init_pid,
        status,
        bundle: record.bundle.clone(),
        rootfs: record.rootfs.clone(),
        created: record.created.clone(),
        owner: String::new(),
        annotations: record.annotations.clone(),
    }
}

/// Writes a pid file atomically, as runc does (containerd reads it while we write).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("berth-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
