//! Docker's default seccomp profile, and Docker-format profile files.
//!
//! # The built-in default
//!
//! [`docker_default`] returns Docker's default profile (moby `profiles/seccomp`) specialised
//! for one container, the way Docker does it: the allow-list every container gets, plus the
//! rules unlocked by the container's capabilities, the runtime's architecture and the running
//! kernel. The facts live in `profiles/default.json`, embedded with `include_str!` (also
//! available as [`DEFAULT_PROFILE_JSON`]). Its format is OCI `linux.seccomp` plus two
//! additions, so the file reads as what a runtime consumes:
//!
//! ```json
//! {
//!   "defaultAction": "SCMP_ACT_ERRNO",
//!   "defaultErrnoRet": 1,
//!   "archMap": [{"arch": "SCMP_ARCH_X86_64",
//!                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
//!   "syscalls": [{"names": ["read", "..."], "action": "SCMP_ACT_ALLOW"}],
//!   "conditional": [
//!     {"caps": ["CAP_SYS_ADMIN"], "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ALLOW"}]},
//!     {"notCaps": ["CAP_SYS_ADMIN"], "notArches": ["SCMP_ARCH_S390", "SCMP_ARCH_S390X"],
//!      "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": ["..."]}]}
//!   ]
//! }
//! ```
//!
//! - `defaultAction`, `defaultErrnoRet` and `syscalls` are OCI fields and apply to everyone.
//! - `archMap` gives the `architectures` of the filter for each runtime architecture; other
//!   architectures get none (libseccomp then filters the native one only).
//! - `conditional` sections add their OCI `syscalls` only when all their conditions hold:
//!   `caps` (all present), `notCaps` (none present), `arches` (the runtime architecture is one
//!   of them), `notArches` (it is none of them) and `minKernel` (`"major.minor"`, the running
//!   kernel is at least that).
//! - `comment` fields are ignored. errno values are the generic ones; the loader substitutes
//!   the host's `ENOSYS` on the few architectures whose errno table differs.
//!
//! # Docker-format files
//!
//! [`from_docker_file`] reads what users pass to `--security-opt seccomp=profile.json`:
//! Docker's format, with `archMap`, `name` or `names`, and `includes`/`excludes` filters on
//! `caps`, `arches` (Docker's architecture names such as `amd64`, or `SCMP_ARCH_*`) and
//! `minKernel`. Rules are kept or dropped exactly as Docker does (every `includes` condition
//! must hold, any `excludes` condition drops the rule), and the result is OCI. An OCI
//! `linux.seccomp` document is also a valid Docker-format file. The input is untrusted: its
//! size and its lists are bounded, every name is checked, and errors say what was wrong and
//! where.
//!
//! Capability names are matched case-insensitively, with or without the `CAP_` prefix.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::MAX_ARG_INDEX;

/// The embedded default profile, in the format described in the module documentation.
pub const DEFAULT_PROFILE_JSON: &str = include_str!("../profiles/default.json");

/// Largest Docker-format file accepted. Docker's own default is about 20 KiB.
pub const MAX_PROFILE_BYTES: usize = 1 << 20;
/// Most rules (`syscalls` entries) in a Docker-format file.
pub const MAX_RULES: usize = 4096;
/// Most syscall names in one rule; Linux has fewer than 500 syscalls per architecture.
pub const MAX_NAMES_PER_RULE: usize = 2048;
/// Most `args` conditions in one rule. Conditions repeating an index are OR-ed, so a rule may
/// have more than six, but a filter with many of them would not fit the kernel's limit anyway.
pub const MAX_ARGS_PER_RULE: usize = 64;
/// Most entries in any other list (architectures, caps, flags).
pub const MAX_LIST: usize = 256;
/// Longest syscall, capability or architecture name.
pub const MAX_NAME_LEN: usize = 64;

/// Why a Docker-format profile was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file is larger than [`MAX_PROFILE_BYTES`].
    #[error("seccomp profile: {size} bytes is too large (max {max})")]
    TooLarge { size: usize, max: usize },

    /// Not JSON, or JSON of the wrong shape (the message has the line and column).
    #[error("seccomp profile: {0}")]
    Json(#[source] serde_json::Error),

    /// No `defaultAction`. (Docker treats `{}` as "no filter"; ask for `unconfined` instead.)
    #[error("seccomp profile: defaultAction is missing")]
    MissingDefaultAction,

    /// An action that is not one of the `SCMP_ACT_*` names.
    #[error("seccomp profile: {context}: unknown action {value:?}")]
    BadAction { context: String, value: String },

    /// A rule without `action`.
    #[error("seccomp profile: syscalls[{rule}]: action is missing")]
    MissingAction { rule: usize },

    /// An `args[].op` that is not one of the `SCMP_CMP_*` names.
    #[error("seccomp profile: {context}: unknown operator {value:?}")]
    BadOperator { context: String, value: String },

    /// An architecture name that is not known.
    #[error("seccomp profile: {context}: unknown architecture {value:?}")]
    UnknownArch { context: String, value: String },

    /// A `flags` entry that is not one of the `SECCOMP_FILTER_FLAG_*` names.
    #[error("seccomp profile: flags: unknown flag {value:?}")]
    BadFlag { value: String },

    /// Both `architectures` and `archMap`, which Docker refuses as ambiguous.
    #[error("seccomp profile: 'architectures' and 'archMap' are both given; use one of them")]
    ArchitecturesAndArchMap,

    /// A rule with both `name` and `names`.
    #[error(
        "seccomp profile: syscalls[{rule}]: 'name' and 'names' are both given; use one of them"
    )]
    NameAndNames { rule: usize },

    /// A rule naming no syscall.
    #[error("seccomp profile: syscalls[{rule}]: no syscall names")]
    NoNames { rule: usize },

    /// A syscall name that is empty, too long or has characters no syscall name has.
    #[error("seccomp profile: syscalls[{rule}]: invalid syscall name {name:?}")]
    BadSyscallName { rule: usize, name: String },

    /// A capability name that is empty, too long or has characters no capability name has.
    #[error("seccomp profile: {context}: invalid capability {value:?}")]
    BadCapability { context: String, value: String },

    /// An `args[].index` beyond the six syscall arguments.
    #[error(
        "seccomp profile: syscalls[{rule}]: argument index {index} is out of range (max {MAX_ARG_INDEX})"
    )]
    ArgIndex { rule: usize, index: u64 },

    /// An `errnoRet` or `defaultErrnoRet` larger than the kernel's 16-bit return data.
    #[error(
        "seccomp profile: {context}: errnoRet {value} is out of range (max {})",
        u16::MAX
    )]
    ErrnoRet { context: String, value: u32 },

    /// A `minKernel` that is not `"major.minor"`.
    #[error(
        "seccomp profile: {context}: invalid minKernel {value:?}, expected \"<major>.<minor>\""
    )]
    BadMinKernel { context: String, value: String },

    /// A list longer than this loader accepts.
    #[error("seccomp profile: {context}: {count} entries is too many (max {max})")]
    TooMany {
        context: String,
        count: usize,
        max: usize,
    },
}

/// A kernel version as far as seccomp profiles care: `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u16,
    pub minor: u16,
}

impl KernelVersion {
    /// The running kernel's version, from `uname`; `None` if its release is not `N.M...`.
    pub fn running() -> Option<KernelVersion> {
        // SAFETY: utsname is plain old data, for which all-zero bytes are a valid value.
        let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
        // SAFETY: uname only writes into the struct it is given, which lives on our stack.
        if unsafe { libc::uname(&mut uts) } != 0 {
            return None;
        }
        let release: Vec<u8> = uts
            .release
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        Self::from_release(std::str::from_utf8(&release).ok()?)
    }

    /// Parses a kernel release such as `6.8.0-31-generic`: its leading `major.minor`.
    pub fn from_release(release: &str) -> Option<KernelVersion> {
        let mut parts = release.split('.');
        let major = leading_number(parts.next()?)?;
        let minor = leading_number(parts.next()?)?;
        Some(KernelVersion { major, minor })
    }
}

fn leading_number(s: &str) -> Option<u16> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Docker's `minKernel` syntax: exactly `major.minor`, not `0.0`.
impl FromStr for KernelVersion {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (major, minor) = s.split_once('.').ok_or(())?;
        let number = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            p.parse::<u16>().map_err(drop)
        };
        let v = KernelVersion {
            major: number(major)?,
            minor: number(minor)?,
        };
        if v == (KernelVersion { major: 0, minor: 0 }) {
            return Err(());
        }
        Ok(v)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a profile is specialised for, besides the container's capabilities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Host {
    /// The architecture the runtime (and so the container's init) runs as.
    pub arch: Arch,
    /// The running kernel, for `minKernel` conditions. When unknown, `minKernel` requirements
    /// count as unmet, which only ever makes the filter stricter.
    pub kernel: Option<KernelVersion>,
}

impl Host {
    /// This process's architecture and the running kernel.
    pub fn current() -> Host {
        Host {
            arch: native_arch(),
            kernel: KernelVersion::running(),
        }
    }
}

/// The seccomp architecture this crate was compiled for ([`Arch::ScmpArchNative`] when seccomp
/// has no name for it).
pub fn native_arch() -> Arch {
    if cfg!(target_arch = "x86_64") {
        if cfg!(target_pointer_width = "32") {
            Arch::ScmpArchX32
        } else {
            Arch::ScmpArchX86_64
        }
    } else if cfg!(target_arch = "x86") {
        Arch::ScmpArchX86
    } else if cfg!(target_arch = "aarch64") {
        Arch::ScmpArchAarch64
    } else if cfg!(target_arch = "arm") {
        Arch::ScmpArchArm
    } else if cfg!(target_arch = "riscv64") {
        Arch::ScmpArchRiscv64
    } else if cfg!(target_arch = "s390x") {
        Arch::ScmpArchS390x
    } else if cfg!(target_arch = "powerpc64") {
        if cfg!(target_endian = "little") {
            Arch::ScmpArchPpc64le
        } else {
            Arch::ScmpArchPpc64
        }
    } else if cfg!(target_arch = "powerpc") {
        Arch::ScmpArchPpc
    } else if cfg!(target_arch = "loongarch64") {
        Arch::ScmpArchLoongarch64
    } else if cfg!(target_arch = "mips64") {
        if cfg!(target_endian = "little") {
            Arch::ScmpArchMipsel64
        } else {
            Arch::ScmpArchMips64
        }
    } else if cfg!(target_arch = "mips") {
        if cfg!(target_endian = "little") {
            Arch::ScmpArchMipsel
        } else {
            Arch::ScmpArchMips
        }
    } else if cfg!(target_arch = "m68k") {
        Arch::ScmpArchM68k
    } else {
        Arch::ScmpArchNative
    }
}

/// Docker's default profile for a container with capabilities `caps` (e.g. `CAP_CHOWN` or
/// `CHOWN`), for architecture `arch` on the running kernel.
pub fn docker_default<S: AsRef<str>>(caps: &[S], arch: Arch) -> LinuxSeccomp {
    docker_default_for(
        caps,
        &Host {
            arch,
            kernel: KernelVersion::running(),
        },
    )
}

/// [`docker_default`] for an explicit architecture and kernel.
pub fn docker_default_for<S: AsRef<str>>(caps: &[S], host: &Host) -> LinuxSeccomp {
    let p = embedded();
    let caps = CapSet::new(caps.iter().map(AsRef::as_ref));

    let mut rules: Vec<LinuxSyscall> = p.syscalls.clone();
    for section in &p.conditional {
        if section.applies(&caps, host) {
            rules.extend(section.syscalls.iter().cloned());
        }
    }
    for rule in &mut rules {
        // Docker builds one binary per architecture and writes unix.ENOSYS; the file has the
        // generic 38, which MIPS and PA-RISC number differently.
        if rule.errno_ret() == Some(GENERIC_ENOSYS) {
            rule.set_errno_ret(Some(libc::ENOSYS as u32));
        }
    }

    let architectures = p
        .arch_map
        .iter()
        .find(|m| m.arch == host.arch)
        .map(|m| m.architectures.clone());

    let mut out = LinuxSeccomp::default();
    out.set_default_action(p.default_action)
        .set_default_errno_ret(Some(p.default_errno_ret))
        .set_architectures(architectures)
        .set_syscalls(Some(rules));
    out
}

const GENERIC_ENOSYS: u32 = 38;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Embedded {
    #[serde(default, rename = "comment")]
    _comment: IgnoredAny,
    default_action: LinuxSeccompAction,
    default_errno_ret: u32,
    arch_map: Vec<EmbeddedArchMap>,
    syscalls: Vec<LinuxSyscall>,
    conditional: Vec<Section>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct EmbeddedArchMap {
    arch: Arch,
    architectures: Vec<Arch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Section {
    #[serde(default, rename = "comment")]
    _comment: IgnoredAny,
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    not_caps: Vec<String>,
    #[serde(default)]
    arches: Vec<Arch>,
    #[serde(default)]
    not_arches: Vec<Arch>,
    #[serde(default, deserialize_with = "min_kernel")]
    min_kernel: Option<KernelVersion>,
    syscalls: Vec<LinuxSyscall>,
}

fn min_kernel<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<KernelVersion>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse()
        .map(Some)
        .map_err(|()| serde::de::Error::custom(format!("invalid minKernel {s:?}")))
}

impl Section {
    fn applies(&self, caps: &CapSet, host: &Host) -> bool {
        self.caps.iter().all(|c| caps.has(c))
            && !self.not_caps.iter().any(|c| caps.has(c))
            && (self.arches.is_empty() || self.arches.contains(&host.arch))
            && !self.not_arches.contains(&host.arch)
            && self.min_kernel.is_none_or(|min| kernel_at_least(host, min))
    }
}

fn kernel_at_least(host: &Host, min: KernelVersion) -> bool {
    host.kernel.is_some_and(|k| k >= min)
}

fn embedded() -> &'static Embedded {
    static PROFILE: OnceLock<Embedded> = OnceLock::new();
    PROFILE.get_or_init(|| {
        // The file is part of this crate and a test parses it, so failing here is a build bug.
        serde_json::from_str(DEFAULT_PROFILE_JSON)
            .expect("profiles/default.json is a valid embedded seccomp profile")
    })
}

/// Capability names, normalised to `CAP_*` upper case.
struct CapSet(Vec<String>);

impl CapSet {
    fn new<'a>(caps: impl Iterator<Item = &'a str>) -> CapSet {
        CapSet(caps.map(normalize_cap).collect())
    }

    fn has(&self, cap: &str) -> bool {
        let cap = normalize_cap(cap);
        self.0.contains(&cap)
    }
}

fn normalize_cap(cap: &str) -> String {
    let upper = cap.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// Parses a Docker-format seccomp profile for a container with capabilities `caps`, on this
/// machine ([`Host::current`]).
pub fn from_docker_file<S: AsRef<str>>(
    bytes: &[u8],
    caps: &[S],
) -> Result<LinuxSeccomp, ProfileError> {
    from_docker_file_for(bytes, caps, &Host::current())
}

/// [`from_docker_file`] for an explicit architecture and kernel.
pub fn from_docker_file_for<S: AsRef<str>>(
    bytes: &[u8],
    caps: &[S],
    host: &Host,
) -> Result<LinuxSeccomp, ProfileError> {
    if bytes.len() > MAX_PROFILE_BYTES {
        return Err(ProfileError::TooLarge {
            size: bytes.len(),
            max: MAX_PROFILE_BYTES,
        });
    }
    let raw: RawProfile = serde_json::from_slice(bytes).map_err(ProfileError::Json)?;
    let caps = CapSet::new(caps.iter().map(AsRef::as_ref));

    let default_action = action(
        raw.default_action
            .as_deref()
            .ok_or(ProfileError::MissingDefaultAction)?,
        "defaultAction",
    )?;
    if let Some(v) = raw.default_errno_ret {
        errno_ret(v, "defaultErrnoRet")?;
    }

    let architectures = architectures(&raw, host)?;

    let mut flags = Vec::new();
    for f in bounded(raw.flags.as_deref(), "flags", MAX_LIST)? {
        flags.push(flag(f)?);
    }

    let raw_rules = bounded(raw.syscalls.as_deref(), "syscalls", MAX_RULES)?;
    let mut rules = Vec::new();
    // Every rule is validated, including those this host filters out, so a broken profile
    // fails everywhere rather than only on some machines.
    for (i, r) in raw_rules.iter().enumerate() {
        let rule = syscall(r, i)?;
        if keep(r, i, &caps, host)? {
            rules.push(rule);
        }
    }

    let mut out = LinuxSeccomp::default();
    out.set_default_action(default_action)
        .set_default_errno_ret(raw.default_errno_ret)
        .set_architectures((!architectures.is_empty()).then_some(architectures))
        .set_flags((!flags.is_empty()).then_some(flags))
        .set_listener_path(raw.listener_path.map(PathBuf::from))
        .set_listener_metadata(raw.listener_metadata)
        .set_syscalls(Some(rules));
    Ok(out)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProfile {
    default_action: Option<String>,
    default_errno_ret: Option<u32>,
    architectures: Option<Vec<String>>,
    arch_map: Option<Vec<RawArchMap>>,
    flags: Option<Vec<String>>,
    listener_path: Option<String>,
    listener_metadata: Option<String>,
    syscalls: Option<Vec<RawSyscall>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArchMap {
    architecture: String,
    sub_architectures: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSyscall {
    name: Option<String>,
    names: Option<Vec<String>>,
    action: Option<String>,
    errno_ret: Option<u32>,
    args: Option<Vec<RawArg>>,
    includes: Option<RawFilter>,
    excludes: Option<RawFilter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawArg {
    index: u64,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFilter {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// Values echoed in errors are cut short: the input may be one enormous string.
fn shown(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn bounded<'a, T>(
    list: Option<&'a [T]>,
    context: &str,
    max: usize,
) -> Result<&'a [T], ProfileError> {
    let list = list.unwrap_or_default();
    if list.len() > max {
        return Err(ProfileError::TooMany {
            context: context.to_string(),
            count: list.len(),
            max,
        });
    }
    Ok(list)
}

fn action(s: &str, context: &str) -> Result<LinuxSeccompAction, ProfileError> {
    use LinuxSeccompAction as A;
    Ok(match s {
        "SCMP_ACT_KILL" => A::ScmpActKill,
        "SCMP_ACT_KILL_THREAD" => A::ScmpActKillThread,
        "SCMP_ACT_KILL_PROCESS" => A::ScmpActKillProcess,
        "SCMP_ACT_TRAP" => A::ScmpActTrap,
        "SCMP_ACT_ERRNO" => A::ScmpActErrno,
        "SCMP_ACT_TRACE" => A::ScmpActTrace,
        "SCMP_ACT_ALLOW" => A::ScmpActAllow,
        "SCMP_ACT_LOG" => A::ScmpActLog,
        "SCMP_ACT_NOTIFY" => A::ScmpActNotify,
        _ => {
            return Err(ProfileError::BadAction {
                context: context.to_string(),
                value: shown(s),
            })
        }
    })
}

fn operator(s: &str, context: &str) -> Result<LinuxSeccompOperator, ProfileError> {
    use LinuxSeccompOperator as O;
    Ok(match s {
        "SCMP_CMP_NE" => O::ScmpCmpNe,
        "SCMP_CMP_LT" => O::ScmpCmpLt,
        "SCMP_CMP_LE" => O::ScmpCmpLe,
        "SCMP_CMP_EQ" => O::ScmpCmpEq,
        "SCMP_CMP_GE" => O::ScmpCmpGe,
        "SCMP_CMP_GT" => O::ScmpCmpGt,
        "SCMP_CMP_MASKED_EQ" => O::ScmpCmpMaskedEq,
        _ => {
            return Err(ProfileError::BadOperator {
                context: context.to_string(),
                value: shown(s),
            })
        }
    })
}

fn flag(s: &str) -> Result<LinuxSeccompFilterFlag, ProfileError> {
    use LinuxSeccompFilterFlag as F;
    Ok(match s {
        "SECCOMP_FILTER_FLAG_TSYNC" => F::SeccompFilterFlagTsync,
        "SECCOMP_FILTER_FLAG_LOG" => F::SeccompFilterFlagLog,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => F::SeccompFilterFlagSpecAllow,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" => F::SeccompFilterFlagWaitKillableRecv,
        _ => return Err(ProfileError::BadFlag { value: shown(s) }),
    })
}

/// `SCMP_ARCH_*` names, as in OCI `architectures` and Docker's `archMap`.
const SCMP_ARCHES: &[(&str, Arch)] = &[
    ("SCMP_ARCH_X86", Arch::ScmpArchX86),
    ("SCMP_ARCH_X86_64", Arch::ScmpArchX86_64),
    ("SCMP_ARCH_X32", Arch::ScmpArchX32),
    ("SCMP_ARCH_ARM", Arch::ScmpArchArm),
    ("SCMP_ARCH_AARCH64", Arch::ScmpArchAarch64),
    ("SCMP_ARCH_MIPS", Arch::ScmpArchMips),
    ("SCMP_ARCH_MIPS64", Arch::ScmpArchMips64),
    ("SCMP_ARCH_MIPS64N32", Arch::ScmpArchMips64n32),
    ("SCMP_ARCH_MIPSEL", Arch::ScmpArchMipsel),
    ("SCMP_ARCH_MIPSEL64", Arch::ScmpArchMipsel64),
    ("SCMP_ARCH_MIPSEL64N32", Arch::ScmpArchMipsel64n32),
    ("SCMP_ARCH_PPC", Arch::ScmpArchPpc),
    ("SCMP_ARCH_PPC64", Arch::ScmpArchPpc64),
    ("SCMP_ARCH_PPC64LE", Arch::ScmpArchPpc64le),
    ("SCMP_ARCH_S390", Arch::ScmpArchS390),
    ("SCMP_ARCH_S390X", Arch::ScmpArchS390x),
    ("SCMP_ARCH_PARISC", Arch::ScmpArchParisc),
    ("SCMP_ARCH_PARISC64", Arch::ScmpArchParisc64),
    ("SCMP_ARCH_RISCV64", Arch::ScmpArchRiscv64),
    ("SCMP_ARCH_LOONGARCH64", Arch::ScmpArchLoongarch64),
    ("SCMP_ARCH_M68K", Arch::ScmpArchM68k),
    ("SCMP_ARCH_SH", Arch::ScmpArchSh),
    ("SCMP_ARCH_SHEB", Arch::ScmpArchSheb),
];

/// Names in `includes`/`excludes` `arches`: Docker compares them with libseccomp's name of
/// the native architecture (`amd64`, `arm64`, ...). Go's and the kernel's spellings, and
/// Docker's own `mips3l64n32` typo, are accepted too.
const SHORT_ARCHES: &[(&str, Arch)] = &[
    ("x86", Arch::ScmpArchX86),
    ("386", Arch::ScmpArchX86),
    ("i386", Arch::ScmpArchX86),
    ("amd64", Arch::ScmpArchX86_64),
    ("x86_64", Arch::ScmpArchX86_64),
    ("x32", Arch::ScmpArchX32),
    ("arm", Arch::ScmpArchArm),
    ("arm64", Arch::ScmpArchAarch64),
    ("aarch64", Arch::ScmpArchAarch64),
    ("mips", Arch::ScmpArchMips),
    ("mips64", Arch::ScmpArchMips64),
    ("mips64n32", Arch::ScmpArchMips64n32),
    ("mips64p32", Arch::ScmpArchMips64n32),
    ("mipsel", Arch::ScmpArchMipsel),
    ("mipsle", Arch::ScmpArchMipsel),
    ("mipsel64", Arch::ScmpArchMipsel64),
    ("mips64le", Arch::ScmpArchMipsel64),
    ("mipsel64n32", Arch::ScmpArchMipsel64n32),
    ("mips3l64n32", Arch::ScmpArchMipsel64n32),
    ("mips64p32le", Arch::ScmpArchMipsel64n32),
    ("ppc", Arch::ScmpArchPpc),
    ("ppc64", Arch::ScmpArchPpc64),
    ("ppc64le", Arch::ScmpArchPpc64le),
    ("s390", Arch::ScmpArchS390),
    ("s390x", Arch::ScmpArchS390x),
    ("parisc", Arch::ScmpArchParisc),
    ("parisc64", Arch::ScmpArchParisc64),
    ("riscv64", Arch::ScmpArchRiscv64),
    ("loong64", Arch::ScmpArchLoongarch64),
    ("loongarch64", Arch::ScmpArchLoongarch64),
    ("m68k", Arch::ScmpArchM68k),
    ("sh", Arch::ScmpArchSh),
    ("sheb", Arch::ScmpArchSheb),
];

fn scmp_arch(s: &str, context: &str) -> Result<Arch, ProfileError> {
    SCMP_ARCHES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|&(_, a)| a)
        .ok_or_else(|| ProfileError::UnknownArch {
            context: context.to_string(),
            value: shown(s),
        })
}

fn filter_arch(s: &str, context: &str) -> Result<Arch, ProfileError> {
    SHORT_ARCHES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|&(_, a)| a)
        .map_or_else(|| scmp_arch(s, context), Ok)
}

fn architectures(raw: &RawProfile, host: &Host) -> Result<Vec<Arch>, ProfileError> {
    let listed = bounded(raw.architectures.as_deref(), "architectures", MAX_LIST)?;
    let map = bounded(raw.arch_map.as_deref(), "archMap", MAX_LIST)?;
    if !listed.is_empty() && !map.is_empty() {
        return Err(ProfileError::ArchitecturesAndArchMap);
    }
    let mut out = Vec::new();
    for a in listed {
        out.push(scmp_arch(a, "architectures")?);
    }
    for (i, entry) in map.iter().enumerate() {
        let context = format!("archMap[{i}]");
        let arch = scmp_arch(&entry.architecture, &context)?;
        let subs = bounded(entry.sub_architectures.as_deref(), &context, MAX_LIST)?;
        let mut subs_parsed = Vec::with_capacity(subs.len());
        for s in subs {
            subs_parsed.push(scmp_arch(s, &context)?);
        }
        // Like Docker, only the entry for the runtime's own architecture counts.
        if arch == host.arch && out.is_empty() {
            out.push(arch);
            out.extend(subs_parsed);
        }
    }
    Ok(out)
}

fn errno_ret(value: u32, context: &str) -> Result<u32, ProfileError> {
    if value > u32::from(u16::MAX) {
        return Err(ProfileError::ErrnoRet {
            context: context.to_string(),
            value,
        });
    }
    Ok(value)
}

fn valid_syscall_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn syscall(r: &RawSyscall, i: usize) -> Result<LinuxSyscall, ProfileError> {
    let context = format!("syscalls[{i}]");
    let names = bounded(r.names.as_deref(), &context, MAX_NAMES_PER_RULE)?;
    let names: Vec<String> = match (&r.name, names) {
        (Some(n), list) if !n.is_empty() && !list.is_empty() => {
            return Err(ProfileError::NameAndNames { rule: i })
        }
        (Some(n), _) if !n.is_empty() => vec![n.clone()],
        (_, list) if !list.is_empty() => list.to_vec(),
        _ => return Err(ProfileError::NoNames { rule: i }),
    };
    if let Some(bad) = names.iter().find(|n| !valid_syscall_name(n)) {
        return Err(ProfileError::BadSyscallName {
            rule: i,
            name: shown(bad),
        });
    }

    let act = action(
        r.action
            .as_deref()
            .ok_or(ProfileError::MissingAction { rule: i })?,
        &context,
    )?;
    if let Some(v) = r.errno_ret {
        errno_ret(v, &context)?;
    }

    let raw_args = bounded(r.args.as_deref(), &context, MAX_ARGS_PER_RULE)?;
    let mut args = Vec::with_capacity(raw_args.len());
    for a in raw_args {
        let index = usize::try_from(a.index)
            .ok()
            .filter(|&ix| ix <= MAX_ARG_INDEX)
            .ok_or(ProfileError::ArgIndex {
                rule: i,
                index: a.index,
            })?;
        let mut arg = LinuxSeccompArgBuilder::default()
            .index(index)
            .value(a.value)
            .op(operator(&a.op, &context)?);
        if let Some(two) = a.value_two {
            arg = arg.value_two(two);
        }
        // Every field of the builder has a default, so building cannot fail.
        args.push(
            arg.build()
                .expect("LinuxSeccompArg fields all have defaults"),
        );
    }

    let mut rule = LinuxSyscall::default();
    rule.set_names(names)
        .set_action(act)
        .set_errno_ret(r.errno_ret)
        .set_args((!args.is_empty()).then_some(args));
    Ok(rule)
}

fn filter_caps<'a>(
    list: Option<&'a [String]>,
    context: &str,
) -> Result<&'a [String], ProfileError> {
    let caps = bounded(list, context, MAX_LIST)?;
    for c in caps {
        let name = c.strip_prefix("CAP_").unwrap_or(c);
        let ok = !name.is_empty()
            && c.len() <= MAX_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok {
            return Err(ProfileError::BadCapability {
                context: context.to_string(),
                value: shown(c),
            });
        }
    }
    Ok(caps)
}

fn filter_arches(list: Option<&[String]>, context: &str) -> Result<Vec<Arch>, ProfileError> {
    bounded(list, context, MAX_LIST)?
        .iter()
        .map(|a| filter_arch(a, context))
        .collect()
}

fn filter_kernel(v: Option<&str>, context: &str) -> Result<Option<KernelVersion>, ProfileError> {
    // Docker reads an empty minKernel as none.
    match v {
        None | Some("") => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|()| ProfileError::BadMinKernel {
                context: context.to_string(),
                value: shown(s),
            }),
    }
}

/// Docker's `includes`/`excludes` semantics: a rule is dropped when any `excludes` condition
/// holds (the native arch is listed, any listed cap is present, the kernel is at least
/// `minKernel`), or when some `includes` condition does not (the native arch is not listed, a
/// listed cap is missing, the kernel is older than `minKernel`).
fn keep(r: &RawSyscall, i: usize, caps: &CapSet, host: &Host) -> Result<bool, ProfileError> {
    let mut keep = true;
    if let Some(ex) = &r.excludes {
        let context = format!("syscalls[{i}].excludes");
        let arches = filter_arches(ex.arches.as_deref(), &context)?;
        let ex_caps = filter_caps(ex.caps.as_deref(), &context)?;
        let min = filter_kernel(ex.min_kernel.as_deref(), &context)?;
        keep &= !arches.contains(&host.arch);
        keep &= !ex_caps.iter().any(|c| caps.has(c));
        keep &= !min.is_some_and(|m| kernel_at_least(host, m));
    }
    if let Some(inc) = &r.includes {
        let context = format!("syscalls[{i}].includes");
        let arches = filter_arches(inc.arches.as_deref(), &context)?;
        let inc_caps = filter_caps(inc.caps.as_deref(), &context)?;
        let min = filter_kernel(inc.min_kernel.as_deref(), &context)?;
        keep &= arches.is_empty() || arches.contains(&host.arch);
        keep &= inc_caps.iter().all(|c| caps.has(c));
        keep &= min.is_none_or(|m| kernel_at_least(host, m));
    }
    Ok(keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_profile_parses() {
        let p = embedded();
        assert_eq!(p.default_action, LinuxSeccompAction::ScmpActErrno);
        assert!(!p.conditional.is_empty());
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(
            KernelVersion::from_release("6.18.44-fc-v782"),
            Some(KernelVersion {
                major: 6,
                minor: 18
            })
        );
        assert_eq!(
            KernelVersion::from_release("5.4"),
            Some(KernelVersion { major: 5, minor: 4 })
        );
        assert_eq!(KernelVersion::from_release("garbage"), None);
        assert!(KernelVersion::running().is_some());
        assert_eq!("4.8".parse(), Ok(KernelVersion { major: 4, minor: 8 }));
        for bad in [
            "", "4", "4.", ".8", "4.8.1", "0.0", "a.b", "+4.8", "4.99999",
        ] {
            assert_eq!(bad.parse::<KernelVersion>(), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn caps_are_normalised() {
        let caps = CapSet::new(["sys_admin", "CAP_CHOWN"].into_iter());
        assert!(caps.has("CAP_SYS_ADMIN"));
        assert!(caps.has("chown"));
        assert!(!caps.has("CAP_SYS_PTRACE"));
    }

    #[test]
    fn shown_cuts_on_a_char_boundary() {
        let s = "é".repeat(100);
        let cut = shown(&s);
        assert!(cut.ends_with("..."));
        assert!(cut.len() <= 83);
    }
}
