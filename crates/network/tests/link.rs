//! Links, addresses and routes against the real kernel, each test in its own namespace.

mod common;

use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::Command;

use berth_network::ipam::{mac_from_ip, Subnet};
use berth_network::link::{
    configure_container, connect, in_netns, ContainerLink, Endpoint, Netlink,
};
use berth_network::{netns, sysctl, NetworkError};
use common::{isolated, request, serve, v4};

#[test]
fn bridge_is_idempotent_and_takes_an_address() {
    isolated("bridge_is_idempotent_and_takes_an_address", || {
        let mut nl = Netlink::open().unwrap();
        let index = nl.create_bridge("br-test").unwrap();
        assert_eq!(
            nl.create_bridge("br-test").unwrap(),
            index,
            "second create is a no-op"
        );
        assert_eq!(nl.link_index("br-test").unwrap(), index);
        assert_eq!(nl.link_kind("br-test").unwrap().as_deref(), Some("bridge"));
        nl.set_up("br-test").unwrap();
        assert!(nl.is_up("br-test").unwrap());
        let gw = Ipv4Addr::new(10, 89, 0, 1);
        nl.add_address("br-test", gw, 16).unwrap();
        nl.add_address("br-test", gw, 16).unwrap();
        assert_eq!(nl.addresses("br-test").unwrap(), vec![(gw, 16)]);

        // A link of that name that is no bridge is refused, by name.
        nl.create_veth("notabr", "notabr-p").unwrap();
        let e = nl.create_bridge("notabr").unwrap_err();
        assert!(matches!(e, NetworkError::NotABridge { .. }), "{e}");
        assert!(e.to_string().contains("notabr"), "{e}");

        nl.delete_link("br-test").unwrap();
        nl.delete_link("br-test").unwrap();
        nl.delete_link("notabr").unwrap();
        assert!(!nl.link_exists("br-test").unwrap());
        assert!(
            !nl.link_exists("notabr-p").unwrap(),
            "deleting one end removes the peer"
        );
    });
}

#[test]
fn errors_name_the_interface() {
    isolated("errors_name_the_interface", || {
        let mut nl = Netlink::open().unwrap();
        let e = nl.link_index("nosuch0").unwrap_err();
        assert_eq!(e.to_string(), "link nosuch0 not found");
        let e = nl.set_up("nosuch0").unwrap_err();
        assert!(matches!(e, NetworkError::LinkNotFound { .. }), "{e}");
        let e = nl.create_bridge("this-name-is-too-long").unwrap_err();
        assert!(e.to_string().contains("this-name-is-too-long"), "{e}");
        nl.create_veth("va", "vb").unwrap();
        let e = nl.create_veth("va", "vc").unwrap_err();
        assert!(e.to_string().contains("va/vc"), "{e}");
        assert!(e.to_string().contains("exists"), "{e}");
        let e = nl.set_master("va", "nosuchbr").unwrap_err();
        assert_eq!(e.to_string(), "link nosuchbr not found");
        let e = nl.set_mtu("va", 1).unwrap_err();
        assert!(e.to_string().starts_with("set mtu va: "), "{e}");
    });
}

/// The whole container side: a veth end moved and renamed into a namespace, the other end
/// on the bridge; traffic both ways; teardown leaves no link behind.
#[test]
fn veth_into_netns_and_traffic_over_the_bridge() {
    isolated("veth_into_netns_and_traffic_over_the_bridge", || {
        let mut nl = Netlink::open().unwrap();
        nl.set_up("lo").unwrap();
        let subnet = Subnet::parse("10.89.0.0/24").unwrap();
        let gw = Ipv4Addr::new(10, 89, 0, 1);
        nl.create_bridge("br-t").unwrap();
        nl.add_address("br-t", gw, 24).unwrap();
        nl.set_up("br-t").unwrap();

        let mut containers = vec![];
        for (i, host) in [(2u8, "vh2"), (3, "vh3")] {
            let ns = common::netns();
            let ip = Ipv4Addr::new(10, 89, 0, i);
            nl.create_veth(host, "vtmp").unwrap();
            nl.set_mac("vtmp", mac_from_ip(ip)).unwrap();
            nl.set_mtu("vtmp", 1400).unwrap();
            nl.move_to_netns("vtmp", ns.as_fd(), Some("eth0")).unwrap();
            assert!(!nl.link_exists("vtmp").unwrap());
            nl.set_master(host, "br-t").unwrap();
            nl.set_hairpin(host, true).unwrap();
            nl.set_up(host).unwrap();
            let link = ContainerLink {
                name: "eth0",
                address: ip,
                subnet,
                gateway: Some(gw),
            };
            configure_container(ns.as_fd(), &link).unwrap();
            configure_container(ns.as_fd(), &link).unwrap(); // idempotent
            containers.push((ns, ip));
        }
        let port = Command::new("ip")
            .args(["-d", "link", "show", "vh2"])
            .output()
            .unwrap();
        let port = String::from_utf8_lossy(&port.stdout);
        assert!(
            port.contains("master br-t") && port.contains("hairpin on"),
            "{port}"
        );
        let (ns2, ip2) = &containers[0];
        let (ns3, ip3) = &containers[1];

        // Inside: eth0 with its address, MAC and MTU; the default route via the gateway.
        in_netns(ns2.as_fd(), || {
            let mut c = Netlink::open().unwrap();
            assert_eq!(c.addresses("eth0").unwrap(), vec![(*ip2, 24)]);
            assert!(c.is_up("eth0").unwrap() && c.is_up("lo").unwrap());
        })
        .unwrap();
        let show = Command::new("nsenter")
            .args([
                format!("--net={}", common::ns_path(ns2)).as_str(),
                "ip",
                "-o",
                "link",
                "show",
                "eth0",
            ])
            .output()
            .unwrap();
        let show = String::from_utf8_lossy(&show.stdout);
        assert!(
            show.contains("mtu 1400") && show.contains("02:42:0a:59:00:02"),
            "{show}"
        );
        let route = Command::new("nsenter")
            .args([
                format!("--net={}", common::ns_path(ns2)).as_str(),
                "ip",
                "route",
                "show",
                "default",
            ])
            .output()
            .unwrap();
        let route = String::from_utf8_lossy(&route.stdout);
        assert!(route.contains("default via 10.89.0.1 dev eth0"), "{route}");

        // ICMP with busybox, then TCP both ways: container to container, host to container.
        let ping = Command::new("nsenter")
            .args([
                format!("--net={}", common::ns_path(ns2)).as_str(),
                "busybox",
                "ping",
                "-c",
                "1",
                "-W",
                "2",
            ])
            .arg(ip3.to_string())
            .output()
            .unwrap();
        assert!(
            ping.status.success(),
            "ping {ip3}: {}",
            String::from_utf8_lossy(&ping.stdout)
        );
        serve(ns3, v4(ip3.octets(), 80), "c3");
        serve(ns2, v4(ip2.octets(), 80), "c2");
        assert_eq!(
            request(Some(ns2), v4(ip3.octets(), 80)).unwrap(),
            "c3 from 10.89.0.2"
        );
        assert_eq!(
            request(Some(ns3), v4(ip2.octets(), 80)).unwrap(),
            "c2 from 10.89.0.3"
        );
        assert_eq!(
            request(None, v4(ip2.octets(), 80)).unwrap(),
            "c2 from 10.89.0.1"
        );
        // The container reaches the gateway, i.e. the host.
        serve(&netns::current().unwrap(), v4(gw.octets(), 81), "host");
        assert_eq!(
            request(Some(ns3), v4(gw.octets(), 81)).unwrap(),
            "host from 10.89.0.3"
        );

        // Teardown: the host ends and the bridge; the peers go with them.
        for host in ["vh2", "vh3", "br-t"] {
            nl.delete_link(host).unwrap();
        }
        let links = Command::new("ip").args(["-o", "link"]).output().unwrap();
        let links = String::from_utf8_lossy(&links.stdout);
        assert_eq!(links.lines().count(), 1, "only lo is left: {links}");
        in_netns(ns2.as_fd(), || {
            assert!(!Netlink::open().unwrap().link_exists("eth0").unwrap())
        })
        .unwrap();
    });
}

/// The namespace of another process, opened by pid (as the engine will for a container).
#[test]
fn move_into_a_process_netns() {
    isolated("move_into_a_process_netns", || {
        let mut child = Command::new("unshare")
            .args(["--net", "sleep", "30"])
            .spawn()
            .unwrap();
        // unshare execs sleep once the namespace is made: wait until the pid's differs.
        let me = std::fs::read_link("/proc/self/ns/net").unwrap();
        let path = format!("/proc/{}/ns/net", child.id());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_link(&path).unwrap() == me {
            assert!(
                std::time::Instant::now() < deadline,
                "unshare never made its namespace"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let ns = netns::open(child.id()).unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.create_veth("vp-host", "vp-ctr").unwrap();
        nl.move_to_netns("vp-ctr", ns.as_fd(), Some("eth0"))
            .unwrap();
        let inside = Command::new("nsenter")
            .args([
                "-t",
                &child.id().to_string(),
                "-n",
                "ip",
                "-o",
                "link",
                "show",
                "eth0",
            ])
            .output()
            .unwrap();
        assert!(
            inside.status.success(),
            "{}",
            String::from_utf8_lossy(&inside.stderr)
        );
        // Without a new name the link keeps its own.
        nl.create_veth("vq-host", "vq-ctr").unwrap();
        nl.move_to_netns("vq-ctr", ns.as_fd(), None).unwrap();
        in_netns(ns.as_fd(), || {
            let mut c = Netlink::open().unwrap();
            assert!(c.link_exists("vq-ctr").unwrap() && c.link_exists("eth0").unwrap());
        })
        .unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let e = netns::open(u32::MAX).unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("/proc/{}/ns/net", u32::MAX)),
            "{e}"
        );
    });
}

#[test]
fn sysctls_are_per_namespace() {
    isolated("sysctls_are_per_namespace", || {
        // A new namespace may inherit the host's value (net.core.devconf_inherit_init_net):
        // start from off to see the write land.
        std::fs::write("/proc/sys/net/ipv4/ip_forward", "0").unwrap();
        sysctl::enable_ip_forward().unwrap();
        assert_eq!(sysctl::read_ipv4("ip_forward").unwrap(), "1");
        let mut nl = Netlink::open().unwrap();
        nl.create_bridge("br-s").unwrap();
        sysctl::enable_route_localnet("br-s").unwrap();
        assert_eq!(sysctl::read_ipv4("conf/br-s/route_localnet").unwrap(), "1");
        let e = sysctl::enable_route_localnet("nosuch0").unwrap_err();
        assert!(
            e.to_string()
                .contains("/proc/sys/net/ipv4/conf/nosuch0/route_localnet"),
            "{e}"
        );
    });
}

#[test]
fn in_netns_leaves_the_caller_alone() {
    isolated("in_netns_leaves_the_caller_alone", || {
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        let ns = netns::create().unwrap();
        let inside = in_netns(ns.as_fd(), || {
            std::fs::read_link("/proc/thread-self/ns/net").unwrap()
        })
        .unwrap();
        assert_ne!(inside, before);
        assert_eq!(
            std::fs::read_link("/proc/thread-self/ns/net").unwrap(),
            before
        );
        // Panics come back to the caller.
        let r = std::panic::catch_unwind(|| in_netns(ns.as_fd(), || panic!("boom")));
        assert!(r.is_err());
    });
}

/// The one-call attachment the engine uses: the container's end is made in its namespace
/// under its final name, even when the host has a link of that name.
#[test]
fn connect_plugs_a_container_in_and_cleans_up_on_failure() {
    isolated(
        "connect_plugs_a_container_in_and_cleans_up_on_failure",
        || {
            let mut nl = Netlink::open().unwrap();
            nl.set_up("lo").unwrap();
            nl.create_bridge("br-c").unwrap();
            nl.add_address("br-c", Ipv4Addr::new(10, 91, 0, 1), 24)
                .unwrap();
            nl.set_up("br-c").unwrap();
            nl.create_veth("eth0", "eth0-peer").unwrap(); // the host's own eth0
            let subnet = Subnet::parse("10.91.0.0/24").unwrap();
            let ns = common::netns();
            let ip = Ipv4Addr::new(10, 91, 0, 2);
            let ep = Endpoint {
                bridge: "br-c",
                host_veth: "vethc1",
                netns: ns.as_fd(),
                link: ContainerLink {
                    name: "eth0",
                    address: ip,
                    subnet,
                    gateway: Some(Ipv4Addr::new(10, 91, 0, 1)),
                },
                mac: Some(mac_from_ip(ip)),
                mtu: Some(1450),
            };
            connect(&mut nl, &ep).unwrap();
            serve(&ns, v4(ip.octets(), 80), "c1");
            assert_eq!(
                request(None, v4(ip.octets(), 80)).unwrap(),
                "c1 from 10.91.0.1"
            );
            let show = Command::new("nsenter")
                .args([
                    format!("--net={}", common::ns_path(&ns)).as_str(),
                    "ip",
                    "-o",
                    "link",
                    "show",
                    "eth0",
                ])
                .output()
                .unwrap();
            let show = String::from_utf8_lossy(&show.stdout);
            assert!(
                show.contains("mtu 1450") && show.contains("02:42:0a:5b:00:02"),
                "{show}"
            );

            // A second endpoint whose bridge does not exist: nothing is left behind.
            let ns2 = common::netns();
            let bad = Endpoint {
                bridge: "nosuchbr",
                host_veth: "vethc2",
                netns: ns2.as_fd(),
                ..ep.clone()
            };
            let e = connect(&mut nl, &bad).unwrap_err();
            assert_eq!(e.to_string(), "link nosuchbr not found");
            assert!(!nl.link_exists("vethc2").unwrap());
            in_netns(ns2.as_fd(), || {
                assert!(!Netlink::open().unwrap().link_exists("eth0").unwrap())
            })
            .unwrap();

            nl.delete_link("vethc1").unwrap();
            in_netns(ns.as_fd(), || {
                assert!(!Netlink::open().unwrap().link_exists("eth0").unwrap())
            })
            .unwrap();
        },
    );
}

#[test]
fn dumps_routes_and_addresses() {
    isolated("dumps_routes_and_addresses", || {
        let mut nl = Netlink::open().unwrap();
        nl.set_up("lo").unwrap();
        nl.create_bridge("br-dump").unwrap();
        nl.add_address("br-dump", Ipv4Addr::new(10, 89, 3, 1), 24)
            .unwrap();
        nl.set_up("br-dump").unwrap();
        nl.add_default_route(Ipv4Addr::new(10, 89, 3, 254), Some("br-dump"))
            .unwrap();
        let net = Subnet::parse("10.89.3.0/24").unwrap();
        let routes = nl.routes().unwrap();
        assert!(routes.contains(&net), "{routes:?}");
        // The default route is left out; the local table's routes too.
        assert!(routes.iter().all(|r| r.prefix() > 0), "{routes:?}");
        assert!(
            !routes.contains(&Subnet::parse("127.0.0.0/8").unwrap()),
            "{routes:?}"
        );
        let addrs = nl.all_addresses().unwrap();
        assert!(addrs.contains(&net), "{addrs:?}");
        assert!(
            addrs.contains(&Subnet::parse("127.0.0.0/8").unwrap()),
            "{addrs:?}"
        );
        nl.delete_link("br-dump").unwrap();
        assert!(!nl.routes().unwrap().contains(&net));
    });
}
