use std::io;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use crate::ipam::Subnet;

/// Everything that can go wrong in berth-network. Each message names the value, path or
/// interface at fault, so the caller can print it as is.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid CIDR address: {value}")]
    InvalidCidr { value: String },
    /// Docker's wording: the subnet has host bits set.
    #[error("invalid subnet {value} : it should be {expected}")]
    InvalidSubnet { value: String, expected: Subnet },
    #[error("invalid gateway {gateway} for subnet {subnet}: {reason}")]
    InvalidGateway {
        gateway: Ipv4Addr,
        subnet: Subnet,
        reason: &'static str,
    },
    #[error("invalid ip range {range}: it must be inside subnet {subnet}")]
    InvalidRange { range: Subnet, subnet: Subnet },
    /// Docker's wording, with the two pools appended.
    #[error("Pool overlaps with other one on this address space ({new} overlaps {existing})")]
    PoolOverlap { new: Subnet, existing: Subnet },
    #[error("no available IPv4 addresses in {pool}")]
    PoolExhausted { pool: Subnet },
    #[error("invalid address {ip} for subnet {subnet}: {reason}")]
    InvalidAddress {
        ip: Ipv4Addr,
        subnet: Subnet,
        reason: &'static str,
    },
    #[error("Address already in use: {ip}")]
    AddressInUse { ip: Ipv4Addr },
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults ({pools}) to assign to the network")]
    NoFreeSubnet { pools: String },

    #[error("invalid interface name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("netlink socket: {0}")]
    NetlinkSocket(#[source] io::Error),
    #[error("{op} {name}: {source}")]
    Netlink {
        op: &'static str,
        name: String,
        #[source]
        source: io::Error,
    },
    #[error("{op} {name}: malformed netlink reply: {reason}")]
    NetlinkDecode {
        op: &'static str,
        name: String,
        reason: String,
    },
    #[error("link {name} not found")]
    LinkNotFound { name: String },
    #[error("link {name} exists and is not a bridge (kind {kind})")]
    NotABridge { name: String, kind: String },

    #[error("open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("write {value:?} to {path}: {source}")]
    Sysctl {
        path: PathBuf,
        value: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("enter network namespace (fd {fd}): {source}")]
    Setns {
        fd: i32,
        #[source]
        source: io::Error,
    },
    #[error("create a network namespace: {source}")]
    Unshare {
        #[source]
        source: io::Error,
    },

    #[error("invalid port mapping {mapping}: {reason}")]
    InvalidPort {
        mapping: String,
        reason: &'static str,
    },
    #[error("run {program}: {source}")]
    NftSpawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("nft rejected the ruleset of table {table} ({status}): {stderr}")]
    NftFailed {
        table: String,
        status: String,
        stderr: String,
    },

    #[error("binding the name server to {addr} ({proto}): {source}")]
    DnsBind {
        addr: std::net::SocketAddr,
        proto: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("waiting on the name server's sockets: {0}")]
    DnsPoll(#[source] io::Error),
}

pub type Result<T, E = NetworkError> = std::result::Result<T, E>;
