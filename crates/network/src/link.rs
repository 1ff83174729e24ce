//! Links, addresses and routes over a synchronous rtnetlink socket.
//!
//! A netlink socket talks to the network namespace it was created in, so work inside a
//! container's namespace opens its own `Netlink` there, through [`in_netns`].

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nix::sched::CloneFlags;

use crate::error::{NetworkError, Result};
use crate::ipam::Subnet;

/// The kernel's IFNAMSIZ, the terminating NUL included.
const IFNAMSIZ: usize = 16;

/// Checks a name the way the kernel's `dev_valid_name` does, so a bad name is reported with
/// the name rather than as a bare EINVAL.
pub fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() >= IFNAMSIZ {
        Some("longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("reserved")
    } else if name
        .bytes()
        .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
    {
        Some("contains '/', ':', NUL or whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetworkError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// A route-family netlink socket in the network namespace of the thread that opened it.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("fd", &self.socket.as_raw_fd())
            .finish()
    }
}

impl Netlink {
    pub fn open() -> Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(NetworkError::NetlinkSocket)?;
        socket.bind_auto().map_err(NetworkError::NetlinkSocket)?;
        // Connected to the kernel, so nothing but its replies reach this socket.
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(NetworkError::NetlinkSocket)?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Sends one request and collects the messages the kernel answers with, up to its ACK.
    /// A negative errno in the ACK becomes `NetworkError::Netlink` naming `op` and `name`.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
        op: &'static str,
        name: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(message));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        let netlink_err = |source: io::Error| NetworkError::Netlink {
            op,
            name: name.to_string(),
            source,
        };
        self.socket.send(&buf, 0).map_err(netlink_err)?;

        let mut replies = Vec::new();
        loop {
            let (data, _) = self.socket.recv_from_full().map_err(netlink_err)?;
            let mut offset = 0;
            while offset < data.len() {
                let decode_err = |reason: String| NetworkError::NetlinkDecode {
                    op,
                    name: name.to_string(),
                    reason,
                };
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| decode_err(e.to_string()))?;
                let len = reply.header.length as usize;
                if len == 0 {
                    return Err(decode_err("message of length 0".into()));
                }
                offset += len.next_multiple_of(4);
                // A reply to an earlier request that gave up (it cannot happen on a
                // connected socket used by one thread, but costs nothing to ignore).
                if reply.header.sequence_number != seq {
                    continue;
                }
                match reply.payload {
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(code) => Err(netlink_err(io::Error::from_raw_os_error(
                                code.get().saturating_neg(),
                            ))),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
            }
        }
    }

    /// The link called `name`, as the kernel describes it.
    fn get_link(&mut self, name: &str) -> Result<LinkMessage> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        let replies = self
            .request(RouteNetlinkMessage::GetLink(msg), 0, "look up link", name)
            .map_err(|e| not_found(e, name))?;
        replies
            .into_iter()
            .find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .ok_or_else(|| NetworkError::NetlinkDecode {
                op: "look up link",
                name: name.to_string(),
                reason: "no link in the reply".into(),
            })
    }

    /// The index of the link called `name`; `LinkNotFound` if there is none.
    pub fn link_index(&mut self, name: &str) -> Result<u32> {
        Ok(self.get_link(name)?.header.index)
    }

    /// Whether a link called `name` exists.
    pub fn link_exists(&mut self, name: &str) -> Result<bool> {
        match self.get_link(name) {
            Ok(_) => Ok(true),
            Err(NetworkError::LinkNotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The link's kind (`bridge`, `veth`...), None for devices without one (`lo`, physical).
    pub fn link_kind(&mut self, name: &str) -> Result<Option<String>> {
        let link = self.get_link(name)?;
        Ok(link.attributes.iter().find_map(|a| match a {
            LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
                LinkInfo::Kind(k) => Some(k.to_string()),
                _ => None,
            }),
            _ => None,
        }))
    }

    /// Whether the link is administratively up.
    pub fn is_up(&mut self, name: &str) -> Result<bool> {
        Ok(self.get_link(name)?.header.flags.contains(LinkFlags::Up))
    }

    /// Creates the bridge `name`, or leaves it as it is when it already exists. A link of
    /// that name that is not a bridge is an error. Returns its index.
    pub fn create_bridge(&mut self, name: &str) -> Result<u32> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        match self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "create bridge",
            name,
        ) {
            Ok(_) => {}
            Err(e) if errno(&e) == Some(libc::EEXIST) => {
                let kind = self.link_kind(name)?;
                if kind.as_deref() != Some("bridge") {
                    return Err(NetworkError::NotABridge {
                        name: name.to_string(),
                        kind: kind.unwrap_or_else(|| "none".into()),
                    });
                }
            }
            Err(e) => return Err(e),
        }
        self.link_index(name)
    }

    /// Creates a veth pair `name` <-> `peer`, both in this namespace and down. Fails if
    /// either name is taken: a leftover pair is the caller's to remove.
    pub fn create_veth(&mut self, name: &str, peer: &str) -> Result<()> {
        check_name(name)?;
        check_name(peer)?;
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "create veth pair",
            &format!("{name}/{peer}"),
        )?;
        Ok(())
    }

    /// Creates a veth pair whose end `peer` is made directly inside the namespace `netns`
    /// (with `peer_mac` when given), and whose end `name` stays here. Both ends get `mtu`
    /// when given. The peer never exists in this namespace, so its name (`eth0`) can't
    /// clash with one of the host's.
    pub fn create_veth_into(
        &mut self,
        name: &str,
        peer: &str,
        netns: BorrowedFd<'_>,
        peer_mac: Option<[u8; 6]>,
        mtu: Option<u32>,
    ) -> Result<()> {
        check_name(name)?;
        check_name(peer)?;
        let mut peer_msg = LinkMessage::default();
        peer_msg
            .attributes
            .push(LinkAttribute::IfName(peer.to_string()));
        peer_msg
            .attributes
            .push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        if let Some(mac) = peer_mac {
            peer_msg
                .attributes
                .push(LinkAttribute::Address(mac.to_vec()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            peer_msg.attributes.push(LinkAttribute::Mtu(mtu));
            msg.attributes.push(LinkAttribute::Mtu(mtu));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_msg))),
        ]));
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "create veth pair",
            &format!("{name}/{peer}"),
        )?;
        Ok(())
    }

    /// Applies `attributes` and `flags` (under `mask`) to the link called `name`.
    fn set_link(
        &mut self,
        name: &str,
        index: u32,
        attributes: Vec<LinkAttribute>,
        flags: LinkFlags,
        mask: LinkFlags,
        op: &'static str,
    ) -> Result<()> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.header.flags = flags;
        msg.header.change_mask = mask;
        // Without an index, the kernel finds the link by IFLA_IFNAME: one round trip.
        if index == 0 {
            msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        }
        msg.attributes.extend(attributes);
        self.request(RouteNetlinkMessage::SetLink(msg), 0, op, name)
            .map_err(|e| not_found(e, name))?;
        Ok(())
    }

    pub fn set_up(&mut self, name: &str) -> Result<()> {
        self.set_link(name, 0, vec![], LinkFlags::Up, LinkFlags::Up, "set link up")
    }

    pub fn set_down(&mut self, name: &str) -> Result<()> {
        self.set_link(
            name,
            0,
            vec![],
            LinkFlags::empty(),
            LinkFlags::Up,
            "set link down",
        )
    }

    pub fn set_mtu(&mut self, name: &str, mtu: u32) -> Result<()> {
        self.set_link(
            name,
            0,
            vec![LinkAttribute::Mtu(mtu)],
            LinkFlags::empty(),
            LinkFlags::empty(),
            "set mtu",
        )
    }

    pub fn set_mac(&mut self, name: &str, mac: [u8; 6]) -> Result<()> {
        self.set_link(
            name,
            0,
            vec![LinkAttribute::Address(mac.to_vec())],
            LinkFlags::empty(),
            LinkFlags::empty(),
            "set mac address",
        )
    }

    /// Enslaves the link `name` to the bridge `bridge`.
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let master = self.link_index(bridge)?;
        self.set_link(
            name,
            0,
            vec![LinkAttribute::Controller(master)],
            LinkFlags::empty(),
            LinkFlags::empty(),
            "set master",
        )
    }

    /// Turns hairpin mode on or off for the bridge port `name`: lets the bridge send a frame
    /// back out of the port it came in on. A container reaching its own published port
    /// needs it where br_netfilter is active (`bridge-nf-call-iptables=1`): the DNAT then
    /// happens while the frame is being bridged, and the rewritten frame is bridged back to
    /// the port it came from instead of being routed by the host.
    pub fn set_hairpin(&mut self, name: &str, on: bool) -> Result<()> {
        check_name(name)?;
        let index = self.link_index(name)?;
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        msg.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::PortKind(InfoPortKind::Bridge),
            LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(
                on,
            )])),
        ]));
        // RTM_NEWLINK without NLM_F_CREATE changes an existing link's port options, as
        // `ip link set NAME type bridge_slave hairpin on` does.
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            0,
            "set hairpin mode",
            name,
        )
        .map_err(|e| not_found(e, name))?;
        Ok(())
    }

    /// Moves the link `name` into the network namespace `netns` (an fd of
    /// `/proc/PID/ns/net`), renamed `new_name` on the way when given, so it never exists
    /// under a name that could clash in the target (a container's `eth0`).
    pub fn move_to_netns(
        &mut self,
        name: &str,
        netns: BorrowedFd<'_>,
        new_name: Option<&str>,
    ) -> Result<()> {
        let mut attributes = vec![LinkAttribute::NetNsFd(netns.as_raw_fd())];
        let index = match new_name {
            Some(new) => {
                check_name(new)?;
                // IFLA_IFNAME is the new name here, so the link goes by its index.
                attributes.push(LinkAttribute::IfName(new.to_string()));
                self.link_index(name)?
            }
            None => 0,
        };
        self.set_link(
            name,
            index,
            attributes,
            LinkFlags::empty(),
            LinkFlags::empty(),
            "move link to netns",
        )
    }

    /// Adds `addr/prefix` to the link `name`, with the subnet's broadcast address as
    /// Docker's bridge has it. An address already there is left as it is.
    pub fn add_address(&mut self, name: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let index = self.link_index(name)?;
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix;
        msg.header.scope = AddressScope::Universe;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.into()));
        msg.attributes.push(AddressAttribute::Address(addr.into()));
        if prefix <= 30 {
            let subnet = Subnet::containing(addr, prefix)?;
            msg.attributes
                .push(AddressAttribute::Broadcast(subnet.broadcast()));
        }
        let what = format!("{name} ({addr}/{prefix})");
        match self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add address",
            &what,
        ) {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop),
        }
    }

    /// The IPv4 addresses on the link `name`, with their prefix lengths.
    pub fn addresses(&mut self, name: &str) -> Result<Vec<(Ipv4Addr, u8)>> {
        let index = self.link_index(name)?;
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(msg),
            netlink_packet_core::NLM_F_DUMP,
            "list addresses",
            name,
        )?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewAddress(a) = r else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            for attr in &a.attributes {
                if let AddressAttribute::Local(std::net::IpAddr::V4(ip)) = attr {
                    out.push((*ip, a.header.prefix_len));
                }
            }
        }
        Ok(out)
    }

    /// Every IPv4 address of this namespace, on any link (loopback included), as the
    /// subnets they sit in: what a new network's subnet must not overlap.
    pub fn all_addresses(&mut self) -> Result<Vec<Subnet>> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        let replies = self.request(
            RouteNetlinkMessage::GetAddress(msg),
            netlink_packet_core::NLM_F_DUMP,
            "list addresses",
            "(all links)",
        )?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewAddress(a) = r else {
                continue;
            };
            for attr in &a.attributes {
                if let AddressAttribute::Local(std::net::IpAddr::V4(ip)) = attr {
                    out.push(Subnet::containing(*ip, a.header.prefix_len)?);
                }
            }
        }
        Ok(out)
    }

    /// The destinations of the IPv4 routes of the main table, default routes left out:
    /// the networks this namespace already reaches some other way.
    pub fn routes(&mut self) -> Result<Vec<Subnet>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        let replies = self.request(
            RouteNetlinkMessage::GetRoute(msg),
            netlink_packet_core::NLM_F_DUMP,
            "list routes",
            "(main table)",
        )?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewRoute(route) = r else {
                continue;
            };
            let table = route
                .attributes
                .iter()
                .find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                })
                .unwrap_or(u32::from(route.header.table));
            let prefix = route.header.destination_prefix_length;
            if table != u32::from(RouteHeader::RT_TABLE_MAIN) || prefix == 0 {
                continue;
            }
            for attr in &route.attributes {
                if let RouteAttribute::Destination(RouteAddress::Inet(ip)) = attr {
                    out.push(Subnet::containing(*ip, prefix)?);
                }
            }
        }
        Ok(out)
    }

    /// Adds the default route via `gateway` (out of `dev` when given). An identical route
    /// already there is left as it is.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr, dev: Option<&str>) -> Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = 0;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        if let Some(dev) = dev {
            let index = self.link_index(dev)?;
            msg.attributes.push(RouteAttribute::Oif(index));
        }
        let what = format!("default via {gateway}");
        match self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            "add route",
            &what,
        ) {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            r => r.map(drop),
        }
    }

    /// Deletes the link `name` (a veth takes its peer with it). A missing link is fine:
    /// teardown runs again after a crash.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        check_name(name)?;
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(RouteNetlinkMessage::DelLink(msg), 0, "delete link", name) {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            r => r.map(drop),
        }
    }
}

fn errno(e: &NetworkError) -> Option<i32> {
    match e {
        NetworkError::Netlink { source, .. } => source.raw_os_error(),
        _ => None,
    }
}

fn not_found(e: NetworkError, name: &str) -> NetworkError {
    if errno(&e) == Some(libc::ENODEV) {
        NetworkError::LinkNotFound {
            name: name.to_string(),
        }
    } else {
        e
    }
}

/// Runs `f` on a new thread that first joins the network namespace `netns` (setns with
/// CLONE_NEWNET), and returns what `f` returns. The caller's thread stays where it is;
/// sockets made by `f` stay in `netns` wherever they are used afterwards. A panic in `f`
/// is passed on to the caller.
pub fn in_netns<T, F>(netns: BorrowedFd<'_>, f: F) -> Result<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            nix::sched::setns(netns, CloneFlags::CLONE_NEWNET).map_err(|e| {
                NetworkError::Setns {
                    fd: netns.as_raw_fd(),
                    source: e.into(),
                }
            })?;
            Ok(f())
        });
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The container's side of a bridge network, set up from inside its namespace.
#[derive(Clone, Debug)]
pub struct ContainerLink<'a> {
    /// The interface's name in the container, already moved there (`eth0`).
    pub name: &'a str,
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    /// None for an internal network: no way out, so no default route.
    pub gateway: Option<Ipv4Addr>,
}

/// A container's attachment to a bridge network.
#[derive(Clone, Debug)]
pub struct Endpoint<'a> {
    pub bridge: &'a str,
    /// The host's end of the veth pair (unique per container: `veth` and an id).
    pub host_veth: &'a str,
    /// The container's network namespace.
    pub netns: BorrowedFd<'a>,
    pub link: ContainerLink<'a>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

/// Plugs a container into a bridge: a veth pair with the container's end made in its
/// namespace, the host's end on the bridge in hairpin mode and up, then the container's
/// side configured (see `configure_container`). On failure the pair is removed again, so
/// a retry starts clean.
pub fn connect(nl: &mut Netlink, ep: &Endpoint<'_>) -> Result<()> {
    nl.create_veth_into(ep.host_veth, ep.link.name, ep.netns, ep.mac, ep.mtu)?;
    let plugged = (|| {
        nl.set_master(ep.host_veth, ep.bridge)?;
        nl.set_hairpin(ep.host_veth, true)?;
        nl.set_up(ep.host_veth)?;
        configure_container(ep.netns, &ep.link)
    })();
    if plugged.is_err() {
        // The first error is the one worth reporting.
        let _ = nl.delete_link(ep.host_veth);
    }
    plugged
}

/// In the namespace `netns`: brings `lo` up, gives the container's interface its address,
/// brings it up and routes everything else via the gateway.
pub fn configure_container(netns: BorrowedFd<'_>, link: &ContainerLink<'_>) -> Result<()> {
    in_netns(netns, || {
        let mut nl = Netlink::open()?;
        nl.set_up("lo")?;
        nl.add_address(link.name, link.address, link.subnet.prefix())?;
        nl.set_up(link.name)?;
        if let Some(gw) = link.gateway {
            nl.add_default_route(gw, Some(link.name))?;
        }
        Ok(())
    })?
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use super::*;

    #[test]
    fn names_are_checked_like_the_kernel_does() {
        for ok in ["eth0", "berth0", "veth0123456789a", "br-x.y"] {
            check_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "a b", "a:b", "veth0123456789ab"] {
            let e = check_name(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn in_netns_reports_an_fd_that_is_no_namespace() {
        let file = std::fs::File::open("/dev/null").unwrap();
        let e = in_netns(file.as_fd(), || ()).unwrap_err();
        assert!(matches!(e, NetworkError::Setns { .. }), "{e}");
        assert!(
            e.to_string().contains(&format!("fd {}", file.as_raw_fd())),
            "{e}"
        );
    }
}
