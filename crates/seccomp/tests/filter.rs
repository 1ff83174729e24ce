//! Loads compiled filters into forked children and checks what the kernel does with them.
//!
//! The test harness is multithreaded, so after fork the child only makes raw syscalls and
//! exits with a code the parent checks: 0 = all expectations met, 1..=99 = the first failed
//! step, >= 120 = setup failure (see `child_setup`).

use berth_seccomp::{compile, Error, Filter};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::json;

const ENOSYS: i32 = libc::ENOSYS;

fn spec(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid OCI seccomp JSON")
}

fn compiled(v: serde_json::Value) -> Filter {
    compile(&spec(v)).expect("compile")
}

/// Runs `body` in a forked child after loading `filter`; returns how the child ended.
fn run<F: FnOnce() -> i32>(filter: &Filter, body: F) -> WaitStatus {
    // SAFETY: the child only performs raw syscalls (no allocation, no locks) before _exit,
    // which is what is allowed after forking a multithreaded process.
    match unsafe { fork() }.expect("fork") {
        ForkResult::Child => {
            let code = match child_setup(filter) {
                Ok(()) => body(),
                Err(code) => code,
            };
            // SAFETY: _exit skips atexit handlers and destructors that are unsafe after fork.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => waitpid(child, None).expect("waitpid"),
    }
}

fn child_setup(filter: &Filter) -> Result<(), i32> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall with a valid pointer to a stack value. SIGSYS deaths would
    // otherwise write core files.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) } != 0 {
        return Err(122);
    }
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(120);
    }
    filter.load().map(drop).map_err(|_| 121)
}

fn exited(status: WaitStatus) -> i32 {
    match status {
        WaitStatus::Exited(_, code) => code,
        other => panic!("child did not exit normally: {other:?}"),
    }
}

fn assert_ok(status: WaitStatus) {
    assert_eq!(exited(status), 0, "child reported a failed step");
}

fn assert_sigsys(status: WaitStatus) {
    match status {
        WaitStatus::Signaled(_, Signal::SIGSYS, _) => {}
        other => panic!("expected death by SIGSYS, got {other:?}"),
    }
}

/// Raw syscall returning the result or the errno; no allocation.
fn sys(nr: libc::c_long, a: libc::c_ulong, b: libc::c_ulong) -> Result<libc::c_long, i32> {
    // SAFETY: callers pass syscalls whose arguments are integers or valid pointers.
    let r = unsafe { libc::syscall(nr, a, b) };
    if r == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn getcwd() -> Result<libc::c_long, i32> {
    let mut buf = [0u8; 512];
    sys(libc::SYS_getcwd, buf.as_mut_ptr() as libc::c_ulong, 512)
}

fn getppid() -> Result<libc::c_long, i32> {
    sys(libc::SYS_getppid, 0, 0)
}

fn personality(p: libc::c_ulong) -> Result<libc::c_long, i32> {
    sys(libc::SYS_personality, p, 0)
}

fn getpriority(which: libc::c_ulong, who: libc::c_ulong) -> Result<libc::c_long, i32> {
    sys(libc::SYS_getpriority, which, who)
}

/// Evaluates expectations in order, returning the 1-based index of the first false one.
fn steps(checks: &[bool]) -> i32 {
    checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
}

/// Docker-shaped allow-list profile: deny by default, a few allowed syscalls.
fn allow_list(default_errno: u32, extra: serde_json::Value) -> serde_json::Value {
    let mut syscalls = vec![json!({
        "names": ["exit", "exit_group", "rt_sigreturn"],
        "action": "SCMP_ACT_ALLOW"
    })];
    syscalls.extend(extra.as_array().cloned().unwrap_or_default());
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": default_errno,
        "syscalls": syscalls
    })
}

#[test]
fn errno_ret_on_rule() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }));
    assert!(f.warnings().is_empty(), "{:?}", f.warnings());
    assert_ok(run(&f, || steps(&[getcwd() == Err(38), getppid().is_ok()])));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn errno_ret_on_mkdir() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }));
    assert_ok(run(&f, || {
        let path = c"/nonexistent-berth-seccomp/x";
        let p = path.as_ptr() as libc::c_ulong;
        steps(&[
            sys(libc::SYS_mkdir, p, 0o700) == Err(38),
            // Without the filter this would be ENOENT.
            sys(libc::SYS_mkdirat, libc::AT_FDCWD as libc::c_ulong, p) == Err(38),
        ])
    }));
}

#[test]
fn errno_defaults_to_eperm() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
    }));
    assert_ok(run(&f, || steps(&[getcwd() == Err(libc::EPERM)])));
}

#[test]
fn default_errno_ret() {
    let f = compiled(allow_list(
        38,
        json!([{"names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]),
    ));
    assert_ok(run(&f, || steps(&[getcwd() == Err(38), getppid().is_ok()])));

    // Without defaultErrnoRet the default ERRNO means EPERM.
    let mut v = allow_list(0, json!([]));
    v.as_object_mut().unwrap().remove("defaultErrnoRet");
    let f = compiled(v);
    assert_ok(run(&f, || steps(&[getcwd() == Err(libc::EPERM)])));
}

#[test]
fn default_allow() {
    let f = compiled(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    assert_ok(run(&f, || steps(&[getcwd().is_ok(), getppid().is_ok()])));
}

#[test]
fn kill_actions_deliver_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let f = compiled(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getcwd"], "action": action}]
        }));
        assert_sigsys(run(&f, || {
            let _ = getcwd();
            99
        }));
    }
}

#[test]
fn default_kill() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
    }));
    assert_sigsys(run(&f, || {
        let _ = getppid();
        99
    }));
    // Allowed syscalls still work: exiting normally proves exit_group passed.
    assert_ok(run(&f, || 0));
}

#[test]
fn trace_without_tracer_is_enosys() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_TRACE", "errnoRet": 5}]
    }));
    assert_ok(run(&f, || steps(&[getcwd() == Err(ENOSYS)])));
}

#[test]
fn log_allows() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getcwd"], "action": "SCMP_ACT_LOG"}
        ]
    }));
    assert_ok(run(&f, || {
        steps(&[getcwd().is_ok(), getppid() == Err(libc::EPERM)])
    }));
}

#[test]
fn notify_asks_for_a_listener() {
    let f = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
        "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert!(f.notifies());
    assert_eq!(f.flags() & libc::SECCOMP_FILTER_FLAG_TSYNC, 0);
    assert!(
        f.warnings().iter().any(|w| w.contains("TSYNC")),
        "{:?}",
        f.warnings()
    );

    // Without a listener path nobody could answer: refused, naming what is missing.
    let err = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("listenerPath"), "{err}");
    assert!(!compile(&spec(json!({"defaultAction": "SCMP_ACT_ALLOW"})))
        .unwrap()
        .notifies());
}

#[test]
fn args_allow_list_like_docker_personality() {
    let f = compiled(allow_list(
        1,
        json!([
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 4294967295u64, "op": "SCMP_CMP_EQ"}]}
        ]),
    ));
    assert_ok(run(&f, || {
        steps(&[
            personality(0xffff_ffff).is_ok(),
            personality(0x1234) == Err(libc::EPERM),
            personality(8).is_ok(),
            personality(0).is_ok(),
            getppid() == Err(libc::EPERM),
        ])
    }));
}

#[test]
fn same_index_conditions_are_ored() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
            "args": [
                {"index": 0, "value": 4660, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 22136, "op": "SCMP_CMP_EQ"}
            ]
        }]
    }));
    assert_ok(run(&f, || {
        steps(&[
            personality(0x1234) == Err(38),
            personality(0x5678) == Err(38),
            personality(0xffff_ffff).is_ok(),
        ])
    }));
}

#[test]
fn different_index_conditions_are_anded() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
            "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 30583, "op": "SCMP_CMP_EQ"}
            ]
        }]
    }));
    let prio_process = libc::PRIO_PROCESS as libc::c_ulong;
    let prio_pgrp = libc::PRIO_PGRP as libc::c_ulong;
    assert_ok(run(&f, || {
        steps(&[
            getpriority(prio_process, 30583) == Err(38),
            getpriority(prio_process, 0).is_ok(),
            getpriority(prio_pgrp, 30583) != Err(38),
        ])
    }));
}

#[test]
fn masked_eq() {
    // value is the mask, valueTwo the expected bits, as in runc and libseccomp.
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
            "args": [{"index": 0, "value": 65280, "valueTwo": 4608, "op": "SCMP_CMP_MASKED_EQ"}]
        }]
    }));
    assert_ok(run(&f, || {
        steps(&[
            personality(0x1234) == Err(38),
            personality(0x12ff) == Err(38),
            personality(0xffff_ffff).is_ok(),
        ])
    }));
}

#[test]
fn comparison_operators() {
    // (op, value, who values that must match, who values that must not)
    let cases: [(&str, u64, [u64; 2], [u64; 2]); 6] = [
        ("SCMP_CMP_NE", 0, [5, 30583], [0, 0]),
        ("SCMP_CMP_LT", 100, [0, 99], [100, 30583]),
        ("SCMP_CMP_LE", 100, [99, 100], [101, 30583]),
        ("SCMP_CMP_EQ", 100, [100, 100], [99, 101]),
        ("SCMP_CMP_GE", 100, [100, 30583], [0, 99]),
        ("SCMP_CMP_GT", 100, [101, 30583], [0, 100]),
    ];
    for (op, value, hit, miss) in cases {
        let f = compiled(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{
                "names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                "args": [{"index": 1, "value": value, "op": op}]
            }]
        }));
        let status = run(&f, || {
            let which = libc::PRIO_PROCESS as libc::c_ulong;
            steps(&[
                getpriority(which, hit[0]) == Err(38),
                getpriority(which, hit[1]) == Err(38),
                getpriority(which, miss[0]) != Err(38),
                getpriority(which, miss[1]) != Err(38),
            ])
        });
        assert_eq!(exited(status), 0, "operator {op}");
    }
}

#[test]
fn unknown_syscall_is_a_warning() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["berth_no_such_syscall", "getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            {"names": ["berth_no_such_syscall"], "action": "SCMP_ACT_KILL"}
        ]
    }));
    assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
    assert!(f.warnings()[0].contains("berth_no_such_syscall"));
    assert_ok(run(&f, || steps(&[getcwd() == Err(38)])));
}

#[test]
fn rules_equal_to_default_are_skipped() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["exit", "exit_group"], "action": "SCMP_ACT_ALLOW"},
            // Same as the default (ERRNO/EPERM): libseccomp would reject it, runc drops it.
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            // Different errno, so a real rule.
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}
        ]
    }));
    assert_ok(run(&f, || {
        steps(&[getcwd() == Err(libc::EPERM), getppid() == Err(38)])
    }));

    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_GT"}]}]
    }));
    assert_ok(run(&f, || steps(&[getcwd().is_ok()])));
}

#[test]
fn arg_index_out_of_range() {
    let err = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mmap"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap_err();
    assert!(
        matches!(&err, Error::ArgIndex { syscall, index: 6 } if syscall == "mmap"),
        "{err:?}"
    );
    assert!(err.to_string().contains("mmap"), "{err}");
}

#[test]
fn errno_ret_out_of_range() {
    let err = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
    })))
    .unwrap_err();
    assert!(
        matches!(err, Error::ErrnoRet { value: 70000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("getcwd"), "{err}");

    let err = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 65536
    })))
    .unwrap_err();
    assert!(
        matches!(err, Error::ErrnoRet { value: 65536, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("defaultAction"), "{err}");
}

#[test]
fn errno_ret_on_other_actions_is_a_warning() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": 5,
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_KILL", "errnoRet": 5}]
    }));
    assert_eq!(f.warnings().len(), 2, "{:?}", f.warnings());
}

#[test]
fn malformed_json_is_rejected_by_oci_spec() {
    // oci-spec validates enum strings while deserializing, naming the offending value.
    for (doc, bad) in [
        (json!({"defaultAction": "SCMP_ACT_FOO"}), "SCMP_ACT_FOO"),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}),
            "SCMP_ARCH_Z80",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"]}),
            "SECCOMP_FILTER_FLAG_FOO",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]}),
            "SCMP_CMP_FOO",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"],
                "action": "SCMP_ACT_ERRNO", "errnoRet": -1}]}),
            "-1",
        ),
    ] {
        let err = serde_json::from_value::<LinuxSeccomp>(doc).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn flags() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }));
    assert_eq!(
        f.flags(),
        libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_LOG
            | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    );
    assert_ok(run(&f, || steps(&[getcwd() == Err(38)])));

    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    }));
    assert_eq!(f.flags(), 0);
    assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
    assert_ok(run(&f, || 0));
}

#[test]
fn architectures() {
    let native_only = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }));
    // Foreign architectures are allowed (the filter just checks seccomp_data.arch), and the
    // native one is added even when missing from the list.
    let multi = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",
                          "SCMP_ARCH_RISCV64", "SCMP_ARCH_NATIVE"],
        "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }));
    assert!(
        multi.instructions().len() > native_only.instructions().len(),
        "{native_only:?} vs {multi:?}"
    );
    assert_ok(run(&multi, || steps(&[getcwd() == Err(38)])));

    // libseccomp cannot put big- and little-endian ABIs in one filter.
    let err = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_S390X"]
    })))
    .unwrap_err();
    assert!(err.to_string().contains("SCMP_ARCH_S390X"), "{err}");
}

#[test]
fn architecture_unknown_to_libseccomp() {
    let v = libseccomp::ScmpVersion::current().unwrap();
    let res = compile(&spec(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_LOONGARCH64"]
    })));
    if (v.major, v.minor) < (2, 6) {
        let err = res.unwrap_err();
        assert!(matches!(err, Error::Arch { .. }), "{err:?}");
        assert!(err.to_string().contains("SCMP_ARCH_LOONGARCH64"), "{err}");
    } else {
        res.unwrap();
    }
}

/// i386 `getppid` through `int 0x80`, which seccomp sees as AUDIT_ARCH_I386.
#[cfg(target_arch = "x86_64")]
fn int80_getppid() -> i64 {
    let mut eax: u32 = 64; // __NR_getppid in the i386 table
                           // SAFETY: the i386 getppid takes no arguments and only returns in eax; a 64-bit process
                           // entering via int 0x80 gets r8-r11 zeroed, so those are declared clobbered.
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

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_syscalls_follow_the_arch_list() {
    // The probe filter must list X86: with only the native arch it would kill the probe.
    let plain = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86"]
    }));
    let probe = run(&plain, || if int80_getppid() > 0 { 0 } else { 1 });
    if !matches!(probe, WaitStatus::Exited(_, 0)) {
        eprintln!("skipping: kernel lacks IA-32 emulation ({probe:?})");
        return;
    }
    let rules = json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]);

    // Not in the list: libseccomp's bad-arch action kills.
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": rules
    }));
    assert_sigsys(run(&f, || {
        let _ = int80_getppid();
        99
    }));

    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules
    }));
    assert_ok(run(&f, || {
        steps(&[int80_getppid() == -38, getppid() == Err(38)])
    }));
}

/// A trimmed profile in the shape of Docker's default (as found in a real config.json).
const DOCKER_LIKE: &str = r#"{
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {
            "names": ["accept", "brk", "close", "exit", "exit_group", "getcwd", "getpid",
                      "getppid", "read", "rt_sigreturn", "write", "socketcall", "_llseek",
                      "stat64", "berth_future_syscall"],
            "action": "SCMP_ACT_ALLOW"
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 4294967295, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]
        },
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]
        },
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 38
        }
    ]
}"#;

#[test]
fn docker_like_profile() {
    let s: LinuxSeccomp = serde_json::from_str(DOCKER_LIKE).unwrap();
    let f = compile(&s).unwrap();
    assert_eq!(f.warnings().len(), 1, "{:?}", f.warnings());
    assert!(f.warnings()[0].contains("berth_future_syscall"));
    assert_ok(run(&f, || {
        steps(&[
            getcwd().is_ok(),
            getppid().is_ok(),
            personality(0xffff_ffff).is_ok(),
            personality(0x1234) == Err(libc::EPERM),
            sys(libc::SYS_clone3, 0, 0) == Err(38),
            sys(libc::SYS_getuid, 0, 0) == Err(libc::EPERM),
            // Namespace flags in clone are denied by the MASKED_EQ rule not matching.
            sys(libc::SYS_clone, libc::CLONE_NEWUSER as libc::c_ulong, 0) == Err(libc::EPERM),
        ])
    }));
}
