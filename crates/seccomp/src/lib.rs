//! Compiles an OCI runtime-spec `linux.seccomp` section into a seccomp BPF filter.
//!
//! The translation follows runc: unknown syscall names are skipped (and reported through
//! [`Filter::warnings`]), rules whose action equals the default action are dropped, and args
//! conditions sharing an index become separate (OR-ed) rules instead of one AND-ed rule.
//!
//! [`compile`] does all the work that allocates or talks to libseccomp and produces the final
//! BPF program. [`Filter::load`] is then a single `seccomp(2)` call with no allocation, so a
//! runtime can compile in the parent and load in a freshly forked, single-threaded child.
//! `load` does not set `PR_SET_NO_NEW_PRIVS`: the caller decides that (the kernel requires it,
//! or `CAP_SYS_ADMIN`, to install a filter).

pub mod cache;
pub mod profile;

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::error::SeccompError;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

/// Syscalls take at most six arguments; the kernel's `seccomp_data.args` has six slots.
pub const MAX_ARG_INDEX: usize = 5;

/// `BPF_MAXINSNS`: the kernel refuses longer classic BPF programs.
pub const MAX_INSTRUCTIONS: usize = 4096;

/// Errors from compiling or loading a seccomp filter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The profile uses a feature this crate does not implement (yet), such as `SCMP_ACT_NOTIFY`.
    #[error("seccomp: {what} is not supported")]
    Unsupported { what: String },

    /// An `args[].index` outside `0..=5`.
    #[error(
        "seccomp: syscall {syscall}: argument index {index} is out of range (max {MAX_ARG_INDEX})"
    )]
    ArgIndex { syscall: String, index: usize },

    /// An `errnoRet`/`defaultErrnoRet` that does not fit the kernel's 16-bit return data.
    #[error(
        "seccomp: {context}: errnoRet {value} is out of range (max {})",
        u16::MAX
    )]
    ErrnoRet { context: String, value: u32 },

    /// libseccomp could not add the architecture (e.g. it is too old to know it).
    #[error("seccomp: architecture {arch} is not supported by libseccomp")]
    Arch {
        arch: String,
        #[source]
        source: SeccompError,
    },

    /// libseccomp could not create the filter context.
    #[error("seccomp: creating filter with default action {action}")]
    Init {
        action: String,
        #[source]
        source: SeccompError,
    },

    /// libseccomp rejected a rule.
    #[error("seccomp: adding rule {action} for syscall {syscall}")]
    Rule {
        syscall: String,
        action: String,
        #[source]
        source: SeccompError,
    },

    /// libseccomp failed to generate the BPF program.
    #[error("seccomp: exporting BPF program")]
    Export(#[source] SeccompError),

    /// The scratch memfd used to receive the BPF program could not be used.
    #[error("seccomp: reading exported BPF program")]
    ExportIo(#[source] io::Error),

    /// The generated program is longer than the kernel accepts.
    #[error("seccomp: BPF program has {instructions} instructions, the kernel limit is {MAX_INSTRUCTIONS}")]
    TooLarge { instructions: usize },

    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed.
    #[error("seccomp: loading filter")]
    Load(#[source] io::Error),

    /// With `SECCOMP_FILTER_FLAG_TSYNC` the kernel reports a thread it could not synchronise.
    #[error("seccomp: loading filter: thread {tid} could not be synchronised (TSYNC)")]
    Tsync { tid: libc::c_long },
}

/// A compiled seccomp filter, ready to be installed with [`Filter::load`].
#[derive(Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    warnings: Vec<String>,
}

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl Filter {
    /// Installs the filter on the calling thread (all threads with `SECCOMP_FILTER_FLAG_TSYNC`).
    ///
    /// Performs one syscall and no allocation (the error values carry only an errno or a thread
    /// id), so it is safe to call in a child between `fork` and `exec`. The caller must have set
    /// `PR_SET_NO_NEW_PRIVS` or hold `CAP_SYS_ADMIN`.
    pub fn load(&self) -> Result<Option<std::os::fd::OwnedFd>, Error> {
        let prog = libc::sock_fprog {
            // compile() guarantees len <= MAX_INSTRUCTIONS, which fits in u16.
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr().cast_mut(),
        };
        // SAFETY: `prog` points at `self.program`, which is alive and unmodified for the whole
        // call; the kernel only reads the program (and copies it) during the syscall.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        match ret {
            r if r < 0 => Err(Error::Load(io::Error::last_os_error())),
            fd if self.notifies() => {
                // SAFETY: with SECCOMP_FILTER_FLAG_NEW_LISTENER the kernel returns a new fd
                // (the notification listener) that nobody else owns.
                Ok(Some(unsafe {
                    std::os::fd::FromRawFd::from_raw_fd(fd as std::os::fd::RawFd)
                }))
            }
            0 => Ok(None),
            tid => Err(Error::Tsync { tid }),
        }
    }

    /// Whether some syscalls are sent to a user-space agent (SCMP_ACT_NOTIFY): then
    /// [`Filter::load`] returns the listener fd, for the caller to pass to
    /// `linux.seccomp.listenerPath`.
    pub fn notifies(&self) -> bool {
        self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0
    }

    /// Non-fatal findings, e.g. syscall names libseccomp does not know, for the caller to log.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The classic BPF program passed to the kernel.
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits passed to `seccomp(2)` on load.
    pub fn flags(&self) -> libc::c_ulong {
        self.flags
    }
}

/// Where an action came from, to name it in errors and warnings.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Default,
    Rule(&'a [String]),
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("defaultAction"),
            // Docker-style allow rules list hundreds of names; a few identify the rule.
            Origin::Rule(names) if names.len() > 3 => write!(
                f,
                "syscalls [{}, ... {} more]",
                names[..3].join(", "),
                names.len() - 3
            ),
            Origin::Rule(names) => write!(f, "syscalls [{}]", names.join(", ")),
        }
    }
}

/// Compiles an OCI seccomp section to a BPF program.
///
/// The native architecture is always part of the filter, in addition to `architectures`.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter, Error> {
    if let Some((program, flags, warnings)) = cache::load(s) {
        return Ok(Filter {
            program,
            flags,
            warnings,
        });
    }
    let mut warnings = Vec::new();

    let default_action = action(
        s.default_action(),
        s.default_errno_ret(),
        Origin::Default,
        &mut warnings,
    )?;
    let mut ctx = ScmpFilterContext::new(default_action).map_err(|source| Error::Init {
        action: s.default_action().to_string(),
        source,
    })?;

    for arch in s.architectures().iter().flatten() {
        ctx.add_arch(scmp_arch(*arch))
            .map_err(|source| Error::Arch {
                arch: arch.to_string(),
                source,
            })?;
    }

    let notify = s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .iter()
            .flatten()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify);
    let mut flags: libc::c_ulong = 0;
    for flag in s.flags().iter().flatten() {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // The kernel rejects this flag unless a notify listener is requested.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => 1 << 5,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                warnings.push(format!(
                    "seccomp flag {flag} ignored: it only applies to SCMP_ACT_NOTIFY"
                ));
                0
            }
        };
    }
    if notify {
        if s.listener_path().is_none() {
            return Err(Error::Unsupported {
                what: "SCMP_ACT_NOTIFY without linux.seccomp.listenerPath".into(),
            });
        }
        // The kernel refuses TSYNC together with a listener (its return value would be
        // ambiguous); the runtime is single-threaded when it loads the filter anyway.
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            warnings
                .push("seccomp flag SECCOMP_FILTER_FLAG_TSYNC ignored with SCMP_ACT_NOTIFY".into());
            flags &= !libc::SECCOMP_FILTER_FLAG_TSYNC;
        }
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    }

    for syscall in s.syscalls().iter().flatten() {
        add_syscall(&mut ctx, syscall, default_action, &mut warnings)?;
    }

    let program = export(&ctx)?;
    cache::store(s, &program, flags, &warnings);
    Ok(Filter {
        program,
        flags,
        warnings,
    })
}

fn add_syscall(
    ctx: &mut ScmpFilterContext,
    syscall: &LinuxSyscall,
    default_action: ScmpAction,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let names = syscall.names();
    let origin = Origin::Rule(names);
    let act = action(syscall.action(), syscall.errno_ret(), origin, warnings)?;
    let args = syscall.args().as_deref().unwrap_or_default();
    for arg in args {
        if arg.index() > MAX_ARG_INDEX {
            return Err(Error::ArgIndex {
                syscall: names.join(", "),
                index: arg.index(),
            });
        }
    }
    // libseccomp refuses rules whose action is the default one; they are no-ops anyway.
    if act == default_action {
        return Ok(());
    }

    let conditions: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
    // runc compatibility: libseccomp cannot AND two conditions on the same argument, so such
    // rules fall back to one rule per condition, which the kernel evaluates as OR.
    let mut seen = [0u8; MAX_ARG_INDEX + 1];
    let repeated_index = args.iter().any(|a| {
        seen[a.index()] += 1;
        seen[a.index()] > 1
    });

    for name in names {
        let Ok(nr) = ScmpSyscall::from_name(name) else {
            let w = format!("unknown seccomp syscall {name:?} ignored");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
            continue;
        };
        let rule_err = |source| Error::Rule {
            syscall: name.clone(),
            action: syscall.action().to_string(),
            source,
        };
        if conditions.is_empty() {
            ctx.add_rule(act, nr).map_err(rule_err)?;
        } else if repeated_index {
            for c in &conditions {
                ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                    .map_err(rule_err)?;
            }
        } else {
            ctx.add_rule_conditional(act, nr, &conditions)
                .map_err(rule_err)?;
        }
    }
    Ok(())
}

fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    origin: Origin<'_>,
    warnings: &mut Vec<String>,
) -> Result<ScmpAction, Error> {
    let ret16 = |value: u32| {
        u16::try_from(value).map_err(|_| Error::ErrnoRet {
            context: origin.to_string(),
            value,
        })
    };
    let plain = |a: ScmpAction, warnings: &mut Vec<String>| {
        // runc ignores errnoRet for actions without return data; say so instead of silently.
        if let Some(v) = errno_ret {
            warnings.push(format!("{origin}: errnoRet {v} ignored for action {act}"));
        }
        a
    };
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            plain(ScmpAction::KillThread, warnings)
        }
        LinuxSeccompAction::ScmpActKillProcess => plain(ScmpAction::KillProcess, warnings),
        LinuxSeccompAction::ScmpActTrap => plain(ScmpAction::Trap, warnings),
        LinuxSeccompAction::ScmpActAllow => plain(ScmpAction::Allow, warnings),
        LinuxSeccompAction::ScmpActLog => plain(ScmpAction::Log, warnings),
        LinuxSeccompAction::ScmpActErrno => {
            let errno = match errno_ret {
                Some(v) => ret16(v)?,
                None => libc::EPERM as u16,
            };
            ScmpAction::Errno(errno.into())
        }
        // Same default as runc: with no tracer attached the kernel turns TRACE into ENOSYS, and
        // a tracer sees EPERM as the message unless the profile chose one.
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(match errno_ret {
            Some(v) => ret16(v)?,
            None => libc::EPERM as u16,
        }),
        LinuxSeccompAction::ScmpActNotify => plain(ScmpAction::Notify, warnings),
    })
}

fn condition(arg: &LinuxSeccompArg) -> ScmpArgCompare {
    let value = arg.value();
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, value),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, value),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, value),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, value),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, value),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, value),
        // OCI (like libseccomp) puts the mask in `value` and the expected bits in `valueTwo`.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(value),
            arg.value_two().unwrap_or(0),
        ),
    };
    // The index was checked against MAX_ARG_INDEX by the caller.
    ScmpArgCompare::new(arg.index() as u32, op, datum)
}

fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Renders the filter to kernel BPF.
///
/// libseccomp 2.5 (the system version) can only export to a file descriptor, so the program
/// goes through an anonymous memfd; unlike a pipe, it cannot block on large programs.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, Error> {
    // SAFETY: the name is a NUL-terminated C string literal and the flags are valid.
    let fd = unsafe { libc::memfd_create(c"berth-seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::ExportIo(io::Error::last_os_error()));
    }
    // SAFETY: `fd` was just returned by memfd_create, is valid, and nothing else owns it.
    let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(Error::Export)?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut bytes))
        .map_err(Error::ExportIo)?;

    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if bytes.len() % INSN != 0 {
        return Err(Error::ExportIo(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "BPF program length {} is not a multiple of {INSN}",
                bytes.len()
            ),
        )));
    }
    // Decoding field by field avoids relying on the layout of libc::sock_filter.
    let program: Vec<libc::sock_filter> = bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    if program.len() > MAX_INSTRUCTIONS {
        return Err(Error::TooLarge {
            instructions: program.len(),
        });
    }
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_can_cross_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Filter>();
        assert_send_sync::<Error>();
    }

    #[test]
    fn long_rules_are_abbreviated_in_messages() {
        let names: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
        assert_eq!(
            Origin::Rule(&names).to_string(),
            "syscalls [a, b, c, ... 2 more]"
        );
        assert_eq!(Origin::Rule(&names[..2]).to_string(), "syscalls [a, b]");
    }
}
