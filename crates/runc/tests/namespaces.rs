//! Namespaces: new ones really differ from the host's, hostname/domainname, user namespace
//! mappings, and joining existing namespaces by path.

mod common;

use common::{ns_link, skip_if_not_root, Ctr, NsHelper};
use serde_json::json;

const NS: &[&str] = &["pid", "mnt", "uts", "ipc", "net", "cgroup"];

/// Parses `name=link` lines.
fn parse_links(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn new_namespaces_differ_from_host() {
    if skip_if_not_root() {
        return;
    }
    let mut c = Ctr::new("ns-new");
    c.add_namespace(json!({"type": "cgroup"}));
    let script: String = NS
        .iter()
        .map(|n| format!("echo {n}=$(readlink /proc/self/ns/{n}); "))
        .collect::<String>()
        + "echo pid1=$$; echo host=$(hostname)";
    c.sh(&script);
    let o = c.run().ok("run");
    let links = parse_links(&o.stdout);
    for n in NS {
        let inside = &links
            .iter()
            .find(|(k, _)| k == n)
            .unwrap_or_else(|| panic!("{n} missing: {o:?}"))
            .1;
        let host = ns_link(&format!("/proc/self/ns/{n}"));
        assert!(inside.starts_with(&format!("{n}:[")), "{n}: {inside}");
        assert_ne!(inside, &host, "{n} namespace must differ from the host's");
    }
    let get = |k: &str| links.iter().find(|(a, _)| a == k).map(|x| x.1.clone());
    assert_eq!(get("pid1").as_deref(), Some("1"), "init is pid 1");
    assert_eq!(get("host").as_deref(), Some("berth-test"));
    c.assert_nothing_left();
}

#[test]
fn domainname_is_set() {
    if skip_if_not_root() {
        return;
    }
    // runc 1.1 ignores `domainname` (support arrived in runc 1.2); berth-runc must set it.
    if common::skip_for_runc("runc 1.1 ignores the domainname field") {
        return;
    }
    let mut c = Ctr::new("ns-domain");
    c.edit(|v| v["domainname"] = json!("example.test"));
    c.sh("cat /proc/sys/kernel/domainname; hostname");
    let o = c.run().ok("run");
    assert_eq!(o.stdout, "example.test\nberth-test\n");
    c.assert_nothing_left();
}

#[test]
fn namespaces_not_requested_are_shared() {
    if skip_if_not_root() {
        return;
    }
    // Only a mount namespace (the OCI spec requires nothing else): uts, ipc, net stay the
    // host's. (pid stays too, so `$$` is not 1.)
    let mut c = Ctr::new("ns-shared");
    c.edit(|v| {
        v["linux"]["namespaces"] = json!([{"type": "mount"}]);
        // A hostname needs a uts namespace; without one it must not be set.
        v.as_object_mut().unwrap().remove("hostname");
        // sysfs cannot be mounted without a private network namespace.
        let mounts = v["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["type"] != "sysfs" && m["type"] != "cgroup" && m["type"] != "mqueue");
    });
    c.sh("for n in uts ipc net; do echo $n=$(readlink /proc/self/ns/$n); done");
    let o = c.run().ok("run");
    for (n, inside) in parse_links(&o.stdout) {
        assert_eq!(inside, ns_link(&format!("/proc/self/ns/{n}")), "{n}");
    }
    assert_eq!(parse_links(&o.stdout).len(), 3, "{o:?}");
    c.assert_nothing_left();
}

#[test]
fn user_namespace_mappings() {
    if skip_if_not_root() {
        return;
    }
    if !std::path::Path::new("/proc/self/ns/user").exists() {
        println!("skipping: no user namespaces");
        return;
    }
    let mut c = Ctr::new("ns-user");
    common::chown_tree(&c.rootfs(), 100000, 100000);
    c.add_namespace(json!({"type": "user"}));
    c.edit(|v| {
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    c.sh(
        "cat /proc/self/uid_map; cat /proc/self/gid_map; echo uid=$(id -u) gid=$(id -g); \
         echo user=$(readlink /proc/self/ns/user); touch /tmp/owned && stat -c owner=%u /tmp/owned",
    );
    let o = c.run().ok("run");
    let maps: Vec<Vec<&str>> = o
        .stdout
        .lines()
        .take(2)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(maps, vec![vec!["0", "100000", "65536"]; 2], "{o:?}");
    assert!(o.stdout.contains("uid=0 gid=0"), "{o:?}");
    assert!(o.stdout.contains("owner=0"), "{o:?}");
    let host_user = ns_link("/proc/self/ns/user");
    assert!(
        o.stdout.contains("user=user:[") && !o.stdout.contains(&format!("user={host_user}")),
        "user namespace must differ: {o:?}"
    );
    // From the host the file belongs to the mapped uid.
    let md = std::fs::metadata(c.rootfs().join("tmp/owned")).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&md), 100000);
    c.assert_nothing_left();
}

#[test]
fn join_namespaces_by_path() {
    if skip_if_not_root() {
        return;
    }
    let Some(helper) = NsHelper::spawn(&["--net", "--uts", "--ipc"]) else {
        println!("skipping: util-linux unshare is not available");
        return;
    };
    let mut c = Ctr::new("ns-join");
    c.edit(|v| {
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            let t = n["type"].as_str().unwrap().to_string();
            let proc_name = match t.as_str() {
                "network" => "net",
                "ipc" => "ipc",
                _ => continue,
            };
            n["path"] = json!(helper.ns_path(proc_name));
        }
        // Joining a uts namespace: the config must not set a hostname there.
        v.as_object_mut().unwrap().remove("hostname");
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "uts" {
                n["path"] = json!(helper.ns_path("uts"));
            }
        }
    });
    c.sh("for n in net ipc uts pid; do echo $n=$(readlink /proc/self/ns/$n); done");
    let o = c.run().ok("run");
    let links = parse_links(&o.stdout);
    for (n, inside) in &links {
        let helper_ns = ns_link(&helper.ns_path(n));
        if n == "pid" {
            assert_ne!(inside, &helper_ns, "pid namespace is new");
        } else {
            assert_eq!(inside, &helper_ns, "{n} namespace joined by path");
            assert_ne!(inside, &ns_link(&format!("/proc/self/ns/{n}")));
        }
    }
    assert_eq!(links.len(), 4, "{o:?}");
    c.assert_nothing_left();
}

/// Unmounts (lazily) on drop, so a failing test does not leave the nsfs bind behind.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn join_network_namespace_bind_mounted_file() {
    if skip_if_not_root() {
        return;
    }
    // `ip netns add` style: a namespace kept alive by a bind mount of its nsfs file.
    let Some(helper) = NsHelper::spawn(&["--net"]) else {
        println!("skipping: util-linux unshare is not available");
        return;
    };
    let dir = common::open_tempdir("berth-netns-");
    let file = dir.path().join("netns");
    std::fs::write(&file, "").unwrap();
    nix::mount::mount(
        Some(helper.ns_path("net").as_str()),
        &file,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .expect("bind-mount the netns file");
    let _unmount = Unmount(file.clone());
    let want = ns_link(&helper.ns_path("net"));
    drop(helper);

    let mut c = Ctr::new("ns-join-file");
    let path = file.to_str().unwrap().to_string();
    c.edit(|v| {
        for n in v["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(path);
            }
        }
    });
    c.sh("readlink /proc/self/ns/net");
    let o = c.run().ok("run");
    assert_eq!(o.out(), want);
    c.assert_nothing_left();
}
