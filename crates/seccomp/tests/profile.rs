//! Docker's default profile and Docker-format files: what the rules say (evaluated here, per
//! syscall and arguments), what the kernel does with them (in forked children, as in
//! `filter.rs`), and that malformed files fail precisely and never panic.

use berth_seccomp::compile;
use berth_seccomp::profile::{
    docker_default, docker_default_for, from_docker_file, from_docker_file_for, native_arch, Host,
    KernelVersion, ProfileError, DEFAULT_PROFILE_JSON, MAX_PROFILE_BYTES,
};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use proptest::prelude::*;
use serde_json::json;

/// Docker's default capability set, spelled without the prefix as `docker run --cap-add` does.
const DOCKER_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

const CLONE_NEWNS: u64 = libc::CLONE_NEWNS as u64;
const SIGCHLD: u64 = libc::SIGCHLD as u64;
const AF_VSOCK: u64 = libc::AF_VSOCK as u64;
const AF_INET: u64 = libc::AF_INET as u64;

fn host(arch: Arch, major: u16, minor: u16) -> Host {
    Host {
        arch,
        kernel: Some(KernelVersion { major, minor }),
    }
}

fn x86_64() -> Host {
    host(Arch::ScmpArchX86_64, 6, 8)
}

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    DOCKER_CAPS.iter().chain(extra).copied().collect()
}

/// What a rule set does with one call, as libseccomp would: the action of the rules that name
/// the syscall and whose conditions all hold, or the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Allow,
    Errno(u32),
    Other(LinuxSeccompAction),
}

use Verdict::{Allow, Errno};

fn verdict(s: &LinuxSeccomp, name: &str, args: &[u64]) -> Verdict {
    let arg = |i: usize| args.get(i).copied().unwrap_or(0);
    let mut found: Vec<Verdict> = Vec::new();
    for rule in s.syscalls().iter().flatten() {
        if !rule.names().iter().any(|n| n == name) {
            continue;
        }
        let holds = rule.args().iter().flatten().all(|c| {
            let (a, v) = (arg(c.index()), c.value());
            match c.op() {
                LinuxSeccompOperator::ScmpCmpNe => a != v,
                LinuxSeccompOperator::ScmpCmpLt => a < v,
                LinuxSeccompOperator::ScmpCmpLe => a <= v,
                LinuxSeccompOperator::ScmpCmpEq => a == v,
                LinuxSeccompOperator::ScmpCmpGe => a >= v,
                LinuxSeccompOperator::ScmpCmpGt => a > v,
                LinuxSeccompOperator::ScmpCmpMaskedEq => a & v == c.value_two().unwrap_or(0),
            }
        });
        if holds {
            found.push(to_verdict(rule.action(), rule.errno_ret()));
        }
    }
    match found.as_slice() {
        [] => to_verdict(s.default_action(), s.default_errno_ret()),
        [first, rest @ ..] if rest.iter().all(|v| v == first) => *first,
        many => panic!("{name}{args:?}: conflicting rules {many:?}"),
    }
}

fn to_verdict(action: LinuxSeccompAction, errno: Option<u32>) -> Verdict {
    match action {
        LinuxSeccompAction::ScmpActAllow => Allow,
        LinuxSeccompAction::ScmpActErrno => Errno(errno.unwrap_or(libc::EPERM as u32)),
        other => Verdict::Other(other),
    }
}

const EPERM: Verdict = Errno(libc::EPERM as u32);
const ENOSYS: Verdict = Errno(libc::ENOSYS as u32);

fn assert_verdicts(s: &LinuxSeccomp, expected: &[(&str, &[u64], Verdict)]) {
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|&(name, args, want)| {
            let got = verdict(s, name, args);
            (got != want).then(|| format!("{name}{args:?}: {got:?}, expected {want:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn names(s: &LinuxSeccomp) -> Vec<&str> {
    s.syscalls()
        .iter()
        .flatten()
        .flat_map(|r| r.names().iter().map(String::as_str))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The embedded default profile.

#[test]
fn embedded_file_is_oci_plus_two_sections() {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_PROFILE_JSON).unwrap();
    let top = v.as_object_mut().unwrap();
    for extension in ["comment", "archMap", "conditional"] {
        assert!(top.remove(extension).is_some(), "{extension}");
    }
    // What remains is a complete OCI linux.seccomp: the rules every container gets.
    let oci: LinuxSeccomp = serde_json::from_value(v).unwrap();
    assert_eq!(oci.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(oci.default_errno_ret(), Some(1));
    assert!(names(&oci).len() > 350, "{}", names(&oci).len());
}

#[test]
fn default_profile_header() {
    let s = docker_default_for(DOCKER_CAPS, &x86_64());
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(s.default_errno_ret(), Some(1));
    assert_eq!(
        s.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    assert!(s.flags().is_none() && s.listener_path().is_none());

    let arm = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchAarch64, 6, 8));
    assert_eq!(
        arm.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
    );
    // Docker's archMap has no ppc64le entry: libseccomp then filters the native arch only.
    let ppc = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchPpc64le, 6, 8));
    assert_eq!(ppc.architectures(), &None);
}

#[test]
fn default_caps_allow_ordinary_syscalls() {
    let s = docker_default_for(DOCKER_CAPS, &x86_64());
    assert_verdicts(
        &s,
        &[
            ("read", &[], Allow),
            ("write", &[], Allow),
            ("openat", &[], Allow),
            ("openat2", &[], Allow),
            ("execve", &[], Allow),
            ("execveat", &[], Allow),
            ("exit_group", &[], Allow),
            ("getpid", &[], Allow),
            ("io_uring_setup", &[], Allow),
            ("name_to_handle_at", &[], Allow),
            ("fork", &[], Allow),
            // clone without namespace flags (fork, threads) is fine.
            ("clone", &[SIGCHLD], Allow),
            ("clone", &[0x003d_0f00], Allow),
            ("socket", &[AF_INET], Allow),
            ("socket", &[libc::AF_UNIX as u64], Allow),
            ("personality", &[0], Allow),
            ("personality", &[8], Allow),
            ("personality", &[0x20000], Allow),
            ("personality", &[0x20008], Allow),
            ("personality", &[0xffff_ffff], Allow),
            // CAP_SYS_CHROOT is in Docker's default set.
            ("chroot", &[], Allow),
            // x86_64 only.
            ("arch_prctl", &[], Allow),
            ("modify_ldt", &[], Allow),
        ],
    );
}

#[test]
fn default_caps_deny_privileged_syscalls() {
    let s = docker_default_for(DOCKER_CAPS, &x86_64());
    assert_verdicts(
        &s,
        &[
            ("mount", &[], EPERM),
            ("umount2", &[], EPERM),
            ("move_mount", &[], EPERM),
            ("fsopen", &[], EPERM),
            ("unshare", &[CLONE_NEWNS], EPERM),
            ("setns", &[], EPERM),
            ("clone", &[CLONE_NEWNS | SIGCHLD], EPERM),
            ("clone", &[libc::CLONE_NEWUSER as u64], EPERM),
            ("clone", &[libc::CLONE_NEWCGROUP as u64], EPERM),
            // clone3's flags are in memory seccomp can't read: ENOSYS sends libcs to clone.
            ("clone3", &[], ENOSYS),
            ("reboot", &[], EPERM),
            ("kexec_load", &[], EPERM),
            ("kexec_file_load", &[], EPERM),
            ("open_by_handle_at", &[], EPERM),
            ("bpf", &[], EPERM),
            ("perf_event_open", &[], EPERM),
            ("init_module", &[], EPERM),
            ("finit_module", &[], EPERM),
            ("delete_module", &[], EPERM),
            ("acct", &[], EPERM),
            ("kcmp", &[], EPERM),
            ("pidfd_getfd", &[], EPERM),
            ("iopl", &[], EPERM),
            ("ioperm", &[], EPERM),
            ("settimeofday", &[], EPERM),
            ("clock_settime", &[], EPERM),
            ("vhangup", &[], EPERM),
            ("mbind", &[], EPERM),
            ("syslog", &[], EPERM),
            ("lookup_dcookie", &[], EPERM),
            ("sethostname", &[], EPERM),
            ("quotactl", &[], EPERM),
            ("keyctl", &[], EPERM),
            ("add_key", &[], EPERM),
            ("request_key", &[], EPERM),
            ("swapon", &[], EPERM),
            ("userfaultfd", &[], EPERM),
            ("lsm_set_self_attr", &[], EPERM),
            // VM sockets reach the host: refused whatever the capabilities.
            ("socket", &[AF_VSOCK], EPERM),
            ("personality", &[0x0040_0000], EPERM),
            // Other architectures' syscalls are not in an x86_64 profile.
            ("set_tls", &[], EPERM),
            ("riscv_flush_icache", &[], EPERM),
        ],
    );
}

/// Docker allows ptrace and process_vm_* to everyone on kernels from 4.8 (before, ptrace could
/// bypass seccomp), and to CAP_SYS_PTRACE holders on any kernel.
#[test]
fn ptrace_follows_kernel_version_and_cap() {
    let ptrace_calls = ["ptrace", "process_vm_readv", "process_vm_writev"];
    let old = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchX86_64, 4, 4));
    let new = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchX86_64, 4, 8));
    let unknown = docker_default_for(
        DOCKER_CAPS,
        &Host {
            arch: Arch::ScmpArchX86_64,
            kernel: None,
        },
    );
    let old_traced = docker_default_for(&with(&["SYS_PTRACE"]), &host(Arch::ScmpArchX86_64, 4, 4));
    for name in ptrace_calls {
        assert_eq!(verdict(&old, name, &[]), EPERM, "{name} on 4.4");
        assert_eq!(
            verdict(&unknown, name, &[]),
            EPERM,
            "{name} on unknown kernel"
        );
        assert_eq!(verdict(&new, name, &[]), Allow, "{name} on 4.8");
        assert_eq!(
            verdict(&old_traced, name, &[]),
            Allow,
            "{name} + SYS_PTRACE"
        );
    }
    // kcmp and friends stay behind the capability on any kernel.
    assert_eq!(verdict(&new, "kcmp", &[]), EPERM);
    assert_eq!(verdict(&old_traced, "kcmp", &[]), Allow);
}

#[test]
fn sys_admin_unlocks_namespaces_and_mounts() {
    let s = docker_default_for(&with(&["SYS_ADMIN"]), &x86_64());
    assert_verdicts(
        &s,
        &[
            ("mount", &[], Allow),
            ("umount2", &[], Allow),
            ("unshare", &[CLONE_NEWNS], Allow),
            ("setns", &[], Allow),
            ("clone", &[CLONE_NEWNS | SIGCHLD], Allow),
            ("clone", &[SIGCHLD], Allow),
            ("clone3", &[], Allow),
            ("fsopen", &[], Allow),
            ("open_tree", &[], Allow),
            ("mount_setattr", &[], Allow),
            ("sethostname", &[], Allow),
            ("bpf", &[], Allow),
            ("perf_event_open", &[], Allow),
            ("syslog", &[], Allow),
            ("lsm_get_self_attr", &[], Allow),
            ("quotactl_fd", &[], Allow),
            // Still not: those need their own capabilities.
            ("reboot", &[], EPERM),
            ("init_module", &[], EPERM),
            ("open_by_handle_at", &[], EPERM),
            ("socket", &[AF_VSOCK], EPERM),
        ],
    );
}

#[test]
fn each_capability_unlocks_its_syscalls() {
    let table: &[(&str, &[&str])] = &[
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
        ("CAP_SYS_BOOT", &["reboot"]),
        (
            "CAP_SYS_MODULE",
            &["init_module", "finit_module", "delete_module"],
        ),
        ("CAP_SYS_PACCT", &["acct"]),
        (
            "CAP_SYS_PTRACE",
            &["kcmp", "pidfd_getfd", "process_madvise"],
        ),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        (
            "CAP_SYS_TIME",
            &["settimeofday", "stime", "clock_settime", "clock_settime64"],
        ),
        ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
        (
            "CAP_SYS_NICE",
            &[
                "mbind",
                "get_mempolicy",
                "set_mempolicy",
                "set_mempolicy_home_node",
            ],
        ),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
    ];
    let base = docker_default_for(DOCKER_CAPS, &x86_64());
    for &(cap, calls) in table {
        let s = docker_default_for(&with(&[cap]), &x86_64());
        for &name in calls {
            assert_eq!(verdict(&base, name, &[]), EPERM, "{name} without {cap}");
            assert_eq!(verdict(&s, name, &[]), Allow, "{name} with {cap}");
        }
        // One capability unlocks nothing of the others'.
        assert_eq!(verdict(&s, "mount", &[]), EPERM, "mount with {cap}");
    }

    // SYS_CHROOT is in Docker's default set; dropping it drops chroot.
    let no_chroot: Vec<&str> = DOCKER_CAPS
        .iter()
        .copied()
        .filter(|c| *c != "SYS_CHROOT")
        .collect();
    let s = docker_default_for(&no_chroot, &x86_64());
    assert_eq!(verdict(&s, "chroot", &[]), EPERM);
}

#[test]
fn caps_accept_both_spellings() {
    let a = docker_default_for(&["CAP_SYS_ADMIN", "CAP_CHOWN"], &x86_64());
    let b = docker_default_for(&["sys_admin", "chown"], &x86_64());
    assert_eq!(a, b);
    let c = docker_default_for(&[String::from("Cap_Sys_Admin"), "CHOWN".into()], &x86_64());
    assert_eq!(a, c);
}

#[test]
fn architecture_specific_rules() {
    let arm = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchAarch64, 6, 8));
    assert_verdicts(
        &arm,
        &[
            ("set_tls", &[], Allow),
            ("cacheflush", &[], Allow),
            ("sync_file_range2", &[], Allow),
            ("arch_prctl", &[], EPERM),
            ("modify_ldt", &[], EPERM),
            ("clone", &[SIGCHLD], Allow),
            ("clone", &[CLONE_NEWNS], EPERM),
        ],
    );

    let i386 = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchX86, 6, 8));
    assert_eq!(verdict(&i386, "modify_ldt", &[]), Allow);
    assert_eq!(verdict(&i386, "arch_prctl", &[]), EPERM);

    // s390 passes clone's flags second: the namespace check moves to that argument.
    let s390 = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchS390x, 6, 8));
    assert_verdicts(
        &s390,
        &[
            ("clone", &[0, SIGCHLD], Allow),
            ("clone", &[0, CLONE_NEWNS], EPERM),
            ("clone", &[CLONE_NEWNS, 0], Allow),
            ("s390_runtime_instr", &[], Allow),
        ],
    );
    assert_eq!(
        s390.architectures().as_deref(),
        Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..])
    );

    let rv = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchRiscv64, 6, 8));
    assert_eq!(verdict(&rv, "riscv_flush_icache", &[]), Allow);
    assert_eq!(verdict(&rv, "riscv_hwprobe", &[]), Allow);

    let ppc = docker_default_for(DOCKER_CAPS, &host(Arch::ScmpArchPpc64le, 6, 8));
    assert_eq!(verdict(&ppc, "swapcontext", &[]), Allow);
}

#[test]
fn docker_default_uses_the_running_kernel() {
    let running = KernelVersion::running().expect("uname release");
    assert_eq!(
        docker_default(DOCKER_CAPS, Arch::ScmpArchX86_64),
        docker_default_for(
            DOCKER_CAPS,
            &Host {
                arch: Arch::ScmpArchX86_64,
                kernel: Some(running)
            }
        )
    );
    assert_eq!(Host::current().arch, native_arch());
}

// ---------------------------------------------------------------------------------------------
// Docker-format files.

const DOCKER_FORMAT: &str = r#"{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        {"architecture": "SCMP_ARCH_RISCV64", "subArchitectures": null}
    ],
    "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW", "comment": "base"},
        {"name": "getpid", "action": "SCMP_ACT_ALLOW", "args": []},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 4294967295, "op": "SCMP_CMP_EQ"}]},
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
         "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["mount", "clone", "clone3"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
        {"names": ["acct"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_PACCT", "CAP_SYS_ADMIN"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
        {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm", "arm64"]}},
        {"names": ["getcwd"], "action": "SCMP_ACT_LOG", "excludes": {"minKernel": "5.0"}},
        {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7, "includes": {"minKernel": ""}}
    ]
}"#;

fn docker(caps: &[&str], h: &Host) -> LinuxSeccomp {
    from_docker_file_for(DOCKER_FORMAT.as_bytes(), caps, h).expect("valid Docker profile")
}

#[test]
fn docker_file_keeps_the_facts() {
    let s = docker(&["CAP_CHOWN"], &x86_64());
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(s.default_errno_ret(), Some(1));
    assert_eq!(
        s.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    assert_eq!(
        s.flags().as_deref(),
        Some(&[oci_spec::runtime::LinuxSeccompFilterFlag::SeccompFilterFlagLog][..])
    );
    // The exact OCI output: filtered rules in file order, `name` turned into `names`.
    let expected: LinuxSeccomp = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getppid"], "action": "SCMP_ACT_TRACE", "errnoRet": 7}
        ]
    }))
    .unwrap();
    assert_eq!(s, expected);
}

#[test]
fn docker_file_includes_and_excludes() {
    // CAP_SYS_ADMIN (spelled without prefix) swaps the restricted clone rules for the open ones.
    let admin = docker(&["SYS_ADMIN"], &x86_64());
    assert_verdicts(
        &admin,
        &[
            ("mount", &[], Allow),
            ("clone", &[CLONE_NEWNS], Allow),
            ("clone3", &[], Allow),
            // includes.caps needs all of them.
            ("acct", &[], EPERM),
        ],
    );
    let both = docker(&["SYS_ADMIN", "CAP_SYS_PACCT"], &x86_64());
    assert_eq!(verdict(&both, "acct", &[]), Allow);

    // minKernel: includes needs at least, excludes drops from that version on.
    let old = docker(&[], &host(Arch::ScmpArchX86_64, 4, 4));
    assert_eq!(verdict(&old, "ptrace", &[]), EPERM);
    assert_eq!(
        verdict(&old, "getcwd", &[]),
        Verdict::Other(LinuxSeccompAction::ScmpActLog)
    );
    let new = docker(&[], &x86_64());
    assert_eq!(verdict(&new, "ptrace", &[]), Allow);
    assert_eq!(verdict(&new, "getcwd", &[]), EPERM);

    // arches are compared with the runtime's architecture only, as Docker does.
    let arm = docker(&[], &host(Arch::ScmpArchAarch64, 6, 8));
    assert_eq!(verdict(&arm, "set_tls", &[]), Allow);
    assert_eq!(verdict(&arm, "arch_prctl", &[]), EPERM);
    assert_eq!(
        arm.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
    );
    let s390 = docker(&[], &host(Arch::ScmpArchS390x, 6, 8));
    assert!(!names(&s390).contains(&"clone"), "{:?}", names(&s390));
    // No archMap entry for the runtime: no architectures, like Docker.
    assert_eq!(s390.architectures(), &None);
    let rv = docker(&[], &host(Arch::ScmpArchRiscv64, 6, 8));
    assert_eq!(
        rv.architectures().as_deref(),
        Some(&[Arch::ScmpArchRiscv64][..])
    );
}

/// An OCI `linux.seccomp` document is a Docker-format file without filters: the default
/// profile, written out as OCI and read back, comes back unchanged.
#[test]
fn oci_document_reads_back_unchanged() {
    for caps in [DOCKER_CAPS, &with(&["SYS_ADMIN", "SYS_PTRACE"])[..]] {
        let s = docker_default_for(caps, &x86_64());
        let bytes = serde_json::to_vec_pretty(&s).unwrap();
        assert!(bytes.len() < MAX_PROFILE_BYTES);
        let back = from_docker_file_for(&bytes, &[] as &[&str], &x86_64()).unwrap();
        assert_eq!(back, s);
    }
}

/// containers-common's profile (Podman's take on Docker's) is a real Docker-format file.
#[test]
fn containers_common_profile_parses() {
    let Ok(bytes) = std::fs::read("/usr/share/containers/seccomp.json") else {
        eprintln!("skipping: /usr/share/containers/seccomp.json not installed");
        return;
    };
    let plain = from_docker_file_for(&bytes, DOCKER_CAPS, &x86_64()).unwrap();
    // That profile answers ENOSYS by default and EPERM for what it knows is dangerous.
    assert_eq!(plain.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(plain.default_errno_ret(), Some(38));
    assert_eq!(
        plain.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    assert_eq!(verdict(&plain, "read", &[]), Allow);
    assert_eq!(verdict(&plain, "kexec_load", &[]), EPERM);
    assert_eq!(verdict(&plain, "sethostname", &[]), EPERM);

    let admin = from_docker_file_for(&bytes, &with(&["SYS_ADMIN"]), &x86_64()).unwrap();
    assert_eq!(verdict(&admin, "sethostname", &[]), Allow);
    assert!(compile(&admin).is_ok());
}

fn parse_err(v: serde_json::Value) -> ProfileError {
    let bytes = serde_json::to_vec(&v).unwrap();
    match from_docker_file_for(&bytes, DOCKER_CAPS, &x86_64()) {
        Ok(s) => panic!("accepted {v}: {s:?}"),
        Err(e) => e,
    }
}

fn rule(extra: serde_json::Value) -> serde_json::Value {
    let mut r = json!({"names": ["read"], "action": "SCMP_ACT_ALLOW"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}, r]})
}

#[test]
fn malformed_profiles_give_precise_errors() {
    let e = parse_err(json!({"defaultAction": "SCMP_ACT_DENY"}));
    assert!(
        matches!(&e, ProfileError::BadAction { context, value }
            if context == "defaultAction" && value == "SCMP_ACT_DENY"),
        "{e:?}"
    );
    assert!(e.to_string().contains("SCMP_ACT_DENY"), "{e}");

    let e = parse_err(rule(json!({"action": "allow"})));
    assert!(
        matches!(&e, ProfileError::BadAction { context, value }
            if context == "syscalls[1]" && value == "allow"),
        "{e:?}"
    );

    let e = parse_err(rule(
        json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}),
    ));
    assert!(
        matches!(&e, ProfileError::BadOperator { context, value }
            if context == "syscalls[1]" && value == "SCMP_CMP_EQUAL"),
        "{e:?}"
    );

    let e = parse_err(rule(
        json!({"args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}),
    ));
    assert!(
        matches!(e, ProfileError::ArgIndex { rule: 1, index: 6 }),
        "{e:?}"
    );

    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
                             "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_VAX"]}));
    assert!(
        matches!(&e, ProfileError::UnknownArch { context, value }
            if context == "architectures" && value == "SCMP_ARCH_VAX"),
        "{e:?}"
    );

    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["i386"]}]}));
    assert!(
        matches!(&e, ProfileError::UnknownArch { context, value }
            if context == "archMap[0]" && value == "i386"),
        "{e:?}"
    );

    let e = parse_err(rule(json!({"includes": {"arches": ["amd64", "pdp11"]}})));
    assert!(
        matches!(&e, ProfileError::UnknownArch { context, value }
            if context == "syscalls[1].includes" && value == "pdp11"),
        "{e:?}"
    );

    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}));
    assert!(matches!(e, ProfileError::ArchitecturesAndArchMap), "{e:?}");

    let e = parse_err(rule(json!({"name": "write"})));
    assert!(matches!(e, ProfileError::NameAndNames { rule: 1 }), "{e:?}");

    let e = parse_err(rule(json!({"names": []})));
    assert!(matches!(e, ProfileError::NoNames { rule: 1 }), "{e:?}");

    let e = parse_err(rule(json!({"names": ["read", "re ad"]})));
    assert!(
        matches!(&e, ProfileError::BadSyscallName { rule: 1, name } if name == "re ad"),
        "{e:?}"
    );

    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ALLOW",
                             "syscalls": [{"names": ["read"]}]}));
    assert!(
        matches!(e, ProfileError::MissingAction { rule: 0 }),
        "{e:?}"
    );

    let e = parse_err(json!({"syscalls": []}));
    assert!(matches!(e, ProfileError::MissingDefaultAction), "{e:?}");

    let e = parse_err(rule(json!({"action": "SCMP_ACT_ERRNO", "errnoRet": 70000})));
    assert!(
        matches!(&e, ProfileError::ErrnoRet { context, value: 70000 } if context == "syscalls[1]"),
        "{e:?}"
    );

    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536}));
    assert!(
        matches!(&e, ProfileError::ErrnoRet { context, value: 65536 } if context == "defaultErrnoRet"),
        "{e:?}"
    );

    for bad in ["4", "4.8.1", "0.0", "four.eight", "-4.8"] {
        let e = parse_err(rule(json!({"excludes": {"minKernel": bad}})));
        assert!(
            matches!(&e, ProfileError::BadMinKernel { context, value }
                if context == "syscalls[1].excludes" && value == bad),
            "{bad}: {e:?}"
        );
    }

    let e = parse_err(rule(json!({"includes": {"caps": ["CAP_SYS ADMIN"]}})));
    assert!(
        matches!(&e, ProfileError::BadCapability { value, .. } if value == "CAP_SYS ADMIN"),
        "{e:?}"
    );

    let e = parse_err(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}),
    );
    assert!(
        matches!(&e, ProfileError::BadFlag { value } if value == "SECCOMP_FILTER_FLAG_FAST"),
        "{e:?}"
    );

    let many: Vec<&str> = vec!["read"; 3000];
    let e = parse_err(rule(json!({ "names": many })));
    assert!(
        matches!(&e, ProfileError::TooMany { context, count: 3000, .. } if context == "syscalls[1]"),
        "{e:?}"
    );

    // Rules dropped on this host are validated all the same.
    let e = parse_err(rule(
        json!({"action": "SCMP_ACT_NOPE", "includes": {"arches": ["s390x"]}}),
    ));
    assert!(matches!(e, ProfileError::BadAction { .. }), "{e:?}");

    // Shape errors come from serde with their position.
    let e = parse_err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": []}}));
    assert!(matches!(e, ProfileError::Json(_)), "{e:?}");
    let e = parse_err(rule(
        json!({"args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}),
    ));
    assert!(matches!(e, ProfileError::Json(_)), "{e:?}");
    let e = from_docker_file_for(b"{\"defaultAction\": ", &[] as &[&str], &x86_64()).unwrap_err();
    assert!(matches!(&e, ProfileError::Json(j) if j.is_eof()), "{e:?}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let huge = vec![b' '; MAX_PROFILE_BYTES + 1];
    let e = from_docker_file(&huge, DOCKER_CAPS).unwrap_err();
    assert!(
        matches!(e, ProfileError::TooLarge { size, max } if size == MAX_PROFILE_BYTES + 1 && max == MAX_PROFILE_BYTES),
        "{e:?}"
    );
}

#[test]
fn long_values_are_cut_in_errors() {
    let long = "X".repeat(100_000);
    let e = parse_err(json!({ "defaultAction": long }));
    let ProfileError::BadAction { value, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(value.len() < 100, "{}", value.len());
    assert!(e.to_string().len() < 200);
}

// ---------------------------------------------------------------------------------------------
// The default profile in a real kernel. As in filter.rs, children only make raw syscalls and
// report the first failed step as their exit code.

fn run<F: FnOnce() -> i32>(filter: &berth_seccomp::Filter, body: F) -> WaitStatus {
    // SAFETY: the child only performs raw syscalls (no allocation, no locks) before _exit,
    // which is what is allowed after forking a multithreaded process.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            // SAFETY: plain prctl with integer arguments.
            let code = if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                120
            } else if filter.load().is_err() {
                121
            } else {
                body()
            };
            // SAFETY: _exit skips atexit handlers and destructors that are unsafe after fork.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

fn assert_ok(status: WaitStatus) {
    assert!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "child reported a failed step: {status:?}"
    );
}

/// Raw syscall returning the result or the errno; no allocation.
fn sys(nr: libc::c_long, a: [u64; 5]) -> Result<libc::c_long, i32> {
    // SAFETY: callers pass null pointers, integers, or pointers to live stack values.
    let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4]) };
    if r == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn steps(checks: &[bool]) -> i32 {
    checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
}

/// `clone(flags)` used like fork: the new process exits at once and is reaped.
fn clone_and_reap(flags: u64) -> Result<libc::c_long, i32> {
    let pid = sys(libc::SYS_clone, [flags, 0, 0, 0, 0])?;
    if pid == 0 {
        // SAFETY: the clone child only exits.
        unsafe { libc::_exit(0) }
    }
    let mut status = 0;
    // SAFETY: waits for our own child with a pointer to a live stack value.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    Ok(pid)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn default_profile_in_the_kernel() {
    let filter = compile(&docker_default(DOCKER_CAPS, native_arch())).expect("compile");
    // Only names this libseccomp predates (newer kernels' syscalls) may be skipped.
    for w in filter.warnings() {
        assert!(w.starts_with("unknown seccomp syscall"), "{w}");
    }
    let root = is_root();
    assert_ok(run(&filter, || {
        let mut buf = [0u8; 1];
        let null = c"/dev/null";
        let fd = sys(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as u64,
                null.as_ptr() as u64,
                (libc::O_RDWR | libc::O_CLOEXEC) as u64,
                0,
                0,
            ],
        );
        let fd_num = fd.unwrap_or(-1) as u64;
        let missing = c"/nonexistent-berth-seccomp";
        steps(&[
            fd.is_ok(),
            sys(libc::SYS_write, [fd_num, buf.as_mut_ptr() as u64, 1, 0, 0]) == Ok(1),
            sys(libc::SYS_read, [fd_num, buf.as_mut_ptr() as u64, 1, 0, 0]) == Ok(0),
            sys(libc::SYS_getpid, [0; 5]).is_ok(),
            // Reaching the kernel's path lookup shows execve is allowed.
            sys(libc::SYS_execve, [missing.as_ptr() as u64, 0, 0, 0, 0]) == Err(libc::ENOENT),
            sys(libc::SYS_unshare, [CLONE_NEWNS, 0, 0, 0, 0]) == Err(libc::EPERM),
            sys(libc::SYS_mount, [0; 5]) == Err(libc::EPERM),
            sys(libc::SYS_setns, [u64::MAX, 0, 0, 0, 0]) == Err(libc::EPERM),
            sys(libc::SYS_bpf, [0; 5]) == Err(libc::EPERM),
            sys(libc::SYS_open_by_handle_at, [u64::MAX, 0, 0, 0, 0]) == Err(libc::EPERM),
            sys(libc::SYS_clone3, [0; 5]) == Err(libc::ENOSYS),
            clone_and_reap(SIGCHLD).is_ok(),
            clone_and_reap(CLONE_NEWNS | SIGCHLD) == Err(libc::EPERM),
            sys(
                libc::SYS_socket,
                [AF_VSOCK, libc::SOCK_STREAM as u64, 0, 0, 0],
            ) == Err(libc::EPERM),
            sys(
                libc::SYS_socket,
                [libc::AF_UNIX as u64, libc::SOCK_STREAM as u64, 0, 0, 0],
            )
            .is_ok(),
            sys(libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0]).is_ok(),
            sys(libc::SYS_personality, [0x0040_0000, 0, 0, 0, 0]) == Err(libc::EPERM),
            // Allowed on kernels from 4.8: the kernel itself answers (we trace nobody).
            sys(libc::SYS_ptrace, [libc::PTRACE_CONT as u64, 1, 0, 0, 0]) == Err(libc::ESRCH),
            // Not filtered, but the kernel refuses without root; only meaningful as root.
            !root || sys(libc::SYS_chroot, [c"/".as_ptr() as u64, 0, 0, 0, 0]).is_ok(),
        ])
    }));
}

#[test]
fn sys_admin_profile_in_the_kernel() {
    if !is_root() {
        eprintln!("skipping: needs root for the kernel's own CAP_SYS_ADMIN checks");
        return;
    }
    let filter = compile(&docker_default(&with(&["SYS_ADMIN"]), native_arch())).expect("compile");
    assert_ok(run(&filter, || {
        steps(&[
            sys(libc::SYS_unshare, [CLONE_NEWNS, 0, 0, 0, 0]).is_ok(),
            // The kernel itself answers, about the missing arguments.
            sys(libc::SYS_mount, [0; 5]) == Err(libc::EFAULT),
            sys(libc::SYS_setns, [u64::MAX, 0, 0, 0, 0]) == Err(libc::EBADF),
            sys(libc::SYS_clone3, [0; 5]) == Err(libc::EINVAL),
            clone_and_reap(CLONE_NEWNS | SIGCHLD).is_ok(),
            // Still refused: other capabilities, and vsock for everyone.
            sys(libc::SYS_open_by_handle_at, [u64::MAX, 0, 0, 0, 0]) == Err(libc::EPERM),
            sys(
                libc::SYS_socket,
                [AF_VSOCK, libc::SOCK_STREAM as u64, 0, 0, 0],
            ) == Err(libc::EPERM),
        ])
    }));
}

/// i386 `getppid` through `int 0x80`, which seccomp sees as AUDIT_ARCH_I386.
#[cfg(target_arch = "x86_64")]
fn int80(nr: u32) -> i64 {
    let mut eax = nr;
    // SAFETY: the i386 syscalls used here take no arguments and only return in eax; a 64-bit
    // process entering via int 0x80 gets r8-r11 zeroed, so those are declared clobbered.
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("eax") eax,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    i64::from(eax as i32)
}

/// Docker lists the 32-bit ABIs on x86_64, so they get the same rules instead of being killed.
#[cfg(target_arch = "x86_64")]
#[test]
fn default_profile_covers_i386() {
    const I386_GETPPID: u32 = 64;
    const I386_VHANGUP: u32 = 111;
    let probe = compile(
        &serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86"]
        }))
        .unwrap(),
    )
    .unwrap();
    if !matches!(
        run(&probe, || i32::from(int80(I386_GETPPID) <= 0)),
        WaitStatus::Exited(_, 0)
    ) {
        eprintln!("skipping: kernel lacks IA-32 emulation");
        return;
    }
    let filter = compile(&docker_default(DOCKER_CAPS, Arch::ScmpArchX86_64)).unwrap();
    assert_ok(run(&filter, || {
        steps(&[
            int80(I386_GETPPID) > 0,
            int80(I386_VHANGUP) == -i64::from(libc::EPERM),
        ])
    }));
}

// ---------------------------------------------------------------------------------------------
// Untrusted input never panics.

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let words = prop::sample::select(vec![
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "archMap",
        "architecture",
        "subArchitectures",
        "syscalls",
        "names",
        "name",
        "action",
        "errnoRet",
        "args",
        "index",
        "value",
        "valueTwo",
        "op",
        "includes",
        "excludes",
        "caps",
        "arches",
        "minKernel",
        "flags",
        "listenerPath",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_NOTIFY",
        "SCMP_CMP_MASKED_EQ",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "amd64",
        "CAP_SYS_ADMIN",
        "4.8",
        "read",
        "clone",
        "",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (0u64..8).prop_map(serde_json::Value::from),
        words.clone().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::vec((words.clone(), inner), 0..6).prop_map(|kv| {
                serde_json::Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn caps_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop::sample::select(vec!["SYS_ADMIN", "CAP_SYS_PTRACE", "chown", "", "x y"]),
        0..3,
    )
    .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn arch_strategy() -> impl Strategy<Value = Host> {
    (
        prop::sample::select(vec![
            Arch::ScmpArchX86_64,
            Arch::ScmpArchAarch64,
            Arch::ScmpArchS390x,
            Arch::ScmpArchNative,
        ]),
        prop::option::of((0u16..8, 0u16..20)),
    )
        .prop_map(|(arch, k)| Host {
            arch,
            kernel: k.map(|(major, minor)| KernelVersion { major, minor }),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_json_never_panics(v in json_value(), caps in caps_strategy(), h in arch_strategy()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        if let Ok(s) = from_docker_file_for(&bytes, &caps, &h) {
            // What passes must be something the compiler can take or refuse, not crash on.
            let _ = compile(&s);
        }
    }

    #[test]
    fn mutated_profiles_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..12),
        caps in caps_strategy(),
        h in arch_strategy(),
    ) {
        let mut bytes = DOCKER_FORMAT.as_bytes().to_vec();
        for (at, kind, byte) in edits {
            let i = at.index(bytes.len().max(1));
            match kind {
                0 if i < bytes.len() => bytes[i] = byte,
                1 => bytes.insert(i.min(bytes.len()), byte),
                _ if i < bytes.len() => { bytes.remove(i); }
                _ => {}
            }
        }
        let _ = from_docker_file_for(&bytes, &caps, &h);
    }
}
