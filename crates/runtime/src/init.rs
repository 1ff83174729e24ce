//! Code that runs in the forked children during create and exec.
//!
//! Stage 1 enters the namespaces and forks stage 2, which is the container's process (pid 1
//! in a new pid namespace). Both report failures to the parent over the sync channel, then
//! `_exit`: they never return into the caller's code.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::stat::Mode;
use nix::unistd::ForkResult;
use oci_spec::runtime::Hook;

use crate::namespaces::NsPlan;
use crate::process::Prepared;
use crate::rootfs::{Executor, InRoot, Step};
use crate::sync::{Channel, Msg};
use crate::{Error, Result};

/// What stage 2 sets up for a new container (absent for exec).
#[derive(Debug)]
pub(crate) struct Setup {
    pub rootfs: PathBuf,
    pub steps: Vec<Step>,
    pub root_propagation: MsFlags,
    pub readonly_root: bool,
    pub no_pivot: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: Vec<(String, String)>,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    pub create_container_hooks: Vec<Hook>,
    pub start_container_hooks: Vec<Hook>,
    /// Read end of the exec fifo, opened non-blocking: `start` writes one byte into it.
    pub fifo: OwnedFd,
    /// The process cwd, created if missing as runc does.
    pub cwd: PathBuf,
    /// False when joining an existing mount namespace: its filesystem is already set up.
    pub new_mount_ns: bool,
    /// Unshare the cgroup namespace once the parent has put us in our cgroup.
    pub new_cgroup_ns: bool,
}

#[derive(Debug)]
pub(crate) struct Args {
    pub ns: NsPlan,
    pub process: Prepared,
    pub console: Option<OwnedFd>,
    pub setup: Option<Setup>,
}

/// What every forked child does first.
fn first_steps(args: &Args, chan: &Channel) {
    // A non-dumpable process can't be ptraced or have its /proc/PID/exe and fds opened by
    // processes in the container (CVE-2019-5736); execve resets it for the user's program.
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Some(cpus) = &args.process.tuning.affinity_initial {
        if let Err(e) = berth_sys::process::set_affinity(cpus) {
            let e = Error::Init(format!("process.execCPUAffinity.initial: {e}"));
            finish(chan, Err(e))
        }
    }
}

/// Stage 1. Never returns.
pub(crate) fn stage1(args: Args, chan: Channel) -> ! {
    first_steps(&args, &chan);
    // Ack: the parent is ready (for exec, we are in the cgroup).
    let r = chan.wait_ack().and_then(|()| args.ns.enter(&chan));
    if let Err(e) = r {
        finish(&chan, Err(e))
    }
    // Stage 2 waits (for EOF on this pipe) until we have sent its pid and exited: both write
    // to the same socket, and the parent must learn the pid before anything stage 2 says
    // (exec has no other handshake to order them).
    let (gate_r, gate_w) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
        Ok(p) => p,
        Err(e) => finish(&chan, Err(berth_sys::Error::call("pipe2", e).into())),
    };
    // SAFETY: we are the only thread of this forked process, so the child inherits a
    // consistent heap and no locks held by other threads.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Child) => {
            drop(gate_w);
            let mut b = [0u8; 1];
            while matches!(
                nix::unistd::read(&gate_r, &mut b),
                Err(nix::errno::Errno::EINTR)
            ) {}
            drop(gate_r);
            stage2(args, chan)
        }
        Ok(ForkResult::Parent { child }) => {
            drop(gate_r);
            let r = chan.send(&Msg::Pid {
                pid: child.as_raw(),
            });
            finish(&chan, r)
        }
        Err(e) => finish(&chan, Err(berth_sys::Error::call("fork", e).into())),
    }
}

/// The container process when created by a single clone in all its namespaces (see
/// `NsPlan::direct_clone_flags`). Never returns.
pub(crate) fn direct(args: Args, chan: Channel) -> ! {
    first_steps(&args, &chan);
    // Ack: the parent wrote our id maps, if we are in a new user namespace.
    let r = chan.wait_ack().and_then(|()| {
        if args.ns.new_user {
            crate::namespaces::become_root()?;
        }
        Ok(())
    });
    if let Err(e) = r {
        finish(&chan, Err(e))
    }
    stage2(args, chan)
}

fn finish(chan: &Channel, r: Result<()>) -> ! {
    let code = match r {
        Ok(()) => 0,
        Err(e) => {
            let _ = chan.send(&Msg::Error { msg: e.to_string() });
            1
        }
    };
    // SAFETY: _exit skips atexit handlers and destructors that belong to the parent's copy.
    unsafe { libc::_exit(code) }
}

/// Stage 2: the container process. Never returns.
fn stage2(mut args: Args, chan: Channel) -> ! {
    let r = (|| -> Result<std::convert::Infallible> {
        nix::unistd::setsid().map_err(|e| berth_sys::Error::call("setsid", e))?;
        let state_json = match &args.setup {
            Some(setup) => prepare_container(setup, &chan)?,
            None => Vec::new(),
        };
        if let Some(sock) = &args.console {
            crate::console::setup(sock, args.process.console_size)?;
        }
        args.process.chdir()?;
        args.process.fill_home();
        args.process.set_rlimits()?;
        let exe = args.process.lookup()?;
        if let Some(listener) = args.process.drop_privileges()? {
            chan.send(&Msg::SeccompListener)?;
            berth_sys::fds::send_fd(chan.fd(), listener.as_fd(), "seccomp")?;
        }
        chan.send(&Msg::Created)?;
        drop(args.console);
        if let Some(setup) = &args.setup {
            wait_for_start(&setup.fifo)?;
            crate::hooks::run("startContainer", &setup.start_container_hooks, &state_json)?;
        }
        args.process.exec(&exe)
    })();
    match r {
        Ok(never) => match never {},
        Err(e) => {
            // After Created the parent may be gone; stderr is the container's own.
            let msg = e.to_string();
            if chan.send(&Msg::Error { msg: msg.clone() }).is_err() {
                eprintln!("berth: {msg}");
            }
            let code = if msg.contains("not found") || msg.contains("no such file") {
                127
            } else {
                126
            };
            // SAFETY: see `finish`.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Mounts, devices, hooks, masks and the root switch, in runc's order. Returns the state
/// JSON the parent gave us for the in-container hooks.
fn prepare_container(setup: &Setup, chan: &Channel) -> Result<Vec<u8>> {
    // Device nodes and dirs get exactly the modes the spec asks for.
    nix::sys::stat::umask(Mode::empty());
    if setup.new_mount_ns {
        // Nothing we mount may propagate back to the host.
        berth_sys::mount::propagate(Path::new("/"), setup.root_propagation)?;
        // pivot_root refuses a new root whose parent mount is shared (as with
        // rootfsPropagation "shared"): make that one mount private, as runc does.
        if let Some((parent, true)) = berth_sys::mount::containing_mount(&setup.rootfs) {
            berth_sys::mount::propagate(&parent, MsFlags::MS_PRIVATE)?;
        }
        nix::mount::mount(
            Some(&setup.rootfs),
            &setup.rootfs,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| berth_sys::Error::path("bind rootfs", &setup.rootfs, e))?;
        let mut exec = InRoot {
            root: berth_sys::inroot::open_root(&setup.rootfs)?,
        };
        for step in &setup.steps {
            exec.execute(step)?;
        }
        berth_sys::inroot::mkdir_all(
            exec.root.as_fd(),
            &setup.cwd,
            Mode::from_bits_truncate(0o755),
        )?;
    }
    chan.send(&Msg::Mounted)?;
    let state_json = match chan.recv()? {
        Some(Msg::State { json }) => json.into_bytes(),
        Some(Msg::Abort) | None => return Err(Error::Init("parent gave up".into())),
        Some(other) => return Err(Error::Init(format!("unexpected {other:?}"))),
    };
    // The State message also means we are in our cgroup now.
    if setup.new_cgroup_ns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| berth_sys::Error::call("unshare(CLONE_NEWCGROUP)", e))?;
    }
    crate::hooks::run(
        "createContainer",
        &setup.create_container_hooks,
        &state_json,
    )?;
    if let Some(h) = &setup.hostname {
        nix::unistd::sethostname(h).map_err(|e| Error::Init(format!("sethostname {h:?}: {e}")))?;
    }
    if let Some(d) = &setup.domainname {
        berth_sys::process::setdomainname(d)
            .map_err(|e| Error::Init(format!("setdomainname {d:?}: {e}")))?;
    }
    let root = berth_sys::inroot::open_root(&setup.rootfs)?;
    for (key, value) in &setup.sysctl {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        berth_sys::inroot::write(root.as_fd(), &path, value.as_bytes())
            .map_err(|e| Error::Init(format!("sysctl {key}={value}: {e}")))?;
    }
    if setup.new_mount_ns {
        for p in &setup.readonly {
            crate::rootfs::readonly(root.as_fd(), Path::new(p))?;
        }
        // Opened here, not in the parent: a bind source must be a mount of our own namespace.
        let dev_null = crate::rootfs::open_dev_null(root.as_fd())?;
        for p in &setup.masked {
            crate::rootfs::mask(root.as_fd(), Path::new(p), dev_null.as_fd())?;
        }
        drop(root);
        switch_root(setup)?;
    }
    Ok(state_json)
}

/// pivot_root into the rootfs and detach the old root; or, with `no_pivot`, move the rootfs
/// over `/` and chroot (for rootfs on ramfs, where pivot_root is refused).
fn switch_root(setup: &Setup) -> Result<()> {
    let rootfs = &setup.rootfs;
    if setup.readonly_root {
        let fd = berth_sys::inroot::open_root(rootfs)?;
        berth_sys::mount::remount(fd.as_fd(), rootfs, MsFlags::MS_RDONLY)?;
    }
    nix::unistd::chdir(rootfs).map_err(|e| berth_sys::Error::path("chdir", rootfs, e))?;
    if setup.no_pivot {
        nix::mount::mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .map_err(|e| berth_sys::Error::path("move mount", rootfs, e))?;
        nix::unistd::chroot(".").map_err(|e| berth_sys::Error::path("chroot", rootfs, e))?;
    } else {
        nix::unistd::pivot_root(".", ".")
            .map_err(|e| berth_sys::Error::path("pivot_root", rootfs, e))?;
        // The old root now sits on top of the new one at "/"; detach it, keeping unmount
        // events from propagating to the host.
        berth_sys::mount::propagate(Path::new("."), MsFlags::MS_SLAVE | MsFlags::MS_REC)?;
        nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
            .map_err(|e| berth_sys::Error::path("umount old root", "/", e))?;
    }
    nix::unistd::chdir("/").map_err(|e| berth_sys::Error::path("chdir", "/", e))?;
    // The requested propagation applies to the container's root, which only now is "/";
    // setting it before the pivot would have touched the host's mount. Private is already
    // in place.
    if !setup.root_propagation.contains(MsFlags::MS_PRIVATE) {
        berth_sys::mount::propagate(Path::new("/"), setup.root_propagation)?;
    }
    Ok(())
}

/// Blocks until `start` writes into the exec fifo.
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(berth_sys::Error::call("poll(exec fifo)", e).into()),
            Ok(_) => {}
        }
        let mut b = [0u8; 1];
        match nix::unistd::read(fifo.as_fd(), &mut b) {
            Ok(1) => return Ok(()),
            Err(nix::Error::EAGAIN) | Err(nix::Error::EINTR) => continue,
            Ok(_) => return Err(Error::Init("exec fifo closed without a start".into())),
            Err(e) => return Err(berth_sys::Error::call("read(exec fifo)", e).into()),
        }
    }
}
