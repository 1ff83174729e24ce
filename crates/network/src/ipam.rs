//! IPv4 address management: subnets, gateways, ranges and allocation. Pure logic; the
//! caller owns the record of what is in use (containers, host routes) and passes it in.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::error::{NetworkError, Result};

/// berth's default bridge. Docker's is 172.17.0.0/16 (its pools 172.17-31.0.0/16 and
/// 192.168.0.0/16); podman's is 10.88.0.0/16 and its `network create` pools cover 10.89.0.0
/// to 10.255.255.255. A host that runs either alongside berth must not see two bridges
/// claim one subnet, so berth stays below 10.88.
pub const DEFAULT_BRIDGE_NAME: &str = "berth0";
pub const DEFAULT_BRIDGE_SUBNET: Subnet = Subnet {
    addr: Ipv4Addr::new(10, 66, 0, 0),
    prefix: 16,
};

/// Where user networks come from when `--subnet` is not given: 10.67.0.0 to 10.87.255.255
/// in /24 steps (5376 networks), clear of Docker's and podman's pools and of berth0.
pub const DEFAULT_POOLS: &[Pool] = &[
    Pool {
        base: Subnet {
            addr: Ipv4Addr::new(10, 67, 0, 0),
            prefix: 16,
        },
        size: 24,
    },
    Pool {
        base: Subnet {
            addr: Ipv4Addr::new(10, 68, 0, 0),
            prefix: 14,
        },
        size: 24,
    },
    Pool {
        base: Subnet {
            addr: Ipv4Addr::new(10, 72, 0, 0),
            prefix: 13,
        },
        size: 24,
    },
    Pool {
        base: Subnet {
            addr: Ipv4Addr::new(10, 80, 0, 0),
            prefix: 13,
        },
        size: 24,
    },
];

/// An IPv4 network: an address with no host bits set, and a prefix length of 0 to 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    addr: Ipv4Addr,
    prefix: u8,
}

/// A block of address space cut into subnets of `size` bits of prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    pub base: Subnet,
    pub size: u8,
}

impl Subnet {
    /// `addr` must have no host bits set for `prefix`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self> {
        if prefix > 32 {
            return Err(NetworkError::InvalidCidr {
                value: format!("{addr}/{prefix}"),
            });
        }
        let masked = Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        };
        if masked.addr != addr {
            return Err(NetworkError::InvalidSubnet {
                value: format!("{addr}/{prefix}"),
                expected: masked,
            });
        }
        Ok(masked)
    }

    /// Parses `10.89.0.0/24`. A bare address, a prefix above 32 or anything that is not
    /// dotted-quad/decimal is an invalid CIDR; host bits set is an invalid subnet, as
    /// `docker network create --subnet` says.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || NetworkError::InvalidCidr {
            value: s.to_string(),
        };
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        // u8's parser takes a leading '+' and zeros; a canonical CIDR has neither, and a
        // subnet must print back as it was written.
        let canonical = matches!(prefix.len(), 1 | 2)
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && !(prefix.len() == 2 && prefix.starts_with('0'));
        if !canonical {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Subnet::new(addr, prefix)
    }

    /// The subnet of length `prefix` that holds `ip`: `10.89.0.1`, 16 gives `10.89.0.0/16`.
    pub fn containing(ip: Ipv4Addr, prefix: u8) -> Result<Self> {
        if prefix > 32 {
            return Err(NetworkError::InvalidCidr {
                value: format!("{ip}/{prefix}"),
            });
        }
        Ok(Subnet {
            addr: Ipv4Addr::from(u32::from(ip) & mask(prefix)),
            prefix,
        })
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(mask(self.prefix))
    }

    /// The broadcast address (the last of the subnet).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.last_u32())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    /// Whether `other` lies wholly inside this subnet.
    pub fn contains_subnet(&self, other: &Subnet) -> bool {
        other.prefix >= self.prefix && self.contains(other.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// Number of addresses, network and broadcast included.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// The first address after the network address: Docker's default gateway. None for /31
    /// and /32, which have no room for a gateway and a container.
    pub fn first_host(&self) -> Option<Ipv4Addr> {
        (self.prefix <= 30).then(|| Ipv4Addr::from(u32::from(self.addr) + 1))
    }

    fn last_u32(&self) -> u32 {
        u32::from(self.addr) | !mask(self.prefix)
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = NetworkError;
    fn from_str(s: &str) -> Result<Self> {
        Subnet::parse(s)
    }
}

/// Error when `new` overlaps any of `existing`, with Docker's message.
pub fn check_overlap(new: &Subnet, existing: &[Subnet]) -> Result<()> {
    match existing.iter().find(|e| e.overlaps(new)) {
        Some(e) => Err(NetworkError::PoolOverlap {
            new: *new,
            existing: *e,
        }),
        None => Ok(()),
    }
}

/// The gateway of a network: `requested` after checking it is a host address of `subnet`,
/// otherwise the subnet's first host address.
pub fn gateway(subnet: &Subnet, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    let Some(gw) = requested else {
        return subnet.first_host().ok_or(NetworkError::InvalidGateway {
            gateway: subnet.addr,
            subnet: *subnet,
            reason: "the subnet has no room for a gateway and a container",
        });
    };
    let reason = if !subnet.contains(gw) {
        Some("not in the subnet")
    } else if subnet.prefix > 30 {
        Some("the subnet has no room for a gateway and a container")
    } else if gw == subnet.addr {
        Some("it is the network address")
    } else if gw == subnet.broadcast() {
        Some("it is the broadcast address")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetworkError::InvalidGateway {
            gateway: gw,
            subnet: *subnet,
            reason,
        }),
        None => Ok(gw),
    }
}

/// Checks an `--ip-range`: it must lie inside the subnet.
pub fn check_range(subnet: &Subnet, range: &Subnet) -> Result<()> {
    if subnet.contains_subnet(range) {
        Ok(())
    } else {
        Err(NetworkError::InvalidRange {
            range: *range,
            subnet: *subnet,
        })
    }
}

/// Why `ip` can never be a container's address in `subnet` with this gateway, if so.
fn reserved(subnet: &Subnet, gateway: Ipv4Addr, ip: Ipv4Addr) -> Option<&'static str> {
    if !subnet.contains(ip) {
        Some("not in the subnet")
    } else if ip == subnet.addr {
        Some("it is the network address")
    } else if ip == subnet.broadcast() {
        Some("it is the broadcast address")
    } else if ip == gateway {
        Some("it is the gateway")
    } else {
        None
    }
}

/// Checks a requested `--ip`: a host address of the subnet, not the gateway, not in use.
pub fn check_requested(
    subnet: &Subnet,
    gateway: Ipv4Addr,
    ip: Ipv4Addr,
    used: impl Fn(Ipv4Addr) -> bool,
) -> Result<()> {
    if let Some(reason) = reserved(subnet, gateway, ip) {
        return Err(NetworkError::InvalidAddress {
            ip,
            subnet: *subnet,
            reason,
        });
    }
    if used(ip) {
        return Err(NetworkError::AddressInUse { ip });
    }
    Ok(())
}

/// The next free address of `range` (the whole subnet if None): never the subnet's network
/// or broadcast address, never the gateway, never one `used` says is taken. The search
/// starts after `last` (the previous allocation) when it lies in the range and wraps
/// around, so a released address is not handed out again at once, as Docker does.
pub fn allocate(
    subnet: &Subnet,
    range: Option<&Subnet>,
    gateway: Ipv4Addr,
    last: Option<Ipv4Addr>,
    used: impl Fn(Ipv4Addr) -> bool,
) -> Result<Ipv4Addr> {
    let range = match range {
        Some(r) => {
            check_range(subnet, r)?;
            *r
        }
        None => *subnet,
    };
    let first = u64::from(u32::from(range.addr));
    let size = range.size();
    let start = match last {
        Some(l) if range.contains(l) => (u64::from(u32::from(l)) - first + 1) % size,
        _ => 0,
    };
    for i in 0..size {
        let offset = (start + i) % size;
        // first + offset stays within the range, which is within u32.
        let ip = Ipv4Addr::from((first + offset) as u32);
        if reserved(subnet, gateway, ip).is_none() && !used(ip) {
            return Ok(ip);
        }
    }
    Err(NetworkError::PoolExhausted { pool: range })
}

/// The first subnet of `pools` that overlaps none of `in_use` (the host's routes and
/// addresses, and the other networks berth knows).
pub fn choose_subnet(pools: &[Pool], in_use: &[Subnet]) -> Result<Subnet> {
    for pool in pools {
        if pool.size < pool.base.prefix || pool.size > 32 {
            continue;
        }
        let step = 1u64 << (32 - u32::from(pool.size));
        let mut at = u64::from(u32::from(pool.base.addr));
        let end = at + pool.base.size();
        while at < end {
            // at < end <= 2^32 and is aligned on the pool's size.
            let candidate = Subnet {
                addr: Ipv4Addr::from(at as u32),
                prefix: pool.size,
            };
            match in_use.iter().find(|u| u.overlaps(&candidate)) {
                None => return Ok(candidate),
                // Skip the whole of a larger blocker at once.
                Some(u) => at = (u64::from(u.last_u32()) + 1).max(at + step),
            }
            at = at.next_multiple_of(step);
        }
    }
    Err(NetworkError::NoFreeSubnet {
        pools: pools
            .iter()
            .map(|p| format!("{}/{}", p.base, p.size))
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A container's MAC address from its IPv4 address, as Docker makes them: the locally
/// administered prefix 02:42 and the four octets, so neighbours can tell them apart.
pub fn mac_from_ip(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// `02:42:0a:59:00:02`.
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn s(x: &str) -> Subnet {
        Subnet::parse(x).unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(s("10.89.0.0/24").to_string(), "10.89.0.0/24");
        assert_eq!(s("0.0.0.0/0").size(), 1 << 32);
        assert_eq!(
            s("10.89.0.0/16").broadcast(),
            Ipv4Addr::new(10, 89, 255, 255)
        );
        assert_eq!(s("10.89.0.0/16").netmask(), Ipv4Addr::new(255, 255, 0, 0));
        for bad in [
            "",
            "10.89.0.0",
            "10.89.0.0/",
            "10.89.0.0/33",
            "10.89.0/24",
            "x/8",
            "10.89.0.0/+8",
            "10.89.0.0/008",
            "10.89.0.0/08",
        ] {
            let e = Subnet::parse(bad).unwrap_err();
            assert_eq!(e.to_string(), format!("invalid CIDR address: {bad}"));
        }
    }

    #[test]
    fn host_bits_are_docker_invalid_subnet() {
        let e = Subnet::parse("10.89.0.1/24").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid subnet 10.89.0.1/24 : it should be 10.89.0.0/24"
        );
    }

    #[test]
    fn overlap_uses_dockers_message() {
        let e =
            check_overlap(&s("10.89.3.0/24"), &[s("10.1.0.0/16"), s("10.89.0.0/16")]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Pool overlaps with other one on this address space"));
        assert!(e.to_string().contains("10.89.0.0/16"), "{e}");
        check_overlap(&s("10.90.0.0/24"), &[s("10.89.0.0/16")]).unwrap();
    }

    #[test]
    fn gateway_defaults_and_checks() {
        let n = s("10.89.0.0/24");
        assert_eq!(gateway(&n, None).unwrap(), Ipv4Addr::new(10, 89, 0, 1));
        assert_eq!(
            gateway(&n, Some(Ipv4Addr::new(10, 89, 0, 254))).unwrap(),
            Ipv4Addr::new(10, 89, 0, 254)
        );
        for bad in [[10, 89, 0, 0], [10, 89, 0, 255], [10, 89, 1, 1]] {
            let e = gateway(&n, Some(Ipv4Addr::from(bad))).unwrap_err();
            assert!(
                e.to_string().contains(&Ipv4Addr::from(bad).to_string()),
                "{e}"
            );
        }
        assert!(gateway(&s("10.89.0.0/31"), None).is_err());
    }

    #[test]
    fn range_must_be_inside() {
        check_range(&s("10.89.0.0/16"), &s("10.89.4.0/24")).unwrap();
        check_range(&s("10.89.0.0/16"), &s("10.89.0.0/16")).unwrap();
        assert!(check_range(&s("10.89.0.0/16"), &s("10.88.0.0/15")).is_err());
        assert!(check_range(&s("10.89.0.0/24"), &s("10.90.0.0/24")).is_err());
    }

    #[test]
    fn allocates_in_order_and_wraps() {
        let n = s("10.89.0.0/29");
        let gw = gateway(&n, None).unwrap();
        let mut used = HashSet::new();
        let mut got = vec![];
        let mut last = None;
        loop {
            match allocate(&n, None, gw, last, |ip| used.contains(&ip)) {
                Ok(ip) => {
                    used.insert(ip);
                    got.push(ip.octets()[3]);
                    last = Some(ip);
                }
                Err(e) => {
                    assert_eq!(e.to_string(), "no available IPv4 addresses in 10.89.0.0/29");
                    break;
                }
            }
        }
        assert_eq!(got, [2, 3, 4, 5, 6]);
        // Release .3; the next allocation after .6 wraps around to it.
        used.remove(&Ipv4Addr::new(10, 89, 0, 3));
        let ip = allocate(&n, None, gw, last, |ip| used.contains(&ip)).unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 89, 0, 3));
        // The search starts after the hint: from .3 on, .4 is taken and .5 is free.
        let ip = allocate(&n, None, gw, Some(Ipv4Addr::new(10, 89, 0, 3)), |ip| {
            ip != Ipv4Addr::new(10, 89, 0, 5)
        })
        .unwrap();
        assert_eq!(ip, Ipv4Addr::new(10, 89, 0, 5));
    }

    #[test]
    fn allocates_from_the_range_only() {
        let n = s("10.89.0.0/16");
        let gw = gateway(&n, None).unwrap();
        let r = s("10.89.5.0/30");
        let ip = allocate(&n, Some(&r), gw, None, |_| false).unwrap();
        // 10.89.5.0 is not the subnet's network address, so it is a valid host.
        assert_eq!(ip, Ipv4Addr::new(10, 89, 5, 0));
        let e = allocate(&n, Some(&r), gw, None, |ip| r.contains(ip)).unwrap_err();
        assert!(e.to_string().contains("10.89.5.0/30"), "{e}");
        assert!(allocate(&n, Some(&s("10.1.0.0/24")), gw, None, |_| false).is_err());
    }

    #[test]
    fn requested_ip_checks() {
        let n = s("10.89.0.0/24");
        let gw = Ipv4Addr::new(10, 89, 0, 1);
        check_requested(&n, gw, Ipv4Addr::new(10, 89, 0, 9), |_| false).unwrap();
        for (ip, why) in [
            ([10, 89, 0, 1], "gateway"),
            ([10, 89, 0, 0], "network address"),
            ([10, 89, 0, 255], "broadcast"),
            ([10, 89, 1, 2], "not in the subnet"),
        ] {
            let e = check_requested(&n, gw, Ipv4Addr::from(ip), |_| false).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        let e = check_requested(&n, gw, Ipv4Addr::new(10, 89, 0, 9), |_| true).unwrap_err();
        assert_eq!(e.to_string(), "Address already in use: 10.89.0.9");
    }

    #[test]
    fn chooses_free_subnets() {
        assert_eq!(
            choose_subnet(DEFAULT_POOLS, &[]).unwrap(),
            s("10.67.0.0/24")
        );
        let used = [s("10.67.0.0/24"), s("10.67.1.0/24"), s("10.67.3.0/24")];
        assert_eq!(
            choose_subnet(DEFAULT_POOLS, &used).unwrap(),
            s("10.67.2.0/24")
        );
        assert_eq!(
            choose_subnet(DEFAULT_POOLS, &[s("10.67.0.0/16")]).unwrap(),
            s("10.68.0.0/24")
        );
        assert_eq!(choose_subnet(DEFAULT_POOLS, &[s("10.0.0.0/8")]).unwrap_err().to_string(),
            "could not find an available, non-overlapping IPv4 address pool among the defaults (10.67.0.0/16/24, 10.68.0.0/14/24, 10.72.0.0/13/24, 10.80.0.0/13/24) to assign to the network");
        for p in DEFAULT_POOLS {
            assert!(!p.base.overlaps(&DEFAULT_BRIDGE_SUBNET));
            assert!(!p.base.overlaps(&s("172.17.0.0/16")));
            assert!(!p.base.overlaps(&s("10.88.0.0/16")));
        }
        assert!(!DEFAULT_BRIDGE_SUBNET.overlaps(&s("172.17.0.0/16")));
        assert!(!DEFAULT_BRIDGE_SUBNET.overlaps(&s("10.88.0.0/16")));
        for p in DEFAULT_POOLS {
            // podman's network create pools start at 10.89.0.0.
            assert!(!p.base.overlaps(&s("10.89.0.0/16")));
            assert!(!p.base.overlaps(&s("10.128.0.0/9")));
            assert!(!p.base.overlaps(&s("10.88.0.0/16")));
        }
    }

    #[test]
    fn macs_like_docker() {
        let mac = mac_from_ip(Ipv4Addr::new(172, 17, 0, 2));
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
    }

    proptest! {
        #[test]
        fn parse_never_panics(x in ".*") {
            let _ = Subnet::parse(&x);
        }

        #[test]
        fn parse_never_panics_on_near_cidrs(a: u8, b: u8, c: u8, d: u8, p in 0u32..300, junk in "[0-9/.+ -]{0,4}") {
            let text = format!("{a}.{b}.{c}.{d}/{p}{junk}");
            if let Ok(n) = Subnet::parse(&text) {
                prop_assert_eq!(n.to_string(), text);
            }
        }

        #[test]
        fn allocate_never_hands_out_reserved_or_used(
            addr: u32, prefix in 22u8..=30, seed in proptest::collection::vec(any::<u32>(), 0..40),
            gw_off: u32, hint: Option<u32>, take in 1usize..300,
        ) {
            let n = Subnet::new(Ipv4Addr::from(addr & mask(prefix)), prefix).unwrap();
            let base = u32::from(n.addr());
            let host_count = (n.size() - 2) as u32;
            let gw = Ipv4Addr::from(base + 1 + gw_off % host_count);
            let mut used: HashSet<Ipv4Addr> =
                seed.iter().map(|x| Ipv4Addr::from(base + x % n.size() as u32)).collect();
            let mut last = hint.map(|h| Ipv4Addr::from(base + h % n.size() as u32));
            let mut handed = HashSet::new();
            for _ in 0..take {
                match allocate(&n, None, gw, last, |ip| used.contains(&ip)) {
                    Ok(ip) => {
                        prop_assert!(n.contains(ip));
                        prop_assert!(ip != n.addr() && ip != n.broadcast() && ip != gw);
                        prop_assert!(!used.contains(&ip));
                        prop_assert!(handed.insert(ip), "{} handed out twice", ip);
                        used.insert(ip);
                        last = Some(ip);
                    }
                    Err(_) => {
                        // Exhausted only when every host address is taken.
                        let free = (1..n.size() - 1)
                            .map(|o| Ipv4Addr::from(base + o as u32))
                            .filter(|ip| *ip != gw && !used.contains(ip))
                            .count();
                        prop_assert_eq!(free, 0);
                        break;
                    }
                }
            }
        }
    }
}
