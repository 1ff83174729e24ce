//! Published ports: Docker's `-p` grammar, and picking host ports for a starting container
//! in the same transaction that records them, so that two containers can never be given
//! the same one.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};

/// One published port (`HostConfig.PortBindings`). A host port of 0 is picked at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// "" for every address of the host.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// "tcp" or "udp".
    pub proto: String,
}

/// A port a running container has published, as recorded (the `ports` table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: String,
    pub container_ip: String,
    pub network: String,
}

/// Where ephemeral host ports come from: the kernel's default local port range, as Docker
/// takes them.
const EPHEMERAL: std::ops::RangeInclusive<u16> = 32768..=60999;

fn bad(spec: &str, why: &str) -> EngineError {
    EngineError::Invalid(format!("invalid port spec {spec:?}: {why}"))
}

/// `80`, `80-82`: one port or an inclusive range, never 0.
fn port_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let one = |p: &str| -> Result<u16> {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(spec, &format!("invalid port {p:?}")));
        }
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(bad(spec, &format!("port {p} is out of range 1-65535"))),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(spec, &format!("invalid range {s}")));
            }
            Ok((a, b))
        }
        None => {
            let p = one(s)?;
            Ok((p, p))
        }
    }
}

/// Parses one `-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` into its bindings (several for a
/// range). A missing host port is 0: picked at start.
pub fn parse_publish(spec: &str) -> Result<Vec<PortBinding>> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp") {
        return Err(bad(spec, &format!("invalid proto {proto:?} (tcp or udp)")));
    }
    // The host address may be an IPv6 one in brackets, which berth doesn't serve yet.
    if rest.starts_with('[') {
        return Err(bad(spec, "IPv6 host addresses are not supported yet"));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, ctr) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        _ => return Err(bad(spec, "too many colons")),
    };
    let host_ip = if ip.is_empty() || ip == "0.0.0.0" {
        String::new()
    } else {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| bad(spec, &format!("invalid IP address {ip:?}")))?
            .to_string()
    };
    let (c0, c1) = port_range(spec, ctr)?;
    let (h0, h1) = if host.is_empty() {
        (0, 0)
    } else {
        port_range(spec, host)?
    };
    let n = c1 - c0;
    if host.is_empty() || (h0 == h1 && n == 0) {
        return Ok((c0..=c1)
            .map(|c| PortBinding {
                host_ip: host_ip.clone(),
                host_port: h0,
                container_port: c,
                proto: proto.clone(),
            })
            .collect());
    }
    if h1 - h0 != n {
        return Err(bad(
            spec,
            "host and container port ranges must be the same size",
        ));
    }
    Ok((0..=n)
        .map(|i| PortBinding {
            host_ip: host_ip.clone(),
            host_port: h0 + i,
            container_port: c0 + i,
            proto: proto.clone(),
        })
        .collect())
}

/// `80/tcp` (an `ExposedPorts` key) as a port and protocol.
pub fn parse_exposed(key: &str) -> Option<(u16, String)> {
    let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let p: u16 = p.parse().ok().filter(|p| *p != 0)?;
    Some((p, proto.to_ascii_lowercase()))
}

/// Whether two host addresses claim the same port: "" is every address.
fn clash(a: &str, b: &str) -> bool {
    a.is_empty() || b.is_empty() || a == b
}

/// Records `bindings` for `container` (at `container_ip` on `network`) in the caller's write
/// transaction, picking free host ports for those that have none. A port another container
/// has gets Docker's message, and nothing is recorded (the caller rolls back).
pub fn publish(
    tx: &rusqlite::Transaction<'_>,
    container: &str,
    network: &str,
    container_ip: Ipv4Addr,
    bindings: &[PortBinding],
) -> Result<Vec<Published>> {
    let db = |e| {
        EngineError::Db(berth_image::db::DbError {
            path: "ports".into(),
            source: e,
        })
    };
    let mut taken: Vec<(String, u16, String)> = {
        let mut st = tx
            .prepare_cached("SELECT host_ip, host_port, proto FROM ports")
            .map_err(db)?;
        let rows = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(db)?;
        rows.collect::<rusqlite::Result<_>>().map_err(db)?
    };
    let mut out = Vec::new();
    // Ephemeral ports start at a spot that differs per container, so that concurrent
    // starts don't all try the same ones first.
    let span = (EPHEMERAL.end() - EPHEMERAL.start()) as u32 + 1;
    let seed = container
        .bytes()
        .take(8)
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(b as u32));
    for b in bindings {
        let used = |port: u16, taken: &[(String, u16, String)]| {
            taken
                .iter()
                .any(|(ip, p, pr)| *p == port && *pr == b.proto && clash(ip, &b.host_ip))
        };
        let port = if b.host_port != 0 {
            if used(b.host_port, &taken) {
                let ip = if b.host_ip.is_empty() {
                    "0.0.0.0"
                } else {
                    &b.host_ip
                };
                return Err(EngineError::Conflict(format!(
                    "Bind for {ip}:{} failed: port is already allocated",
                    b.host_port
                )));
            }
            b.host_port
        } else {
            (0..span)
                .map(|i| EPHEMERAL.start() + ((seed + i) % span) as u16)
                .find(|p| !used(*p, &taken) && host_port_free(&b.host_ip, *p, &b.proto))
                .ok_or_else(|| {
                    EngineError::Conflict("no free host port left to publish on".into())
                })?
        };
        tx.prepare_cached(
            "INSERT INTO ports (host_ip, host_port, proto, container, network, container_ip, container_port) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut st| {
            st.execute(rusqlite::params![
                b.host_ip,
                port,
                b.proto,
                container,
                network,
                container_ip.to_string(),
                b.container_port
            ])
        })
        .map_err(db)?;
        taken.push((b.host_ip.clone(), port, b.proto.clone()));
        out.push(Published {
            host_ip: b.host_ip.clone(),
            host_port: port,
            container_port: b.container_port,
            proto: b.proto.clone(),
            container_ip: container_ip.to_string(),
            network: network.to_string(),
        });
    }
    Ok(out)
}

/// Whether no program of the host listens on the port: an ephemeral port is never one
/// that something else already serves.
fn host_port_free(ip: &str, port: u16, proto: &str) -> bool {
    let addr: Ipv4Addr = ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let sa = std::net::SocketAddrV4::new(addr, port);
    match proto {
        "udp" => std::net::UdpSocket::bind(sa).is_ok(),
        _ => std::net::TcpListener::bind(sa).is_ok(),
    }
}

/// Deletes a container's published ports; returns whether it had any.
pub fn unpublish(tx: &rusqlite::Transaction<'_>, container: &str) -> Result<bool> {
    let n = tx
        .prepare_cached("DELETE FROM ports WHERE container = ?1")
        .and_then(|mut st| st.execute([container]))
        .map_err(|e| {
            EngineError::Db(berth_image::db::DbError {
                path: "ports".into(),
                source: e,
            })
        })?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ip: &str, h: u16, c: u16, p: &str) -> PortBinding {
        PortBinding {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            proto: p.into(),
        }
    }

    #[test]
    fn dockers_publish_forms() {
        assert_eq!(parse_publish("80").unwrap(), vec![b("", 0, 80, "tcp")]);
        assert_eq!(
            parse_publish("8080:80").unwrap(),
            vec![b("", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").unwrap(),
            vec![b("127.0.0.1", 8080, 80, "udp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").unwrap(),
            vec![b("127.0.0.1", 0, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("0.0.0.0:8080:80").unwrap(),
            vec![b("", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("8000-8001:80-81").unwrap(),
            vec![b("", 8000, 80, "tcp"), b("", 8001, 81, "tcp")]
        );
        assert_eq!(
            parse_publish("80-81").unwrap(),
            vec![b("", 0, 80, "tcp"), b("", 0, 81, "tcp")]
        );
        for bad in [
            "",
            "0",
            "65536",
            "x",
            "80/sctp",
            "1.2.3:80:80",
            "a:b:c:d",
            "8000-8002:80-81",
            "90-80",
            "[::1]:80:80",
            "80:",
        ] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn publish_specs_never_panic(s in "\\PC{0,40}") {
            let _ = parse_publish(&s);
        }

        #[test]
        fn parsed_ports_are_valid(h in 1u16..=65535, c in 1u16..=65535, udp: bool) {
            let proto = if udp { "udp" } else { "tcp" };
            let v = parse_publish(&format!("{h}:{c}/{proto}")).unwrap();
            proptest::prop_assert_eq!(v, vec![b("", h, c, proto)]);
        }
    }
}
