//! The few IPv4 sysctls bridge networking needs, written through /proc/sys/net, which shows
//! the network namespace of the writing thread.

use std::path::PathBuf;

use crate::error::{NetworkError, Result};
use crate::link::check_name;

fn write(path: PathBuf, value: &'static str) -> Result<()> {
    std::fs::write(&path, value).map_err(|source| NetworkError::Sysctl {
        path,
        value,
        source,
    })
}

/// `net.ipv4.ip_forward=1`: without it the host routes nothing between bridges and the
/// outside. Host-wide (for this namespace), so the caller decides when.
pub fn enable_ip_forward() -> Result<()> {
    write(PathBuf::from("/proc/sys/net/ipv4/ip_forward"), "1")
}

/// `net.ipv4.conf.<link>.route_localnet=1`: lets packets with a 127.0.0.0/8 source or
/// destination be routed out of `link`. Needed for a port published on 127.0.0.1: the
/// DNAT'd packet still has source 127.0.0.1 when it is routed to the bridge (the masquerade
/// that fixes the source comes after routing).
pub fn enable_route_localnet(link: &str) -> Result<()> {
    check_name(link)?;
    write(
        PathBuf::from(format!("/proc/sys/net/ipv4/conf/{link}/route_localnet")),
        "1",
    )
}

/// Reads a sysctl under /proc/sys/net/ipv4 (`ip_forward`, `conf/berth0/route_localnet`).
pub fn read_ipv4(name: &str) -> Result<String> {
    let path = PathBuf::from(format!("/proc/sys/net/ipv4/{name}"));
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(|source| NetworkError::Open { path, source })
}
