//! berth's nftables table against the real kernel: NAT, published ports, isolation,
//! internal networks, re-apply and teardown. Each test runs in its own namespace, which
//! plays the host; containers and an "external" machine are namespaces made inside it.

mod common;

use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

use berth_network::ipam::{self, Subnet};
use berth_network::link::{configure_container, in_netns, ContainerLink, Netlink};
use berth_network::nft::{self, Firewall, NetRule, PortMap, Proto};
use berth_network::sysctl;
use common::{isolated, request, request_udp, serve, serve_udp, v4};

/// The external machine: a namespace on a veth to the host, 192.168.77.2/24, whose default
/// route is the host (192.168.77.1).
const EXT_HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
const EXT_PEER: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);

fn host() -> Netlink {
    let mut nl = Netlink::open().unwrap();
    nl.set_up("lo").unwrap();
    sysctl::enable_ip_forward().unwrap();
    nl
}

fn network(nl: &mut Netlink, bridge: &str, subnet: &str, internal: bool) -> NetRule {
    let subnet = Subnet::parse(subnet).unwrap();
    nl.create_bridge(bridge).unwrap();
    nl.add_address(
        bridge,
        ipam::gateway(&subnet, None).unwrap(),
        subnet.prefix(),
    )
    .unwrap();
    nl.set_up(bridge).unwrap();
    NetRule {
        bridge: bridge.into(),
        subnet,
        internal,
    }
}

/// A container on `net` with address `.host` of its subnet.
fn container(nl: &mut Netlink, net: &NetRule, host: u8) -> (OwnedFd, Ipv4Addr) {
    let ns = common::netns();
    let ip = Ipv4Addr::from(u32::from(net.subnet.addr()) + u32::from(host));
    let veth = format!("v{}-{host}", net.bridge);
    nl.create_veth(&veth, "tmp0").unwrap();
    nl.set_mac("tmp0", ipam::mac_from_ip(ip)).unwrap();
    nl.move_to_netns("tmp0", ns.as_fd(), Some("eth0")).unwrap();
    nl.set_master(&veth, &net.bridge).unwrap();
    nl.set_hairpin(&veth, true).unwrap();
    nl.set_up(&veth).unwrap();
    let gateway = Some(ipam::gateway(&net.subnet, None).unwrap());
    configure_container(
        ns.as_fd(),
        &ContainerLink {
            name: "eth0",
            address: ip,
            subnet: net.subnet,
            gateway,
        },
    )
    .unwrap();
    (ns, ip)
}

fn external(nl: &mut Netlink) -> OwnedFd {
    let ns = common::netns();
    nl.create_veth("ext0", "tmp0").unwrap();
    nl.move_to_netns("tmp0", ns.as_fd(), Some("eth0")).unwrap();
    nl.add_address("ext0", EXT_HOST, 24).unwrap();
    nl.set_up("ext0").unwrap();
    in_netns(ns.as_fd(), || {
        let mut e = Netlink::open().unwrap();
        e.add_address("eth0", EXT_PEER, 24).unwrap();
        e.set_up("eth0").unwrap();
        e.add_default_route(EXT_HOST, None).unwrap();
    })
    .unwrap();
    ns
}

fn port(
    host_ip: Option<[u8; 4]>,
    host_port: u16,
    to: Ipv4Addr,
    container_port: u16,
    proto: Proto,
    bridge: &str,
) -> PortMap {
    PortMap {
        host_ip: host_ip.map(Ipv4Addr::from),
        host_port,
        container_ip: to,
        container_port,
        proto,
        bridge: bridge.into(),
    }
}

fn listing() -> String {
    let out = Command::new("nft")
        .args(["list", "table", "inet", "berth"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn published_ports_from_outside_from_the_host_and_hairpin() {
    isolated(
        "published_ports_from_outside_from_the_host_and_hairpin",
        || {
            let mut nl = host();
            let net = network(&mut nl, "berth0", "10.89.0.0/16", false);
            let (c1, ip1) = container(&mut nl, &net, 2);
            let (c2, _) = container(&mut nl, &net, 3);
            let ext = external(&mut nl);
            serve(&c1, v4(ip1.octets(), 80), "c1");
            serve_udp(&c1, v4(ip1.octets(), 53), "c1/udp");

            // Nothing published yet: the host's addresses have nothing on 8080.
            assert!(request(Some(&ext), v4(EXT_HOST.octets(), 8080)).is_err());

            let fw = Firewall {
                networks: vec![net.clone()],
                ports: vec![
                    port(None, 8080, ip1, 80, Proto::Tcp, "berth0"),
                    port(None, 5353, ip1, 53, Proto::Udp, "berth0"),
                ],
            };
            fw.apply().unwrap();
            assert_eq!(
                sysctl::read_ipv4("conf/berth0/route_localnet").unwrap(),
                "1"
            );

            // From outside: DNAT only, the container sees the real client.
            assert_eq!(
                request(Some(&ext), v4(EXT_HOST.octets(), 8080)).unwrap(),
                "c1 from 192.168.77.2"
            );
            assert_eq!(
                request_udp(Some(&ext), v4(EXT_HOST.octets(), 5353)).unwrap(),
                "c1/udp from 192.168.77.2"
            );
            // From the host, on loopback and on its own addresses (the output chain).
            assert_eq!(
                request(None, v4([127, 0, 0, 1], 8080)).unwrap(),
                "c1 from 10.89.0.1"
            );
            assert_eq!(
                request(None, v4(EXT_HOST.octets(), 8080)).unwrap(),
                "c1 from 192.168.77.1"
            );
            assert_eq!(
                request_udp(None, v4([127, 0, 0, 1], 5353)).unwrap(),
                "c1/udp from 10.89.0.1"
            );
            // Hairpin: containers of the bridge, the published container itself included,
            // through any of the host's addresses.
            assert_eq!(
                request(Some(&c2), v4(EXT_HOST.octets(), 8080)).unwrap(),
                "c1 from 10.89.0.1"
            );
            assert_eq!(
                request(Some(&c1), v4(EXT_HOST.octets(), 8080)).unwrap(),
                "c1 from 10.89.0.1"
            );
            assert_eq!(
                request(Some(&c1), v4([10, 89, 0, 1], 8080)).unwrap(),
                "c1 from 10.89.0.1"
            );
            // Only the published port: the container's other ports stay closed to the outside,
            // even to a machine that routes straight to the container's address.
            serve(&c1, v4(ip1.octets(), 81), "c1:81");
            assert!(request(Some(&ext), v4(EXT_HOST.octets(), 8081)).is_err());
            assert!(request(Some(&ext), v4(ip1.octets(), 81)).is_err());
            assert!(
                request(Some(&ext), v4(ip1.octets(), 80)).is_err(),
                "only DNAT'd traffic is let in"
            );
            // Outbound: containers leave with the host's address.
            serve(&ext, v4(EXT_PEER.octets(), 9000), "ext");
            assert_eq!(
                request(Some(&c2), v4(EXT_PEER.octets(), 9000)).unwrap(),
                "ext from 192.168.77.1"
            );
        },
    );
}

#[test]
fn loopback_port_is_not_reachable_from_outside() {
    isolated("loopback_port_is_not_reachable_from_outside", || {
        let mut nl = host();
        let net = network(&mut nl, "berth0", "10.89.0.0/16", false);
        let (c1, ip1) = container(&mut nl, &net, 2);
        let ext = external(&mut nl);
        serve(&c1, v4(ip1.octets(), 80), "c1");
        let fw = Firewall {
            networks: vec![net],
            ports: vec![
                port(Some([127, 0, 0, 1]), 8081, ip1, 80, Proto::Tcp, "berth0"),
                port(Some(EXT_HOST.octets()), 8082, ip1, 80, Proto::Tcp, "berth0"),
            ],
        };
        fw.apply().unwrap();
        assert_eq!(
            request(None, v4([127, 0, 0, 1], 8081)).unwrap(),
            "c1 from 10.89.0.1"
        );
        assert!(
            request(Some(&ext), v4(EXT_HOST.octets(), 8081)).is_err(),
            "127.0.0.1:8081 reached from outside"
        );
        assert!(
            request(None, v4(EXT_HOST.octets(), 8081)).is_err(),
            "127.0.0.1:8081 reached on another address"
        );
        // Bound to one address: that one only.
        assert_eq!(
            request(Some(&ext), v4(EXT_HOST.octets(), 8082)).unwrap(),
            "c1 from 192.168.77.2"
        );
        assert!(request(None, v4([127, 0, 0, 1], 8082)).is_err());
        assert!(request(Some(&ext), v4([10, 89, 0, 1], 8082)).is_err());
        // A container can't use the bridge's route_localnet to reach the host's loopback.
        let guard = listing();
        assert!(
            guard.contains("iifname != \"lo\" ip daddr 127.0.0.0/8 drop"),
            "{guard}"
        );
    });
}

#[test]
fn networks_are_isolated_from_each_other() {
    isolated("networks_are_isolated_from_each_other", || {
        let mut nl = host();
        let a = network(&mut nl, "br-a", "10.90.0.0/24", false);
        let b = network(&mut nl, "br-b", "10.90.1.0/24", false);
        let (ca, ipa) = container(&mut nl, &a, 2);
        let (ca2, _) = container(&mut nl, &a, 3);
        let (cb, ipb) = container(&mut nl, &b, 2);
        let ext = external(&mut nl);
        serve(&ca, v4(ipa.octets(), 80), "ca");
        serve(&cb, v4(ipb.octets(), 80), "cb");
        serve(&ext, v4(EXT_PEER.octets(), 9000), "ext");
        // Plain routing connects them: what follows is the firewall's doing.
        assert_eq!(
            request(Some(&ca), v4(ipb.octets(), 80)).unwrap(),
            "cb from 10.90.0.2"
        );

        Firewall {
            networks: vec![a, b],
            ports: vec![port(None, 8080, ipb, 80, Proto::Tcp, "br-b")],
        }
        .apply()
        .unwrap();
        assert!(
            request(Some(&ca), v4(ipb.octets(), 80)).is_err(),
            "br-a reached br-b"
        );
        assert!(
            request(Some(&cb), v4(ipa.octets(), 80)).is_err(),
            "br-b reached br-a"
        );
        assert_eq!(
            request(Some(&ca2), v4(ipa.octets(), 80)).unwrap(),
            "ca from 10.90.0.3"
        );
        assert_eq!(
            request(Some(&ca), v4(EXT_PEER.octets(), 9000)).unwrap(),
            "ext from 192.168.77.1"
        );
        assert_eq!(
            request(Some(&cb), v4(EXT_PEER.octets(), 9000)).unwrap(),
            "ext from 192.168.77.1"
        );
        // A published port is public, to other networks' containers too.
        assert_eq!(
            request(Some(&ca), v4(EXT_HOST.octets(), 8080)).unwrap(),
            "cb from 10.90.1.1"
        );
    });
}

#[test]
fn internal_network_has_no_way_out_or_in() {
    isolated("internal_network_has_no_way_out_or_in", || {
        let mut nl = host();
        let i = network(&mut nl, "br-i", "10.90.2.0/24", true);
        let o = network(&mut nl, "br-o", "10.90.3.0/24", false);
        let (ci, ipi) = container(&mut nl, &i, 2);
        let (cj, ipj) = container(&mut nl, &i, 3);
        let (co, _) = container(&mut nl, &o, 2);
        let ext = external(&mut nl);
        serve(&ext, v4(EXT_PEER.octets(), 9000), "ext");
        serve(&ci, v4(ipi.octets(), 80), "ci");
        assert_eq!(
            request(Some(&ci), v4(EXT_PEER.octets(), 9000)).unwrap(),
            "ext from 10.90.2.2",
            "routing works before"
        );

        Firewall {
            networks: vec![i, o],
            ports: vec![],
        }
        .apply()
        .unwrap();
        assert!(
            request(Some(&ci), v4(EXT_PEER.octets(), 9000)).is_err(),
            "internal network got out"
        );
        assert!(
            request(Some(&ext), v4(ipi.octets(), 80)).is_err(),
            "internal network reached from outside"
        );
        assert_eq!(
            request(Some(&cj), v4(ipi.octets(), 80)).unwrap(),
            "ci from 10.90.2.3"
        );
        // No masquerade for it either, and the other network is unaffected.
        assert!(!listing().contains("10.90.2.0/24 oifname != \"br-i\" masquerade"));
        assert_eq!(
            request(Some(&co), v4(EXT_PEER.octets(), 9000)).unwrap(),
            "ext from 192.168.77.1"
        );
        let _ = ipj;
    });
}

#[test]
fn reapply_replaces_and_teardown_removes_the_table() {
    isolated("reapply_replaces_and_teardown_removes_the_table", || {
        let mut nl = host();
        assert_eq!(nft::list().unwrap(), None);
        nft::teardown().unwrap(); // nothing there: fine
        let net = network(&mut nl, "berth0", "10.89.0.0/16", false);
        let (c1, ip1) = container(&mut nl, &net, 2);
        serve(&c1, v4(ip1.octets(), 80), "c1");
        let with_port = Firewall {
            networks: vec![net.clone()],
            ports: vec![port(None, 8080, ip1, 80, Proto::Tcp, "berth0")],
        };
        with_port.apply().unwrap();
        let first = listing();
        with_port.apply().unwrap();
        assert_eq!(listing(), first, "re-applying changes nothing");
        assert_eq!(
            first.matches("dnat ip to 10.89.0.2:80").count(),
            1,
            "{first}"
        );
        assert_eq!(
            request(None, v4([127, 0, 0, 1], 8080)).unwrap(),
            "c1 from 10.89.0.1"
        );

        // Dropping the port removes its rules, and the port closes.
        Firewall {
            networks: vec![net],
            ports: vec![],
        }
        .apply()
        .unwrap();
        let second = listing();
        assert!(!second.contains("dnat ip to"), "{second}");
        assert!(request(None, v4([127, 0, 0, 1], 8080)).is_err());

        // Another program's table is none of berth's business.
        let other = Command::new("nft")
            .args(["add", "table", "inet", "other"])
            .status()
            .unwrap();
        assert!(other.success());
        nft::teardown().unwrap();
        assert_eq!(nft::list().unwrap(), None);
        nft::teardown().unwrap();
        let rest = Command::new("nft")
            .args(["list", "tables"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&rest.stdout).trim(),
            "table inet other"
        );
    });
}

#[test]
fn apply_names_a_missing_bridge_and_a_missing_nft() {
    isolated("apply_names_a_missing_bridge_and_a_missing_nft", || {
        // The sysctl comes first and names the missing bridge.
        let fw = Firewall {
            networks: vec![],
            ports: vec![port(
                Some([127, 0, 0, 1]),
                1,
                Ipv4Addr::new(10, 89, 0, 2),
                1,
                Proto::Tcp,
                "nosuchbr",
            )],
        };
        let e = fw.apply().unwrap_err();
        assert!(
            e.to_string()
                .contains("/proc/sys/net/ipv4/conf/nosuchbr/route_localnet"),
            "{e}"
        );
    });
}
