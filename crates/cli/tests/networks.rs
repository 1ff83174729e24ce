//! `berth network` end to end, as root. Every test that can make a bridge or an nft table
//! runs in a throwaway network namespace (common::netns::isolated), never in the host's.

mod common;

use berth_engine::network::{self, Network};
use berth_engine::Engine;
use common::netns::{addresses, berth_table, isolated, link_exists, links_with_prefix};
use common::{status, Env};
use serde_json::Value;

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn inspect(e: &Env, name: &str) -> Value {
    let out = e.ok(&["network", "inspect", name]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{out}");
    v[0].clone()
}

fn names(e: &Env) -> Vec<String> {
    e.ok(&["network", "ls", "--format", "{{.Name}}"])
        .lines()
        .map(String::from)
        .collect()
}

/// What a failed create must leave as it was: the records and the bridges.
fn snapshot(e: &Env) -> (Vec<String>, Vec<String>) {
    (names(e), links_with_prefix("br-"))
}

#[test]
fn create_ls_inspect_rm_round_trip() {
    isolated("create_ls_inspect_rm_round_trip", || {
        let e = Env::new();
        let id = e.ok(&["network", "create", "web"]).trim().to_string();
        assert!(is_id(&id), "{id}");
        let bridge = format!("br-{}", &id[..12]);

        let ls = e.ok(&["network", "ls"]);
        let lines: Vec<&str> = ls.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"],
            "{ls}"
        );
        assert!(lines[0].starts_with("NETWORK ID     NAME"), "{ls}");
        let web = lines
            .iter()
            .find(|l| l.contains(" web "))
            .expect("web listed");
        assert_eq!(
            web.split_whitespace().collect::<Vec<_>>(),
            [&id[..12], "web", "bridge", "local"],
            "{ls}"
        );

        let v = inspect(&e, "web");
        assert_eq!(v["Name"], "web");
        assert_eq!(v["Id"], id.as_str());
        assert_eq!(v["Driver"], "bridge");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["EnableIPv6"], false);
        assert_eq!(v["Internal"], false);
        assert_eq!(v["Ingress"], false);
        assert_eq!(v["ConfigOnly"], false);
        assert_eq!(v["ConfigFrom"]["Network"], "");
        assert_eq!(v["IPAM"]["Driver"], "default");
        let subnet = v["IPAM"]["Config"][0]["Subnet"]
            .as_str()
            .unwrap()
            .to_string();
        let gateway = v["IPAM"]["Config"][0]["Gateway"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(subnet.starts_with("10.67."), "{subnet}");
        assert_eq!(v["Containers"], serde_json::json!({}));
        assert_eq!(
            v["Options"]["com.docker.network.bridge.name"],
            bridge.as_str()
        );
        assert!(v["Created"].as_str().unwrap().ends_with('Z'), "{v}");
        // The same network by id and by id prefix.
        assert_eq!(inspect(&e, &id)["Name"], "web");
        assert_eq!(inspect(&e, &id[..8])["Name"], "web");

        // The kernel bridge, up, with the gateway address.
        assert!(link_exists(&bridge), "{bridge} missing");
        let prefix = subnet.split('/').nth(1).unwrap();
        assert_eq!(addresses(&bridge), [format!("{gateway}/{prefix}")]);
        // The firewall: the network's outbound masquerade.
        let table = berth_table().expect("inet berth table after create");
        let net_addr = subnet.split('/').next().unwrap();
        assert!(table.contains(&format!("{bridge}: outbound")), "{table}");
        assert!(table.contains("masquerade"), "{table}");
        assert!(table.contains(net_addr), "{table}");

        assert_eq!(e.ok(&["network", "rm", "web"]), "web\n");
        assert!(!link_exists(&bridge), "{bridge} left behind");
        let table = berth_table().expect("inet berth table stays for berth0");
        assert!(!table.contains(&bridge), "{table}");
        assert!(!names(&e).contains(&"web".to_string()));
        let (code, out, err) = status(&e, &["network", "inspect", "web"]);
        assert_eq!((code, out.as_str()), (1, "[]\n"));
        assert_eq!(err, "Error response from daemon: network web not found\n");
    });
}

#[test]
fn predefined_networks_are_listed_and_stay() {
    isolated("predefined_networks_are_listed_and_stay", || {
        let e = Env::new();
        assert_eq!(names(&e), ["bridge", "host", "none"]);
        let drivers = e.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
        assert_eq!(drivers, "bridge bridge\nhost host\nnone null\n");
        let b = inspect(&e, "bridge");
        assert_eq!(b["IPAM"]["Config"][0]["Subnet"], "10.66.0.0/16");
        assert_eq!(b["IPAM"]["Config"][0]["Gateway"], "10.66.0.1");
        assert_eq!(b["Options"]["com.docker.network.bridge.name"], "berth0");
        assert_eq!(
            b["Options"]["com.docker.network.bridge.default_bridge"],
            "true"
        );
        assert_eq!(inspect(&e, "host")["IPAM"]["Config"], serde_json::json!([]));
        // The same ids every time: the records are made once.
        let ids = e.ok(&["network", "ls", "-q"]);
        assert_eq!(e.ok(&["network", "ls", "-q"]), ids);
        for n in ["bridge", "host", "none"] {
            let (code, out, err) = status(&e, &["network", "rm", n]);
            assert_eq!(code, 1, "{n}");
            assert_eq!(out, "");
            assert_eq!(
                err,
                format!("Error response from daemon: {n} is a pre-defined network and cannot be removed\n")
            );
            let (code, _, err) = status(&e, &["network", "create", n]);
            assert_eq!(code, 1);
            assert!(err.contains(&format!("predefined {n} network")), "{err}");
        }
        assert_eq!(e.ok(&["network", "prune", "-f"]), "");
        assert_eq!(names(&e), ["bridge", "host", "none"]);
    });
}

#[test]
fn subnet_gateway_and_ip_range() {
    isolated("subnet_gateway_and_ip_range", || {
        let e = Env::new();
        let id = e
            .ok(&[
                "network",
                "create",
                "--subnet",
                "10.99.0.0/24",
                "--gateway",
                "10.99.0.254",
                "--ip-range",
                "10.99.0.128/25",
                "--internal",
                "--attachable",
                "--label",
                "tier=db",
                "-o",
                "com.example.x=1",
                "data",
            ])
            .trim()
            .to_string();
        let v = inspect(&e, "data");
        assert_eq!(
            v["IPAM"]["Config"],
            serde_json::json!([{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.254", "IPRange": "10.99.0.128/25"}])
        );
        assert_eq!(v["Internal"], true);
        assert_eq!(v["Attachable"], true);
        assert_eq!(v["Labels"], serde_json::json!({"tier": "db"}));
        assert_eq!(v["Options"]["com.example.x"], "1");
        let bridge = format!("br-{}", &id[..12]);
        assert_eq!(addresses(&bridge), ["10.99.0.254/24"]);

        for (args, msg) in [
            (
                &["--subnet", "10.98.0.0/24", "--gateway", "10.97.0.1"][..],
                "invalid gateway 10.97.0.1 for subnet 10.98.0.0/24: not in the subnet",
            ),
            (
                &["--subnet", "10.98.0.0/24", "--ip-range", "10.98.1.0/25"][..],
                "invalid ip range 10.98.1.0/25: it must be inside subnet 10.98.0.0/24",
            ),
            (
                &["--gateway", "10.98.0.1"][..],
                "every ip-range or gateway must have a corresponding subnet",
            ),
            (
                &["--subnet", "10.98.0.0"][..],
                "invalid CIDR address: 10.98.0.0",
            ),
        ] {
            let before = snapshot(&e);
            let mut argv = vec!["network", "create"];
            argv.extend_from_slice(args);
            argv.push("bad");
            let (code, out, err) = status(&e, &argv);
            assert_eq!((code, out.as_str()), (1, ""), "{args:?}: {err}");
            assert_eq!(err, format!("Error response from daemon: {msg}\n"));
            assert_eq!(snapshot(&e), before, "{args:?} left something behind");
        }
    });
}

#[test]
fn create_errors_leave_nothing_behind() {
    isolated("create_errors_leave_nothing_behind", || {
        let e = Env::new();
        e.ok(&["network", "create", "--subnet", "10.99.0.0/16", "first"]);
        // A host interface's address, outside berth.
        common::sh("ip link add hostnet0 type veth peer name hostnet1 && ip addr add 10.98.7.1/24 dev hostnet0 && ip link set hostnet0 up");
        let before = snapshot(&e);
        for (args, msg) in [
            (
                &["--subnet", "10.99.5.0/24", "over"][..],
                "Pool overlaps with other one on this address space (10.99.5.0/24 overlaps 10.99.0.0/16)",
            ),
            (
                &["--subnet", "10.0.0.0/8", "over"][..],
                "Pool overlaps with other one on this address space (10.0.0.0/8 overlaps",
            ),
            (
                &["--subnet", "10.98.0.0/16", "over"][..],
                "Pool overlaps with other one on this address space (10.98.0.0/16 overlaps 10.98.7.0/24)",
            ),
            (
                &["--subnet", "10.66.1.0/24", "over"][..],
                "Pool overlaps with other one on this address space (10.66.1.0/24 overlaps 10.66.0.0/16)",
            ),
            (
                &["--subnet", "10.97.0.1/24", "hostbits"][..],
                "invalid subnet 10.97.0.1/24 : it should be 10.97.0.0/24",
            ),
            (&["first"][..], "network with name first already exists"),
            (
                &["bad/name"][..],
                "invalid network name \"bad/name\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            ),
            (&["-d", "overlay", "ov"][..], "plugin \"overlay\" not found"),
            (&["--ipv6", "v6"][..], "IPv6 is not supported yet"),
        ] {
            let mut argv = vec!["network", "create"];
            argv.extend_from_slice(args);
            let (code, out, err) = status(&e, &argv);
            assert_eq!((code, out.as_str()), (1, ""), "{args:?}: {err}");
            assert!(
                err.starts_with(&format!("Error response from daemon: {msg}")),
                "{args:?}: {err}"
            );
            assert_eq!(snapshot(&e), before, "{args:?} left something behind");
        }
        // Without --subnet, the host's network is skipped, not overlapped: 10.67.0.0/24 is
        // taken by the host here.
        common::sh("ip addr add 10.67.0.9/24 dev hostnet0");
        e.ok(&["network", "create", "auto"]);
        assert_eq!(
            inspect(&e, "auto")["IPAM"]["Config"][0]["Subnet"],
            "10.67.1.0/24"
        );
        let (code, _, err) = status(&e, &["network", "create"]);
        assert_eq!(code, 125, "{err}");
        assert!(err.contains("requires exactly 1 argument"), "{err}");
    });
}

fn test_network(e: &Env, name: &str) -> Network {
    let mut engine = Engine::open(&e.root()).unwrap();
    engine.network_find(name).unwrap()
}

#[test]
fn rm_refuses_a_network_with_endpoints() {
    isolated("rm_refuses_a_network_with_endpoints", || {
        let e = Env::new();
        let id = e.ok(&["network", "create", "busy"]).trim().to_string();
        let net = test_network(&e, "busy");
        let mut engine = Engine::open(&e.root()).unwrap();
        let ep = engine
            .store
            .db
            .write(|tx| network::lease(tx, &net, "c0ffee", None, &["db".to_string()]))
            .unwrap();
        assert_eq!(ep.ip.to_string(), "10.67.0.2");
        let (code, out, err) = status(&e, &["network", "rm", "busy"]);
        assert_eq!((code, out.as_str()), (1, ""));
        assert_eq!(
            err,
            format!("Error response from daemon: error while removing network: network busy id {id} has active endpoints\n")
        );
        assert!(link_exists(&net.bridge));
        assert!(names(&e).contains(&"busy".to_string()));
        // Inspect lists the endpoint.
        let v = inspect(&e, "busy");
        let c = &v["Containers"]["c0ffee"];
        assert_eq!(c["IPv4Address"], "10.67.0.2/24");
        assert_eq!(c["MacAddress"], "02:42:0a:43:00:02");
        assert_eq!(c["EndpointID"], ep.endpoint.as_str());
        // Prune leaves it too.
        assert_eq!(e.ok(&["network", "prune", "-f"]), "");
        // One name failing doesn't stop the others; the status says something failed.
        e.ok(&["network", "create", "idle"]);
        let (code, out, err) = status(&e, &["network", "rm", "busy", "idle", "nosuch"]);
        assert_eq!((code, out.as_str()), (1, "idle\n"));
        assert!(err.contains("has active endpoints"), "{err}");
        assert!(
            err.contains("Error response from daemon: network nosuch not found"),
            "{err}"
        );
        assert_eq!(e.ok(&["network", "rm", "-f", "nosuch"]), "");

        let freed = engine
            .store
            .db
            .write(|tx| network::release(tx, "c0ffee"))
            .unwrap();
        assert_eq!(freed.len(), 1);
        assert_eq!(
            e.ok(&["network", "rm", &id[..12]]),
            format!("{}\n", &id[..12])
        );
        assert!(!link_exists(&net.bridge));
    });
}

#[test]
fn prune_removes_unused_custom_networks() {
    isolated("prune_removes_unused_custom_networks", || {
        let e = Env::new();
        e.ok(&["network", "create", "a"]);
        e.ok(&["network", "create", "--label", "x=1", "b"]);
        e.ok(&["network", "create", "--label", "x=2", "c"]);
        e.ok(&["network", "create", "used"]);
        let net = test_network(&e, "used");
        let mut engine = Engine::open(&e.root()).unwrap();
        engine
            .store
            .db
            .write(|tx| network::lease(tx, &net, "feed", None, &[]))
            .unwrap();
        // Without -f it asks, and the answer (no stdin) is no.
        let out = e.ok(&["network", "prune"]);
        assert!(
            out.starts_with("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "),
            "{out}"
        );
        assert_eq!(names(&e).len(), 7);
        assert_eq!(
            e.ok(&["network", "prune", "-f", "--filter", "label=x=1"]),
            "Deleted Networks:\nb\n\n"
        );
        assert_eq!(
            e.ok(&["network", "prune", "-f", "--filter", "until=1h"]),
            ""
        );
        let (code, _, err) = status(&e, &["network", "prune", "-f", "--filter", "bogus=1"]);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Error response from daemon: invalid filter 'bogus=1'\n"
        );
        assert_eq!(
            e.ok(&["network", "prune", "-f"]),
            "Deleted Networks:\na\nc\n\n"
        );
        assert_eq!(names(&e), ["bridge", "host", "none", "used"]);
        assert_eq!(links_with_prefix("br-"), vec![net.bridge]);
    });
}

#[test]
fn ls_quiet_format_and_filters() {
    isolated("ls_quiet_format_and_filters", || {
        let e = Env::new();
        let id1 = e.ok(&["network", "create", "zeta"]).trim().to_string();
        let id2 = e
            .ok(&["network", "create", "-l", "app=web", "alpha"])
            .trim()
            .to_string();
        let q = e.ok(&["network", "ls", "-q"]);
        let ids: Vec<&str> = q.lines().collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.iter().all(|i| i.len() == 12), "{q}");
        // By name: alpha, bridge, host, none, zeta.
        assert_eq!(ids[0], &id2[..12]);
        assert_eq!(ids[4], &id1[..12]);
        let full = e.ok(&["network", "ls", "-q", "--no-trunc"]);
        assert!(full.lines().all(is_id), "{full}");
        assert!(full.contains(&id1));
        let ls = |f: &[&str]| {
            let mut argv = vec!["network", "ls", "--format", "{{.Name}}"];
            for x in f {
                argv.extend(["--filter", x]);
            }
            e.ok(&argv)
        };
        assert_eq!(ls(&["type=custom"]), "alpha\nzeta\n");
        assert_eq!(ls(&["type=builtin"]), "bridge\nhost\nnone\n");
        assert_eq!(ls(&["driver=null"]), "none\n");
        assert_eq!(ls(&["name=et"]), "zeta\n");
        assert_eq!(ls(&["name=et", "name=alp"]), "alpha\nzeta\n");
        assert_eq!(ls(&["label=app=web"]), "alpha\n");
        assert_eq!(ls(&["label=app"]), "alpha\n");
        assert_eq!(ls(&[&format!("id={}", &id1[..6])]), "zeta\n");
        assert_eq!(
            ls(&["type=custom", "driver=bridge", "name=a"]),
            "alpha\nzeta\n"
        );
        assert_eq!(ls(&["dangling=true"]), "alpha\nzeta\n");
        let (code, _, err) = status(&e, &["network", "ls", "-f", "nope=1"]);
        assert_eq!(code, 1);
        assert_eq!(err, "Error response from daemon: invalid filter 'nope=1'\n");
        let t = e.ok(&[
            "network",
            "ls",
            "-f",
            "type=custom",
            "--format",
            "table {{.ID}}\t{{.Name}}\t{{.Labels}}",
        ]);
        let rows: Vec<Vec<&str>> = t.lines().map(|l| l.split_whitespace().collect()).collect();
        assert_eq!(rows[0], ["NETWORK", "ID", "NAME", "LABELS"], "{t}");
        assert_eq!(rows[1], [&id2[..12], "alpha", "app=web"], "{t}");
        assert_eq!(
            e.ok(&[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}}",
                "alpha",
                "none"
            ]),
            "alpha bridge\nnone null\n"
        );
        // Names sort naturally, as the docker CLI sorts them.
        e.ok(&["network", "create", "net10"]);
        e.ok(&["network", "create", "net2"]);
        assert_eq!(ls(&["name=net"]), "net2\nnet10\n");
        let j = e.ok(&["network", "ls", "-f", "name=net2", "--format", "json"]);
        let v: Value = serde_json::from_str(j.trim()).unwrap();
        assert_eq!(v["Name"], "net2");
        assert_eq!(v["Driver"], "bridge");
        assert_eq!(v["Scope"], "local");
    });
}

/// No kernel work: help texts and a missing network.
#[test]
fn help_and_missing_networks() {
    let e = Env::new();
    let help = e.ok(&["network", "--help"]);
    assert!(help.starts_with("Usage:  berth network COMMAND"), "{help}");
    for c in ["create", "inspect", "ls", "prune", "rm"] {
        assert!(help.contains(&format!("\n  {c} ")), "{c}: {help}");
    }
    assert_eq!(e.ok(&["network"]), help);
    assert!(e.ok(&["network", "create", "--help"]).contains("--subnet"));
    assert!(e
        .ok(&["--help"])
        .contains("\n  network     Manage networks"));
    let (code, _, err) = status(&e, &["network", "frob"]);
    assert_eq!(code, 125);
    assert!(err.contains("unknown command \"frob\""), "{err}");
    let (code, out, err) = status(&e, &["network", "inspect", "nosuch", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(out, "[]\n");
    assert_eq!(
        err,
        "Error response from daemon: network nosuch not found\nError response from daemon: network nope not found\n"
    );
}

/// Creates racing each other each get a subnet of their own, and a bridge.
#[test]
fn concurrent_creates_get_distinct_subnets() {
    isolated("concurrent_creates_get_distinct_subnets", || {
        let e = Env::new();
        e.ok(&["network", "ls"]); // the database and the predefined records
        let children: Vec<_> = (0..4)
            .map(|i| {
                std::process::Command::new(common::bin())
                    .arg("--root")
                    .arg(e.root())
                    .args(["network", "create", &format!("race{i}")])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        let mut subnets: Vec<String> = (0..4)
            .map(|i| {
                inspect(&e, &format!("race{i}"))["IPAM"]["Config"][0]["Subnet"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        subnets.sort();
        subnets.dedup();
        assert_eq!(subnets.len(), 4, "{subnets:?}");
        assert_eq!(links_with_prefix("br-").len(), 4);
    });
}

/// The default bridge is made on first use (the container side calls ensure_bridge), with
/// its gateway, idempotently; the firewall applies from the records.
#[test]
fn ensure_bridge_makes_berth0() {
    isolated("ensure_bridge_makes_berth0", || {
        let e = Env::new();
        let mut engine = Engine::open(&e.root()).unwrap();
        let bridge = engine.network_find("bridge").unwrap();
        assert!(!link_exists("berth0"));
        engine.ensure_bridge(&bridge).unwrap();
        engine.ensure_bridge(&bridge).unwrap();
        assert_eq!(addresses("berth0"), ["10.66.0.1/16"]);
        let host = engine.network_find("host").unwrap();
        engine.ensure_bridge(&host).unwrap();
        network::apply_firewall(&engine.store).unwrap();
        let table = berth_table().expect("inet berth table");
        assert!(table.contains("berth0: outbound"), "{table}");
        assert_eq!(
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            "1\n"
        );
    });
}
