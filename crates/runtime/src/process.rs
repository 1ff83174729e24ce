//! The last steps before `execve`: limits, user, capabilities, seccomp, fds.
//!
//! Everything that can be computed is computed in the parent ([`Prepared::new`]); the child
//! only makes syscalls, in an order that keeps the privileges each one needs until it ran.

use std::convert::Infallible;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Linux, Process};

use crate::capabilities::CapSets;
use crate::{Error, Result};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug)]
pub(crate) struct Rlimit {
    resource: libc::__rlimit_resource_t,
    name: String,
    soft: u64,
    hard: u64,
}

/// A process ready to be started by the forked child.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub path_var: String,
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub caps: CapSets,
    pub no_new_privs: bool,
    pub rlimits: Vec<Rlimit>,
    pub seccomp: Option<berth_seccomp::Filter>,
    pub preserve_fds: i32,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    pub apparmor: Option<String>,
    pub selinux: Option<String>,
    /// Things asked for that this host can't do, reported by the parent.
    pub warnings: Vec<String>,
    pub tuning: crate::tuning::Tuning,
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::Invalid(format!("{what} {s:?} contains a NUL byte")))
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

impl Prepared {
    pub(crate) fn new(p: &Process, linux: Option<&Linux>, preserve_fds: i32) -> Result<Self> {
        let seccomp = linux.and_then(|l| l.seccomp().as_ref());
        crate::config::validate_process(p).map_err(Error::Invalid)?;
        let args = p
            .args()
            .iter()
            .flatten()
            .map(|a| cstring(a, "process.args entry"))
            .collect::<Result<Vec<_>>>()?;
        let env_strs: Vec<String> = p.env().clone().unwrap_or_default();
        let env = env_strs
            .iter()
            .map(|e| cstring(e, "process.env entry"))
            .collect::<Result<Vec<_>>>()?;
        let path_var = env_strs
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .to_string();
        let mut rlimits = Vec::new();
        for r in p.rlimits().iter().flatten() {
            let name = r.typ().to_string();
            let resource = rlimit_resource(&name)
                .ok_or_else(|| Error::Invalid(format!("process.rlimits: unknown type {name}")))?;
            rlimits.push(Rlimit {
                resource,
                name,
                soft: r.soft(),
                hard: r.hard(),
            });
        }
        let seccomp = seccomp.map(berth_seccomp::compile).transpose()?;
        let mut warnings: Vec<String> = seccomp
            .as_ref()
            .map(|f| f.warnings().to_vec())
            .unwrap_or_default();
        let apparmor = p.apparmor_profile().clone().filter(|s| !s.is_empty());
        let apparmor = match apparmor {
            Some(a) if !berth_sys::lsm::apparmor_enabled() => {
                warnings.push(format!(
                    "process.apparmorProfile {a:?} ignored: AppArmor is not enabled on this host"
                ));
                None
            }
            a => a,
        };
        let selinux = p.selinux_label().clone().filter(|s| !s.is_empty());
        let selinux = match selinux {
            Some(l) if !berth_sys::lsm::selinux_enabled() => {
                warnings.push(format!(
                    "process.selinuxLabel {l:?} ignored: SELinux is not enabled on this host"
                ));
                None
            }
            l => l,
        };
        let user = p.user();
        Ok(Prepared {
            args,
            env,
            path_var,
            cwd: p.cwd().clone(),
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            umask: user.umask().unwrap_or(0o022),
            caps: CapSets::from_spec(p.capabilities().as_ref())?,
            no_new_privs: p.no_new_privileges().unwrap_or(false),
            rlimits,
            seccomp,
            preserve_fds,
            terminal: p.terminal().unwrap_or(false),
            console_size: p
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
            apparmor,
            selinux,
            warnings,
            tuning: crate::tuning::Tuning::new(p, linux)?,
        })
    }

    pub(crate) fn set_rlimits(&self) -> Result<()> {
        for r in &self.rlimits {
            berth_sys::process::setrlimit(r.resource, r.soft, r.hard).map_err(|e| {
                Error::Init(format!(
                    "setrlimit {} soft {} hard {}: {}",
                    r.name,
                    r.soft,
                    r.hard,
                    e.errno().unwrap_or(nix::Error::EINVAL)
                ))
            })?;
        }
        Ok(())
    }

    /// chdir to the cwd and check where we landed: a cwd outside the root, reached through a
    /// leaked fd, shows up as an unreachable path (runc CVE-2024-21626).
    pub(crate) fn chdir(&self) -> Result<()> {
        nix::unistd::chdir(&self.cwd)
            .map_err(|e| Error::Init(format!("chdir to cwd {}: {e}", self.cwd.display())))?;
        match nix::unistd::getcwd() {
            Ok(p) if p.is_absolute() => Ok(()),
            Ok(p) => Err(Error::Init(format!(
                "cwd {} is outside the container ({})",
                self.cwd.display(),
                p.display()
            ))),
            Err(e) => Err(Error::Init(format!(
                "cwd {} is not reachable: {e}",
                self.cwd.display()
            ))),
        }
    }

    /// Sets HOME from the container's /etc/passwd when the env lacks it, as runc does.
    pub(crate) fn fill_home(&mut self) {
        if self.env.iter().any(|e| e.as_bytes().starts_with(b"HOME=")) {
            return;
        }
        let home = home_of(self.uid).unwrap_or_else(|| "/".into());
        if let Ok(c) = CString::new(format!("HOME={home}")) {
            self.env.push(c);
        }
    }

    /// Finds the executable in the container, as execvp would, so that a missing binary is
    /// reported by create rather than by a container that dies at start.
    pub(crate) fn lookup(&self) -> Result<CString> {
        let arg0 = self.args[0].to_str().unwrap_or_default();
        let candidates: Vec<PathBuf> = if arg0.contains('/') {
            vec![PathBuf::from(arg0)]
        } else {
            self.path_var
                .split(':')
                .filter(|d| !d.is_empty())
                .map(|d| Path::new(d).join(arg0))
                .collect()
        };
        for c in &candidates {
            if let Ok(m) = std::fs::metadata(c) {
                use std::os::unix::fs::PermissionsExt;
                if m.is_file() && m.permissions().mode() & 0o111 != 0 {
                    return CString::new(c.as_os_str().as_bytes())
                        .map_err(|_| Error::Invalid(arg0.into()));
                }
                if arg0.contains('/') {
                    return Err(Error::Init(format!("exec: {arg0:?}: permission denied")));
                }
            }
        }
        if arg0.contains('/') {
            Err(Error::Init(format!(
                "exec: {arg0:?}: no such file or directory"
            )))
        } else {
            Err(Error::Init(format!(
                "exec: {arg0:?}: executable file not found in $PATH"
            )))
        }
    }

    /// Drops privileges in order and execs. Returns only on failure.
    /// Switches to the container's user and capabilities (and loads seccomp when
    /// no_new_privs is off, as that needs CAP_SYS_ADMIN). Done before reporting Created, so
    /// that a failure here fails `create` the way runc's does, not the started container.
    /// Returns the seccomp notification listener when the filter sends syscalls to an
    /// agent (it is loaded here then, whatever no_new_privs says, so the parent can still
    /// pass the listener on during create).
    pub(crate) fn drop_privileges(&self) -> Result<Option<std::os::fd::OwnedFd>> {
        use nix::sys::prctl;
        self.tuning.apply()?;
        if self.no_new_privs {
            prctl::set_no_new_privs()
                .map_err(|e| berth_sys::Error::call("PR_SET_NO_NEW_PRIVS", e))?;
        }
        let mut listener = None;
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which we drop below.
        if !self.no_new_privs {
            if let Some(f) = &self.seccomp {
                listener = f.load()?;
            }
        }
        self.caps.drop_bounding()?;
        prctl::set_keepcaps(true).map_err(|e| berth_sys::Error::call("PR_SET_KEEPCAPS", e))?;
        let groups: Vec<nix::unistd::Gid> = self
            .groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        match nix::unistd::setgroups(&groups) {
            // A user namespace with setgroups denied can't change groups; runc ignores that
            // when no additional groups were asked for.
            Err(nix::Error::EPERM) if groups.is_empty() => {}
            r => r.map_err(|e| Error::Init(format!("setgroups {:?}: {e}", self.groups)))?,
        }
        let gid = nix::unistd::Gid::from_raw(self.gid);
        nix::unistd::setresgid(gid, gid, gid)
            .map_err(|e| Error::Init(format!("setresgid {}: {e}", self.gid)))?;
        let uid = nix::unistd::Uid::from_raw(self.uid);
        nix::unistd::setresuid(uid, uid, uid)
            .map_err(|e| Error::Init(format!("setresuid {}: {e}", self.uid)))?;
        prctl::set_keepcaps(false).map_err(|e| berth_sys::Error::call("PR_SET_KEEPCAPS", e))?;
        self.caps.apply()?;
        if self.no_new_privs {
            if let Some(f) = self.seccomp.as_ref().filter(|f| f.notifies()) {
                listener = f.load()?;
            }
        }
        Ok(listener)
    }

    /// The last steps, after [`Prepared::drop_privileges`]: umask, the seccomp filter under
    /// no_new_privs (as late as possible, so it binds few of our own syscalls), LSM labels
    /// for the exec, fds, signal mask, execve. Returns only on failure.
    pub(crate) fn exec(&self, path: &CStr) -> Result<Infallible> {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(self.umask));
        if self.no_new_privs {
            if let Some(f) = self.seccomp.as_ref().filter(|f| !f.notifies()) {
                f.load()?;
            }
        }
        if let Some(p) = &self.apparmor {
            berth_sys::lsm::apparmor_exec(p)
                .map_err(|e| Error::Init(format!("apparmor profile {p:?}: {e}")))?;
        }
        if let Some(l) = &self.selinux {
            berth_sys::lsm::selinux_exec(l)
                .map_err(|e| Error::Init(format!("selinux label {l:?}: {e}")))?;
        }
        berth_sys::fds::cloexec_from(3 + self.preserve_fds)?;
        // execve keeps ignored signals ignored: whoever started us (an engine's monitor
        // ignores SIGINT and SIGHUP from its terminal) must not pass that on, or ctrl-c on a
        // container's tty would not interrupt anything.
        for sig in nix::sys::signal::Signal::iterator() {
            if matches!(
                sig,
                nix::sys::signal::Signal::SIGKILL | nix::sys::signal::Signal::SIGSTOP
            ) {
                continue;
            }
            // SAFETY: SIG_DFL installs no handler code; we exec right after.
            let _ = unsafe { nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl) };
        }
        // execve keeps the signal mask: a foreground `run` blocks everything to forward it.
        let _ = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(&nix::sys::signal::SigSet::empty()),
            None,
        );
        let e = nix::unistd::execve(path, &self.args, &self.env).unwrap_err();
        Err(Error::Init(format!("exec {}: {e}", path.to_string_lossy())))
    }
}

/// The home directory of `uid` in /etc/passwd (read from the current root, capped at 1 MiB).
fn home_of(uid: u32) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open("/etc/passwd")
        .ok()?
        .take(1 << 20)
        .read_to_string(&mut text)
        .ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

/// Exit status in the shell's convention: the code, or 128+signal.
pub fn exit_code(status: nix::sys::wait::WaitStatus) -> Option<i32> {
    use nix::sys::wait::WaitStatus;
    match status {
        WaitStatus::Exited(_, c) => Some(c),
        WaitStatus::Signaled(_, s, _) => Some(128 + s as i32),
        _ => None,
    }
}
