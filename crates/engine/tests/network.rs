//! IPAM leases in the database: no kernel involved (only the `endpoints` table), so these
//! run anywhere.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use berth_engine::network::{self, EndpointRow, Network};
use berth_engine::Engine;

fn net(subnet: &str, gateway: &str, range: Option<&str>) -> Network {
    Network {
        id: "a".repeat(64),
        name: "leasy".into(),
        driver: "bridge".into(),
        bridge: "br-aaaaaaaaaaaa".into(),
        subnet: subnet.into(),
        gateway: gateway.into(),
        ip_range: range.map(String::from),
        ..Network::default()
    }
}

fn lease(
    e: &mut Engine,
    n: &Network,
    container: &str,
    ip: Option<Ipv4Addr>,
) -> berth_engine::Result<EndpointRow> {
    e.store
        .db
        .write(|tx| network::lease(tx, n, container, ip, &[]))
}

#[test]
fn leases_never_collide_and_exhaust_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(dir.path()).unwrap();
    let n = net("10.70.0.0/26", "10.70.0.1", None);
    let mut seen = HashSet::new();
    for i in 0..50 {
        let row = lease(&mut e, &n, &format!("c{i}"), None).unwrap();
        assert!(row.ip != Ipv4Addr::new(10, 70, 0, 1), "the gateway");
        assert!(seen.insert(row.ip), "{} handed out twice", row.ip);
        assert_eq!(
            row.mac,
            berth_engine::berth_network::ipam::format_mac(
                &berth_engine::berth_network::ipam::mac_from_ip(row.ip)
            )
        );
        assert_eq!(row.endpoint.len(), 64);
    }
    // 62 hosts, one the gateway: 11 more, then none.
    for i in 50..61 {
        assert!(seen.insert(lease(&mut e, &n, &format!("c{i}"), None).unwrap().ip));
    }
    let err = lease(&mut e, &n, "late", None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no available IPv4 addresses in 10.70.0.0/26"
    );
    // Release frees, and only that container's address.
    let freed = e.store.db.write(|tx| network::release(tx, "c7")).unwrap();
    assert_eq!(freed.len(), 1);
    let again = lease(&mut e, &n, "late", None).unwrap();
    assert_eq!(again.ip, freed[0].ip);
    assert!(e
        .store
        .db
        .write(|tx| network::release(tx, "nobody"))
        .unwrap()
        .is_empty());
}

#[test]
fn requested_addresses_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(dir.path()).unwrap();
    let n = net("10.71.0.0/24", "10.71.0.254", Some("10.71.0.128/30"));
    let a = lease(&mut e, &n, "one", Some(Ipv4Addr::new(10, 71, 0, 9))).unwrap();
    assert_eq!(a.ip, Ipv4Addr::new(10, 71, 0, 9));
    let err = lease(&mut e, &n, "two", Some(Ipv4Addr::new(10, 71, 0, 9))).unwrap_err();
    assert_eq!(err.to_string(), "Address already in use: 10.71.0.9");
    assert_eq!(err.kind(), berth_engine::Kind::Conflict);
    let err = lease(&mut e, &n, "two", Some(Ipv4Addr::new(10, 71, 0, 254))).unwrap_err();
    assert!(err.to_string().contains("it is the gateway"), "{err}");
    // Allocation stays inside --ip-range.
    let got: Vec<Ipv4Addr> = (0..4)
        .map(|i| lease(&mut e, &n, &format!("r{i}"), None).unwrap().ip)
        .collect();
    assert_eq!(
        got,
        [128, 129, 130, 131].map(|o| Ipv4Addr::new(10, 71, 0, o))
    );
    assert!(lease(&mut e, &n, "r5", None).is_err());
    // Host and none have no addresses.
    let host = Network {
        driver: "host".into(),
        bridge: String::new(),
        ..net("", "", None)
    };
    assert!(lease(&mut e, &host, "h", None).is_err());
}

/// Two processes' worth of engines leasing at once on one network never share an address.
#[test]
fn concurrent_leases_are_distinct() {
    let dir = tempfile::tempdir().unwrap();
    // Create the database first.
    drop(Engine::open(dir.path()).unwrap());
    let n = net("10.72.0.0/24", "10.72.0.1", None);
    let ips: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let n = n.clone();
                let root = dir.path().to_path_buf();
                s.spawn(move || {
                    let mut e = Engine::open(&root).unwrap();
                    (0..20)
                        .map(|i| lease(&mut e, &n, &format!("w{w}-{i}"), None).unwrap().ip)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let unique: HashSet<_> = ips.iter().collect();
    assert_eq!(unique.len(), 80);
}

#[test]
fn predefined_records_are_made_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(dir.path()).unwrap();
    let first = e.network_list().unwrap();
    assert_eq!(
        first.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["bridge", "host", "none"]
    );
    assert!(first.iter().all(|n| n.predefined));
    let mut other = Engine::open(dir.path()).unwrap();
    assert_eq!(other.network_list().unwrap(), first);
    let b = e.network_find(&first[0].id[..10]).unwrap();
    assert_eq!(b.name, "bridge");
    let err = e.network_find("nosuch").unwrap_err();
    assert_eq!(err.to_string(), "network nosuch not found");
    assert_eq!(err.kind(), berth_engine::Kind::NotFound);
    let err = e.network_remove("host").unwrap_err();
    assert_eq!(
        err.to_string(),
        "host is a pre-defined network and cannot be removed"
    );
    // The firewall of a fresh store: berth0 alone, no ports.
    let fw = network::firewall(&e.store).unwrap();
    assert_eq!(fw.networks.len(), 1);
    assert_eq!(fw.networks[0].bridge, "berth0");
    assert!(fw.ports.is_empty());
    let v = network::inspect_json(&b, &e.network_endpoints(&b.id).unwrap());
    assert_eq!(v["Name"], "bridge");
}

/// Published ports (written by the container side) join the firewall on their network's
/// bridge; a row naming no bridge network is left out.
#[test]
fn firewall_includes_published_ports() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = Engine::open(dir.path()).unwrap();
    let bridge = e.network_find("bridge").unwrap();
    let host = e.network_find("host").unwrap();
    e.store
        .db
        .write(|tx| -> berth_engine::Result<()> {
            for (host_ip, port, proto, net) in [
                ("", 8080, "tcp", &bridge.id),
                ("127.0.0.1", 5353, "udp", &bridge.id),
                ("", 9090, "tcp", &host.id),
            ] {
                tx.execute(
                    "INSERT INTO ports (host_ip, host_port, proto, container, network,
                     container_ip, container_port) VALUES (?1, ?2, ?3, 'c', ?4, '10.66.0.2', 80)",
                    rusqlite::params![host_ip, port, proto, net],
                )
                .unwrap();
            }
            Ok(())
        })
        .unwrap();
    let fw = network::firewall(&e.store).unwrap();
    assert_eq!(fw.ports.len(), 2, "{fw:?}");
    let p = &fw.ports[0];
    assert_eq!(p.host_ip, None);
    assert_eq!(p.host_port, 8080);
    assert_eq!(p.bridge, "berth0");
    assert_eq!(p.container_ip, Ipv4Addr::new(10, 66, 0, 2));
    assert_eq!(fw.ports[1].host_ip, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(
        fw.ports[1].proto,
        berth_engine::berth_network::nft::Proto::Udp
    );
}
