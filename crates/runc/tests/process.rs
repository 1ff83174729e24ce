//! The process section: capabilities, noNewPrivileges, seccomp, rlimits, user, cwd, env,
//! umask, oomScoreAdj.

mod common;

use common::{cap_mask, skip_if_not_root, status_field, Ctr};
use serde_json::json;

#[test]
fn capability_sets_match_config() {
    if skip_if_not_root() {
        return;
    }
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    let effective = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let permitted = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let inheritable = ["CAP_KILL"];
    let ambient = ["CAP_KILL"];
    let mut c = Ctr::new("caps");
    c.edit(|v| {
        v["process"]["capabilities"] = json!({
            "bounding": bounding,
            "effective": effective,
            "permitted": permitted,
            "inheritable": inheritable,
            "ambient": ambient,
        })
    });
    c.args(&["cat", "/proc/self/status"]);
    let o = c.run().ok("run");
    let st = &o.stdout;
    assert_eq!(
        status_field(st, "CapBnd"),
        Some(cap_mask(&bounding).as_str())
    );
    assert_eq!(
        status_field(st, "CapEff"),
        Some(cap_mask(&effective).as_str())
    );
    assert_eq!(
        status_field(st, "CapPrm"),
        Some(cap_mask(&permitted).as_str())
    );
    assert_eq!(
        status_field(st, "CapInh"),
        Some(cap_mask(&inheritable).as_str())
    );
    assert_eq!(
        status_field(st, "CapAmb"),
        Some(cap_mask(&ambient).as_str())
    );
    c.assert_nothing_left();
}

#[test]
fn capability_sets_non_root_user() {
    if skip_if_not_root() {
        return;
    }
    // For a non-root user the kernel keeps only the ambient set across execve:
    // permitted = effective = ambient, inheritable and bounding as configured.
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_BIND_SERVICE",
        "CAP_SETUID",
    ];
    let set = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut c = Ctr::new("caps-user");
    c.edit(|v| {
        v["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        v["process"]["capabilities"] = json!({
            "bounding": bounding,
            "effective": set,
            "permitted": set,
            "inheritable": set,
            "ambient": set,
        })
    });
    c.args(&["cat", "/proc/self/status"]);
    let o = c.run().ok("run");
    let st = &o.stdout;
    assert_eq!(
        status_field(st, "CapBnd"),
        Some(cap_mask(&bounding).as_str())
    );
    for k in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(status_field(st, k), Some(cap_mask(&set).as_str()), "{k}");
    }
    assert_eq!(
        status_field(st, "Uid").map(|u| u.split_whitespace().next()),
        Some(Some("1000"))
    );
    c.assert_nothing_left();
}

#[test]
fn no_new_privileges() {
    if skip_if_not_root() {
        return;
    }
    for (nnp, want) in [(true, "1"), (false, "0")] {
        let mut c = Ctr::new("nnp");
        c.edit(|v| v["process"]["noNewPrivileges"] = json!(nnp));
        c.args(&["cat", "/proc/self/status"]);
        let o = c.run().ok("run");
        assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some(want), "{nnp}");
        c.assert_nothing_left();
    }
}

fn seccomp_profile() -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"}
        ]
    })
}

#[test]
fn seccomp_errno_filter() {
    if skip_if_not_root() {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        println!("skipping: the profile lists x86 architectures only");
        return;
    }
    let mut c = Ctr::new("seccomp");
    c.edit(|v| v["linux"]["seccomp"] = seccomp_profile());
    c.sh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; \
         mkdir /tmp/d 2>&1; echo mkdir=$?; \
         ln -s x /tmp/l 2>&1; echo ln=$?; \
         touch /tmp/f && echo touch=$?");
    let o = c.run().ok("run");
    let st = &o.stdout;
    assert_eq!(status_field(st, "Seccomp"), Some("2"), "{o:?}");
    assert!(
        st.contains("Operation not permitted"),
        "mkdir -> EPERM (errnoRet 1): {o:?}"
    );
    assert!(st.contains("mkdir=1"), "{o:?}");
    assert!(
        st.contains("Permission denied"),
        "symlink -> EACCES (errnoRet 13): {o:?}"
    );
    assert!(st.contains("touch=0"), "other syscalls still work: {o:?}");
    assert!(!c.rootfs().join("tmp/d").exists());
    c.assert_nothing_left();
}

#[test]
fn seccomp_absent_means_mode_0() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("noseccomp");
    c.edit(|v| {
        v["linux"].as_object_mut().unwrap().remove("seccomp");
    });
    c.args(&["cat", "/proc/self/status"]);
    let o = c.run().ok("run");
    assert_eq!(status_field(&o.stdout, "Seccomp"), Some("0"));
    c.assert_nothing_left();
}

#[test]
fn rlimits_apply() {
    if skip_if_not_root() {
        return;
    }
    // Root lacks CAP_SYS_RESOURCE here: stay within the current hard limit.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    if hard < 1024 {
        println!("skipping: RLIMIT_NOFILE hard limit {hard} is below 1024");
        return;
    }
    let mut c = Ctr::new("rlimit");
    c.edit(|v| {
        v["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
            {"type": "RLIMIT_NPROC", "soft": 777, "hard": 888},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ])
    });
    c.sh("ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; ulimit -c");
    let o = c.run().ok("run");
    assert_eq!(o.stdout, "512\n1000\n777\n888\n0\n", "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn rlimit_above_hard_limit_fails() {
    if skip_if_not_root() {
        return;
    }
    // Without CAP_SYS_RESOURCE raising the hard limit fails with EPERM: the container must
    // not start, and nothing may be left behind.
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = u64::from_str_radix(status_field(&caps, "CapEff").unwrap(), 16).unwrap();
    if eff & (1 << common::cap_number("CAP_SYS_RESOURCE")) != 0 {
        println!("skipping: this host has CAP_SYS_RESOURCE, raising the limit would succeed");
        return;
    }
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let mut c = Ctr::new("rlimit-eperm");
    c.edit(|v| {
        v["process"]["rlimits"] =
            json!([{"type": "RLIMIT_NOFILE", "soft": hard + 1, "hard": hard + 1}])
    });
    let o = c.run().failed("run with an rlimit above the hard limit");
    assert!(
        o.all_lower().contains("rlimit") || o.all_lower().contains("operation not permitted"),
        "{o:?}"
    );
    c.assert_nothing_left();
}

#[test]
fn user_cwd_env_umask_oom_score() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("user");
    std::fs::create_dir_all(c.rootfs().join("work")).unwrap();
    c.edit(|v| {
        v["process"]["user"] = json!({
            "uid": 1000, "gid": 1000, "additionalGids": [10, 20], "umask": 0o027
        });
        v["process"]["cwd"] = json!("/work");
        v["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
        v["process"]["oomScoreAdj"] = json!(123);
    });
    c.sh(
        "echo uid=$(id -u) gid=$(id -g) groups=$(id -G); echo cwd=$(pwd); \
         echo foo=\"$FOO\"; echo empty=[$EMPTY]; echo umask=$(umask); \
         echo oom=$(cat /proc/self/oom_score_adj); echo path=$PATH",
    );
    let o = c.run().ok("run");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines[0].split(" groups=").next(),
        Some("uid=1000 gid=1000"),
        "{o:?}"
    );
    let mut groups: Vec<&str> = lines[0]
        .split(" groups=")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    groups.sort();
    assert_eq!(groups, ["10", "1000", "20"], "{o:?}");
    assert_eq!(lines[1], "cwd=/work");
    assert_eq!(lines[2], "foo=bar baz");
    assert_eq!(lines[3], "empty=[]");
    assert_eq!(lines[4], "umask=0027");
    assert_eq!(lines[5], "oom=123");
    assert_eq!(lines[6], "path=/bin");
    c.assert_nothing_left();
}

#[test]
fn missing_cwd_is_created_or_fails_cleanly() {
    if skip_if_not_root() {
        return;
    }
    // runc creates a missing cwd (mkdir -p in the rootfs) before exec; so must we.
    let mut c = Ctr::new("cwd-missing");
    c.edit(|v| v["process"]["cwd"] = json!("/does/not/exist"));
    c.args(&["pwd"]);
    let o = c.run().ok("run");
    assert_eq!(o.out(), "/does/not/exist");
    c.assert_nothing_left();
}

#[test]
fn exec_of_missing_binary_fails() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("noexe");
    c.args(&["/no/such/binary"]);
    let o = c.run().failed("run of a missing binary");
    assert!(
        o.all_lower().contains("/no/such/binary"),
        "error names the binary: {o:?}"
    );
    c.assert_nothing_left();
}
