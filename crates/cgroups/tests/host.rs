//! Real cgroups on this host, as root. v1 runs against the host's v1 hierarchies; v2 runs
//! against the hybrid host's cgroup2 mount, which has no controllers but does have the core
//! files (procs, freeze, kill, events). Each test says why when it cannot run.

use std::path::Path;
use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use berth_cgroups::{detect, open, open_v2, Cgroup, Error, FreezerState, Mode};
use oci_spec::runtime::{
    LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};

fn skip_reason_v1() -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    match detect() {
        Ok(Mode::Unified) => return Some("host is cgroup v2 only".into()),
        Err(e) => return Some(format!("cannot detect cgroup mode: {e}")),
        Ok(_) => {}
    }
    for c in ["memory", "pids", "cpu", "freezer", "cpuset", "devices"] {
        if !Path::new("/sys/fs/cgroup")
            .join(c)
            .join("cgroup.procs")
            .exists()
        {
            return Some(format!("v1 controller {c} is not mounted"));
        }
    }
    None
}

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("/berth-test-{tag}-{}-{nanos}", std::process::id())
}

/// A shell spinning on a builtin: it burns CPU without forking, so CPU time shows whether it runs.
fn spinner() -> Child {
    Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .expect("spawn sh")
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn progress_over(pid: u32, d: Duration) -> u64 {
    let a = cpu_ticks(pid);
    thread::sleep(d);
    cpu_ticks(pid) - a
}

/// Kills and reaps the child and removes the cgroup even when an assertion fails midway.
struct Guard<'a> {
    cg: &'a dyn Cgroup,
    child: Option<Child>,
}

/// Controllers enabled in the unified root's subtree_control when a v2 test started. v2
/// create() enables what is available; on a hybrid host that binds otherwise unused v1
/// controllers (hugetlb here) to cgroup2 for good, and crun then can't mount them as v1.
struct RootControllers(String);

const UNIFIED_SUBTREE: &str = "/sys/fs/cgroup/unified/cgroup.subtree_control";

impl RootControllers {
    fn save() -> Self {
        RootControllers(std::fs::read_to_string(UNIFIED_SUBTREE).unwrap_or_default())
    }
}

impl Drop for RootControllers {
    fn drop(&mut self) {
        let before: Vec<&str> = self.0.split_whitespace().collect();
        let now = std::fs::read_to_string(UNIFIED_SUBTREE).unwrap_or_default();
        for c in now.split_whitespace().filter(|c| !before.contains(c)) {
            let _ = std::fs::write(UNIFIED_SUBTREE, format!("-{c}"));
        }
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.cg.thaw();
        let _ = self.cg.destroy();
    }
}

#[test]
fn v1_lifecycle() {
    if let Some(reason) = skip_reason_v1() {
        eprintln!("skipping v1_lifecycle: {reason}");
        return;
    }
    let path = unique("v1");
    let cg = open(&path).unwrap();
    let mut guard = Guard {
        cg: cg.as_ref(),
        child: None,
    };
    cg.create().unwrap();
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(32 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(32).build().unwrap())
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    let read = |c: &str, f: &str| {
        std::fs::read_to_string(Path::new("/sys/fs/cgroup").join(c).join(&path[1..]).join(f))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(read("cpu", "cpu.shares"), "512");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("pids", "pids.max"), "32");
    // The cpuset was filled from the parent, otherwise add_task would fail with ENOSPC.
    assert_eq!(
        read("cpuset", "cpuset.cpus"),
        std::fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
            .unwrap()
            .trim()
    );

    let child = guard.child.insert(spinner());
    let pid = child.id();
    cg.add_task(pid as i32).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid as i32]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        own.lines().any(|l| l.ends_with(&format!(":memory:{path}"))),
        "{own}"
    );
    assert!(
        own.lines()
            .any(|l| l.ends_with(&format!(":name=systemd:{path}"))),
        "{own}"
    );
    assert!(
        own.lines().any(|l| l == format!("0::{path}")),
        "hybrid unified: {own}"
    );

    assert!(
        progress_over(pid, Duration::from_millis(200)) > 0,
        "child not running"
    );
    cg.freeze().unwrap();
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
    assert_eq!(
        progress_over(pid, Duration::from_millis(300)),
        0,
        "frozen child ran"
    );
    cg.thaw().unwrap();
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    assert!(
        progress_over(pid, Duration::from_millis(300)) > 0,
        "thawed child stuck"
    );

    let s = cg.stats().unwrap();
    assert!(s.cpu.usage_total > 0, "{s:?}");
    // Pages stay charged where they were allocated (v1 moves no charge by default), so a moved
    // task's cgroup may show no usage yet; memory.stat must still be there.
    assert!(s.memory.stat.contains_key("rss"), "{s:?}");
    assert_eq!(s.memory.limit, 64 << 20);
    assert_eq!((s.pids.current, s.pids.limit), (1, Some(32)));
    assert!(
        s.cpu.periods > 0,
        "quota set, CFS periods should tick: {s:?}"
    );
    assert!(!cg.oom_killed().unwrap());

    // Lower then raise memory+swap: the write order must satisfy limit <= memsw each step.
    if Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists() {
        for (limit, swap) in [(32i64 << 20, 48i64 << 20), (256 << 20, 512 << 20), (-1, -1)] {
            let r = LinuxResourcesBuilder::default()
                .memory(
                    LinuxMemoryBuilder::default()
                        .limit(limit)
                        .swap(swap)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            cg.apply(&r)
                .unwrap_or_else(|e| panic!("limit {limit} swap {swap}: {e}"));
            if limit > 0 {
                assert_eq!(read("memory", "memory.limit_in_bytes"), limit.to_string());
                assert_eq!(
                    read("memory", "memory.memsw.limit_in_bytes"),
                    swap.to_string()
                );
            }
        }
    } else {
        eprintln!("note: no swap accounting on this host, memsw order not exercised");
    }

    cg.kill_all(libc::SIGKILL).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    assert!(cg.pids().unwrap().is_empty());

    cg.destroy().unwrap();
    for m in cg.mounts() {
        assert!(
            !m.host_dir.exists(),
            "left behind: {}",
            m.host_dir.display()
        );
    }
    assert!(!Path::new("/sys/fs/cgroup/unified")
        .join(&path[1..])
        .exists());
    cg.destroy().unwrap();
}

#[test]
fn v1_devices_rules_reach_the_kernel() {
    if let Some(reason) = skip_reason_v1() {
        eprintln!("skipping v1_devices_rules_reach_the_kernel: {reason}");
        return;
    }
    let path = unique("dev");
    let cg = open(&path).unwrap();
    let _guard = Guard {
        cg: cg.as_ref(),
        child: None,
    };
    cg.create().unwrap();
    let rule = |allow, typ, major, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .major(major)
            .access(access);
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    };
    let r = LinuxResourcesBuilder::default()
        .devices(vec![
            rule(true, LinuxDeviceType::C, 1, Some(3), "rwm"),
            rule(true, LinuxDeviceType::C, 136, None, "rw"),
            rule(true, LinuxDeviceType::C, 1, Some(5), "rwm"),
            rule(false, LinuxDeviceType::C, 1, Some(5), "w"),
        ])
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    let list = std::fs::read_to_string(
        Path::new("/sys/fs/cgroup/devices")
            .join(&path[1..])
            .join("devices.list"),
    )
    .unwrap();
    let mut got: Vec<&str> = list.lines().collect();
    got.sort();
    assert_eq!(got, vec!["c 136:* rw", "c 1:3 rwm", "c 1:5 rm"], "{list}");
    cg.destroy().unwrap();
}

#[test]
fn v1_missing_hugetlb_is_reported() {
    if let Some(reason) = skip_reason_v1() {
        eprintln!("skipping v1_missing_hugetlb_is_reported: {reason}");
        return;
    }
    if Path::new("/sys/fs/cgroup/hugetlb").exists() {
        eprintln!("skipping v1_missing_hugetlb_is_reported: hugetlb is mounted here");
        return;
    }
    let cg = open(&unique("huge")).unwrap();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![oci_spec::runtime::LinuxHugepageLimitBuilder::default(
        )
        .page_size("2MB")
        .limit(0)
        .build()
        .unwrap()])
        .build()
        .unwrap();
    assert!(matches!(cg.apply(&r), Err(Error::ControllerMissing { .. })));
    cg.apply(&LinuxResources::default()).unwrap();
}

fn skip_reason_v2() -> Option<String> {
    // SAFETY: geteuid has no preconditions and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    let root = Path::new("/sys/fs/cgroup/unified");
    if detect().ok() != Some(Mode::Hybrid) {
        return Some("no hybrid cgroup2 mount at /sys/fs/cgroup/unified".into());
    }
    if !root.join("cgroup.procs").exists() {
        return Some("unified mount has no cgroup.procs".into());
    }
    None
}

#[test]
fn v2_core_files_on_the_unified_mount() {
    if let Some(reason) = skip_reason_v2() {
        eprintln!("skipping v2_core_files_on_the_unified_mount: {reason}");
        return;
    }
    let _restore = RootControllers::save();
    let path = unique("v2");
    let cg = open_v2("/sys/fs/cgroup/unified".into(), &path);
    let mut guard = Guard {
        cg: cg.as_ref(),
        child: None,
    };
    cg.create().unwrap();
    let dir = Path::new("/sys/fs/cgroup/unified").join(&path[1..]);
    assert!(dir.is_dir());
    // No controllers on this mount: asking for one is a clear error, asking for none is fine.
    cg.apply(&LinuxResources::default()).unwrap();
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .build()
        .unwrap();
    assert!(matches!(cg.apply(&r), Err(Error::ControllerMissing { .. })));

    let child = guard.child.insert(spinner());
    let pid = child.id();
    cg.add_task(pid as i32).unwrap();
    assert_eq!(cg.pids().unwrap(), vec![pid as i32]);
    if !dir.join("cgroup.freeze").exists() {
        eprintln!("note: kernel without cgroup.freeze, v2 freezer not exercised");
    } else {
        cg.freeze().unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);
        assert_eq!(
            progress_over(pid, Duration::from_millis(300)),
            0,
            "frozen child ran"
        );
        cg.thaw().unwrap();
        assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
        assert!(progress_over(pid, Duration::from_millis(500)) > 0);
    }
    let s = cg.stats().unwrap();
    assert!(s.cpu.usage_total > 0, "{s:?}");

    // SIGTERM goes the freeze/signal/thaw way, SIGKILL through cgroup.kill.
    let start = Instant::now();
    cg.kill_all(libc::SIGTERM).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    assert!(start.elapsed() < Duration::from_secs(5));

    let child = guard.child.insert(spinner());
    cg.add_task(child.id() as i32).unwrap();
    cg.kill_all(libc::SIGKILL).unwrap();
    let status = guard.child.take().unwrap().wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    cg.destroy().unwrap();
    assert!(!dir.exists(), "left behind: {}", dir.display());
}

#[test]
fn v2_device_filter_is_enforced_and_replaced() {
    if let Some(reason) = skip_reason_v2() {
        eprintln!("skipping v2_device_filter_is_enforced_and_replaced: {reason}");
        return;
    }
    use std::io::Write;
    use std::process::Stdio;

    let _restore = RootControllers::save();
    let path = unique("v2dev");
    let cg = open_v2("/sys/fs/cgroup/unified".into(), &path);
    let mut guard = Guard {
        cg: cg.as_ref(),
        child: None,
    };
    cg.create().unwrap();
    let dir = Path::new("/sys/fs/cgroup/unified").join(&path[1..]);
    let allow = |major: i64, minor: i64| {
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(LinuxDeviceType::C)
            .major(major)
            .minor(minor)
            .access("rwm")
            .build()
            .unwrap()
    };
    let deny_all = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .unwrap();

    // A failed redirection on a special builtin would end sh itself, hence the subshells.
    // Exit code 0: /dev/null (1:3) opens and /dev/zero (1:5) does not.
    // Exit code 10: both open.
    let probe = |guard: &mut Guard| -> i32 {
        let mut child = Command::new("sh")
            .args([
                "-c",
                "read x; ( : > /dev/null ) || exit 2; if ( : > /dev/zero ); then exit 10; fi; exit 0",
            ])
            .stdin(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        cg.add_task(child.id() as i32).unwrap();
        // Released only once it is inside the cgroup.
        child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        let code = child.wait().unwrap().code().unwrap();
        guard.child = None;
        code
    };

    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all.clone(), allow(1, 3)])
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    assert_eq!(berth_cgroups::device_filter_count(&dir).unwrap(), 1);
    assert_eq!(probe(&mut guard), 0, "/dev/zero should be denied");

    // update: the new filter replaces the old one instead of stacking on it.
    let r = LinuxResourcesBuilder::default()
        .devices(vec![deny_all, allow(1, 3), allow(1, 5)])
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    assert_eq!(berth_cgroups::device_filter_count(&dir).unwrap(), 1);
    assert_eq!(probe(&mut guard), 10, "/dev/zero should now be allowed");

    cg.destroy().unwrap();
    assert!(!dir.exists());
}
