//! Containers on networks, end to end, as root: addresses, reachability, published ports
//! (loopback-only, wildcard from a second namespace playing an outside machine, ephemeral),
//! links, user networks, `--network container:`, and what `rm -f` must leave behind. Every
//! test runs in a throwaway network namespace (common::netns::isolated): traffic never
//! leaves the namespaces the test made.

mod common;

use std::process::{Child, Command, Stdio};

use common::netns::{berth_table, isolated, links_with_prefix};
use common::{sh, with_busybox, Env};
use serde_json::Value;

/// An HTTP/1.0 GET of `path` from `addr:port` with busybox nc, from the current namespace
/// (or the one `netns` names); the response body's last line, or "" when nothing answers.
fn http_get(netns: Option<&str>, addr: &str, port: &str, path: &str) -> String {
    let enter = netns.map_or(String::new(), |p| format!("nsenter --net={p} "));
    sh(&format!(
        "printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | timeout 3 {enter}busybox nc -w 2 {addr} {port} 2>/dev/null | tail -n 1"
    ))
    .trim()
    .to_string()
}

/// An httpd in busybox serving /etc on port 80 (so `/hostname` is the container's name).
fn httpd(e: &Env, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let id = e.ok(&a).trim().to_string();
    // `run -d` returns once httpd runs, which may be a moment before it listens.
    e.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "for i in $(seq 100); do grep -qs ':0050 [0-9A-F]*:0000 0A' /proc/net/tcp /proc/net/tcp6 && exit 0; sleep 0.05; done; exit 1",
    ]);
    id
}

fn inspect(e: &Env, what: &str) -> Value {
    let v: Value = serde_json::from_str(&e.ok(&["inspect", what])).unwrap();
    v[0].clone()
}

/// The bridge network's endpoints, by container name.
fn bridge_endpoints(e: &Env, network: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(&e.ok(&["network", "inspect", network])).unwrap();
    let mut names: Vec<String> = v[0]["Containers"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|c| c["Name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Nothing of any container is left: no veth on the host side, no address leased, no
/// published port in the firewall.
fn assert_released(e: &Env) {
    assert_eq!(
        links_with_prefix("veth"),
        Vec::<String>::new(),
        "veths left"
    );
    assert_eq!(bridge_endpoints(e, "bridge"), Vec::<String>::new());
    if let Some(t) = berth_table() {
        assert!(!t.contains("dnat ip to"), "port rules left:\n{t}");
    }
}

/// A second network namespace playing a machine outside, wired to ours by a veth:
/// 192.0.2.1 is our side, 192.0.2.2 its. Killed (and so gone) when dropped.
struct Outside {
    holder: Child,
}

impl Outside {
    fn new() -> Outside {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let pid = holder.id();
        // The namespace exists once unshare has exec'd sleep.
        for _ in 0..200 {
            let ours = std::fs::read_link("/proc/self/ns/net").unwrap();
            if std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|n| n != ours) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        sh(&format!(
            "set -e; ip link add vout type veth peer name vin; ip link set vout netns {pid}; \
             ip addr add 192.0.2.1/24 dev vin; ip link set vin up; \
             nsenter --net=/proc/{pid}/ns/net sh -c 'ip link set lo up; ip addr add 192.0.2.2/24 dev vout; ip link set vout up'"
        ));
        Outside { holder }
    }

    fn netns(&self) -> String {
        format!("/proc/{}/ns/net", self.holder.id())
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = Command::new("ip").args(["link", "del", "vin"]).status();
    }
}

#[test]
fn default_bridge_addresses_hosts_and_cleanup() {
    isolated("default_bridge_addresses_hosts_and_cleanup", || {
        let e = with_busybox();
        let addr = e.ok(&[
            "run",
            "--rm",
            "--network",
            "bridge",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ]);
        assert!(addr.contains("inet 10.66."), "{addr}");
        let a = e
            .ok(&[
                "run",
                "-d",
                "--network",
                "bridge",
                "--name",
                "a",
                "busybox",
                "sleep",
                "60",
            ])
            .trim()
            .to_string();
        let ip_a = inspect(&e, "a")["NetworkSettings"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(ip_a.starts_with("10.66."), "{ip_a}");
        let net = &inspect(&e, "a")["NetworkSettings"]["Networks"]["bridge"];
        assert_eq!(net["IPAddress"], ip_a.as_str());
        assert_eq!(net["Gateway"], "10.66.0.1");
        assert_eq!(net["IPPrefixLen"], 16);
        // Its own name in its /etc/hosts, and the other container reachable by address.
        let hosts = e.ok(&["exec", "a", "cat", "/etc/hosts"]);
        assert!(hosts.contains(&format!("{ip_a}\t{}", &a[..12])), "{hosts}");
        let ping = e.berth(&[
            "run",
            "--rm",
            "--network",
            "bridge",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            &ip_a,
        ]);
        assert!(ping.status.success(), "{ping:?}");
        // --link: the target under its alias and name.
        let linked = e.ok(&[
            "run",
            "--rm",
            "--network",
            "bridge",
            "--link",
            "a:alias",
            "busybox",
            "sh",
            "-c",
            "grep alias /etc/hosts && ping -c 1 -W 2 alias >/dev/null && echo reached",
        ]);
        assert!(linked.contains(&format!("{ip_a}\talias")), "{linked}");
        assert!(linked.contains("reached"), "{linked}");
        assert_eq!(bridge_endpoints(&e, "bridge"), vec!["a".to_string()]);
        e.ok(&["rm", "-f", "a"]);
        assert_released(&e);
    });
}

#[test]
fn published_ports_loopback_wildcard_and_ephemeral() {
    isolated("published_ports_loopback_wildcard_and_ephemeral", || {
        let e = with_busybox();
        let outside = Outside::new();
        httpd(
            &e,
            &[
                "--network",
                "bridge",
                "--name",
                "lo-only",
                "-p",
                "127.0.0.1:18080:80",
            ],
        );
        httpd(
            &e,
            &["--network", "bridge", "--name", "all", "-p", "18081:80"],
        );
        httpd(
            &e,
            &[
                "--network",
                "bridge",
                "--name",
                "eph",
                "--expose",
                "80",
                "-P",
            ],
        );
        let lo_only = inspect(&e, "lo-only")["Id"].as_str().unwrap()[..12].to_string();
        let all = inspect(&e, "all")["Id"].as_str().unwrap()[..12].to_string();
        // From this namespace, over loopback and over our own outside-facing address.
        assert_eq!(http_get(None, "127.0.0.1", "18080", "/hostname"), lo_only);
        assert_eq!(http_get(None, "127.0.0.1", "18081", "/hostname"), all);
        assert_eq!(http_get(None, "192.0.2.1", "18081", "/hostname"), all);
        // From outside: the wildcard port answers, the loopback-only one doesn't.
        let out = outside.netns();
        assert_eq!(http_get(Some(&out), "192.0.2.1", "18081", "/hostname"), all);
        assert_eq!(http_get(Some(&out), "192.0.2.1", "18080", "/hostname"), "");
        // Hairpin: a container reaches a published port through the host's address.
        let hair = e.ok(&[
            "run",
            "--rm",
            "--network",
            "bridge",
            "busybox",
            "sh",
            "-c",
            "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 2 192.0.2.1 18081 | tail -n 1",
        ]);
        assert_eq!(hair.trim(), all);
        // -P: an ephemeral port from the kernel's local range, shown by port, ps, inspect.
        let port = e.ok(&["port", "eph", "80"]);
        let host_port: u16 = port.trim().rsplit(':').next().unwrap().parse().unwrap();
        assert!((32768..=60999).contains(&host_port), "{port}");
        assert_eq!(
            e.ok(&["port", "eph"]).trim(),
            format!("80/tcp -> 0.0.0.0:{host_port}")
        );
        let ps = e.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
        assert!(
            ps.contains(&format!("eph 0.0.0.0:{host_port}->80/tcp")),
            "{ps}"
        );
        assert!(ps.contains("lo-only 127.0.0.1:18080->80/tcp"), "{ps}");
        let eph = inspect(&e, "eph");
        assert_eq!(
            eph["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
            host_port.to_string()
        );
        assert_eq!(eph["HostConfig"]["PublishAllPorts"], true);
        assert_eq!(
            inspect(&e, "all")["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"],
            "18081"
        );
        assert_eq!(
            http_get(None, "127.0.0.1", &host_port.to_string(), "/hostname").len(),
            12
        );
        let (_, _, missing) = common::status(&e, &["port", "eph", "81"]);
        assert!(
            missing.contains("No public port '81/tcp' published"),
            "{missing}"
        );
        e.ok(&["rm", "-f", "lo-only", "all", "eph"]);
        assert_released(&e);
        // Released means free again.
        httpd(
            &e,
            &["--network", "bridge", "--name", "again", "-p", "18081:80"],
        );
        assert_eq!(http_get(None, "127.0.0.1", "18081", "/hostname").len(), 12);
        e.ok(&["rm", "-f", "again"]);
        assert_released(&e);
    });
}

#[test]
fn bad_network_input_changes_nothing() {
    isolated("bad_network_input_changes_nothing", || {
        let e = with_busybox();
        httpd(
            &e,
            &["--network", "bridge", "--name", "first", "-p", "18090:80"],
        );
        let before = e.ok(&["ps", "-aq"]);
        // The port is taken: 125 with Docker's words, and no address or veth held.
        let (code, _, err) = common::status(
            &e,
            &[
                "run",
                "--rm",
                "--network",
                "bridge",
                "-p",
                "18090:80",
                "busybox",
                "true",
            ],
        );
        assert_eq!(code, 125, "{err}");
        assert!(
            err.contains("Bind for 0.0.0.0:18090 failed: port is already allocated"),
            "{err}"
        );
        assert_eq!(bridge_endpoints(&e, "bridge"), vec!["first".to_string()]);
        assert_eq!(links_with_prefix("veth").len(), 1);
        for (args, says) in [
            (vec!["-p", "80/sctp"], "invalid port spec"),
            (vec!["-p", "70000:80"], "invalid port spec"),
            (vec!["-p", "1.2.3:80:80"], "invalid port spec"),
            (
                vec!["--ip", "10.66.0.9"],
                "user specified IP address is supported on user defined networks only",
            ),
            (vec!["--network", "nosuch"], "network nosuch not found"),
            (
                vec!["--network-alias", "x"],
                "network-scoped alias is supported only",
            ),
            (
                vec!["--network", "none", "-p", "80:80"],
                "conflicting options: port publishing",
            ),
            (vec!["--mac-address", "zz"], "is not a valid mac address"),
        ] {
            let mut a = vec!["run", "--rm", "--network", "bridge"];
            a.extend(args.iter().copied());
            a.extend(["busybox", "true"]);
            let (code, _, err) = common::status(&e, &a);
            assert_eq!(code, 125, "{args:?}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
        }
        e.ok(&["network", "create", "--subnet", "10.67.9.0/24", "n9"]);
        for (ip, says) in [
            ("10.67.8.5", "10.67.8.5"),
            ("not-an-ip", "invalid IPv4 address"),
            ("10.67.9.1", "10.67.9.1"),
        ] {
            let (code, _, err) = common::status(
                &e,
                &[
                    "run",
                    "--rm",
                    "--network",
                    "n9",
                    "--ip",
                    ip,
                    "busybox",
                    "true",
                ],
            );
            assert_eq!(code, 125, "{ip}: {err}");
            assert!(err.contains(says), "{ip}: {err}");
        }
        assert_eq!(e.ok(&["ps", "-aq"]), before);
        assert_eq!(bridge_endpoints(&e, "n9"), Vec::<String>::new());
        e.ok(&["rm", "-f", "first"]);
        e.ok(&["network", "rm", "n9"]);
        assert_released(&e);
    });
}

#[test]
fn user_networks_and_shared_stacks() {
    isolated("user_networks_and_shared_stacks", || {
        let e = with_busybox();
        e.ok(&["network", "create", "--subnet", "10.67.5.0/24", "n1"]);
        e.ok(&["network", "create", "--subnet", "10.67.6.0/24", "n2"]);
        e.ok(&[
            "run",
            "-d",
            "--name",
            "one",
            "--network",
            "n1",
            "--ip",
            "10.67.5.9",
            "--network-alias",
            "uno",
            "busybox",
            "sleep",
            "60",
        ]);
        let addr = e.ok(&["exec", "one", "ip", "-4", "-o", "addr", "show", "eth0"]);
        assert!(addr.contains("inet 10.67.5.9/24"), "{addr}");
        let one = inspect(&e, "one");
        let n1 = &one["NetworkSettings"]["Networks"]["n1"];
        assert_eq!(n1["IPAddress"], "10.67.5.9");
        assert_eq!(n1["Aliases"][0], "uno");
        // Docker fills the top-level address from the default bridge only.
        assert_eq!(one["NetworkSettings"]["IPAddress"], "");
        // Same network: reachable; the other network: isolated.
        let same = e.berth(&[
            "run",
            "--rm",
            "--network",
            "n1",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "10.67.5.9",
        ]);
        assert!(same.status.success(), "{same:?}");
        let other = e.berth(&[
            "run",
            "--rm",
            "--network",
            "n2",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            "10.67.5.9",
        ]);
        assert!(!other.status.success(), "n2 reached n1");
        // container:one shares its stack.
        let shared = e.ok(&[
            "run",
            "--rm",
            "--network",
            "container:one",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
            "show",
            "eth0",
        ]);
        assert!(shared.contains("inet 10.67.5.9/24"), "{shared}");
        let (code, _, err) = common::status(&e, &["network", "rm", "n1"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("has active endpoints"), "{err}");
        e.ok(&["rm", "-f", "one"]);
        e.ok(&["network", "rm", "n1", "n2"]);
        assert_released(&e);
    });
}

#[test]
fn connect_and_disconnect_running_and_stopped() {
    isolated("connect_and_disconnect_running_and_stopped", || {
        let e = with_busybox();
        e.ok(&["network", "create", "--subnet", "10.67.7.0/24", "n7"]);
        e.ok(&[
            "run",
            "-d",
            "--name",
            "c",
            "--network",
            "bridge",
            "busybox",
            "sleep",
            "60",
        ]);
        e.ok(&[
            "network",
            "connect",
            "--ip",
            "10.67.7.20",
            "--alias",
            "cee",
            "n7",
            "c",
        ]);
        let addrs = e.ok(&["exec", "c", "ip", "-4", "-o", "addr"]);
        assert!(
            addrs.contains("eth0") && addrs.contains("inet 10.66."),
            "{addrs}"
        );
        assert!(
            addrs.contains("eth1") && addrs.contains("inet 10.67.7.20/24"),
            "{addrs}"
        );
        let nets = &inspect(&e, "c")["NetworkSettings"]["Networks"];
        assert_eq!(nets["n7"]["IPAddress"], "10.67.7.20");
        assert_eq!(nets["n7"]["Aliases"][0], "cee");
        assert!(nets["bridge"]["IPAddress"]
            .as_str()
            .unwrap()
            .starts_with("10.66."));
        let reach = e.berth(&[
            "run",
            "--rm",
            "--network",
            "n7",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "10.67.7.20",
        ]);
        assert!(reach.status.success(), "{reach:?}");
        let (code, _, err) = common::status(&e, &["network", "connect", "n7", "c"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("already exists in network n7"), "{err}");
        e.ok(&["network", "disconnect", "n7", "c"]);
        let addrs = e.ok(&["exec", "c", "ip", "-4", "-o", "addr"]);
        assert!(!addrs.contains("10.67.7."), "{addrs}");
        let (code, _, err) = common::status(&e, &["network", "disconnect", "n7", "c"]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("is not connected to network n7"), "{err}");
        e.ok(&["network", "rm", "n7"]);
        // A stopped container gets the network at its next start.
        e.ok(&["network", "create", "--subnet", "10.67.8.0/24", "n8"]);
        e.ok(&[
            "create",
            "--name",
            "s",
            "--network",
            "bridge",
            "busybox",
            "sleep",
            "60",
        ]);
        e.ok(&["network", "connect", "n8", "s"]);
        e.ok(&["start", "s"]);
        let addrs = e.ok(&["exec", "s", "ip", "-4", "-o", "addr"]);
        assert!(addrs.contains("inet 10.67.8."), "{addrs}");
        e.ok(&["rm", "-f", "c", "s"]);
        e.ok(&["network", "rm", "n8"]);
        assert_released(&e);
        assert_eq!(links_with_prefix("vet"), Vec::<String>::new());
    });
}

#[test]
fn names_resolve_on_user_networks_only() {
    isolated("names_resolve_on_user_networks_only", || {
        let e = with_busybox();
        e.ok(&["network", "create", "--subnet", "10.67.11.0/24", "front"]);
        e.ok(&["network", "create", "--subnet", "10.67.12.0/24", "back"]);
        let web = e
            .ok(&[
                "run",
                "-d",
                "--name",
                "web",
                "--network",
                "front",
                "--network-alias",
                "www",
                "busybox",
                "httpd",
                "-f",
                "-p",
                "80",
                "-h",
                "/etc",
            ])
            .trim()
            .to_string();
        let conf = e.ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ]);
        assert!(conf.contains("nameserver 10.67.11.1"), "{conf}");
        // By name, by alias, by short ID: the same address; and the service answers.
        for name in ["web", "WWW", &web[..12]] {
            let out = e.ok(&[
                "run",
                "--rm",
                "--network",
                "front",
                "busybox",
                "nslookup",
                name,
            ]);
            let ip = inspect(&e, "web")["NetworkSettings"]["Networks"]["front"]["IPAddress"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(out.contains(&format!("Address: {ip}")), "{name}: {out}");
        }
        let body = e.ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 2 www 80 | tail -n 1",
        ]);
        assert_eq!(body.trim(), &web[..12]);
        // Another network doesn't know it; a container that comes later is found at once,
        // one that went is gone.
        let other = e.berth(&[
            "run",
            "--rm",
            "--network",
            "back",
            "busybox",
            "nslookup",
            "web",
        ]);
        assert!(!other.status.success(), "back resolved web");
        e.ok(&[
            "run",
            "-d",
            "--name",
            "late",
            "--network",
            "front",
            "busybox",
            "sleep",
            "60",
        ]);
        let late = e.ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "nslookup",
            "late",
        ]);
        assert!(late.contains("Address: 10.67.11."), "{late}");
        e.ok(&["rm", "-f", "late"]);
        let gone = e.berth(&[
            "run",
            "--rm",
            "--network",
            "front",
            "busybox",
            "nslookup",
            "late",
        ]);
        assert!(!gone.status.success(), "a removed container still resolves");
        e.ok(&["rm", "-f", "web"]);
        e.ok(&["network", "rm", "front", "back"]);
        assert_released(&e);
    });
}

#[test]
fn internal_networks_have_no_way_out() {
    isolated("internal_networks_have_no_way_out", || {
        let e = with_busybox();
        let outside = Outside::new();
        // Something outside to reach: a web server in the outside namespace.
        let www = e.path("www");
        std::fs::create_dir_all(&www).unwrap();
        std::fs::write(www.join("hello"), "outside\n").unwrap();
        let mut listener = Command::new("nsenter")
            .arg(format!("--net={}", outside.netns()))
            .args(["busybox", "httpd", "-f", "-p", "7000", "-h"])
            .arg(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        e.ok(&["network", "create", "--subnet", "10.67.20.0/24", "open"]);
        e.ok(&[
            "network",
            "create",
            "--internal",
            "--subnet",
            "10.67.21.0/24",
            "closed",
        ]);
        let reach = |net: &str| {
            e.berth(&[
                "run",
                "--rm",
                "--network",
                net,
                "busybox",
                "sh",
                "-c",
                "printf 'GET /hello HTTP/1.0\\r\\n\\r\\n' | nc -w 2 192.0.2.2 7000 | tail -n 1",
            ])
        };
        let open = reach("open");
        assert_eq!(
            String::from_utf8_lossy(&open.stdout).trim(),
            "outside",
            "{open:?}"
        );
        let closed = reach("closed");
        assert!(
            !String::from_utf8_lossy(&closed.stdout).contains("outside"),
            "an internal network reached outside: {closed:?}"
        );
        // Inside an internal network, containers still reach each other.
        e.ok(&[
            "run",
            "-d",
            "--name",
            "in",
            "--network",
            "closed",
            "--ip",
            "10.67.21.9",
            "busybox",
            "sleep",
            "60",
        ]);
        let same = e.berth(&[
            "run",
            "--rm",
            "--network",
            "closed",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "2",
            "10.67.21.9",
        ]);
        assert!(same.status.success(), "{same:?}");
        let _ = listener.kill();
        let _ = listener.wait();
        e.ok(&["rm", "-f", "in"]);
        e.ok(&["network", "rm", "open", "closed"]);
        assert_released(&e);
    });
}

#[test]
fn a_killed_monitor_gives_its_address_and_ports_back() {
    isolated("a_killed_monitor_gives_its_address_and_ports_back", || {
        let e = with_busybox();
        httpd(
            &e,
            &["--network", "bridge", "--name", "orphan", "-p", "18100:80"],
        );
        let pid = inspect(&e, "orphan")["State"]["Pid"].as_i64().unwrap();
        let monitor = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("PPid:").map(|p| p.trim().to_string()))
            .unwrap();
        sh(&format!("kill -9 {monitor}"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let ps = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
        assert_eq!(ps.trim(), "orphan exited", "{ps}");
        // The next command released everything: the port is free for another container.
        assert_released(&e);
        httpd(
            &e,
            &["--network", "bridge", "--name", "next", "-p", "18100:80"],
        );
        assert_eq!(http_get(None, "127.0.0.1", "18100", "/hostname").len(), 12);
        e.ok(&["rm", "-f", "orphan", "next"]);
        assert_released(&e);
    });
}
