//! v1 behaviour against fixture trees: plain files stand in for cgroupfs control files (a write
//! replaces the content, so each test checks the last value written).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use berth_cgroups::{open_v1, Error, FreezerState};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder, LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder,
};

const CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

/// Kernel-created files of a fresh cgroup, per controller.
fn files(ctrl: &str) -> &'static [&'static str] {
    match ctrl {
        "cpu" => &[
            "cpu.shares",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpu.cfs_burst_us",
            "cpu.rt_runtime_us",
            "cpu.rt_period_us",
            "cpu.idle",
            "cpu.stat",
        ],
        "cpuset" => &["cpuset.cpus", "cpuset.mems"],
        "memory" => &[
            "memory.limit_in_bytes",
            "memory.soft_limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.swappiness",
            "memory.oom_control",
            "memory.usage_in_bytes",
        ],
        "devices" => &["devices.allow", "devices.deny"],
        "freezer" => &["freezer.state"],
        "blkio" => &[
            "blkio.weight",
            "blkio.leaf_weight",
            "blkio.weight_device",
            "blkio.leaf_weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_bps_device",
            "blkio.throttle.read_iops_device",
            "blkio.throttle.write_iops_device",
        ],
        "pids" => &["pids.max", "pids.current"],
        "hugetlb" => &["hugetlb.2MB.limit_in_bytes", "hugetlb.1GB.limit_in_bytes"],
        _ => &[],
    }
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    mounts: BTreeMap<String, PathBuf>,
}

impl Fixture {
    fn new(controllers: &[&str]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let mut mounts = BTreeMap::new();
        for c in controllers {
            let m = root.join(c);
            fs::create_dir_all(&m).unwrap();
            mounts.insert(c.to_string(), m);
        }
        fs::create_dir_all(root.join("systemd")).unwrap();
        mounts.insert("name=systemd".into(), root.join("systemd"));
        Self {
            _tmp: tmp,
            root,
            mounts,
        }
    }

    /// What mkdir on cgroupfs does: the directory and its (empty) control files.
    fn mkcg(&self, rel: &str) {
        for (name, m) in &self.mounts {
            let mut dir = m.clone();
            for comp in Path::new(rel).components() {
                dir.push(comp);
                fs::create_dir_all(&dir).unwrap();
                for f in files(name).iter().chain(["cgroup.procs"].iter()) {
                    let p = dir.join(f);
                    if !p.exists() {
                        fs::write(p, "").unwrap();
                    }
                }
            }
        }
    }

    fn dir(&self, ctrl: &str, rel: &str) -> PathBuf {
        self.root.join(ctrl).join(rel)
    }

    fn read(&self, ctrl: &str, rel: &str, file: &str) -> String {
        fs::read_to_string(self.dir(ctrl, rel).join(file))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn put(&self, ctrl: &str, rel: &str, file: &str, content: &str) {
        fs::write(self.dir(ctrl, rel).join(file), content).unwrap();
    }
}

fn full_resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .reservation(32 << 20)
                .swap(128 << 20)
                .swappiness(10u64)
                .disable_oom_killer(true)
                .kernel(1 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0-1")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(100).build().unwrap())
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(300u16)
                .leaf_weight(200u16)
                .weight_device(vec![LinuxWeightDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .weight(400u16)
                    .leaf_weight(100u16)
                    .build()
                    .unwrap()])
                .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .rate(1_048_576u64)
                    .build()
                    .unwrap()])
                .throttle_write_iops_device(vec![LinuxThrottleDeviceBuilder::default()
                    .major(8)
                    .minor(16)
                    .rate(500u64)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .devices(vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1)
                .minor(3)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(136)
                .access("rw")
                .build()
                .unwrap(),
        ])
        .build()
        .unwrap()
}

#[test]
fn apply_writes_each_resource_to_its_file() {
    let fx = Fixture::new(CONTROLLERS);
    fx.mkcg("berth/c1");
    fx.put(
        "memory",
        "berth/c1",
        "memory.limit_in_bytes",
        "9223372036854771712",
    );
    fx.put("cpu", "berth/c1", "cpu.shares", "1024");
    let cg = open_v1(fx.mounts.clone(), "/berth/c1");
    cg.apply(&full_resources()).unwrap();

    let r = |c, f| fx.read(c, "berth/c1", f);
    assert_eq!(
        r("memory", "memory.limit_in_bytes"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        r("memory", "memory.memsw.limit_in_bytes"),
        (128u64 << 20).to_string()
    );
    assert_eq!(
        r("memory", "memory.soft_limit_in_bytes"),
        (32u64 << 20).to_string()
    );
    assert_eq!(r("memory", "memory.swappiness"), "10");
    assert_eq!(r("memory", "memory.oom_control"), "1");
    assert_eq!(r("cpu", "cpu.shares"), "512");
    assert_eq!(r("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(r("cpu", "cpu.cfs_period_us"), "100000");
    assert_eq!(r("cpu", "cpu.rt_runtime_us"), "", "rt untouched when unset");
    assert_eq!(r("cpuset", "cpuset.cpus"), "0-1");
    assert_eq!(r("cpuset", "cpuset.mems"), "0");
    assert_eq!(r("pids", "pids.max"), "100");
    assert_eq!(r("blkio", "blkio.weight"), "300");
    assert_eq!(r("blkio", "blkio.leaf_weight"), "200");
    assert_eq!(r("blkio", "blkio.weight_device"), "8:0 400");
    assert_eq!(r("blkio", "blkio.leaf_weight_device"), "8:0 100");
    assert_eq!(r("blkio", "blkio.throttle.read_bps_device"), "8:0 1048576");
    assert_eq!(r("blkio", "blkio.throttle.write_iops_device"), "8:16 500");
    assert_eq!(r("blkio", "blkio.throttle.write_bps_device"), "");
    // deny-all first, then the rules in order: the last deny is the explicit rule, the last
    // allow the pty rule.
    assert_eq!(r("devices", "devices.deny"), "a *:* rwm");
    assert_eq!(r("devices", "devices.allow"), "c 136:* rw");
}

#[test]
fn unset_resources_touch_nothing() {
    let fx = Fixture::new(CONTROLLERS);
    fx.mkcg("c");
    let cg = open_v1(fx.mounts.clone(), "/c");
    cg.apply(&LinuxResources::default()).unwrap();
    // Zeros mean "unchanged" for update.
    let r = LinuxResourcesBuilder::default()
        .memory(LinuxMemoryBuilder::default().limit(0).build().unwrap())
        .cpu(
            LinuxCpuBuilder::default()
                .shares(0u64)
                .quota(0)
                .build()
                .unwrap(),
        )
        // Docker always sends blockIO.weight 0; the kernel answers ERANGE to a 0 weight.
        .block_io(
            oci_spec::runtime::LinuxBlockIoBuilder::default()
                .weight(0u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.apply(&r).unwrap();
    for (ctrl, list) in CONTROLLERS.iter().map(|c| (c, files(c))) {
        for f in list {
            assert_eq!(fx.read(ctrl, "c", f), "", "{ctrl}/{f} was written");
        }
    }
}

#[test]
fn pids_zero_or_negative_is_max() {
    let fx = Fixture::new(&["pids"]);
    fx.mkcg("c");
    let cg = open_v1(fx.mounts.clone(), "/c");
    for limit in [0, -1] {
        let r = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(limit).build().unwrap())
            .build()
            .unwrap();
        fx.put("pids", "c", "pids.max", "5");
        cg.apply(&r).unwrap();
        assert_eq!(fx.read("pids", "c", "pids.max"), "max");
    }
}

#[test]
fn memsw_is_skipped_without_swap_accounting_unless_asked() {
    let fx = Fixture::new(&["memory"]);
    fx.mkcg("c");
    fs::remove_file(fx.dir("memory", "c").join("memory.memsw.limit_in_bytes")).unwrap();
    let cg = open_v1(fx.mounts.clone(), "/c");
    let mem = |limit: i64, swap: Option<i64>| {
        let mut b = LinuxMemoryBuilder::default().limit(limit);
        if let Some(s) = swap {
            b = b.swap(s);
        }
        LinuxResourcesBuilder::default()
            .memory(b.build().unwrap())
            .build()
            .unwrap()
    };
    cg.apply(&mem(1 << 20, None)).unwrap();
    assert_eq!(fx.read("memory", "c", "memory.limit_in_bytes"), "1048576");
    cg.apply(&mem(-1, None)).unwrap();
    assert_eq!(fx.read("memory", "c", "memory.limit_in_bytes"), "-1");
    let err = cg.apply(&mem(1 << 20, Some(2 << 20))).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("memsw"), "{err}");
}

#[test]
fn swappiness_over_100_is_rejected_before_writing() {
    let fx = Fixture::new(&["memory"]);
    fx.mkcg("c");
    let cg = open_v1(fx.mounts.clone(), "/c");
    let r = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .swappiness(101u64)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let err = cg.apply(&r).unwrap_err();
    assert!(err.to_string().contains("101"), "{err}");
    assert_eq!(fx.read("memory", "c", "memory.swappiness"), "");
}

#[test]
fn write_errors_name_file_and_value() {
    let fx = Fixture::new(&["pids"]);
    fx.mkcg("c");
    fs::remove_file(fx.dir("pids", "c").join("pids.max")).unwrap();
    let cg = open_v1(fx.mounts.clone(), "/c");
    let r = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(7).build().unwrap())
        .build()
        .unwrap();
    let msg = cg.apply(&r).unwrap_err().to_string();
    assert!(msg.contains("pids.max") && msg.contains("\"7\""), "{msg}");
}

#[test]
fn create_copies_cpuset_down_every_empty_level() {
    let fx = Fixture::new(CONTROLLERS);
    fx.put("cpuset", "", "cpuset.cpus", "0-3\n");
    fx.put("cpuset", "", "cpuset.mems", "0\n");
    // The kernel makes these files, empty, at mkdir; here they exist beforehand.
    fx.mkcg("berth/c1");
    // A pre-existing parent with its own setting is respected.
    fx.put("cpuset", "berth", "cpuset.cpus", "1");
    let cg = open_v1(fx.mounts.clone(), "/berth/c1");
    cg.create().unwrap();
    assert_eq!(fx.read("cpuset", "berth", "cpuset.cpus"), "1");
    assert_eq!(fx.read("cpuset", "berth", "cpuset.mems"), "0");
    assert_eq!(fx.read("cpuset", "berth/c1", "cpuset.cpus"), "1");
    assert_eq!(fx.read("cpuset", "berth/c1", "cpuset.mems"), "0");
    for c in CONTROLLERS.iter().chain(["systemd"].iter()) {
        assert!(fx.dir(c, "berth/c1").is_dir(), "{c}");
    }
}

#[test]
fn missing_controller_is_fine_unless_needed() {
    let fx = Fixture::new(CONTROLLERS); // no hugetlb, as on this host
    fx.mkcg("c");
    let cg = open_v1(fx.mounts.clone(), "/c");
    cg.apply(
        &LinuxResourcesBuilder::default()
            .hugepage_limits(vec![])
            .build()
            .unwrap(),
    )
    .unwrap();
    let r = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(1i64 << 21)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let err = cg.apply(&r).unwrap_err();
    match &err {
        Error::ControllerMissing { controller } => assert_eq!(controller, "hugetlb"),
        other => panic!("{other}"),
    }

    let fx = Fixture::new(&["hugetlb"]);
    fx.mkcg("c");
    open_v1(fx.mounts.clone(), "/c").apply(&r).unwrap();
    assert_eq!(
        fx.read("hugetlb", "c", "hugetlb.2MB.limit_in_bytes"),
        "2097152"
    );
}

#[test]
fn freezer_states_follow_the_file() {
    let fx = Fixture::new(&["freezer"]);
    fx.mkcg("c");
    let cg = open_v1(fx.mounts.clone(), "/c");
    for (content, want) in [
        ("THAWED\n", FreezerState::Thawed),
        ("FREEZING\n", FreezerState::Freezing),
        ("FROZEN\n", FreezerState::Frozen),
    ] {
        fx.put("freezer", "c", "freezer.state", content);
        assert_eq!(cg.freezer_state().unwrap(), want);
    }
    fx.put("freezer", "c", "freezer.state", "bogus");
    assert!(matches!(cg.freezer_state(), Err(Error::Parse { .. })));
    cg.freeze().unwrap();
    assert_eq!(fx.read("freezer", "c", "freezer.state"), "FROZEN");
    cg.thaw().unwrap();
    assert_eq!(fx.read("freezer", "c", "freezer.state"), "THAWED");
}

#[test]
fn stats_parse_fixture_files() {
    let fx = Fixture::new(&["cpu", "cpuacct", "memory", "pids", "blkio", "hugetlb"]);
    fx.mkcg("c");
    let put = |c, f, s| fx.put(c, "c", f, s);
    put("cpuacct", "cpuacct.usage", "5000000\n");
    put("cpuacct", "cpuacct.usage_percpu", "3000000 2000000 \n");
    // No usage_user/usage_sys: the tick-based cpuacct.stat is the fallback.
    put("cpuacct", "cpuacct.stat", "user 3\nsystem 1\n");
    put(
        "cpu",
        "cpu.stat",
        "nr_periods 10\nnr_throttled 4\nthrottled_time 12345\n",
    );
    put("memory", "memory.usage_in_bytes", "1000\n");
    put("memory", "memory.max_usage_in_bytes", "2000\n");
    put("memory", "memory.limit_in_bytes", "4096\n");
    put("memory", "memory.failcnt", "3\n");
    put("memory", "memory.memsw.usage_in_bytes", "1500\n");
    put("memory", "memory.memsw.limit_in_bytes", "8192\n");
    put(
        "memory",
        "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
    );
    put(
        "memory",
        "memory.stat",
        "cache 100\nrss 200\ntotal_inactive_file 50\n",
    );
    put("pids", "pids.current", "3\n");
    put("pids", "pids.max", "max\n");
    fx.put(
        "blkio",
        "c",
        "blkio.throttle.io_service_bytes_recursive",
        "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n",
    );
    fx.put(
        "blkio",
        "c",
        "blkio.throttle.io_serviced_recursive",
        "8:0 Read 2\n8:0 Write 1\nTotal 3\n",
    );
    put("hugetlb", "hugetlb.2MB.usage_in_bytes", "2097152\n");
    put("hugetlb", "hugetlb.2MB.max_usage_in_bytes", "4194304\n");
    put("hugetlb", "hugetlb.2MB.limit_in_bytes", "8388608\n");
    put("hugetlb", "hugetlb.2MB.failcnt", "1\n");

    let cg = open_v1(fx.mounts.clone(), "/c");
    let s = cg.stats().unwrap();
    assert_eq!(s.cpu.usage_total, 5_000_000);
    assert_eq!(s.cpu.usage_per_cpu, vec![3_000_000, 2_000_000]);
    assert_eq!(s.cpu.usage_user, 30_000_000);
    assert_eq!(s.cpu.usage_system, 10_000_000);
    assert_eq!(
        (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time),
        (10, 4, 12345)
    );
    assert_eq!(s.memory.usage, 1000);
    assert_eq!(s.memory.max_usage, 2000);
    assert_eq!(s.memory.limit, 4096);
    assert_eq!(s.memory.failcnt, 3);
    assert_eq!(s.memory.swap_usage, 1500);
    assert_eq!(s.memory.swap_limit, 8192);
    assert_eq!(s.memory.oom_kill, 2);
    assert_eq!(s.memory.stat["rss"], 200);
    assert_eq!(s.memory.stat["total_inactive_file"], 50);
    assert_eq!((s.pids.current, s.pids.limit), (3, None));
    assert_eq!(s.blkio.io_service_bytes.len(), 2);
    assert_eq!(s.blkio.io_service_bytes[0].value, 4096);
    assert_eq!(s.blkio.io_serviced[1].op, "Write");
    let h = &s.hugetlb["2MB"];
    assert_eq!(
        (h.usage, h.max_usage, h.limit, h.failcnt),
        (2097152, 4194304, 8388608, 1)
    );
    assert!(cg.oom_killed().unwrap());

    put("cpuacct", "cpuacct.usage_user", "7\n");
    put("cpuacct", "cpuacct.usage_sys", "8\n");
    let s = cg.stats().unwrap();
    assert_eq!((s.cpu.usage_user, s.cpu.usage_system), (7, 8));
}

#[test]
fn pids_are_collected_recursively() {
    let fx = Fixture::new(&["pids", "freezer"]);
    fx.mkcg("c/sub");
    fx.put("pids", "c", "cgroup.procs", "10\n11\n");
    fx.put("pids", "c/sub", "cgroup.procs", "12\n10\n");
    let cg = open_v1(fx.mounts.clone(), "/c");
    assert_eq!(cg.pids().unwrap(), vec![10, 11, 12]);
}

#[test]
fn add_task_writes_every_hierarchy_once() {
    let mut fx = Fixture::new(&["memory", "pids"]);
    // cpu and cpuacct co-mounted: one hierarchy, one write.
    let co = fx.root.join("cpu,cpuacct");
    fs::create_dir_all(&co).unwrap();
    fx.mounts.insert("cpu".into(), co.clone());
    fx.mounts.insert("cpuacct".into(), co.clone());
    let unified = fx.root.join("unified");
    fs::create_dir_all(&unified).unwrap();
    fx.mounts.insert("unified".into(), unified.clone());
    let cg = open_v1(fx.mounts.clone(), "/berth/x");
    cg.create().unwrap();
    for d in [
        &co,
        &unified,
        &fx.root.join("memory"),
        &fx.root.join("systemd"),
    ] {
        fs::write(d.join("berth/x/cgroup.procs"), "").unwrap();
    }
    fs::write(fx.root.join("pids/berth/x/cgroup.procs"), "").unwrap();
    cg.add_task(4242).unwrap();
    for d in ["cpu,cpuacct", "unified", "memory", "pids", "systemd"] {
        let got = fs::read_to_string(fx.root.join(d).join("berth/x/cgroup.procs")).unwrap();
        assert_eq!(got, "4242", "{d}");
    }

    let mounts = cg.mounts();
    let names: Vec<(&str, &str)> = mounts
        .iter()
        .map(|m| (m.subsystem.as_str(), m.mount_name.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("cpu,cpuacct", "cpu,cpuacct"),
            ("memory", "memory"),
            ("pids", "pids"),
            ("name=systemd", "systemd"),
        ]
    );
    assert_eq!(mounts[0].host_dir, co.join("berth/x"));
}

#[test]
fn destroy_is_idempotent() {
    let fx = Fixture::new(&["memory"]);
    let cg = open_v1(fx.mounts.clone(), "/berth/gone");
    cg.create().unwrap();
    cg.destroy().unwrap();
    assert!(!fx.dir("memory", "berth/gone").exists());
    assert!(fx.dir("memory", "berth").exists(), "parents are left alone");
    cg.destroy().unwrap();
}

#[test]
fn bad_path_fails_every_operation() {
    let fx = Fixture::new(&["memory"]);
    let cg = open_v1(fx.mounts.clone(), "/berth/../../etc");
    assert!(matches!(cg.create(), Err(Error::InvalidPath { .. })));
    assert!(matches!(cg.add_task(1), Err(Error::InvalidPath { .. })));
    assert!(matches!(
        cg.apply(&LinuxResources::default()),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(cg.destroy(), Err(Error::InvalidPath { .. })));
    assert!(cg.mounts().is_empty());
    assert!(!fx.root.parent().unwrap().join("etc").exists());
}
