//! v2 behaviour against fixture trees (plain files standing in for cgroupfs).

use std::fs;
use std::path::{Path, PathBuf};

use berth_cgroups::{open_v2, Error, FreezerState};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder, LinuxThrottleDeviceBuilder,
};

const LEAF_FILES: &[&str] = &[
    "cgroup.procs",
    "cgroup.subtree_control",
    "cgroup.freeze",
    "cgroup.events",
    "memory.max",
    "memory.low",
    "memory.swap.max",
    "cpu.weight",
    "cpu.max",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "io.weight",
    "io.max",
    "hugetlb.2MB.max",
];

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Fixture {
    fn new(controllers: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        fs::write(root.join("cgroup.controllers"), controllers).unwrap();
        fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        Self { _tmp: tmp, root }
    }

    /// What mkdir on cgroupfs does: the directory and its control files.
    fn mkcg(&self, rel: &str) {
        let mut dir = self.root.clone();
        for comp in Path::new(rel).components() {
            dir.push(comp);
            fs::create_dir_all(&dir).unwrap();
            for f in LEAF_FILES {
                let p = dir.join(f);
                if !p.exists() {
                    fs::write(p, "").unwrap();
                }
            }
        }
    }

    fn read(&self, rel: &str, file: &str) -> String {
        fs::read_to_string(self.root.join(rel).join(file))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn put(&self, rel: &str, file: &str, content: &str) {
        fs::write(self.root.join(rel).join(file), content).unwrap();
    }
}

fn resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(100 << 20)
                .reservation(50 << 20)
                .swap(300 << 20)
                .swappiness(60u64)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(1024u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("1")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(0).build().unwrap())
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(500u16)
                .throttle_write_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .rate(2_097_152u64)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(-1)
            .build()
            .unwrap()])
        .build()
        .unwrap()
}

#[test]
fn apply_converts_and_enables_controllers() {
    let fx = Fixture::new("cpuset cpu io memory hugetlb pids rdma misc\n");
    fx.mkcg("berth/c1");
    let cg = open_v2(fx.root.clone(), "/berth/c1");
    cg.apply(&resources()).unwrap();

    assert_eq!(
        fx.read("berth/c1", "memory.max"),
        (100u64 << 20).to_string()
    );
    assert_eq!(fx.read("berth/c1", "memory.low"), (50u64 << 20).to_string());
    assert_eq!(
        fx.read("berth/c1", "memory.swap.max"),
        (200u64 << 20).to_string()
    );
    assert_eq!(fx.read("berth/c1", "cpu.weight"), "39");
    assert_eq!(fx.read("berth/c1", "cpu.max"), "50000 100000");
    assert_eq!(fx.read("berth/c1", "cpuset.cpus"), "1");
    assert_eq!(fx.read("berth/c1", "cpuset.mems"), "0");
    assert_eq!(fx.read("berth/c1", "pids.max"), "max");
    assert_eq!(fx.read("berth/c1", "io.weight"), "4950");
    assert_eq!(fx.read("berth/c1", "io.max"), "8:0 wbps=2097152");
    assert_eq!(fx.read("berth/c1", "hugetlb.2MB.max"), "max");
    // Exactly the needed controllers, in the root and the intermediate level, not the leaf.
    let want = "+cpu +cpuset +hugetlb +io +memory +pids";
    assert_eq!(fx.read("", "cgroup.subtree_control"), want);
    assert_eq!(fx.read("berth", "cgroup.subtree_control"), want);
    assert_eq!(fx.read("berth/c1", "cgroup.subtree_control"), "");

    // Already enabled: nothing is rewritten.
    fx.put(
        "",
        "cgroup.subtree_control",
        "cpuset cpu io memory hugetlb pids",
    );
    fx.put(
        "berth",
        "cgroup.subtree_control",
        "cpuset cpu io memory hugetlb pids",
    );
    cg.apply(&resources()).unwrap();
    assert_eq!(
        fx.read("", "cgroup.subtree_control"),
        "cpuset cpu io memory hugetlb pids"
    );
}

#[test]
fn create_enables_every_available_controller() {
    let fx = Fixture::new("cpu memory pids");
    let cg = open_v2(fx.root.clone(), "/berth/c2");
    // mkdir of "berth" on a fixture makes no files; give it the one the kernel would.
    fs::create_dir_all(fx.root.join("berth")).unwrap();
    fx.put("berth", "cgroup.subtree_control", "");
    cg.create().unwrap();
    assert!(fx.root.join("berth/c2").is_dir());
    assert_eq!(fx.read("", "cgroup.subtree_control"), "+cpu +memory +pids");
    assert_eq!(
        fx.read("berth", "cgroup.subtree_control"),
        "+cpu +memory +pids"
    );
}

#[test]
fn missing_controller_is_a_clear_error() {
    // This host's unified mount: no controllers at all.
    let fx = Fixture::new("");
    fx.mkcg("c");
    let cg = open_v2(fx.root.clone(), "/c");
    cg.apply(&LinuxResources::default()).unwrap();
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
        .build()
        .unwrap();
    match cg.apply(&r).unwrap_err() {
        Error::ControllerMissing { controller } => assert_eq!(controller, "pids"),
        other => panic!("{other}"),
    }
    assert_eq!(fx.read("c", "pids.max"), "");
}

#[test]
fn swap_equal_to_memory_disables_swap_and_bad_swap_is_rejected() {
    let fx = Fixture::new("memory");
    fx.mkcg("c");
    let cg = open_v2(fx.root.clone(), "/c");
    let mem = |limit: i64, swap: i64| {
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(limit)
                    .swap(swap)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    };
    cg.apply(&mem(1000, 1000)).unwrap();
    assert_eq!(fx.read("c", "memory.swap.max"), "0");
    cg.apply(&mem(-1, -1)).unwrap();
    assert_eq!(fx.read("c", "memory.swap.max"), "max");
    assert_eq!(fx.read("c", "memory.max"), "max");
    let err = cg.apply(&mem(1000, 500)).unwrap_err();
    assert!(matches!(err, Error::InvalidResource { .. }), "{err}");
}

#[test]
fn unified_keys_are_written_and_checked() {
    let fx = Fixture::new("memory");
    fx.mkcg("c");
    fx.put("c", "memory.high", "");
    let cg = open_v2(fx.root.clone(), "/c");
    let mut u = std::collections::HashMap::new();
    u.insert("memory.high".to_owned(), "12345".to_owned());
    let r = LinuxResourcesBuilder::default().unified(u).build().unwrap();
    cg.apply(&r).unwrap();
    assert_eq!(fx.read("c", "memory.high"), "12345");
    for bad in ["../../etc/passwd", "memory", ".hidden", "a/b.c"] {
        let mut u = std::collections::HashMap::new();
        u.insert(bad.to_owned(), "1".to_owned());
        let r = LinuxResourcesBuilder::default().unified(u).build().unwrap();
        assert!(
            matches!(cg.apply(&r), Err(Error::InvalidResource { .. })),
            "{bad}"
        );
    }
}

#[test]
fn realtime_is_unsupported() {
    let fx = Fixture::new("cpu");
    fx.mkcg("c");
    let cg = open_v2(fx.root.clone(), "/c");
    let r = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .realtime_runtime(1000)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(matches!(cg.apply(&r), Err(Error::Unsupported { .. })));
}

#[test]
fn freezer_state_and_waits() {
    let fx = Fixture::new("");
    fx.mkcg("c");
    let cg = open_v2(fx.root.clone(), "/c");
    let set = |freeze: &str, frozen: &str| {
        fx.put("c", "cgroup.freeze", freeze);
        fx.put(
            "c",
            "cgroup.events",
            &format!("populated 1\nfrozen {frozen}\n"),
        );
    };
    set("0", "0");
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Thawed);
    set("1", "0");
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Freezing);
    set("1", "1");
    assert_eq!(cg.freezer_state().unwrap(), FreezerState::Frozen);

    // events already say frozen 1: freeze returns at once after asking.
    set("0", "1");
    cg.freeze().unwrap();
    assert_eq!(fx.read("c", "cgroup.freeze"), "1");
    set("1", "0");
    cg.thaw().unwrap();
    assert_eq!(fx.read("c", "cgroup.freeze"), "0");
}

#[test]
fn stats_parse_fixture_files() {
    let fx = Fixture::new("");
    fx.mkcg("c");
    let put = |f, s| fx.put("c", f, s);
    put(
        "cpu.stat",
        "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 7\nnr_throttled 2\nthrottled_usec 30\n",
    );
    put("memory.current", "4096\n");
    put("memory.peak", "8192\n");
    put("memory.max", "max\n");
    put("memory.swap.current", "100\n");
    put("memory.swap.max", "1000\n");
    put("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n");
    put("memory.stat", "anon 10\nfile 20\n");
    fs::write(fx.root.join("c/pids.current"), "2\n").unwrap();
    put("pids.max", "50\n");
    put(
        "io.stat",
        "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
    );
    fs::write(fx.root.join("c/hugetlb.2MB.current"), "0\n").unwrap();
    put("hugetlb.2MB.max", "max\n");
    fs::write(fx.root.join("c/hugetlb.2MB.events"), "max 4\n").unwrap();

    let cg = open_v2(fx.root.clone(), "/c");
    let s = cg.stats().unwrap();
    assert_eq!(
        (s.cpu.usage_total, s.cpu.usage_user, s.cpu.usage_system),
        (1_500_000, 1_000_000, 500_000)
    );
    assert_eq!(
        (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time),
        (7, 2, 30_000)
    );
    assert_eq!(s.memory.usage, 4096);
    assert_eq!(s.memory.max_usage, 8192);
    assert_eq!(s.memory.limit, u64::MAX);
    assert_eq!(s.memory.failcnt, 5);
    assert_eq!(s.memory.oom_kill, 1);
    assert_eq!(s.memory.swap_usage, 4196);
    assert_eq!(s.memory.swap_limit, u64::MAX);
    assert_eq!(s.memory.stat["file"], 20);
    assert_eq!((s.pids.current, s.pids.limit), (2, Some(50)));
    assert_eq!(s.blkio.io_service_bytes.len(), 3);
    assert_eq!(s.blkio.io_service_bytes[1].op, "Write");
    assert_eq!(s.blkio.io_service_bytes[1].value, 200);
    assert_eq!(s.blkio.io_serviced[0].value, 1);
    assert_eq!(s.hugetlb["2MB"].failcnt, 4);
    assert_eq!(s.hugetlb["2MB"].limit, u64::MAX);
    assert!(cg.oom_killed().unwrap());
}

#[test]
fn mounts_and_pids() {
    let fx = Fixture::new("");
    fx.mkcg("c/sub");
    fx.put("c", "cgroup.procs", "5\n");
    fx.put("c/sub", "cgroup.procs", "6\n");
    let cg = open_v2(fx.root.clone(), "c");
    assert_eq!(cg.pids().unwrap(), vec![5, 6]);
    // SIGKILL goes through cgroup.kill when the kernel has it, without touching the pids.
    fx.put("c", "cgroup.kill", "");
    cg.kill_all(9).unwrap();
    assert_eq!(fx.read("c", "cgroup.kill"), "1");
    let m = cg.mounts();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].host_dir, fx.root.join("c"));
}
