//! Root filesystem: readonly root, masked and readonly paths, tmpfs and bind mounts,
//! devices, /dev symlinks, sysctl, /dev/shm and /dev/mqueue.

mod common;

use std::fs;

use common::{skip_if_not_root, Ctr};
use serde_json::json;

/// (mount point, fs type) pairs from a mountinfo dump.
fn mounts(mountinfo: &str) -> Vec<(String, String)> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let sep = f.iter().position(|x| *x == "-")?;
            Some((f.get(4)?.to_string(), f.get(sep + 1)?.to_string()))
        })
        .collect()
}

/// The mount options (field 6) of the mount at `point`, last one wins.
fn mount_opts(mountinfo: &str, point: &str) -> Option<String> {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(point))
        .and_then(|l| l.split(' ').nth(5).map(String::from))
}

#[test]
fn readonly_root_refuses_writes() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("ro-root");
    c.edit(|v| v["root"]["readonly"] = json!(true));
    c.sh("touch /newfile 2>&1; echo rc=$?; touch /dev/shm/ok && echo shm-writable");
    let o = c.run().ok("run");
    assert!(o.stdout.contains("Read-only file system"), "{o:?}");
    assert!(o.stdout.contains("rc=1"), "{o:?}");
    assert!(
        o.stdout.contains("shm-writable"),
        "tmpfs mounts stay writable: {o:?}"
    );
    assert!(!c.rootfs().join("newfile").exists());
    c.assert_nothing_left();
}

#[test]
fn masked_paths_read_empty() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("masked");
    let r = c.rootfs();
    fs::create_dir_all(r.join("secret-dir")).unwrap();
    fs::write(r.join("secret-dir/file"), "hidden").unwrap();
    fs::write(r.join("secret.txt"), "secret").unwrap();
    c.edit(|v| {
        let m = v["linux"]["maskedPaths"].as_array_mut().unwrap();
        m.push(json!("/secret-dir"));
        m.push(json!("/secret.txt"));
        m.push(json!("/does-not-exist"));
    });
    c.sh(
        "echo kcore=[$(cat /proc/kcore 2>/dev/null | head -c 16 | wc -c)]; \
         echo keys=[$(cat /proc/keys | wc -c)]; \
         echo timer=[$(cat /proc/timer_list | wc -c)]; \
         echo txt=[$(cat /secret.txt)]; echo dir=[$(ls -A /secret-dir)]; \
         echo x > /secret.txt 2>/dev/null; echo txt2=[$(cat /secret.txt)]; \
         touch /secret-dir/new 2>/dev/null; echo dir2=[$(ls -A /secret-dir)]",
    );
    let o = c.run().ok("run");
    for want in [
        "kcore=[0]",
        "keys=[0]",
        "timer=[0]",
        "txt=[]",
        "dir=[]",
        "txt2=[]",
        "dir2=[]",
    ] {
        assert!(o.stdout.contains(want), "{want}: {o:?}");
    }
    // The host files are untouched.
    assert_eq!(fs::read_to_string(r.join("secret.txt")).unwrap(), "secret");
    assert!(!r.join("secret-dir/new").exists());
    c.assert_nothing_left();
}

#[test]
fn readonly_paths_refuse_writes() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("ropaths");
    fs::create_dir_all(c.rootfs().join("rodir")).unwrap();
    c.edit(|v| {
        v["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/rodir"))
    });
    c.sh(
        "echo 1 > /proc/sys/kernel/hostname 2>/dev/null; echo sys=$?; \
         echo 1 > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?; \
         touch /rodir/x 2>&1; echo rodir=$?; \
         cat /proc/sys/kernel/ostype; touch /tmp/ok && echo tmp-ok",
    );
    let o = c.run().ok("run");
    assert!(o.stdout.contains("sys=1"), "/proc/sys is read-only: {o:?}");
    assert!(o.stdout.contains("sysrq=1"), "{o:?}");
    assert!(o.stdout.contains("rodir=1"), "{o:?}");
    assert!(o.stdout.contains("Read-only file system"), "{o:?}");
    assert!(
        o.stdout.contains("Linux"),
        "readonly paths stay readable: {o:?}"
    );
    assert!(o.stdout.contains("tmp-ok"), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn tmpfs_and_bind_mounts() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("mounts");
    let host_ro = common::open_tempdir("berth-ro-");
    fs::write(host_ro.path().join("hello"), "hello from host\n").unwrap();
    let host_rw = common::open_tempdir("berth-rw-");
    c.add_mount(json!({
        "destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "size=1m", "mode=1777"]
    }));
    c.add_mount(json!({
        "destination": "/mnt/ro", "type": "bind", "source": host_ro.path(),
        "options": ["rbind", "ro"]
    }));
    c.add_mount(json!({
        "destination": "/mnt/rw", "type": "bind", "source": host_rw.path(),
        "options": ["bind", "rw"]
    }));
    // A destination that does not exist in the rootfs is created.
    c.add_mount(json!({
        "destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs", "options": []
    }));
    c.sh("cat /proc/self/mountinfo > /mnt/rw/mountinfo; \
         echo data > /mnt/tmpfs/f && echo tmpfs-write=$(cat /mnt/tmpfs/f); \
         cat /mnt/ro/hello; touch /mnt/ro/x 2>/dev/null; echo ro-touch=$?; \
         echo from-container > /mnt/rw/out; \
         touch /new/deep/dir/y && echo deep-ok");
    let o = c.run().ok("run");
    assert!(o.stdout.contains("tmpfs-write=data"), "{o:?}");
    assert!(o.stdout.contains("hello from host"), "{o:?}");
    assert!(o.stdout.contains("ro-touch=1"), "{o:?}");
    assert!(o.stdout.contains("deep-ok"), "{o:?}");
    assert!(!host_ro.path().join("x").exists());
    assert_eq!(
        fs::read_to_string(host_rw.path().join("out")).unwrap(),
        "from-container\n"
    );
    let mi = fs::read_to_string(host_rw.path().join("mountinfo")).unwrap();
    let m = mounts(&mi);
    assert!(m.contains(&("/mnt/tmpfs".into(), "tmpfs".into())), "{mi}");
    assert!(
        m.contains(&("/new/deep/dir".into(), "tmpfs".into())),
        "{mi}"
    );
    assert!(m.iter().any(|(p, _)| p == "/mnt/ro"), "{mi}");
    let ro_opts = mount_opts(&mi, "/mnt/ro").unwrap();
    assert!(ro_opts.split(',').any(|o| o == "ro"), "{ro_opts}");
    let tmp_opts = mount_opts(&mi, "/mnt/tmpfs").unwrap();
    assert!(
        tmp_opts.contains("nosuid") && tmp_opts.contains("nodev"),
        "{tmp_opts}"
    );
    c.assert_nothing_left();
}

#[test]
fn default_devices_and_symlinks() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("devices");
    let mut script = String::new();
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        script += &format!("[ -c /dev/{d} ] && echo {d}=$(stat -c %t:%T /dev/{d}); ");
    }
    for l in ["fd", "stdin", "stdout", "stderr", "ptmx"] {
        script += &format!("echo {l}-\\>$(readlink /dev/{l}); ");
    }
    script += "head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; \
               echo x > /dev/full 2>/dev/null || echo full-enospc; \
               head -c 8 /dev/urandom | wc -c";
    c.sh(&script);
    let o = c.run().ok("run");
    for want in [
        "null=1:3",
        "zero=1:5",
        "full=1:7",
        "random=1:8",
        "urandom=1:9",
        "tty=5:0",
        "fd->/proc/self/fd",
        "stdin->/proc/self/fd/0",
        "stdout->/proc/self/fd/1",
        "stderr->/proc/self/fd/2",
        "ptmx->pts/ptmx",
        "null-ok",
        "full-enospc",
    ] {
        assert!(o.stdout.contains(want), "{want}: {o:?}");
    }
    let counts: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| l.trim().parse::<u32>().is_ok())
        .collect();
    assert_eq!(
        counts.iter().map(|l| l.trim()).collect::<Vec<_>>(),
        ["4", "8"],
        "{o:?}"
    );
    c.assert_nothing_left();
}

#[test]
fn linux_devices_are_created() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("linuxdev");
    c.edit(|v| {
        v["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
             "fileMode": 0o600, "uid": 0, "gid": 0},
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
             "fileMode": 0o666, "uid": 1000, "gid": 1000}
        ]);
        let devs = v["linux"]["resources"]["devices"].as_array_mut().unwrap();
        devs.push(json!({"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm"}));
        devs.push(json!({"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}));
    });
    c.sh("stat -c '%n %F %t:%T %a %u:%g' /dev/fuse /dev/mynull; \
         echo hi > /dev/mynull && echo mynull-write-ok; head -c 3 /dev/mynull | wc -c");
    let o = c.run().ok("run");
    assert!(
        o.stdout
            .contains("/dev/fuse character special file a:e5 600 0:0"),
        "{o:?}"
    );
    assert!(
        o.stdout
            .contains("/dev/mynull character special file 1:3 666 1000:1000"),
        "{o:?}"
    );
    assert!(o.stdout.contains("mynull-write-ok"), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn device_cgroup_denies_unlisted_device() {
    if skip_if_not_root() {
        return;
    }
    // /dev/fuse exists as a node but the default rules (deny all, then the standard set)
    // do not allow 10:229: opening it fails with EPERM.
    let mut c = Ctr::new("devdeny");
    c.edit(|v| {
        v["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666}
        ]);
    });
    c.sh("[ -c /dev/fuse ] && echo exists; cat /dev/fuse 2>&1; echo rc=$?");
    let o = c.run().ok("run");
    assert!(o.stdout.contains("exists"), "{o:?}");
    assert!(o.stdout.contains("Operation not permitted"), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn sysctl_in_new_netns() {
    if skip_if_not_root() {
        return;
    }
    let host_before = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let want = if host_before.trim() == "1" { "0" } else { "1" };
    let mut c = Ctr::new("sysctl");
    c.edit(|v| {
        v["linux"]["sysctl"] = json!({
            "net.ipv4.ip_forward": want,
            "kernel.shmmni": "1234"
        })
    });
    c.sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
    let o = c.run().ok("run");
    assert_eq!(o.stdout, format!("{want}\n1234\n"), "{o:?}");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
        host_before,
        "host sysctl untouched"
    );
    c.assert_nothing_left();
}

#[test]
fn shm_mqueue_pts_proc_sys_mounted() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("stdmounts");
    c.args(&["cat", "/proc/self/mountinfo"]);
    let o = c.run().ok("run");
    let m = mounts(&o.stdout);
    for (p, t) in [
        ("/", ""),
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        assert!(
            m.iter()
                .any(|(mp, ty)| mp == p && (t.is_empty() || ty == t)),
            "{p} ({t}) not mounted: {m:?}"
        );
    }
    // /sys is read-only as the default config says.
    let sys = mount_opts(&o.stdout, "/sys").unwrap();
    assert!(sys.split(',').any(|o| o == "ro"), "{sys}");
    // The root is not the host's root.
    let root_line = o
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap();
    assert!(
        root_line.contains(&*c.rootfs().to_string_lossy()),
        "root is the bundle rootfs: {root_line}"
    );
    c.assert_nothing_left();
}

#[test]
fn no_pivot_root_fallback() {
    if skip_if_not_root() {
        return;
    }
    // `run --no-pivot` uses MS_MOVE + chroot instead of pivot_root.
    let mut c = Ctr::new("nopivot");
    c.sh("cat /proc/self/mountinfo | wc -l; ls /bin/busybox");
    let b = c.bundle_path().to_str().unwrap().to_string();
    let o = c
        .cli(&["run", "--no-pivot", "--bundle", &b, &c.id])
        .ok("run --no-pivot");
    assert!(o.stdout.contains("/bin/busybox"), "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn rootfs_propagation_private() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("propagation");
    c.edit(|v| v["linux"]["rootfsPropagation"] = json!("private"));
    c.args(&["cat", "/proc/self/mountinfo"]);
    let o = c.run().ok("run");
    let root = o
        .stdout
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .unwrap();
    assert!(!root.contains("shared:"), "{root}");
    c.assert_nothing_left();
}
